//! Usage records (metadata only, never prompt or answer text) and their rollups.
//!
//! Rows are written once, in batches, and never updated; a replayed batch inserts nothing twice
//! because the id is the request id. Rollups are recomputed idempotently for the buckets a batch
//! touched: hourly at tenant x team x app x model, daily at tenant x team x model, tenant x
//! person and tenant x key. Reports read rollups, never the raw table.

use chrono::{DateTime, Duration, DurationRound, Utc};
use uuid::Uuid;

use std::collections::BTreeMap;

use crate::audit::seal::{response_status, seal_entry};
use crate::backend::{on_tx, Tx};
use crate::change::Change;
use crate::sql::{DbId, DbTime};
use crate::{Backend, Scope, Store, StoreError};

/// The API a call came through (the `endpoint` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/messages`.
    Messages,
    /// `/v1/embeddings`.
    Embeddings,
    /// Reported by a device.
    Device,
}

impl Endpoint {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Messages => "messages",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Device => "device",
        }
    }
}

/// One usage record.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UsageRecord {
    /// The request id the caller saw (`x-request-id`, UUID v7): unique, and the row's id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// App, when the call came through one.
    pub app_id: Option<Uuid>,
    /// Key (seed 000 licence).
    pub api_key_id: Option<Uuid>,
    /// Team the key or person belongs to.
    pub team_id: Option<Uuid>,
    /// Pseudonymous id of the person.
    pub subject_id: Option<Uuid>,
    /// Device that reported it.
    pub device_id: Option<Uuid>,
    /// Provider name, e.g. `anthropic`.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// The API the call came through.
    pub endpoint: Endpoint,
    /// Characters in the prompt.
    pub prompt_length: i32,
    /// Whether personal data was found in the prompt.
    pub pii_detected: bool,
    /// The types the PII firewall found (`EMAIL`, `SECRET`, …), sorted; names only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii_types: Vec<String>,
    /// Input tokens.
    pub prompt_tokens: i32,
    /// Output tokens.
    pub completion_tokens: i32,
    /// Cost in micro-units.
    pub cost_micros: i64,
    /// Credits taken from the key, in micro-units.
    pub credits_deducted: i64,
    /// Total latency.
    pub latency_ms: Option<i32>,
    /// Time spent waiting on the provider.
    pub upstream_latency_ms: Option<i32>,
    /// Error code when the call failed; `None` on success.
    pub error_type: Option<String>,
    /// HTTP status returned to the caller.
    pub http_status: Option<i16>,
    /// Whether the answer was streamed.
    pub streamed: bool,
    /// When the call happened.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, app_id, api_key_id, team_id, subject_id, device_id,
    provider, model, endpoint, prompt_length, pii_detected, prompt_tokens, completion_tokens,
    tokens_used, cost_micros, credits_deducted, latency_ms, upstream_latency_ms, response_status,
    error_type, http_status, streamed, created_at, sealed_by, pii_types";

/// `usage_logs.pii_types`: the names comma-separated, NULL when none.
pub(crate) fn pii_types(r: &UsageRecord) -> Option<String> {
    (!r.pii_types.is_empty()).then(|| r.pii_types.join(","))
}

/// Rows per INSERT statement: 27 binds each stays far below both backends' limits.
const BATCH: usize = 500;

impl Store {
    /// Inserts records and adds the new ones to the rollups, one transaction per tenant in that
    /// tenant's scope; with a `holder`, what the new records were charged is taken off that
    /// holder's credit leases in the same transaction. Returns how many records were new.
    pub async fn insert_usage(
        &self,
        records: &[UsageRecord],
        holder: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let mut inserted = 0;
        for (tenant, rows) in by_tenant(records) {
            let mut tx = self.begin_in(Scope::Tenant(tenant)).await?;
            let fresh = tx
                .store_sealed_usage(tenant, &rows, true, &self.edges)
                .await?;
            if let Some(holder) = holder {
                tx.spend_leases(holder, &spent_by_key(&fresh)).await?;
            }
            inserted += fresh.len() as u64;
            tx.commit().await?;
        }
        Ok(inserted)
    }

    /// Inserts records without touching rollups, one transaction per tenant in that tenant's
    /// scope; records whose id (request id) exists already are skipped. Returns how many were new.
    pub async fn append_usage(&self, records: &[UsageRecord]) -> Result<u64, StoreError> {
        let mut inserted = 0;
        for (tenant, rows) in by_tenant(records) {
            let mut tx = self.begin_in(Scope::Tenant(tenant)).await?;
            inserted += tx
                .store_sealed_usage(tenant, &rows, false, &self.edges)
                .await?
                .len() as u64;
            tx.commit().await?;
        }
        Ok(inserted)
    }

    /// Recomputes a tenant's hourly and daily buckets that overlap `[from, to]`.
    pub async fn rollup_usage(
        &self,
        tenant: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_in(Scope::Tenant(tenant)).await?;
        tx.rollup_usage(tenant, from, to).await?;
        tx.commit().await
    }
}

