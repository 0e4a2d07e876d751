//! Scheduled jobs that run once per interval however many replicas share the database: each
//! replica asks often, and [`Store::claim_job`] says yes to one of them per interval (an
//! atomic upsert on `job_runs`, the same on both backends, no lock held while the job runs).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::on_pool;
use crate::sql::DbTime;
use crate::{Store, StoreError};

/// The last run of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRun {
    /// When it was claimed.
    pub claimed_at: DateTime<Utc>,
    /// Which replica claimed it.
    pub claimed_by: String,
    /// When it finished, if it has.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it reported.
    pub outcome: Option<String>,
}

impl Store {
    /// Claims the run of job `name` for `holder` if no replica has claimed it in the last
    /// `every`; `true` when this caller should run it now.
    pub async fn claim_job(
        &self,
        name: &str,
        holder: &str,
        every: Duration,
    ) -> Result<bool, StoreError> {
        let now = DbTime::now();
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        let due = DbTime::of(
            now.0
                .checked_sub_signed(every)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        );
        let sql = "INSERT INTO job_runs (name, claimed_at, claimed_by) VALUES ($1, $2, $3)
                   ON CONFLICT (name) DO UPDATE SET claimed_at = excluded.claimed_at,
                       claimed_by = excluded.claimed_by, finished_at = NULL, outcome = NULL
                   WHERE job_runs.claimed_at <= $4
                   RETURNING name";
        let claimed: Option<String> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(name)
            .bind(now)
            .bind(holder)
            .bind(due)
            .fetch_optional(pool)
            .await)?;
        Ok(claimed.is_some())
    }

    /// Records how the run `holder` claimed ended (cut to 2,000 characters).
    pub async fn finish_job(
        &self,
        name: &str,
        holder: &str,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let outcome: String = outcome.chars().take(2000).collect();
        on_pool!(self, pool => sqlx::query(
            "UPDATE job_runs SET finished_at = $3, outcome = $4 WHERE name = $1 AND claimed_by = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(DbTime::now())
        .bind(outcome)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The last run of job `name`, if it ever ran.
    pub async fn last_job_run(&self, name: &str) -> Result<Option<JobRun>, StoreError> {
        type Row = (DbTime, String, Option<DbTime>, Option<String>);
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT claimed_at, claimed_by, finished_at, outcome FROM job_runs WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(claimed, by, finished, outcome)| JobRun {
            claimed_at: claimed.0,
            claimed_by: by,
            finished_at: finished.map(|f| f.0),
            outcome,
        }))
    }
}
