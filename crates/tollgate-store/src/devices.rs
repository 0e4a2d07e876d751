//! Seed 001's devices (browser extensions, desktop agents, CLI interceptors), their tenant's
//! firewall configuration, and the AI-tool use they report (`ai_use_events`, metadata only).
//! A device authenticates with a token of its own (`tg_dev_...`), stored as a hash.
//! Registering a device and changing a firewall configuration are control-plane changes
//! (audited); events are records, written like usage rows.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::types::Json;
use tollgate_domain::audit::ActorType;
use uuid::Uuid;

use crate::audit::NewAuditEntry;
use crate::backend::on_tx;
use crate::sql::{DbId, DbTime};
use crate::{Change, Scope, Store, StoreError};

/// Events taken in one call at most.
pub const MAX_EVENTS: usize = 500;

/// A device asking to be registered (again: the same `device_id` gets a new token).
#[derive(Clone, Debug)]
pub struct NewDevice<'a> {
    /// The client's own id for itself.
    pub device_id: &'a str,
    /// `browser`, `desktop` or `cli`.
    pub device_type: &'a str,
    /// A name people recognise, if given.
    pub name: Option<&'a str>,
    /// The person it belongs to, when an admin key of theirs registers it.
    pub user_id: Option<Uuid>,
    /// Hex SHA-256 of its new token.
    pub token_hash: &'a str,
}

/// Who acts in an audited device or firewall change.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    /// A person, an API key, a device or the operator.
    pub kind: ActorType,
    /// Their pseudonymous reference (a person's subject id, a key's or device's row id).
    pub id: Option<Uuid>,
}

impl Actor {
    /// The operator at the command line.
    pub const SYSTEM: Actor = Actor {
        kind: ActorType::System,
        id: None,
    };
}

impl NewAuditEntry {
    /// The same entry, done by `actor`.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor_type = actor.kind;
        self.actor_id = actor.id;
        self
    }
}

/// A registered device as its token finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceGrant {
    /// Row id (`devices.id`).
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// The client's own id.
    pub device_id: String,
    /// `browser`, `desktop` or `cli`.
    pub device_type: String,
    /// The person it belongs to, if known.
    pub user_id: Option<Uuid>,
    /// Whether it may still be used.
    pub is_active: bool,
    /// Whether its tenant is active.
    pub tenant_active: bool,
}

/// A device as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSummary {
    /// Row id.
    pub id: Uuid,
    /// The client's own id.
    pub device_id: String,
    /// `browser`, `desktop` or `cli`.
    pub device_type: String,
    /// Its name.
    pub name: Option<String>,
    /// When it (last) registered.
    pub registered_at: DateTime<Utc>,
    /// When it last reported, if it has.
    pub last_seen: Option<DateTime<Utc>>,
    /// Whether it may still be used.
    pub is_active: bool,
}

/// A tenant's firewall configuration (seed 001 `firewall_configs`), JSON as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct FirewallRow {
    /// AI tools devices watch, with their enable flags.
    pub monitored_tools: Value,
    /// Risk classification thresholds.
    pub sensitivity_thresholds: Value,
    /// The tenant's own patterns and keyword lists.
    pub custom_patterns: Value,
    /// Days events are kept (30 to 365).
    pub log_retention_days: i32,
    /// When it last changed; `None` for a tenant that never had one stored (the defaults).
    pub updated_at: Option<DateTime<Utc>>,
}

impl FirewallRow {
    /// Seed 001's defaults: nothing monitored, default thresholds, no patterns, 90 days.
    pub fn defaults() -> Self {
        Self {
            monitored_tools: json!([]),
            sensitivity_thresholds: json!({}),
            custom_patterns: json!([]),
            log_retention_days: 90,
            updated_at: None,
        }
    }
}