/// Credits charged by key, of records that took any.
fn spent_by_key(records: &[&UsageRecord]) -> Vec<(Uuid, i64)> {
    let mut spent: BTreeMap<Uuid, i64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.credits_deducted > 0) {
        if let Some(key) = r.api_key_id {
            *spent.entry(key).or_default() += r.credits_deducted;
        }
    }
    spent.into_iter().collect()
}

fn by_tenant(records: &[UsageRecord]) -> BTreeMap<Uuid, Vec<&UsageRecord>> {
    let mut groups: BTreeMap<Uuid, Vec<&UsageRecord>> = BTreeMap::new();
    for r in records {
        groups.entry(r.tenant_id).or_default().push(r);
    }
    groups
}

impl Change {
    /// Inserts a tenant's records and adds exactly the new ones (a replayed record is skipped)
    /// to the rollups, in this change, sealed by an entry recorded for its commit. Returns how
    /// many were new.
    pub async fn insert_usage(
        &mut self,
        tenant: Uuid,
        records: &[&UsageRecord],
    ) -> Result<u64, StoreError> {
        // The entries this change holds for the log go before the seal.
        let held = self.entries.iter().filter(|e| e.log() == tenant).count() as u64;
        let seal = self.next_seal(tenant).await? + held;
        let fresh = self.insert_new_usage(records, seal, true).await?;
        if !fresh.is_empty() {
            self.record(seal_entry(tenant, &fresh));
        }
        Ok(fresh.len() as u64)
    }
}

