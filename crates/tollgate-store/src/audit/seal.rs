//! Usage batches sealed in the ledger: when the usage writer stores a tenant's batch, one
//! entry in that tenant's log (`usage.batch`) records the batch's count and the Merkle root of
//! its rows (each row's leaf hash over its stored columns, rows in id order), and every row
//! names that entry in `usage_logs.sealed_by`. So every usage row is covered by the ledger
//! without an entry per request, and a row changed, removed or slipped in later fails its seal.

use serde_json::{json, Value};
use sqlx::Row;
use tollgate_ledger::hash::leaf_hash;
use tollgate_ledger::{Hash, MemoryTree};
use uuid::Uuid;

use super::{NewAuditEntry, SYSTEM_LOG};
use crate::backend::{on_tx, Tx};
use crate::sql::{DbId, DbTime};
use crate::usage::UsageRecord;
use crate::{Scope, Store, StoreError};

/// The action of a seal entry.
pub const SEAL_ACTION: &str = "usage.batch";
/// The action of an entry that re-seals a batch after an erasure removed some of its rows:
/// its body names the seal and gives the count and root of the rows left.
pub const RESEAL_ACTION: &str = "usage.reseal";

/// Rows per query when checking seals.
const PAGE: i64 = 5_000;

/// A usage row as stored, in the order it is hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StoredRow {
    id: Uuid,
    tenant_id: Uuid,
    app_id: Option<Uuid>,
    api_key_id: Option<Uuid>,
    team_id: Option<Uuid>,
    subject_id: Option<Uuid>,
    device_id: Option<Uuid>,
    provider: String,
    model: String,
    endpoint: String,
    prompt_length: i32,
    pii_detected: bool,
    pii_types: Option<String>,
    prompt_tokens: i32,
    completion_tokens: i32,
    tokens_used: i32,
    cost_micros: i64,
    credits_deducted: i64,
    latency_ms: Option<i32>,
    upstream_latency_ms: Option<i32>,
    response_status: String,
    error_type: Option<String>,
    http_status: Option<i16>,
    streamed: bool,
    created_at_ms: i64,
}

impl StoredRow {
    fn of(r: &UsageRecord) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            app_id: r.app_id,
            api_key_id: r.api_key_id,
            team_id: r.team_id,
            subject_id: r.subject_id,
            device_id: r.device_id,
            provider: r.provider.clone(),
            model: r.model.clone(),
            endpoint: r.endpoint.as_str().to_string(),
            prompt_length: r.prompt_length,
            pii_detected: r.pii_detected,
            pii_types: crate::usage::pii_types(r),
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            tokens_used: r.prompt_tokens.saturating_add(r.completion_tokens),
            cost_micros: r.cost_micros,
            credits_deducted: r.credits_deducted,
            latency_ms: r.latency_ms,
            upstream_latency_ms: r.upstream_latency_ms,
            response_status: response_status(r).to_string(),
            error_type: r.error_type.clone(),
            http_status: r.http_status,
            streamed: r.streamed,
            created_at_ms: DbTime::of(r.created_at).0.timestamp_millis(),
        }
    }

    /// The leaf hash of the row: a JSON array of its columns in a fixed order.
    fn leaf(&self) -> Hash {
        let encoded = json!([
            self.id,
            self.tenant_id,
            self.app_id,
            self.api_key_id,
            self.team_id,
            self.subject_id,
            self.device_id,
            self.provider,
            self.model,
            self.endpoint,
            self.prompt_length,
            self.pii_detected,
            self.prompt_tokens,
            self.completion_tokens,
            self.tokens_used,
            self.cost_micros,
            self.credits_deducted,
            self.latency_ms,
            self.upstream_latency_ms,
            self.response_status,
            self.error_type,
            self.http_status,
            self.streamed,
            self.created_at_ms,
        ]);
        // Rows from before migration 0012, and rows with nothing found, hash as they did.
        let encoded = match (&self.pii_types, encoded) {
            (Some(types), serde_json::Value::Array(mut columns)) => {
                columns.push(json!(types));
                serde_json::Value::Array(columns)
            }
            (_, encoded) => encoded,
        };
        leaf_hash(encoded.to_string().as_bytes())
    }
}

/// `response_status` as the writer stores it.
pub(crate) fn response_status(r: &UsageRecord) -> &'static str {
    if r.error_type.is_some() {
        "error"
    } else {
        "success"
    }
}

/// Count and Merkle root of rows, in id order.
fn seal_of(mut rows: Vec<StoredRow>) -> (u64, Hash) {
    rows.sort_by_key(|r| r.id);
    let mut tree = MemoryTree::new();
    for r in &rows {
        tree.push(r.leaf());
    }
    (tree.size(), tree.root())
}