/// One AI-tool use a device saw; metadata only, never the prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Row id: derived from the device and the client's event id, so a retried batch lands
    /// once.
    pub id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// E.g. `ChatGPT`.
    pub tool_name: String,
    /// `web`, `desktop` or `cli`.
    pub tool_type: String,
    /// The site, e.g. `chatgpt.com`.
    pub domain: Option<String>,
    /// What the person did: `prompt`, `paste`, `upload`, `blocked`, ...
    pub action: String,
    /// `green`, `amber` or `red`.
    pub risk_level: String,
    /// Characters in the prompt.
    pub prompt_length: i32,
    /// Types found, e.g. `["EMAIL"]`.
    pub detected_entity_types: Vec<String>,
    /// Findings.
    pub entity_count: i32,
    /// Whether the person sent the sanitized version.
    pub was_sanitized: bool,
    /// Browser version, OS, ...
    pub metadata: Value,
}

type GrantRow = (DbId, DbId, String, String, Option<DbId>, bool);
type SummaryRow = (
    DbId,
    String,
    String,
    Option<String>,
    DbTime,
    Option<DbTime>,
    bool,
);
const FIREWALL_SELECT: &str = "SELECT monitored_tools, sensitivity_thresholds, custom_patterns,
        log_retention_days, updated_at FROM firewall_configs WHERE tenant_id = $1";

type FirewallDbRow = (Json<Value>, Json<Value>, Json<Value>, i32, DbTime);

impl Change {
    /// Registers a device of `tenant_id` and returns its row id. A `device_id` already
    /// registered is given the new token (the old one stops working), made active again and
    /// given `user_id` only with `replace` (an admin's re-registration); without it the
    /// registration is refused as a conflict, so that a key which may only add devices cannot
    /// take over or revive one. Audited as `device.register`.
    pub async fn register_device(
        &mut self,
        tenant_id: Uuid,
        d: &NewDevice<'_>,
        replace: bool,
        actor: Actor,
    ) -> Result<Uuid, StoreError> {
        let now = DbTime::now();
        let on_conflict = if replace {
            "ON CONFLICT (tenant_id, device_id) DO UPDATE SET
                 token_hash = excluded.token_hash, device_type = excluded.device_type,
                 name = COALESCE(excluded.name, devices.name), user_id = excluded.user_id,
                 registered_at = excluded.registered_at, is_active = true"
        } else {
            "ON CONFLICT (tenant_id, device_id) DO NOTHING"
        };
        let sql = format!(
            "INSERT INTO devices (id, tenant_id, device_id, user_id, device_type, name, token_hash,
                                  registered_at, last_seen, is_active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, true)
             {on_conflict}
             RETURNING id"
        );
        let id: Option<DbId> = on_tx!(&mut self.tx, conn => sqlx::query_scalar(&sql)
        .bind(DbId(tollgate_domain::id::random()))
        .bind(DbId(tenant_id))
        .bind(d.device_id)
        .bind(d.user_id.map(DbId))
        .bind(d.device_type)
        .bind(d.name)
        .bind(d.token_hash)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await)?;
        let id = id.ok_or_else(|| {
            StoreError::Conflict(format!(
                "a device {:?} is registered already; an admin key with devices:write can register it again",
                d.device_id
            ))
        })?;
        self.record(
            NewAuditEntry::system(
                "device.register",
                "device",
                Some(id.0.to_string()),
                json!({ "device_id": d.device_id, "device_type": d.device_type, "replaced": replace }),
            )
            .in_log_of(tenant_id)
            .by(actor),
        );
        Ok(id.0)
    }

    /// Deactivates a device of `tenant_id`: its token stops working. `false` if it was not
    /// active (or not there).
    pub async fn deactivate_device(
        &mut self,
        tenant_id: Uuid,
        id: Uuid,
        actor: Actor,
    ) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "UPDATE devices SET is_active = false WHERE id = $1 AND tenant_id = $2 AND is_active",
        )
        .bind(DbId(id))
        .bind(DbId(tenant_id))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 1 {
            self.record(
                NewAuditEntry::system(
                    "device.deactivate",
                    "device",
                    Some(id.to_string()),
                    json!({}),
                )
                .in_log_of(tenant_id)
                .by(actor),
            );
        }
        Ok(done == 1)
    }

    /// Stores `tenant_id`'s firewall configuration (checked by the caller), recording what
    /// changed, before and after. Audited as `firewall_config.update`.
    pub async fn set_firewall_config(
        &mut self,
        tenant_id: Uuid,
        config: &FirewallRow,
        updated_by: Option<Uuid>,
        actor: Actor,
    ) -> Result<DateTime<Utc>, StoreError> {
        let before = self.firewall_config_in(tenant_id).await?;
        let now = DbTime::now();
        on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO firewall_configs (id, tenant_id, monitored_tools, sensitivity_thresholds,
                                           custom_patterns, log_retention_days, updated_by, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (tenant_id) DO UPDATE SET
                 monitored_tools = excluded.monitored_tools,
                 sensitivity_thresholds = excluded.sensitivity_thresholds,
                 custom_patterns = excluded.custom_patterns,
                 log_retention_days = excluded.log_retention_days,
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(DbId(tollgate_domain::id::random()))
        .bind(DbId(tenant_id))
        .bind(Json(&config.monitored_tools))
        .bind(Json(&config.sensitivity_thresholds))
        .bind(Json(&config.custom_patterns))
        .bind(config.log_retention_days)
        .bind(updated_by.map(DbId))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        let shown = |r: &FirewallRow| {
            json!({
                "monitored_tools": r.monitored_tools,
                "sensitivity_thresholds": r.sensitivity_thresholds,
                "custom_patterns": r.custom_patterns,
                "log_retention_days": r.log_retention_days,
            })
        };
        let mut entry = NewAuditEntry::system(
            "firewall_config.update",
            "firewall_config",
            Some(tenant_id.to_string()),
            json!({}),
        )
        .in_log_of(tenant_id)
        .by(actor);
        entry.body.before = Some(shown(&before));
        entry.body.after = Some(shown(config));
        self.record(entry);
        Ok(now.0)
    }
}

