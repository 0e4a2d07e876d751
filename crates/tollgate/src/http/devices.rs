//! The device API of seed 001, what browser extensions, desktop agents and CLI interceptors
//! call: register (with a key of their organisation) for a device token, fetch the tenant's
//! firewall configuration, scan a text before it is sent, and report AI-tool use in batches.
//! Scanning stores nothing; events hold metadata only, never the prompt.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tollgate_config::{PiiAction, PiiSettings, PII_TYPES};
use tollgate_domain::audit::ActorType;
use tollgate_domain::key::{self, KeyFormatError, KeyKind};
use tollgate_domain::scope::DEVICES_WRITE;
use tollgate_pii::{
    byte_to_char_offsets, ConfigError, EntityType, Finding, FirewallConfig, Redaction, Replacement,
    Scanner,
};
use tollgate_store::devices::{Actor, DeviceGrant, FirewallRow, NewDevice, NewEvent, MAX_EVENTS};
use tollgate_store::keys::KeyRefusal;
use tollgate_store::{Scope, StoreError};
use uuid::Uuid;

use super::admin::{presented, presented_hash, AdminKey};
use super::error::ApiError;
use super::firewall::{config_json, etag, names_tag};
use super::AppState;

/// How long a device may keep its configuration before asking again (it revalidates with
/// `If-None-Match`, which costs one small query).
const CONFIG_MAX_AGE_SECONDS: u32 = 300;
/// Clock skew tolerated in an event's `occurred_at`.
const FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(5);
/// Events older than the longest retention period are refused.
const OLDEST: chrono::Duration = chrono::Duration::days(365);
/// Metadata of one event, serialised, at most.
const MAX_METADATA_BYTES: usize = 4096;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/devices/register", post(register))
        .route("/v1/firewall/config", get(config))
        .route("/v1/scan", post(scan))
        .route("/v1/events", post(events))
}

/// A registered, active device of an active tenant, by its token.
pub(crate) struct Device(DeviceGrant);

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let hash = presented_hash(
            parts,
            KeyKind::Device,
            "a device token (tg_dev_...)",
            "the device API takes a device token (tg_dev_...): register the device with POST /v1/devices/register first",
        )?;
        let device = state
            .store
            .device_by_token(&hash)
            .await?
            .ok_or(ApiError::InvalidKey)?;
        if !device.is_active {
            return Err(ApiError::DeviceInactive);
        }
        if !device.tenant_active {
            return Err(ApiError::Key(KeyRefusal::Inactive {
                what: "the organisation of this device",
            }));
        }
        Ok(Device(device))
    }
}

/// Who may register a device: a gateway key of the tenant, or an admin key with
/// `devices:write` (the device is then its person's).
enum Registrar {
    Gateway { tenant: Uuid, key: Uuid },
    Admin(Box<AdminKey>),
}

