//! The firewall's admin routes under `/api/v1`, for an admin key of the tenant: its firewall
//! configuration (read with `firewall:read`, replaced with `firewall:write`, checked whole
//! before anything is stored, `If-Match` against lost updates), its devices, and retention
//! on demand (`retention:run`). Every change goes through the audit ledger.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tollgate_domain::scope::{
    DEVICES_READ, DEVICES_WRITE, FIREWALL_READ, FIREWALL_WRITE, RETENTION_RUN,
};
use tollgate_pii::{FirewallConfig, Thresholds};
use tollgate_store::devices::FirewallRow;
use tollgate_store::retention::RetentionRun;
use tollgate_store::Scope;
use uuid::Uuid;

use super::admin::AdminKey;
use super::error::ApiError;
use super::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/firewall/config", get(show).put(replace))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/devices/{id}/deactivate", post(deactivate))
        .route("/api/v1/retention/run", post(retention))
}

/// The configuration as the APIs show it, thresholds with their defaults filled in (a tenant
/// that never saved any is shown the ones in force).
pub(crate) fn config_json(row: &FirewallRow) -> Value {
    let thresholds = Thresholds::deserialize(&row.sensitivity_thresholds)
        .map(|t| json!(t))
        .unwrap_or_else(|_| row.sensitivity_thresholds.clone());
    json!({
        "monitored_tools": row.monitored_tools,
        "sensitivity_thresholds": thresholds,
        "custom_patterns": row.custom_patterns,
        "log_retention_days": row.log_retention_days,
    })
}

/// A strong entity tag of a configuration: its content's hash.
pub(crate) fn etag(config: &Value) -> String {
    let digest = Sha256::digest(config.to_string().as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether a conditional header (`If-Match`, `If-None-Match`) names `tag` or `*`. With
/// `weak`, `W/"…"` matches its strong tag (RFC 9110's weak comparison, for `If-None-Match`:
/// proxies that compress mark tags weak). A header that is not text names nothing.
pub(crate) fn names_tag(header: &HeaderValue, tag: &str, weak: bool) -> bool {
    let Ok(listed) = header.to_str() else {
        return false;
    };
    listed
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == tag || (weak && t.strip_prefix("W/").is_some_and(|t| t == tag)))
}

fn with_etag(row: &FirewallRow) -> Response {
    let body = config_json(row);
    let tag = etag(&body);
    let mut shown = body;
    shown["updated_at"] = json!(row
        .updated_at
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)));
    ([(header::ETAG, tag)], Json(shown)).into_response()
}

async fn show(State(state): State<AppState>, admin: AdminKey) -> Result<Response, ApiError> {
    if !admin.has(FIREWALL_WRITE) {
        admin.require(FIREWALL_READ)?;
    }
    let row = state.store.firewall_config(admin.grant.tenant_id).await?;
    Ok(with_etag(&row))
}

/// Replaces the configuration: every field checked (patterns compiled) before anything is
/// stored; with `If-Match`, only if nobody changed it since it was read (else 412).
async fn replace(
    State(state): State<AppState>,
    admin: AdminKey,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    admin.require(FIREWALL_WRITE)?;
    let Json(body) = body?;
    // Up to 100 patterns compile here: off the async workers.
    let config = tokio::task::spawn_blocking(move || FirewallConfig::from_json(&body))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::Invalid)?;
    let row = FirewallRow {
        monitored_tools: json!(config.monitored_tools),
        sensitivity_thresholds: json!(config.sensitivity_thresholds),
        custom_patterns: json!(config.custom_patterns),
        log_retention_days: i32::from(config.log_retention_days),
        updated_at: None,
    };
    let tenant = admin.grant.tenant_id;
    let mut change = state.store.begin_change(Scope::Tenant(tenant)).await?;
    if let Some(expected) = headers.get(header::IF_MATCH) {
        // Read (and locked) inside the change, so that no concurrent update slips in between.
        let current = etag(&config_json(&change.firewall_config_in(tenant).await?));
        if !names_tag(expected, &current, false) {
            return Err(ApiError::PreconditionFailed(
                "the firewall configuration changed since you read it; fetch it again and reapply your change".to_string(),
            ));
        }
    }
    let updated_at = change
        .set_firewall_config(tenant, &row, admin.grant.user_id, admin.actor())
        .await?;
    change.commit_recorded().await?;
    Ok(with_etag(&FirewallRow {
        updated_at: Some(updated_at),
        ..row
    }))
}

async fn devices(State(state): State<AppState>, admin: AdminKey) -> Result<Json<Value>, ApiError> {
    if !admin.has(DEVICES_WRITE) {
        admin.require(DEVICES_READ)?;
    }
    let devices = state.store.list_devices(admin.grant.tenant_id).await?;
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    Ok(Json(json!({
        "devices": devices.iter().map(|d| json!({
            "id": d.id,
            "device_id": d.device_id,
            "device_type": d.device_type,
            "name": d.name,
            "registered_at": time(d.registered_at),
            "last_seen": d.last_seen.map(time),
            "is_active": d.is_active,
        })).collect::<Vec<_>>()
    })))
}

async fn deactivate(
    State(state): State<AppState>,
    admin: AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin.require(DEVICES_WRITE)?;
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not a device id (a UUID)")))?;
    let tenant = admin.grant.tenant_id;
    let mut change = state.store.begin_change(Scope::Tenant(tenant)).await?;
    if !change.deactivate_device(tenant, id, admin.actor()).await? {
        return Err(ApiError::NotFound(format!(
            "there is no active device {id} in your organisation"
        )));
    }
    change.commit_recorded().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionRequest {
    #[serde(default)]
    dry_run: bool,
}

/// Deletes the tenant's expired events now (or, dry, counts them).
async fn retention(
    State(state): State<AppState>,
    admin: AdminKey,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    admin.require(RETENTION_RUN)?;
    // The body is read whatever its content type says: a dry run asked for without one must
    // not delete.
    let request: RetentionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RetentionRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!("the body must be {{\"dry_run\": true|false}}: {e}"))
        })?
    };
    let requested_by = format!("admin key {}", admin.grant.key_id);
    let report = state
        .store
        .run_retention(
            admin.grant.tenant_id,
            RetentionRun {
                now: Utc::now(),
                batch: state.retention_batch,
                dry_run: request.dry_run,
                requested_by: &requested_by,
                actor: admin.actor(),
            },
        )
        .await?;
    Ok(Json(crate::retention::report_json(&report)))
}