impl Change {
    /// `tenant_id`'s configuration as this change sees it, locked until the change ends (on
    /// PostgreSQL; SQLite's write transactions are serial): what an `If-Match` is compared
    /// with and what `set_firewall_config` records as before. A tenant without a stored
    /// configuration gets the defaults stored first, so there is always a row to lock and two
    /// first writes cannot both pass the comparison.
    pub async fn firewall_config_in(&mut self, tenant_id: Uuid) -> Result<FirewallRow, StoreError> {
        on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO firewall_configs (id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(DbId(tollgate_domain::id::random()))
        .bind(DbId(tenant_id))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        let sql = match &self.tx {
            crate::Tx::Sqlite(_) => FIREWALL_SELECT.to_string(),
            crate::Tx::Postgres(_) => format!("{FIREWALL_SELECT} FOR UPDATE"),
        };
        Ok(firewall_row(&mut self.tx, tenant_id, &sql)
            .await?
            .unwrap_or_else(FirewallRow::defaults))
    }
}

/// The stored configuration of `tenant_id`, if it has one, read with `sql`.
async fn firewall_row(
    tx: &mut crate::Tx,
    tenant_id: Uuid,
    sql: &str,
) -> Result<Option<FirewallRow>, StoreError> {
    let row: Option<FirewallDbRow> = on_tx!(tx, conn => sqlx::query_as(sql)
    .bind(DbId(tenant_id))
    .fetch_optional(&mut *conn)
    .await)?;
    Ok(
        row.map(|(tools, thresholds, patterns, days, at)| FirewallRow {
            monitored_tools: tools.0,
            sensitivity_thresholds: thresholds.0,
            custom_patterns: patterns.0,
            log_retention_days: days,
            updated_at: Some(at.0),
        }),
    )
}

impl Store {
    /// The device whose token has this hash, with its tenant's state; `None` if none has it.
    pub async fn device_by_token(&self, hash: &str) -> Result<Option<DeviceGrant>, StoreError> {
        let mut tx = self.begin_read_in(Scope::Key(hash)).await?;
        let row: Option<GrantRow> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT id, tenant_id, device_id, device_type, user_id, is_active
             FROM devices WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await)?;
        tx.commit().await?;
        let Some((id, tenant, device_id, device_type, user, is_active)) = row else {
            return Ok(None);
        };
        let mut tx = self.begin_read_in(Scope::Tenant(tenant.0)).await?;
        let tenant_active: bool = on_tx!(&mut tx, conn => sqlx::query_scalar(
            "SELECT is_active FROM tenants WHERE id = $1",
        )
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await)?
        .unwrap_or(false);
        tx.commit().await?;
        Ok(Some(DeviceGrant {
            id: id.0,
            tenant_id: tenant.0,
            device_id,
            device_type,
            user_id: user.map(|u| u.0),
            is_active,
            tenant_active,
        }))
    }

