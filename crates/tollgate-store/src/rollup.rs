//! Keeping rollups current as usage arrives: the new records of a batch are summed per bucket
//! here (pure), then added to the stored buckets (`ON CONFLICT DO UPDATE SET x = x + new`).
//! Full recomputation of a window ([`crate::Tx::rollup_usage`]) stays for repair.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use uuid::Uuid;

use crate::backend::{on_tx, Tx};
use crate::sql::{DbDate, DbId, DbTime};
use crate::usage::UsageRecord;
use crate::StoreError;

/// The sums a rollup row keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measures {
    /// Calls.
    pub requests: i64,
    /// Failed calls.
    pub errors: i64,
    /// Calls with personal data found.
    pub pii: i64,
    /// Input tokens.
    pub prompt_tokens: i64,
    /// Output tokens.
    pub completion_tokens: i64,
    /// All tokens.
    pub tokens: i64,
    /// Cost in micro-units.
    pub cost_micros: i64,
    /// Credits taken, micro-units.
    pub credits: i64,
    /// Sum of latencies, for averages.
    pub latency_ms: i64,
}

impl Measures {
    fn add(&mut self, r: &UsageRecord) {
        self.requests += 1;
        self.errors += i64::from(r.error_type.is_some());
        self.pii += i64::from(r.pii_detected);
        self.prompt_tokens += i64::from(r.prompt_tokens);
        self.completion_tokens += i64::from(r.completion_tokens);
        self.tokens += i64::from(r.prompt_tokens) + i64::from(r.completion_tokens);
        self.cost_micros += r.cost_micros;
        self.credits += r.credits_deducted;
        self.latency_ms += i64::from(r.latency_ms.unwrap_or(0));
    }
}