/// The seal entry of a tenant's newly stored records.
pub(crate) fn seal_entry(tenant: Uuid, fresh: &[&UsageRecord]) -> NewAuditEntry {
    let (count, root) = seal_of(fresh.iter().map(|r| StoredRow::of(r)).collect());
    let first = fresh.iter().map(|r| r.id).min();
    let last = fresh.iter().map(|r| r.id).max();
    NewAuditEntry::system(
        SEAL_ACTION,
        "usage_logs",
        None,
        json!({
            "table": "usage_logs",
            "count": count,
            "root": root.to_hex(),
            "first_id": first,
            "last_id": last,
        }),
    )
    .in_log_of(tenant)
}

/// Re-seals, after an erasure removed rows of these batches, each batch with the rows left.
pub(crate) async fn reseal(
    tx: &mut Tx,
    tenant: Uuid,
    seals: &[i64],
) -> Result<Vec<NewAuditEntry>, StoreError> {
    let mut entries = Vec::with_capacity(seals.len());
    for seal in seals {
        let (count, root) = seal_of(tx.sealed_rows(tenant, *seal).await?);
        entries.push(
            NewAuditEntry::system(
                RESEAL_ACTION,
                "usage_logs",
                None,
                json!({ "seal": seal, "count": count, "root": root.to_hex() }),
            )
            .in_log_of(tenant),
        );
    }
    Ok(entries)
}

impl Tx {
    /// Takes `tenant`'s log lock and returns the position its next entry will have: the
    /// seal's, which the batch's rows name before the seal is appended.
    pub(crate) async fn next_seal(&mut self, tenant: Uuid) -> Result<u64, StoreError> {
        self.lock_log(tenant).await?;
        Ok(self.log_head(tenant).await?.size + 1)
    }
}

/// A seal that does not match its rows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("usage batch sealed by entry {seq} of the log of tenant {tenant}: {problem}")]
pub struct SealFailure {
    /// The tenant.
    pub tenant: Uuid,
    /// The seal entry's position.
    pub seq: u64,
    /// What does not match.
    pub problem: String,
}

/// How a tenant's usage seals fared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Seals checked.
    pub seals: u64,
    /// Rows they cover.
    pub rows: u64,
    /// Seals whose body was erased (their rows cannot be checked).
    pub without_body: u64,
    /// The first failure.
    pub failure: Option<SealFailure>,
}

