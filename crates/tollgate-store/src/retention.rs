//! Seed 001's log retention: a tenant's AI-use events older than its
//! `firewall_configs.log_retention_days` (30 to 365, default 90) are deleted, in batches, each
//! batch its own transaction through the recognised retention path (`erasure_context`, which
//! the append-only triggers let delete) and recorded in the tenant's audit log with its count
//! and cutoff, never the content. Running it again removes nothing more: it is idempotent.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::audit::NewAuditEntry;
use crate::backend::on_tx;
use crate::devices::Actor;
use crate::sql::{DbId, DbTime};
use crate::{Scope, Store, StoreError};

/// Rows deleted per transaction when the caller names no batch size.
pub const DEFAULT_BATCH: u32 = 5_000;

/// What a retention run did for one tenant (or, dry, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionReport {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Its retention period in days.
    pub days: i32,
    /// Events that happened before this are expired.
    pub cutoff: DateTime<Utc>,
    /// Events removed (dry run: that would be).
    pub removed: u64,
    /// Transactions it took (0 for a dry run or when nothing was expired).
    pub batches: u32,
    /// Whether nothing was deleted on purpose.
    pub dry_run: bool,
}

/// How to run retention.
#[derive(Clone, Copy, Debug)]
pub struct RetentionRun<'a> {
    /// The time it is measured from (now, except in tests).
    pub now: DateTime<Utc>,
    /// Rows per transaction.
    pub batch: u32,
    /// Count only.
    pub dry_run: bool,
    /// Who asked, as recorded in `erasure_context` (`scheduler`, `cli`, an admin key's name).
    pub requested_by: &'a str,
    /// Who acts in the audit entries.
    pub actor: Actor,
}

impl Store {
    /// Every tenant with its retention period, oldest tenant first.
    pub async fn retention_periods(&self) -> Result<Vec<(Uuid, i32)>, StoreError> {
        let mut tx = self
            .begin_read_in(Scope::System("retention: list tenants"))
            .await?;
        let rows: Vec<(DbId, Option<i32>)> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT t.id, f.log_retention_days FROM tenants t
             LEFT JOIN firewall_configs f ON f.tenant_id = t.id
             ORDER BY t.created_at, t.id",
        )
        .fetch_all(&mut *conn)
        .await)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(id, days)| (id.0, days.unwrap_or(90)))
            .collect())
    }

    /// Applies retention to every tenant. A tenant that fails does not stop the others: each
    /// tenant's outcome is returned (what its batches deleted before a failure stays deleted).
    pub async fn run_retention_all(
        &self,
        run: RetentionRun<'_>,
    ) -> Result<Vec<(Uuid, Result<RetentionReport, StoreError>)>, StoreError> {
        let mut outcomes = Vec::new();
        for (tenant, days) in self.retention_periods().await? {
            outcomes.push((tenant, self.retain(tenant, days, run).await));
        }
        Ok(outcomes)
    }

    /// Applies retention to `tenant_id`, with its configured period.
    pub async fn run_retention(
        &self,
        tenant_id: Uuid,
        run: RetentionRun<'_>,
    ) -> Result<RetentionReport, StoreError> {
        let days = self.firewall_config(tenant_id).await?.log_retention_days;
        self.retain(tenant_id, days, run).await
    }

    async fn retain(
        &self,
        tenant_id: Uuid,
        days: i32,
        run: RetentionRun<'_>,
    ) -> Result<RetentionReport, StoreError> {
        let cutoff = DbTime::of(run.now - chrono::Duration::days(i64::from(days)));
        let mut report = RetentionReport {
            tenant_id,
            days,
            cutoff: cutoff.0,
            removed: 0,
            batches: 0,
            dry_run: run.dry_run,
        };
        if run.dry_run {
            let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
            let n: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar(
                "SELECT count(*) FROM ai_use_events WHERE tenant_id = $1 AND occurred_at < $2",
            )
            .bind(DbId(tenant_id))
            .bind(cutoff)
            .fetch_one(&mut *conn)
            .await)?;
            tx.commit().await?;
            report.removed = u64::try_from(n).unwrap_or(0);
            return Ok(report);
        }
        let batch = run.batch.max(1);
        loop {
            let mut tx = self.begin_change(Scope::Tenant(tenant_id)).await?;
            tx.open_erasure("retention", run.requested_by).await?;
            let n = on_tx!(&mut tx.tx, conn => sqlx::query(
                "DELETE FROM ai_use_events WHERE id IN (
                     SELECT id FROM ai_use_events WHERE tenant_id = $1 AND occurred_at < $2
                     ORDER BY occurred_at LIMIT $3)",
            )
            .bind(DbId(tenant_id))
            .bind(cutoff)
            .bind(i64::from(batch))
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
            tx.close_erasure().await?;
            if n == 0 {
                // Nothing expired: nothing to record (dropping the change rolls it back).
                break;
            }
            report.batches += 1;
            report.removed += n;
            tx.commit(
                NewAuditEntry::system(
                    "retention.run",
                    "ai_use_events",
                    None,
                    json!({
                        "requested_by": run.requested_by,
                        "days": days,
                        "cutoff": cutoff.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "removed": n,
                        "batch": report.batches,
                    }),
                )
                .in_log_of(tenant_id)
                .by(run.actor),
            )
            .await?;
            if n < u64::from(batch) {
                break;
            }
        }
        Ok(report)
    }
}
