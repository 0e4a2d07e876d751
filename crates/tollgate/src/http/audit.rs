//! The audit API (`/v1/audit`): what an auditor fetches to check the ledger without trusting
//! the database. Reading a tenant's log needs an admin key of that tenant with the scope
//! `audit:read`; the system log needs `audit:read:system`. The signing keys are public.
//! Hashes are hex; the checkpoint note is the signed text itself.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tollgate_domain::audit::{SCOPE_READ, SCOPE_READ_SYSTEM};
use tollgate_domain::bundle::EntryLine;
use tollgate_ledger::Hash;
use tollgate_store::audit::{EntryFilter, ListedEntry, SYSTEM_LOG};
use uuid::Uuid;

use super::admin::AdminKey;
use super::error::ApiError;
use super::AppState;

/// Entries listed when the caller names no limit.
const DEFAULT_LIMIT: u32 = 100;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/keys", get(keys))
        .route("/v1/audit/logs/{log}/checkpoint", get(checkpoint))
        .route("/v1/audit/logs/{log}/entries", get(entries))
        .route("/v1/audit/logs/{log}/entries/{seq}/proof", get(inclusion))
        .route("/v1/audit/logs/{log}/consistency", get(consistency))
}

/// A caller holding a usable admin key with `audit:read`.
pub(crate) struct Auditor(AdminKey);

impl FromRequestParts<AppState> for Auditor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let admin = AdminKey::from_request_parts(parts, state).await?;
        admin.require(SCOPE_READ)?;
        Ok(Auditor(admin))
    }
}

impl Auditor {
    /// The log named in the path, if this key may read it.
    fn log(&self, named: &str) -> Result<Uuid, ApiError> {
        if named == "system" {
            return if !self.0.has(SCOPE_READ_SYSTEM) {
                Err(ApiError::MissingScope(SCOPE_READ_SYSTEM))
            } else if !self.0.superuser {
                Err(ApiError::NotSuperuser)
            } else {
                Ok(SYSTEM_LOG)
            };
        }
        match Uuid::parse_str(named) {
            Ok(id) if id == self.0.grant.tenant_id => Ok(id),
            _ => Err(ApiError::UnknownLog(named.to_string())),
        }
    }
}

fn log_name(log: Uuid) -> String {
    if log == SYSTEM_LOG {
        "system".to_string()
    } else {
        log.to_string()
    }
}

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_hex).collect()
}

/// The public keys that sign (and signed) checkpoints: anyone may fetch them.
async fn keys(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "keys": state.audit_keys.as_ref() }))
}

async fn checkpoint(
    auditor: Auditor,
    State(state): State<AppState>,
    Path(named): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let log = auditor.log(&named)?;
    let newest = state.store.latest_checkpoint(log).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no checkpoint of the {} log is signed yet: the server signs one every audit.checkpoint_interval_seconds once a signing key is configured",
            log_name(log)
        ))
    })?;
    Ok(Json(json!({
        "log": log_name(log),
        "size": newest.size,
        "root": newest.root.to_hex(),
        "checkpoint": newest.note,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<u64>,
    to: Option<u64>,
    actor: Option<Uuid>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u32>,
}

async fn entries(
    auditor: Auditor,
    State(state): State<AppState>,
    Path(named): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let log = auditor.log(&named)?;
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > tollgate_store::audit::MAX_LIST {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {}",
            tollgate_store::audit::MAX_LIST
        )));
    }
    let filter = EntryFilter {
        after: q.after,
        until_seq: q.to,
        actor: q.actor,
        action: q.action,
        target_type: q.target_type,
        target_id: q.target_id,
        since: q.since,
        until: q.until,
        limit,
    };
    let listed = state.store.list_audit(log, &filter).await?;
    let next = (listed.len() == limit as usize)
        .then(|| listed.last().map(|e| e.stored.entry.seq))
        .flatten();
    Ok(Json(json!({
        "log": log_name(log),
        "entries": listed.iter().map(entry_json).collect::<Vec<_>>(),
        "next_after": next,
    })))
}

fn entry_json(e: &ListedEntry) -> EntryLine {
    EntryLine::of(
        &e.stored.entry,
        e.stored.id,
        e.stored.chain,
        e.body.as_ref(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    size: Option<u64>,
}

async fn inclusion(
    auditor: Auditor,
    State(state): State<AppState>,
    Path((named, seq)): Path<(String, String)>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let log = auditor.log(&named)?;
    let Query(q) = query?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{seq:?} is not an entry number (1, 2, ...)")))?;
    let p = state.store.inclusion_proof(log, seq, q.size).await?;
    Ok(Json(json!({
        "log": log_name(log),
        "seq": p.seq,
        "size": p.size,
        "leaf_hash": p.leaf.to_hex(),
        "root": p.root.to_hex(),
        "proof": hexes(&p.proof),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

async fn consistency(
    auditor: Auditor,
    State(state): State<AppState>,
    Path(named): Path<String>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let log = auditor.log(&named)?;
    let Query(q) = query?;
    let p = state.store.consistency_proof(log, q.from, q.to).await?;
    Ok(Json(json!({
        "log": log_name(log),
        "from": p.from,
        "to": p.to,
        "from_root": p.from_root.to_hex(),
        "to_root": p.to_root.to_hex(),
        "proof": hexes(&p.proof),
    })))
}