impl Store {
    /// Checks every usage seal of `tenant`'s log against the rows that name it, and that no
    /// row names a seal that does not exist.
    pub async fn verify_usage_seals(&self, tenant: Uuid) -> Result<SealReport, StoreError> {
        let mut report = SealReport::default();
        if tenant == SYSTEM_LOG {
            return Ok(report);
        }
        let mut tx = self.begin_read_in(Scope::Tenant(tenant)).await?;
        let seals = tx.details_of_action(tenant, SEAL_ACTION).await?;
        // The newest re-seal of each batch supersedes its seal's count and root.
        let reseals = tx.details_of_action(tenant, RESEAL_ACTION).await?;
        let resealed: std::collections::HashMap<i64, Value> = reseals
            .into_iter()
            .filter_map(|(_, d)| d.map(|d| d.0))
            .filter_map(|d| Some((d["seal"].as_i64()?, d)))
            .collect();
        for (seq, details) in &seals {
            let seq_u = u64::try_from(*seq).unwrap_or(0);
            report.seals += 1;
            let rows = tx.sealed_rows(tenant, *seq).await?;
            let Some(details) = details else {
                // Erasure removes a seal's body only with its rows (the tenant's erasure).
                if !rows.is_empty() {
                    report.failure = Some(SealFailure {
                        tenant,
                        seq: seq_u,
                        problem: format!(
                            "its body is gone but {} rows still name it: the body was removed",
                            rows.len()
                        ),
                    });
                    break;
                }
                report.without_body += 1;
                continue;
            };
            let (count, root) = seal_of(rows);
            report.rows += count;
            let claimed = resealed.get(seq).unwrap_or(&details.0);
            let claimed_count = claimed["count"].as_u64();
            let claimed_root = claimed["root"]
                .as_str()
                .and_then(|r| r.parse::<Hash>().ok());
            let problem = if claimed_count != Some(count) {
                Some(format!(
                    "it covers {} rows, {count} are there: rows were removed or added",
                    claimed_count.map_or("?".to_string(), |c| c.to_string())
                ))
            } else if claimed_root != Some(root) {
                Some(
                    "the rows' Merkle root differs from the sealed one: a row was changed"
                        .to_string(),
                )
            } else {
                None
            };
            if let Some(problem) = problem {
                report.failure = Some(SealFailure {
                    tenant,
                    seq: seq_u,
                    problem,
                });
                break;
            }
        }
        if report.failure.is_none() {
            let known: std::collections::HashSet<i64> = seals.iter().map(|(s, _)| *s).collect();
            let stray: Option<i64> = on_tx!(&mut tx, conn => sqlx::query_scalar(
                "SELECT sealed_by FROM usage_logs WHERE tenant_id = $1 AND sealed_by IS NOT NULL
                 GROUP BY sealed_by ORDER BY sealed_by",
            )
            .bind(DbId(tenant))
            .fetch_all(&mut *conn)
            .await)?
            .into_iter()
            .find(|s: &i64| !known.contains(s));
            if let Some(seq) = stray {
                report.failure = Some(SealFailure {
                    tenant,
                    seq: u64::try_from(seq).unwrap_or(0),
                    problem: "usage rows name this entry as their seal, but it is not a usage seal"
                        .into(),
                });
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

impl Tx {
    /// Position and body details of every entry of `tenant`'s log with this action.
    async fn details_of_action(
        &mut self,
        tenant: Uuid,
        action: &str,
    ) -> Result<Vec<(i64, Option<sqlx::types::Json<Value>>)>, StoreError> {
        Ok(on_tx!(self, conn => sqlx::query_as(
            "SELECT e.seq, b.details FROM audit_log e LEFT JOIN audit_bodies b ON b.entry_id = e.id
             WHERE e.tenant_id = $1 AND e.action = $2 ORDER BY e.seq",
        )
        .bind(DbId(tenant))
        .bind(action)
        .fetch_all(&mut *conn)
        .await)?)
    }

    /// The rows sealed by entry `seq` of `tenant`'s log.
    async fn sealed_rows(&mut self, tenant: Uuid, seq: i64) -> Result<Vec<StoredRow>, StoreError> {
        let mut rows = Vec::new();
        let mut after = DbId(Uuid::nil());
        loop {
            let page = on_tx!(self, conn => {
                let fetched = sqlx::query(
                    "SELECT id, tenant_id, app_id, api_key_id, team_id, subject_id, device_id,
                            provider, model, endpoint, prompt_length, pii_detected, prompt_tokens,
                            completion_tokens, tokens_used, cost_micros, credits_deducted,
                            latency_ms, upstream_latency_ms, response_status, error_type,
                            http_status, streamed, created_at, pii_types
                     FROM usage_logs WHERE tenant_id = $1 AND sealed_by = $2 AND id > $3
                     ORDER BY id LIMIT $4",
                )
                .bind(DbId(tenant))
                .bind(seq)
                .bind(after)
                .bind(PAGE)
                .fetch_all(&mut *conn)
                .await?;
                fetched
                    .iter()
                    .map(|row| -> Result<StoredRow, sqlx::Error> {
                        let id = |c: &str| -> Result<Option<Uuid>, sqlx::Error> {
                            Ok(row.try_get::<Option<DbId>, _>(c)?.map(|d| d.0))
                        };
                        Ok(StoredRow {
                            id: row.try_get::<DbId, _>("id")?.0,
                            tenant_id: row.try_get::<DbId, _>("tenant_id")?.0,
                            app_id: id("app_id")?,
                            api_key_id: id("api_key_id")?,
                            team_id: id("team_id")?,
                            subject_id: id("subject_id")?,
                            device_id: id("device_id")?,
                            provider: row.try_get("provider")?,
                            model: row.try_get("model")?,
                            endpoint: row.try_get("endpoint")?,
                            prompt_length: row.try_get("prompt_length")?,
                            pii_detected: row.try_get("pii_detected")?,
                            pii_types: row.try_get("pii_types")?,
                            prompt_tokens: row.try_get("prompt_tokens")?,
                            completion_tokens: row.try_get("completion_tokens")?,
                            tokens_used: row.try_get("tokens_used")?,
                            cost_micros: row.try_get("cost_micros")?,
                            credits_deducted: row.try_get("credits_deducted")?,
                            latency_ms: row.try_get("latency_ms")?,
                            upstream_latency_ms: row.try_get("upstream_latency_ms")?,
                            response_status: row.try_get("response_status")?,
                            error_type: row.try_get("error_type")?,
                            http_status: row.try_get("http_status")?,
                            streamed: row.try_get("streamed")?,
                            created_at_ms: row.try_get::<DbTime, _>("created_at")?.0.timestamp_millis(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            let Some(last) = page.last().map(|r| r.id) else {
                break;
            };
            let full = page.len() as i64 == PAGE;
            rows.extend(page);
            if !full {
                break;
            }
            after = DbId(last);
        }
        Ok(rows)
    }
}
