//! API keys: gateway keys (seed 000 licences, with credits) and admin keys (seed 003, with
//! scopes), one table with a kind the database checks. Only prefix and hash are stored.

use sqlx::types::Json;
use tollgate_domain::key::{IssuedKey, KeyKind};
use uuid::Uuid;

use crate::backend::on_tx;
use crate::change::Change;
use crate::sql::{DbId, DbTime};
use crate::{Scope, Store, StoreError};

/// A key to store. The secret itself never reaches the store.
#[derive(Clone, Debug)]
pub struct NewKey<'a> {
    /// Row id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Gateway or admin.
    pub kind: KeyKind,
    /// The app (gateway keys).
    pub app_id: Option<Uuid>,
    /// The owner (admin keys; optional for gateway keys).
    pub user_id: Option<Uuid>,
    /// Team whose budget and policies apply.
    pub team_id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// Prefix and hash of the issued secret.
    pub issued: &'a IssuedKey,
    /// Scopes (admin keys).
    pub scopes: Vec<String>,
    /// Credits in micro-units; `None` is unlimited (gateway keys).
    pub credits: Option<i64>,
    /// Public model names the key may call; `None` is every model (gateway keys).
    pub allowed_models: Option<Vec<String>>,
}

impl Change {
    /// Stores a key.
    pub async fn insert_key(&mut self, k: &NewKey<'_>) -> Result<(), StoreError> {
        on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, kind, app_id, user_id, team_id, name, key_prefix,
                key_hash, scopes, credits_remaining, allowed_models)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(DbId(k.id))
        .bind(DbId(k.tenant_id))
        .bind(k.kind.as_str())
        .bind(k.app_id.map(DbId))
        .bind(k.user_id.map(DbId))
        .bind(k.team_id.map(DbId))
        .bind(&k.name)
        .bind(&k.issued.prefix)
        .bind(&k.issued.hash)
        .bind(Json(&k.scopes))
        .bind(k.credits)
        .bind(k.allowed_models.as_ref().map(Json))
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Names of the keys an app has.
    pub async fn key_names_of_app(&mut self, app_id: Uuid) -> Result<Vec<String>, StoreError> {
        Ok(on_tx!(&mut self.tx, conn => sqlx::query_scalar(
            "SELECT name FROM api_keys WHERE app_id = $1 ORDER BY name",
        )
        .bind(DbId(app_id))
        .fetch_all(&mut *conn)
        .await)?)
    }
}

/// What the data plane needs to know about a presented key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    /// The key's row id.
    pub key_id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// Its app (gateway keys).
    pub app_id: Option<Uuid>,
    /// The team whose budget and policies apply.
    pub team_id: Option<Uuid>,
    /// Gateway or admin.
    pub kind: KeyKind,
    /// Shown in errors ("key `Demo Key 1` ...").
    pub name: String,
    /// Whether the key itself is active.
    pub is_active: bool,
    /// When it was revoked, if it was.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it expires, if it does.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Credits left in micro-units; `None` is unlimited.
    pub credits_remaining: Option<i64>,
    /// Whether its app is active (soft delete).
    pub app_active: bool,
    /// Whether its tenant is active (soft delete).
    pub tenant_active: bool,
    /// Browser origins allowed to use it (the app's `allowed_origins`).
    pub allowed_origins: Vec<String>,
    /// Public model names it may call; `None` is every model.
    pub allowed_models: Option<Vec<String>>,
    /// What an admin key may do (e.g. `audit:read`); empty for gateway keys.
    pub scopes: Vec<String>,
    /// The person an admin key belongs to.
    pub user_id: Option<Uuid>,
}

/// Why a key that exists may not be used now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    /// Revoked.
    #[error("the API key `{name}` was revoked on {on}; ask your tenant admin for a new one")]
    Revoked {
        /// The key's name.
        name: String,
        /// The day it was revoked.
        on: String,
    },
    /// Past its expiry.
    #[error("the API key `{name}` expired on {on}; ask your tenant admin for a new one")]
    Expired {
        /// The key's name.
        name: String,
        /// The day it expired.
        on: String,
    },
    /// The key, its app or its tenant is retired.
    #[error("{what} is deactivated; ask your tenant admin")]
    Inactive {
        /// What is: "this API key", "the app of this API key", ...
        what: &'static str,
    },
}

impl KeyGrant {
    /// Why the key may not be used at `now`, if it may not: revoked, deactivated, expired,
    /// or its tenant (or, for a gateway key, its app) retired.
    pub fn refusal(&self, now: chrono::DateTime<chrono::Utc>) -> Option<KeyRefusal> {
        let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
        if let Some(at) = self.revoked_at {
            return Some(KeyRefusal::Revoked {
                name: self.name.clone(),
                on: day(at),
            });
        }
        let inactive = |what| Some(KeyRefusal::Inactive { what });
        if !self.is_active {
            return inactive("this API key");
        }
        if let Some(at) = self.expires_at.filter(|at| *at <= now) {
            return Some(KeyRefusal::Expired {
                name: self.name.clone(),
                on: day(at),
            });
        }
        if !self.tenant_active {
            return inactive("the tenant of this API key");
        }
        if self.kind == KeyKind::Gateway && !self.app_active {
            return inactive("the app of this API key");
        }
        None
    }

    /// Whether the key may call the model with this public name.
    pub fn may_use(&self, model: &str) -> bool {
        self.allowed_models
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|m| m == model))
    }
}

type KeyRow = (
    DbId,
    DbId,
    Option<DbId>,
    Option<DbId>,
    String,
    String,
    bool,
    Option<DbTime>,
    Option<DbTime>,
    Option<i64>,
    Option<Json<Vec<String>>>,
    Json<Vec<String>>,
    Option<DbId>,
);

