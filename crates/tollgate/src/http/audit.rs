//! The audit API (`/v1/audit`): what an auditor fetches to check the ledger without trusting
//! the database. Reading a tenant's log needs an admin key of that tenant with the scope
//! `audit:read`; the system log needs `audit:read:system`. The signing keys are public.
//! Hashes are hex; the checkpoint note is the signed text itself.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tollgate_domain::audit::{SCOPE_READ, SCOPE_READ_SYSTEM};
use tollgate_domain::bundle::EntryLine;
use tollgate_domain::key::{self, KeyFormatError, KeyKind};
use tollgate_ledger::Hash;
use tollgate_store::audit::{EntryFilter, ListedEntry, SYSTEM_LOG};
use tollgate_store::keys::{KeyGrant, KeyRefusal};
use tollgate_store::StoreError;
use uuid::Uuid;

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

/// Why an audit request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditApiError {
    #[error(
        "no API key: send an admin key with the scope audit:read as `Authorization: Bearer <key>`"
    )]
    MissingKey,
    #[error("the API key is not valid: check that it was copied whole")]
    InvalidKey,
    #[error("the audit API takes an admin key (tg_adm_...) with the scope audit:read; gateway keys call models only")]
    WrongKeyKind,
    #[error(transparent)]
    Key(KeyRefusal),
    #[error("this key lacks the scope {0}; ask your tenant admin for an audit key (`tollgate keys create-audit`)")]
    MissingScope(&'static str),
    #[error(
        "the system log is read only by superusers, and this key's person is not one any more"
    )]
    NotSuperuser,
    #[error("there is no log {0} for this key: a key reads its own tenant's log, or the system log with audit:read:system")]
    UnknownLog(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal error; the cause is logged with the request id")]
    Internal,
}

impl AuditApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use AuditApiError as E;
        const INVALID: &str = "invalid_request_error";
        match self {
            E::MissingKey => (StatusCode::UNAUTHORIZED, INVALID, "missing_api_key"),
            E::InvalidKey => (StatusCode::UNAUTHORIZED, INVALID, "invalid_api_key"),
            E::WrongKeyKind => (StatusCode::UNAUTHORIZED, INVALID, "wrong_key_kind"),
            E::Key(refusal) => tollgate_gateway::refusal_parts(refusal),
            E::MissingScope(_) => (StatusCode::FORBIDDEN, "permission_error", "missing_scope"),
            E::NotSuperuser => (StatusCode::FORBIDDEN, "permission_error", "not_superuser"),
            E::UnknownLog(_) => (StatusCode::NOT_FOUND, INVALID, "unknown_log"),
            E::BadRequest(_) => (StatusCode::BAD_REQUEST, INVALID, "invalid_request"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, INVALID, "not_found"),
            E::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "database_unavailable",
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
            ),
        }
    }
}

impl From<StoreError> for AuditApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::OutOfRange(message) => AuditApiError::BadRequest(message),
            e if e.is_unavailable() => AuditApiError::Unavailable,
            e => {
                tracing::error!(err = %e, "audit API: store error");
                AuditApiError::Internal
            }
        }
    }
}

impl From<QueryRejection> for AuditApiError {
    fn from(r: QueryRejection) -> Self {
        AuditApiError::BadRequest(r.body_text())
    }
}

impl IntoResponse for AuditApiError {
    fn into_response(self) -> Response {
        let (status, kind, code) = self.parts();
        let body = json!({ "error": { "message": self.to_string(), "type": kind, "code": code } });
        (status, Json(body)).into_response()
    }
}

/// A caller holding a usable admin key with `audit:read`, and whether its person is a
/// superuser now.
pub(crate) struct Auditor(KeyGrant, bool);

impl FromRequestParts<AppState> for Auditor {
    type Rejection = AuditApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let presented = key::presented(header("authorization"), header("x-api-key"))
            .ok_or(AuditApiError::MissingKey)?;
        let hash = key::hash_presented(presented, KeyKind::Admin).map_err(|e| match e {
            KeyFormatError::UnknownFormat => AuditApiError::InvalidKey,
            KeyFormatError::WrongKind { .. } => AuditApiError::WrongKeyKind,
        })?;
        let grant = state
            .store
            .key_by_hash(&hash)
            .await?
            .ok_or(AuditApiError::InvalidKey)?;
        if grant.kind != KeyKind::Admin {
            return Err(AuditApiError::WrongKeyKind);
        }
        if let Some(refusal) = grant.refusal(Utc::now()) {
            return Err(AuditApiError::Key(refusal));
        }
        if !grant.scopes.iter().any(|s| s == SCOPE_READ) {
            return Err(AuditApiError::MissingScope(SCOPE_READ));
        }
        // An admin key is its person's: it works while they may sign in, and reads the system
        // log only while they are a superuser (checked now, not when the key was made).
        let person = match grant.user_id {
            Some(user) => match state.store.user(grant.tenant_id, user).await {
                Ok(person) => Some(person),
                Err(StoreError::NotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            },
            None => None,
        };
        let Some(person) = person.filter(|p| p.is_active) else {
            return Err(AuditApiError::Key(KeyRefusal::Inactive {
                what: "the person this API key belongs to",
            }));
        };
        Ok(Auditor(grant, person.is_superuser))
    }
}

impl Auditor {
    /// The log named in the path, if this key may read it.
    fn log(&self, named: &str) -> Result<Uuid, AuditApiError> {
        if named == "system" {
            return if !self.0.scopes.iter().any(|s| s == SCOPE_READ_SYSTEM) {
                Err(AuditApiError::MissingScope(SCOPE_READ_SYSTEM))
            } else if !self.1 {
                Err(AuditApiError::NotSuperuser)
            } else {
                Ok(SYSTEM_LOG)
            };
        }
        match Uuid::parse_str(named) {
            Ok(id) if id == self.0.tenant_id => Ok(id),
            _ => Err(AuditApiError::UnknownLog(named.to_string())),
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
) -> Result<Json<Value>, AuditApiError> {
    let log = auditor.log(&named)?;
    let newest = state.store.latest_checkpoint(log).await?.ok_or_else(|| {
        AuditApiError::NotFound(format!(
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
) -> Result<Json<Value>, AuditApiError> {
    let log = auditor.log(&named)?;
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > tollgate_store::audit::MAX_LIST {
        return Err(AuditApiError::BadRequest(format!(
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
) -> Result<Json<Value>, AuditApiError> {
    let log = auditor.log(&named)?;
    let Query(q) = query?;
    let seq: u64 = seq.parse().map_err(|_| {
        AuditApiError::BadRequest(format!("{seq:?} is not an entry number (1, 2, ...)"))
    })?;
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
) -> Result<Json<Value>, AuditApiError> {
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
