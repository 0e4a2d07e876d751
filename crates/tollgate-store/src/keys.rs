//! API keys: gateway keys (seed 000 licences, with credits) and admin keys (seed 003, with
//! scopes), one table with a kind the database checks. Only prefix and hash are stored.

use sqlx::types::Json;
use tollgate_domain::key::{IssuedKey, KeyKind};
use uuid::Uuid;

use crate::backend::{on_tx, Tx};
use crate::sql::DbId;
use crate::StoreError;

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
}

impl Tx {
    /// Stores a key.
    pub async fn insert_key(&mut self, k: &NewKey<'_>) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, kind, app_id, user_id, team_id, name, key_prefix,
                key_hash, scopes, credits_remaining)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Names of the keys an app has.
    pub async fn key_names_of_app(&mut self, app_id: Uuid) -> Result<Vec<String>, StoreError> {
        Ok(on_tx!(self, conn => sqlx::query_scalar(
            "SELECT name FROM api_keys WHERE app_id = $1 ORDER BY name",
        )
        .bind(DbId(app_id))
        .fetch_all(&mut *conn)
        .await)?)
    }
}
