//! Appending to the audit log. Each tenant has its own log and `tenant_id` NULL is the system
//! log; entries are numbered from 1 per log and carry a checksum of every field.

use serde_json::Value;
use sqlx::types::Json;
use tollgate_domain::audit::{ActorType, AuditEntry};
use uuid::Uuid;

use crate::backend::{on_tx, Tx};
use crate::sql::{DbId, DbTime};
use crate::StoreError;

/// What the caller says about an action; the store adds id, position, time and checksum.
#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    /// The tenant whose log it goes to; `None` for the system log.
    pub tenant_id: Option<Uuid>,
    /// Who acted.
    pub actor_type: ActorType,
    /// Their id (a person's pseudonymous subject id, never their user id or name).
    pub actor_id: Option<Uuid>,
    /// What they did, e.g. `tenant.erase`.
    pub action: String,
    /// The kind of thing acted on.
    pub resource_type: String,
    /// Which one.
    pub resource_id: Option<String>,
    /// Counts, reasons: never content or personal data.
    pub details: Value,
}

impl NewAuditEntry {
    /// An entry by the operator at the command line (actor `system`).
    pub fn system(
        action: &str,
        resource_type: &str,
        resource_id: Option<String>,
        details: Value,
    ) -> Self {
        Self {
            tenant_id: None,
            actor_type: ActorType::System,
            actor_id: None,
            action: action.to_string(),
            resource_type: resource_type.to_string(),
            resource_id,
            details,
        }
    }
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

impl Tx {
    /// Appends `new` to its log inside this transaction and returns the entry as stored.
    pub async fn append_audit(&mut self, new: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let log = DbId(new.tenant_id.unwrap_or(Uuid::nil()));
        if let Tx::Postgres(t) = self {
            // One writer per log at a time, so positions have no gaps or duplicates.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tollgate.audit.' || $1::text))")
                .bind(log)
                .execute(&mut **t)
                .await?;
        }
        let last: Option<i64> = on_tx!(self, conn => sqlx::query_scalar(&format!(
            "SELECT max(seq) FROM audit_log WHERE COALESCE(tenant_id, '{NIL}') = $1"
        ))
        .bind(log)
        .fetch_one(&mut *conn)
        .await)?;
        let entry = AuditEntry {
            id: tollgate_domain::id::time_ordered(),
            tenant_id: new.tenant_id,
            seq: last.unwrap_or(0) + 1,
            actor_type: new.actor_type,
            actor_id: new.actor_id,
            action: new.action,
            resource_type: new.resource_type,
            resource_id: new.resource_id,
            before: None,
            after: None,
            details: new.details,
            ip_address: None,
            user_agent: None,
            correlation_id: None,
            created_at: DbTime::now().0,
        };
        let checksum = entry.checksum();
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, seq, actor_type, actor_id, action, resource_type,
                resource_id, before, after, details, ip_address, user_agent, correlation_id,
                created_at, checksum)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(DbId(entry.id))
        .bind(entry.tenant_id.map(DbId))
        .bind(entry.seq)
        .bind(entry.actor_type.as_str())
        .bind(entry.actor_id.map(DbId))
        .bind(&entry.action)
        .bind(&entry.resource_type)
        .bind(&entry.resource_id)
        .bind(entry.before.as_ref().map(Json))
        .bind(entry.after.as_ref().map(Json))
        .bind(Json(&entry.details))
        .bind(&entry.ip_address)
        .bind(&entry.user_agent)
        .bind(&entry.correlation_id)
        .bind(DbTime(entry.created_at))
        .bind(checksum)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected()))?;
        Ok(entry)
    }
}
