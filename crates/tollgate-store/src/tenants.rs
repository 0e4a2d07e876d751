//! Tenants and their apps (seed 000). Soft delete (`is_active = false`, `deleted_at`) is the
//! normal way to retire either; hard deletion is [`crate::erasure`]'s job.

use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

use crate::audit::NewAuditEntry;
use crate::backend::{on_tx, Tx};
use crate::change::Change;
use crate::sql::{DbId, DbTime};
use crate::{Scope, Store, StoreError};

/// A new tenant.
#[derive(Clone, Debug)]
pub struct NewTenant {
    /// Id to use (fixed for the demo tenant, random otherwise).
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Contact address; unique.
    pub email: String,
}

/// A new app of a tenant.
#[derive(Clone, Debug)]
pub struct NewApp {
    /// Id to use.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Display name (`app_name`).
    pub name: String,
    /// Browser origins allowed to call with this app's keys (CORS).
    pub allowed_origins: Vec<String>,
}

impl Change {
    /// Inserts a tenant unless one with that id exists; returns whether it was new.
    pub async fn insert_tenant(&mut self, t: &NewTenant) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO tenants (id, name, email) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(DbId(t.id))
        .bind(&t.name)
        .bind(&t.email)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Inserts an app unless one with that id exists; returns whether it was new.
    pub async fn insert_app(&mut self, a: &NewApp) -> Result<bool, StoreError> {
        let done = on_tx!(&mut self.tx, conn => sqlx::query(
            "INSERT INTO apps (id, tenant_id, app_name, allowed_origins) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(DbId(a.id))
        .bind(DbId(a.tenant_id))
        .bind(&a.name)
        .bind(Json(&a.allowed_origins))
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}

impl Store {
    /// Retires a tenant: it and its apps stop working, every row stays.
    pub async fn deactivate_tenant(&self, id: Uuid) -> Result<(), StoreError> {
        let now = DbTime::now();
        let mut tx = self.begin_change(Scope::Tenant(id)).await?;
        let done = on_tx!(&mut tx.tx, conn => sqlx::query(
            "UPDATE tenants SET is_active = false, deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(DbId(id))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 && !tx.exists("tenants", id, id).await? {
            return Err(StoreError::NotFound {
                what: "tenant",
                id: id.to_string(),
            });
        }
        on_tx!(&mut tx.tx, conn => sqlx::query(
            "UPDATE apps SET is_active = false, deleted_at = $2 WHERE tenant_id = $1 AND deleted_at IS NULL",
        )
        .bind(DbId(id))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit(
            NewAuditEntry::system(
                "tenant.deactivate",
                "tenant",
                Some(id.to_string()),
                json!({}),
            )
            .in_log_of(id),
        )
        .await?;
        Ok(())
    }

    /// Retires an app of `tenant_id`: its keys stop working, every row stays.
    pub async fn deactivate_app(&self, tenant_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.begin_change(Scope::Tenant(tenant_id)).await?;
        let done = on_tx!(&mut tx.tx, conn => sqlx::query(
            "UPDATE apps SET is_active = false, deleted_at = $2
             WHERE id = $1 AND tenant_id = $3 AND deleted_at IS NULL",
        )
        .bind(DbId(id))
        .bind(DbTime::now())
        .bind(DbId(tenant_id))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 && !tx.exists("apps", id, tenant_id).await? {
            return Err(StoreError::NotFound {
                what: "app",
                id: id.to_string(),
            });
        }
        tx.commit(
            NewAuditEntry::system("app.deactivate", "app", Some(id.to_string()), json!({}))
                .in_log_of(tenant_id),
        )
        .await?;
        Ok(())
    }
}

impl Tx {
    /// Whether `table` has a row with this id that belongs to `tenant_id` (for `tenants`, the
    /// tenant itself). `table` is always a constant of this crate.
    pub(crate) async fn exists(
        &mut self,
        table: &'static str,
        id: Uuid,
        tenant_id: Uuid,
    ) -> Result<bool, StoreError> {
        let owner = if table == "tenants" {
            "id"
        } else {
            "tenant_id"
        };
        let sql = format!("SELECT count(*) FROM {table} WHERE id = $1 AND {owner} = $2");
        let n: i64 = on_tx!(self, conn => sqlx::query_scalar(&sql)
            .bind(DbId(id))
            .bind(DbId(tenant_id))
            .fetch_one(&mut *conn)
            .await)?;
        Ok(n > 0)
    }
}

impl Tx {
    /// The tenant an app belongs to, if the app exists (in this transaction's scope).
    pub async fn app_tenant(&mut self, app_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let tenant: Option<DbId> = on_tx!(self, conn => sqlx::query_scalar(
            "SELECT tenant_id FROM apps WHERE id = $1",
        )
        .bind(DbId(app_id))
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(tenant.map(|t| t.0))
    }
}