impl Store {
    /// The key with this hash, with its app's and tenant's state; `None` if no key has it.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<KeyGrant>, StoreError> {
        let mut tx = self.begin_read_in(Scope::Key(hash)).await?;
        let row: Option<KeyRow> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT id, tenant_id, app_id, team_id, kind, name, is_active, revoked_at, expires_at,
                    credits_remaining, allowed_models, scopes, user_id
             FROM api_keys WHERE key_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await)?;
        tx.commit().await?;
        let Some((
            id,
            tenant,
            app,
            team,
            kind,
            name,
            is_active,
            revoked,
            expires,
            credits,
            models,
            scopes,
            user,
        )) = row
        else {
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
        let app_row: Option<(bool, Json<Vec<String>>)> = match app {
            Some(app) => on_tx!(&mut tx, conn => sqlx::query_as(
                "SELECT is_active, allowed_origins FROM apps WHERE id = $1",
            )
            .bind(app)
            .fetch_optional(&mut *conn)
            .await)?,
            None => None,
        };
        tx.commit().await?;
        let (app_active, origins) = app_row
            .map(|(a, o)| (a, o.0))
            .unwrap_or((false, Vec::new()));
        Ok(Some(KeyGrant {
            key_id: id.0,
            tenant_id: tenant.0,
            app_id: app.map(|a| a.0),
            team_id: team.map(|t| t.0),
            kind: KeyKind::parse(&kind).unwrap_or(KeyKind::Admin),
            name,
            is_active,
            revoked_at: revoked.map(|t| t.0),
            expires_at: expires.map(|t| t.0),
            credits_remaining: credits,
            app_active,
            tenant_active,
            allowed_origins: origins,
            allowed_models: models.map(|m| m.0),
            scopes: scopes.0,
            user_id: user.map(|u| u.0),
        }))
    }
}

/// A key as listed for operators: never the secret, only its prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySummary {
    /// Row id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// App (gateway keys).
    pub app_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// `gateway` or `admin`.
    pub kind: String,
    /// Credits left in micro-units; `None` is unlimited.
    pub credits_remaining: Option<i64>,
    /// `active`, `revoked` or `inactive`.
    pub status: String,
    /// Last use, when known.
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

type SummaryRow = (
    DbId,
    DbId,
    Option<DbId>,
    String,
    String,
    String,
    Option<i64>,
    bool,
    Option<DbTime>,
    Option<DbTime>,
);

impl Store {
    /// Keys of one tenant (or of every tenant), newest first.
    pub async fn list_keys(&self, tenant_id: Option<Uuid>) -> Result<Vec<KeySummary>, StoreError> {
        // Credits held in leases by running gateways are still the key's.
        let sql = "SELECT id, tenant_id, app_id, name, key_prefix, kind,
                          credits_remaining + CAST(COALESCE((SELECT sum(l.amount) FROM credit_leases l
                              WHERE l.api_key_id = api_keys.id), 0) AS BIGINT),
                          is_active, revoked_at, last_used_at
                   FROM api_keys WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY created_at DESC, name";
        let scope = match tenant_id {
            Some(t) => Scope::Tenant(t),
            None => Scope::System("list keys"),
        };
        let mut tx = self.begin_read_in(scope).await?;
        let rows: Vec<SummaryRow> = on_tx!(&mut tx, conn => sqlx::query_as(sql)
            .bind(tenant_id.map(DbId))
            .fetch_all(&mut *conn)
            .await)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, tenant, app, name, prefix, kind, credits, active, revoked, used)| {
                    KeySummary {
                        id: id.0,
                        tenant_id: tenant.0,
                        app_id: app.map(|a| a.0),
                        name,
                        prefix,
                        kind,
                        credits_remaining: credits,
                        status: match (revoked, active) {
                            (Some(_), _) => "revoked",
                            (None, true) => "active",
                            (None, false) => "inactive",
                        }
                        .to_string(),
                        last_used_at: used.map(|t| t.0),
                    }
                },
            )
            .collect())
    }
}

impl Change {
    /// The tenant a key belongs to, if the key exists (in this transaction's scope).
    pub async fn key_tenant(&mut self, key_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let tenant: Option<DbId> = on_tx!(&mut self.tx, conn => sqlx::query_scalar(
            "SELECT tenant_id FROM api_keys WHERE id = $1",
        )
        .bind(DbId(key_id))
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(tenant.map(|t| t.0))
    }

    /// Revokes a key now; returns false when it was revoked already.
    pub async fn revoke_key(&mut self, key_id: Uuid, reason: &str) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "UPDATE api_keys SET is_active = false, revoked_at = $2, revoke_reason = $3
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(DbId(key_id))
        .bind(DbTime::now())
        .bind(reason)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Sets the models a gateway key may call (`None`: every model); returns false when no
    /// gateway key has this id.
    pub async fn set_key_models(
        &mut self,
        key_id: Uuid,
        models: Option<&[String]>,
    ) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "UPDATE api_keys SET allowed_models = $2 WHERE id = $1 AND kind = 'gateway'",
        )
        .bind(DbId(key_id))
        .bind(models.map(Json))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Adds credits to a key that has a balance; returns the new balance, or `None` when the
    /// key is unlimited (a balance cannot be added to "unlimited").
    pub async fn top_up_key(
        &mut self,
        key_id: Uuid,
        amount: i64,
    ) -> Result<Option<i64>, StoreError> {
        let left: Option<Option<i64>> = on_tx!(&mut self.tx, conn => sqlx::query_scalar(
            "UPDATE api_keys SET credits_remaining = credits_remaining + $2
             WHERE id = $1 AND credits_remaining IS NOT NULL
             RETURNING credits_remaining",
        )
        .bind(DbId(key_id))
        .bind(amount)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(left.flatten())
    }
}