    /// The devices of `tenant_id`, most recently registered first.
    pub async fn list_devices(&self, tenant_id: Uuid) -> Result<Vec<DeviceSummary>, StoreError> {
        let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
        let rows: Vec<SummaryRow> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT id, device_id, device_type, name, registered_at, last_seen, is_active
             FROM devices WHERE tenant_id = $1 ORDER BY registered_at DESC, id",
        )
        .bind(DbId(tenant_id))
        .fetch_all(&mut *conn)
        .await)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, device_id, device_type, name, registered, seen, is_active)| DeviceSummary {
                    id: id.0,
                    device_id,
                    device_type,
                    name,
                    registered_at: registered.0,
                    last_seen: seen.map(|s| s.0),
                    is_active,
                },
            )
            .collect())
    }

    /// `tenant_id`'s firewall configuration, or seed 001's defaults if it has none stored.
    pub async fn firewall_config(&self, tenant_id: Uuid) -> Result<FirewallRow, StoreError> {
        let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
        let row = firewall_row(&mut tx, tenant_id, FIREWALL_SELECT).await?;
        tx.commit().await?;
        Ok(row.unwrap_or_else(FirewallRow::defaults))
    }

    /// Stores events `device` reported (checked by the caller, at most [`MAX_EVENTS`]) and
    /// marks the device seen; an event already stored (a retried batch) is skipped (never
    /// replaced: SQLite's append-only trigger refuses even an upsert). Returns
    /// how many were new.
    pub async fn record_events(
        &self,
        device: &DeviceGrant,
        subject_id: Option<Uuid>,
        events: &[NewEvent],
    ) -> Result<u64, StoreError> {
        if events.len() > MAX_EVENTS {
            return Err(StoreError::OutOfRange(format!(
                "at most {MAX_EVENTS} events are taken per call; send the rest in another"
            )));
        }
        let mut tx = self.begin_in(Scope::Tenant(device.tenant_id)).await?;
        let mut stored = 0;
        for e in events {
            stored += on_tx!(&mut tx, conn => sqlx::query(
                "INSERT INTO ai_use_events (id, tenant_id, device_id, subject_id, occurred_at,
                     tool_name, tool_type, domain, action, risk_level, prompt_length,
                     detected_entity_types, entity_count, was_sanitized, log_metadata)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
                 WHERE NOT EXISTS (SELECT 1 FROM ai_use_events WHERE id = $1)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(DbId(e.id))
            .bind(DbId(device.tenant_id))
            .bind(DbId(device.id))
            .bind(subject_id.map(DbId))
            .bind(DbTime::of(e.occurred_at))
            .bind(&e.tool_name)
            .bind(&e.tool_type)
            .bind(e.domain.as_deref())
            .bind(&e.action)
            .bind(&e.risk_level)
            .bind(e.prompt_length)
            .bind(Json(&e.detected_entity_types))
            .bind(e.entity_count)
            .bind(e.was_sanitized)
            .bind(Json(&e.metadata))
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        on_tx!(&mut tx, conn => sqlx::query("UPDATE devices SET last_seen = $2 WHERE id = $1")
            .bind(DbId(device.id))
            .bind(DbTime::now())
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(stored)
    }
}