impl Tx {
    /// Inserts one tenant's records, sealed by a ledger entry appended in this transaction
    /// (see [`crate::audit::seal`]), adding the new ones to the rollups when `rollups`.
    /// Returns the records that were new.
    async fn store_sealed_usage<'r>(
        &mut self,
        tenant: Uuid,
        records: &[&'r UsageRecord],
        rollups: bool,
        edges: &crate::audit::EdgeCache,
    ) -> Result<Vec<&'r UsageRecord>, StoreError> {
        let seal = self.next_seal(tenant).await?;
        let fresh = self.insert_new_usage(records, seal, rollups).await?;
        if !fresh.is_empty() {
            let appended = self
                .append_audit(vec![seal_entry(tenant, &fresh)], edges)
                .await?;
            if appended.first().map(|a| a.seq) != Some(seal) {
                return Err(StoreError::Ledger(format!(
                    "the seal of a usage batch of tenant {tenant} did not get position {seal}"
                )));
            }
        }
        Ok(fresh)
    }

    /// Inserts records naming seal `seal`, and adds exactly the new ones (the same record twice
    /// is one row, counted once) to the rollups when `rollups`. Returns the new ones.
    async fn insert_new_usage<'r>(
        &mut self,
        records: &[&'r UsageRecord],
        seal: u64,
        rollups: bool,
    ) -> Result<Vec<&'r UsageRecord>, StoreError> {
        let mut new = self.append_new_usage(records, seal).await?;
        let fresh: Vec<&UsageRecord> = records
            .iter()
            .copied()
            .filter(|r| new.remove(&r.id))
            .collect();
        if rollups {
            self.add_to_rollups(&fresh).await?;
        }
        Ok(fresh)
    }

    /// Inserts records in batches inside this transaction; duplicates of an existing
    /// request id are skipped. Returns the ids that were new.
    async fn append_new_usage(
        &mut self,
        records: &[&UsageRecord],
        seal: u64,
    ) -> Result<std::collections::HashSet<Uuid>, StoreError> {
        let sealed_by = i64::try_from(seal).unwrap_or(i64::MAX);
        let mut inserted = std::collections::HashSet::new();
        for chunk in records.chunks(BATCH) {
            let ids: Vec<DbId> = on_tx!(self, conn => {
                let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO usage_logs ({COLUMNS}) "));
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(DbId(r.id))
                        .push_bind(DbId(r.tenant_id))
                        .push_bind(r.app_id.map(DbId))
                        .push_bind(r.api_key_id.map(DbId))
                        .push_bind(r.team_id.map(DbId))
                        .push_bind(r.subject_id.map(DbId))
                        .push_bind(r.device_id.map(DbId))
                        .push_bind(&r.provider)
                        .push_bind(&r.model)
                        .push_bind(r.endpoint.as_str())
                        .push_bind(r.prompt_length)
                        .push_bind(r.pii_detected)
                        .push_bind(r.prompt_tokens)
                        .push_bind(r.completion_tokens)
                        .push_bind(r.prompt_tokens.saturating_add(r.completion_tokens))
                        .push_bind(r.cost_micros)
                        .push_bind(r.credits_deducted)
                        .push_bind(r.latency_ms)
                        .push_bind(r.upstream_latency_ms)
                        .push_bind(response_status(r))
                        .push_bind(&r.error_type)
                        .push_bind(r.http_status)
                        .push_bind(r.streamed)
                        .push_bind(DbTime::of(r.created_at))
                        .push_bind(sealed_by)
                        .push_bind(pii_types(r));
                });
                q.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
                // Batch sizes vary: a prepared statement per size would fill every
                // connection's statement cache with one-off texts.
                q.build_query_scalar().persistent(false).fetch_all(&mut *conn).await?
            });
            inserted.extend(ids.into_iter().map(|id| id.0));
        }
        Ok(inserted)
    }

    /// Recomputes `tenant`'s hourly and daily buckets that overlap `[from, to]`.
    pub async fn rollup_usage(
        &mut self,
        tenant: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let hour = Duration::hours(1);
        let day = Duration::days(1);
        let floor = |t: DateTime<Utc>, d: Duration| t.duration_trunc(d).unwrap_or(t);
        let (h_from, h_to) = (floor(from, hour), floor(to, hour) + hour);
        let (d_from, d_to) = (floor(from, day), floor(to, day) + day);
        let sql = rollup_sql(self.backend());
        if let Tx::Postgres(t) = self {
            // Two batches of one tenant recomputing the same bucket at once would each count
            // only their own rows under READ COMMITTED: one recomputation per tenant at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tollgate.rollup.' || $1::text))")
                .bind(DbId(tenant))
                .execute(&mut **t)
                .await?;
        }
        on_tx!(self, conn => {
            sqlx::query(&sql.hourly)
                .bind(DbTime::of(h_from))
                .bind(DbTime::of(h_to))
                .bind(DbId(tenant))
                .execute(&mut *conn)
                .await?;
            for daily in &sql.daily {
                sqlx::query(daily)
                    .bind(DbTime::of(d_from))
                    .bind(DbTime::of(d_to))
                    .bind(DbId(tenant))
                    .execute(&mut *conn)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(())
    }
}

struct RollupSql {
    hourly: String,
    daily: Vec<String>,
}

const MEASURES: &str = "count(*), \
    sum(CASE WHEN response_status = 'error' THEN 1 ELSE 0 END), \
    sum(CASE WHEN pii_detected THEN 1 ELSE 0 END), \
    sum(prompt_tokens), sum(completion_tokens), sum(tokens_used), sum(cost_micros), \
    sum(credits_deducted), COALESCE(sum(latency_ms), 0)";

const MEASURE_COLUMNS: &str = "request_count, error_count, pii_count, prompt_tokens, \
    completion_tokens, tokens_used, cost_micros, credits_deducted, latency_ms_sum";

const NIL: &str = "'00000000-0000-0000-0000-000000000000'";

fn rollup_sql(backend: Backend) -> RollupSql {
    let (hour_bucket, day_bucket) = match backend {
        Backend::Sqlite => (
            "strftime('%Y-%m-%dT%H:00:00.000Z', created_at)",
            "substr(created_at, 1, 10)",
        ),
        Backend::Postgres => (
            "(date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
            "CAST(created_at AT TIME ZONE 'UTC' AS date)",
        ),
    };
    let nil = match backend {
        Backend::Sqlite => NIL.to_string(),
        Backend::Postgres => format!("{NIL}::uuid"),
    };
    let upsert = |keys: &str| {
        let updates: Vec<String> = MEASURE_COLUMNS
            .split(", ")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(" ON CONFLICT ({keys}) DO UPDATE SET {}", updates.join(", "))
    };
    let window = "FROM usage_logs WHERE created_at >= $1 AND created_at < $2 AND tenant_id = $3";
    let hourly = format!(
        "INSERT INTO usage_hourly (bucket_start, tenant_id, team_id, app_id, model, {MEASURE_COLUMNS}) \
         SELECT {hour_bucket}, tenant_id, COALESCE(team_id, {nil}), COALESCE(app_id, {nil}), model, {MEASURES} \
         {window} GROUP BY 1, 2, 3, 4, 5{}",
        upsert("bucket_start, tenant_id, team_id, app_id, model")
    );
    let daily = [
        ("team_model", format!("COALESCE(team_id, {nil})"), "model"),
        ("subject", format!("COALESCE(subject_id, {nil})"), "'*'"),
        ("api_key", format!("COALESCE(api_key_id, {nil})"), "'*'"),
    ]
    .iter()
    .map(|(grain, dim, model)| {
        format!(
            "INSERT INTO usage_daily (day, tenant_id, grain, dim_id, model, {MEASURE_COLUMNS}) \
             SELECT {day_bucket}, tenant_id, '{grain}', {dim}, {model}, {MEASURES} \
             {window} GROUP BY 1, 2, 3, 4, 5{}",
            upsert("day, tenant_id, grain, dim_id, model")
        )
    })
    .collect();
    RollupSql { hourly, daily }
}