/// An hourly bucket: hour, tenant, team, app, model (absent dimensions are the nil id).
pub type HourKey = (DateTime<Utc>, Uuid, Uuid, Uuid, String);
/// A daily bucket: day, tenant, grain, dimension id, model (`*` for grains without one).
pub type DayKey = (NaiveDate, Uuid, &'static str, Uuid, String);

/// Sums `records` per hourly bucket and per daily bucket of each grain.
pub fn sum(records: &[&UsageRecord]) -> (BTreeMap<HourKey, Measures>, BTreeMap<DayKey, Measures>) {
    let nil = Uuid::nil();
    let mut hourly: BTreeMap<HourKey, Measures> = BTreeMap::new();
    let mut daily: BTreeMap<DayKey, Measures> = BTreeMap::new();
    for r in records {
        let hour = r
            .created_at
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(r.created_at);
        let day = r.created_at.date_naive();
        hourly
            .entry((
                hour,
                r.tenant_id,
                r.team_id.unwrap_or(nil),
                r.app_id.unwrap_or(nil),
                r.model.clone(),
            ))
            .or_default()
            .add(r);
        for (grain, dim, model) in [
            ("team_model", r.team_id, r.model.clone()),
            ("subject", r.subject_id, "*".to_string()),
            ("api_key", r.api_key_id, "*".to_string()),
        ] {
            daily
                .entry((day, r.tenant_id, grain, dim.unwrap_or(nil), model))
                .or_default()
                .add(r);
        }
    }
    (hourly, daily)
}

const MEASURE_COLUMNS: &str = "request_count, error_count, pii_count, prompt_tokens, \
    completion_tokens, tokens_used, cost_micros, credits_deducted, latency_ms_sum";

fn increments(table: &str) -> String {
    MEASURE_COLUMNS
        .split(", ")
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tx {
    /// Adds `records` (each new, never seen by the rollups) to their buckets.
    pub async fn add_to_rollups(&mut self, records: &[&UsageRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let (hourly, daily) = sum(records);
        let hourly_sql = format!(
            "INSERT INTO usage_hourly (bucket_start, tenant_id, team_id, app_id, model, {MEASURE_COLUMNS}) "
        );
        let hourly_conflict = format!(
            " ON CONFLICT (bucket_start, tenant_id, team_id, app_id, model) DO UPDATE SET {}",
            increments("usage_hourly")
        );
        let rows: Vec<_> = hourly.into_iter().collect();
        for chunk in rows.chunks(200) {
            on_tx!(self, conn => {
                let mut q = sqlx::QueryBuilder::new(&hourly_sql);
                q.push_values(chunk, |mut b, ((hour, tenant, team, app, model), m)| {
                    b.push_bind(DbTime::of(*hour)).push_bind(DbId(*tenant)).push_bind(DbId(*team))
                        .push_bind(DbId(*app)).push_bind(model.clone());
                    push_measures(&mut b, m);
                });
                q.push(&hourly_conflict);
                q.build().persistent(false).execute(&mut *conn).await.map(|_| ())
            })?;
        }
        let daily_sql = format!(
            "INSERT INTO usage_daily (day, tenant_id, grain, dim_id, model, {MEASURE_COLUMNS}) "
        );
        let daily_conflict = format!(
            " ON CONFLICT (day, tenant_id, grain, dim_id, model) DO UPDATE SET {}",
            increments("usage_daily")
        );
        let rows: Vec<_> = daily.into_iter().collect();
        for chunk in rows.chunks(200) {
            on_tx!(self, conn => {
                let mut q = sqlx::QueryBuilder::new(&daily_sql);
                q.push_values(chunk, |mut b, ((day, tenant, grain, dim, model), m)| {
                    b.push_bind(DbDate(*day)).push_bind(DbId(*tenant)).push_bind(*grain)
                        .push_bind(DbId(*dim)).push_bind(model.clone());
                    push_measures(&mut b, m);
                });
                q.push(&daily_conflict);
                q.build().persistent(false).execute(&mut *conn).await.map(|_| ())
            })?;
        }
        Ok(())
    }
}

/// Binds the nine measures in column order.
macro_rules! push_measures_impl {
    ($b:expr, $m:expr) => {
        $b.push_bind($m.requests)
            .push_bind($m.errors)
            .push_bind($m.pii)
            .push_bind($m.prompt_tokens)
            .push_bind($m.completion_tokens)
            .push_bind($m.tokens)
            .push_bind($m.cost_micros)
            .push_bind($m.credits)
            .push_bind($m.latency_ms)
    };
}

fn push_measures<'q, DB>(
    b: &mut sqlx::query_builder::Separated<'_, 'q, DB, &'static str>,
    m: &Measures,
) where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    push_measures_impl!(b, m);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(minute: i64, team: Option<Uuid>, model: &str, error: bool) -> UsageRecord {
        UsageRecord {
            id: Uuid::new_v4(),
            tenant_id: Uuid::nil(),
            app_id: None,
            api_key_id: Some(Uuid::from_u128(7)),
            team_id: team,
            subject_id: None,
            device_id: None,
            provider: "mock".into(),
            model: model.into(),
            endpoint: crate::usage::Endpoint::Chat,
            prompt_length: 1,
            pii_detected: error,
            pii_types: Vec::new(),
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_micros: 3,
            credits_deducted: 3,
            latency_ms: Some(2),
            upstream_latency_ms: None,
            error_type: error.then(|| "upstream_error".to_string()),
            http_status: Some(200),
            streamed: false,
            created_at: DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap(),
        }
    }

    #[test]
    fn sums_per_bucket_and_grain() {
        let team = Some(Uuid::from_u128(3));
        let rs = [
            record(0, team, "a", false),
            record(1, team, "a", true),
            record(90, None, "b", false),
        ];
        let refs: Vec<&UsageRecord> = rs.iter().collect();
        let (hourly, daily) = sum(&refs);
        let total: i64 = hourly.values().map(|m| m.requests).sum();
        assert_eq!(total, 3);
        let first = hourly.values().find(|m| m.requests == 2).unwrap();
        assert_eq!(
            (
                first.errors,
                first.tokens,
                first.cost_micros,
                first.latency_ms
            ),
            (1, 30, 6, 4)
        );
        for grain in ["team_model", "subject", "api_key"] {
            let n: i64 = daily
                .iter()
                .filter(|(k, _)| k.2 == grain)
                .map(|(_, m)| m.requests)
                .sum();
            assert_eq!(n, 3, "{grain}");
        }
        assert_eq!(daily.iter().filter(|(k, _)| k.2 == "api_key").count(), 1);
    }
}