impl FromRequestParts<AppState> for Registrar {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = presented(parts).ok_or(ApiError::MissingKey(
            "a gateway key (tg_gw_...) or an admin key with devices:write",
        ))?;
        let hash = match key::hash_presented(presented, KeyKind::Gateway) {
            Ok(hash) => hash,
            Err(KeyFormatError::WrongKind {
                presented: "admin", ..
            }) => {
                let admin = AdminKey::from_request_parts(parts, state).await?;
                admin.require(DEVICES_WRITE)?;
                return Ok(Registrar::Admin(Box::new(admin)));
            }
            Err(KeyFormatError::WrongKind { .. }) => {
                return Err(ApiError::WrongKeyKind(
                    "a device registers with a gateway key (tg_gw_...) or an admin key, not with a device token",
                ))
            }
            Err(KeyFormatError::UnknownFormat) => return Err(ApiError::InvalidKey),
        };
        let grant = state
            .store
            .key_by_hash(&hash)
            .await?
            .ok_or(ApiError::InvalidKey)?;
        if let Some(refusal) = grant.refusal(Utc::now()) {
            return Err(ApiError::Key(refusal));
        }
        Ok(Registrar::Gateway {
            tenant: grant.tenant_id,
            key: grant.key_id,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    device_id: String,
    device_type: String,
    #[serde(default)]
    name: Option<String>,
}

fn field(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Whether `s` is 1 to `max` characters of text (not only spaces) without control characters.
fn short_text(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

fn check_registration(r: &Registration) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if r.device_id.is_empty()
        || r.device_id.len() > 200
        || r.device_id.chars().any(char::is_control)
    {
        errors.push(field(
            "device_id",
            "must be 1 to 200 bytes without control characters",
        ));
    }
    if !["browser", "desktop", "cli"].contains(&r.device_type.as_str()) {
        errors.push(field("device_type", "must be browser, desktop or cli"));
    }
    if let Some(name) = &r.name {
        if !short_text(name, 100) {
            errors.push(field(
                "name",
                "must be 1 to 100 characters without control characters",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// Registers the device and returns its token, once. A known `device_id` is a conflict for a
/// gateway key; an admin key registers it again (new token, the old one stops working).
async fn register(
    State(state): State<AppState>,
    registrar: Registrar,
    body: Result<Json<Registration>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(r) = body?;
    check_registration(&r)?;
    // A gateway key only adds devices; an admin may register a known one again (new token,
    // active again, theirs).
    let (tenant, user, replace, actor) = match &registrar {
        Registrar::Gateway { tenant, key } => (
            *tenant,
            None,
            false,
            Actor {
                kind: ActorType::ApiKey,
                id: Some(*key),
            },
        ),
        Registrar::Admin(admin) => (
            admin.grant.tenant_id,
            admin.grant.user_id,
            true,
            admin.actor(),
        ),
    };
    let issued = key::issue(KeyKind::Device, &mut rand::thread_rng());
    let mut change = state.store.begin_change(Scope::Tenant(tenant)).await?;
    let id = change
        .register_device(
            tenant,
            &NewDevice {
                device_id: &r.device_id,
                device_type: &r.device_type,
                name: r.name.as_deref(),
                user_id: user,
                token_hash: &issued.hash,
            },
            replace,
            actor,
        )
        .await?;
    change.commit_recorded().await?;
    let body = json!({
        "id": id,
        "tenant_id": tenant,
        "device_id": r.device_id,
        "device_type": r.device_type,
        "token": issued.secret,
        "token_prefix": issued.prefix,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The device's tenant's firewall configuration, with an `ETag` to revalidate against.
async fn config(
    State(state): State<AppState>,
    Device(device): Device,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = state.store.firewall_config(device.tenant_id).await?;
    let body = config_json(&row);
    let tag = etag(&body);
    let cache = [
        (header::ETAG, tag.clone()),
        (
            header::CACHE_CONTROL,
            format!("private, max-age={CONFIG_MAX_AGE_SECONDS}"),
        ),
    ];
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| names_tag(v, &tag, true));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, Json(body)).into_response())
}

/// Each tenant's detector, compiled once per configuration.
#[derive(Default)]
pub(crate) struct TenantScanners {
    /// By tenant: the entity tag of the configuration it was compiled from, and the result.
    by_tenant: RwLock<HashMap<Uuid, (String, Arc<TenantScanner>)>>,
}

/// A tenant's configuration and the detector with its patterns.
pub(crate) struct TenantScanner {
    config: FirewallConfig,
    scanner: Scanner,
}

impl TenantScanners {
    /// The detector for `tenant` as its stored configuration `row` says, compiled (off the
    /// async workers) when the configuration changed.
    async fn get(&self, tenant: Uuid, row: &FirewallRow) -> Result<Arc<TenantScanner>, ApiError> {
        let config = config_json(row);
        let tag = etag(&config);
        if let Ok(cached) = self.by_tenant.read() {
            if let Some((at, scanner)) = cached.get(&tenant) {
                if *at == tag {
                    return Ok(scanner.clone());
                }
            }
        }
        let compiled = tokio::task::spawn_blocking(move || Arc::new(compile(tenant, &config)))
            .await
            .map_err(|_| ApiError::Internal)?;
        if let Ok(mut cached) = self.by_tenant.write() {
            cached.insert(tenant, (tag, compiled.clone()));
        }
        Ok(compiled)
    }
}

/// The stored configuration was checked when saved; one that no longer compiles (changed
/// in the database by hand) is logged and the built-in detector used, so scanning goes on.
fn compile(tenant: Uuid, config: &Value) -> TenantScanner {
    let (config, scanner) = FirewallConfig::compile(config).unwrap_or_else(|errors| {
        tracing::error!(%tenant, ?errors, "stored firewall configuration is not valid; scanning with the built-in types and default thresholds");
        (FirewallConfig::default(), Scanner::new())
    });
    TenantScanner { config, scanner }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Offsets {
    #[default]
    Bytes,
    Chars,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    text: String,
    #[serde(default)]
    offsets: Offsets,
}

/// The strongest action `settings` take for any of `findings`.
fn action_of(settings: &PiiSettings, findings: &[Finding]) -> PiiAction {
    let rank = |a: PiiAction| match a {
        PiiAction::Allow => 0,
        PiiAction::Log => 1,
        PiiAction::Redact => 2,
        PiiAction::Block => 3,
    };
    findings
        .iter()
        .map(|f| settings.action_for(f.kind.as_str()))
        .max_by_key(|a| rank(*a))
        .unwrap_or(PiiAction::Allow)
}

/// Scans a text with the tenant's detector and says its risk and what the policy does with
/// it; for `redact`, the text with typed placeholders to offer the person instead. Nothing
/// is stored.
async fn scan(
    State(state): State<AppState>,
    Device(device): Device,
    body: Result<Json<ScanRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body?;
    let row = state.store.firewall_config(device.tenant_id).await?;
    let tenant = state.scanners.get(device.tenant_id, &row).await?;
    let findings = tenant.scanner.scan(&request.text);
    let risk = tenant.config.sensitivity_thresholds.risk(&findings);
    let action = action_of(&state.pii, &findings);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        *counts.entry(f.kind.as_str()).or_default() += 1;
    }
    let redacted = (action == PiiAction::Redact).then(|| {
        let mut redaction = Redaction::new(&[]);
        redaction.reserve(&request.text);
        redaction.apply(&request.text, &findings, |f| {
            (state.pii.action_for(f.kind.as_str()) == PiiAction::Redact)
                .then_some(Replacement::Placeholder)
        })
    });
    let mut shown = findings.clone();
    if matches!(request.offsets, Offsets::Chars) {
        let bounds: Vec<usize> = shown.iter().flat_map(|f| [f.start, f.end]).collect();
        let chars = byte_to_char_offsets(&request.text, &bounds);
        for (f, pair) in shown.iter_mut().zip(chars.chunks(2)) {
            f.start = pair[0];
            f.end = pair[1];
        }
    }
    Ok(Json(json!({
        "risk": risk.as_str(),
        "action": action,
        "findings": shown,
        "counts": counts,
        "redacted": redacted,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsRequest {
    events: Vec<EventIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn {
    /// The device's own id for the event: a batch sent again lands once.
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    tool_name: String,
    tool_type: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    action: Option<String>,
    risk_level: String,
    #[serde(default)]
    prompt_length: u32,
    #[serde(default)]
    detected_entity_types: Vec<String>,
    #[serde(default)]
    entity_count: Option<u32>,
    #[serde(default)]
    was_sanitized: bool,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// The row id of a device's event: random, or derived from the device and the client's id so
/// that a retried batch is stored once (and no device can collide with another's).
fn event_id(device: Uuid, client_id: Option<&str>) -> Uuid {
    match client_id {
        None => tollgate_domain::id::random(),
        Some(id) => {
            let digest = Sha256::new()
                .chain_update(device.as_bytes())
                .chain_update(id.as_bytes())
                .finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_custom_bytes(bytes).into_uuid()
        }
    }
}

/// Every bad field of the batch, each named by its position.
fn check_event(
    i: usize,
    e: &EventIn,
    now: DateTime<Utc>,
    scanner: &Scanner,
    errors: &mut Vec<ConfigError>,
) {
    let at = |f: &str| format!("events[{i}].{f}");
    if let Some(id) = &e.id {
        if !short_text(id, 100) {
            errors.push(field(at("id"), "must be 1 to 100 characters"));
        }
    }
    if e.occurred_at.is_some_and(|t| t > now + FUTURE_SKEW) {
        errors.push(field(
            at("occurred_at"),
            "is in the future; check the device's clock",
        ));
    }
    if e.occurred_at.is_some_and(|t| t < now - OLDEST) {
        errors.push(field(
            at("occurred_at"),
            "is more than 365 days ago, older than any retention period keeps; drop the event",
        ));
    }
    if !short_text(&e.tool_name, 100) {
        errors.push(field(at("tool_name"), "must be 1 to 100 characters"));
    }
    if !["web", "desktop", "cli"].contains(&e.tool_type.as_str()) {
        errors.push(field(at("tool_type"), "must be web, desktop or cli"));
    }
    if let Some(domain) = &e.domain {
        let ok = (1..=253).contains(&domain.len())
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
        if !ok {
            errors.push(field(
                at("domain"),
                "must be a host name such as chatgpt.com (no scheme or path)",
            ));
        }
    }
    if let Some(action) = &e.action {
        let ok = (1..=32).contains(&action.len())
            && action.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !ok {
            errors.push(field(
                at("action"),
                "must be 1 to 32 lower-case letters or `_`, e.g. prompt, paste, upload, blocked",
            ));
        }
    }
    if !["green", "amber", "red"].contains(&e.risk_level.as_str()) {
        errors.push(field(at("risk_level"), "must be green, amber or red"));
    }
    if e.prompt_length > i32::MAX as u32 {
        errors.push(field(at("prompt_length"), "is too large"));
    }
    let types = &e.detected_entity_types;
    if e.entity_count
        .is_some_and(|n| n > i32::MAX as u32 || (n as usize) < types.len())
    {
        errors.push(field(
            at("entity_count"),
            "must be at least the number of detected_entity_types",
        ));
    }
    if let Some(bad) = types.iter().find(|t| !PII_TYPES.contains(&t.as_str())) {
        errors.push(field(
            at("detected_entity_types"),
            format!("{bad:?} is not a type; use {}", PII_TYPES.join(", ")),
        ));
    } else if types
        .iter()
        .enumerate()
        .any(|(j, t)| types[..j].contains(t))
    {
        errors.push(field(at("detected_entity_types"), "names a type twice"));
    }
    let metadata = Value::Object(e.metadata.clone());
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        errors.push(field(
            at("metadata"),
            format!("is larger than {MAX_METADATA_BYTES} bytes"),
        ));
    } else if let Some((path, kind)) = personal_data_in(&metadata, "metadata", scanner) {
        errors.push(field(
            at(&path),
            format!(
                "holds {}: events carry metadata only, never prompt content or personal data",
                kind.as_str()
            ),
        ));
    }
    if let Some(kind) = scanner.scan(&e.tool_name).first().map(|f| f.kind) {
        errors.push(field(
            at("tool_name"),
            format!("holds {}; name the tool, not what was sent", kind.as_str()),
        ));
    }
}

/// The first key or string under `v` (at `path`) in which the detector finds something:
/// where, and what.
fn personal_data_in(v: &Value, path: &str, scanner: &Scanner) -> Option<(String, EntityType)> {
    let found = |s: &str| scanner.scan(s).first().map(|f| f.kind);
    match v {
        Value::String(s) => found(s).map(|kind| (path.to_string(), kind)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| personal_data_in(item, &format!("{path}[{i}]"), scanner)),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let at = format!("{path}.{k}");
            match found(k) {
                Some(kind) => Some((at, kind)),
                None => personal_data_in(item, &at, scanner),
            }
        }),
        _ => None,
    }
}

/// Stores a batch of AI-tool uses the device saw. All or nothing: a batch with a bad event is
/// refused whole, with every bad field named.
async fn events(
    State(state): State<AppState>,
    Device(device): Device,
    body: Result<Json<EventsRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(batch) = body?;
    if batch.events.is_empty() || batch.events.len() > MAX_EVENTS {
        return Err(ApiError::Invalid(vec![field(
            "events",
            format!("send 1 to {MAX_EVENTS} events per call"),
        )]));
    }
    let now = Utc::now();
    // The tenant's own patterns keep its secrets out of metadata too.
    let row = state.store.firewall_config(device.tenant_id).await?;
    let tenant = state.scanners.get(device.tenant_id, &row).await?;
    let mut errors = Vec::new();
    for (i, e) in batch.events.iter().enumerate() {
        check_event(i, e, now, &tenant.scanner, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let subject = match device.user_id {
        Some(user) => match state.store.user(device.tenant_id, user).await {
            Ok(person) => Some(person.subject_id),
            // The person was erased: their device's events carry no one.
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let rows: Vec<NewEvent> = batch
        .events
        .into_iter()
        .map(|e| NewEvent {
            id: event_id(device.id, e.id.as_deref()),
            occurred_at: e.occurred_at.unwrap_or(now),
            tool_name: e.tool_name,
            tool_type: e.tool_type,
            domain: e.domain,
            action: e.action.unwrap_or_else(|| "prompt".to_string()),
            risk_level: e.risk_level,
            // Checked above to fit.
            prompt_length: i32::try_from(e.prompt_length).unwrap_or(i32::MAX),
            entity_count: i32::try_from(
                e.entity_count
                    .unwrap_or(e.detected_entity_types.len() as u32),
            )
            .unwrap_or(i32::MAX),
            detected_entity_types: e.detected_entity_types,
            was_sanitized: e.was_sanitized,
            metadata: Value::Object(e.metadata),
        })
        .collect();
    let stored = state.store.record_events(&device, subject, &rows).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": rows.len(), "stored": stored })),
    )
        .into_response())
}
