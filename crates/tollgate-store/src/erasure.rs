//! Data-protection erasure of a whole tenant or app (seed 000): the one path by which usage
//! rows and audit bodies may leave the database. Inside one transaction it registers itself in
//! `erasure_context` (which the append-only triggers recognise), deletes the tenant or app
//! with everything that cascades from it, withdraws the registration and records the counts,
//! never the content, in the system audit log. Ledger entries stay: they hold no personal data
//! (people appear as pseudonyms), and an erased tenant's log ends with its size and root
//! recorded in the erasure's entry, so it stays provable.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::audit::NewAuditEntry;
use crate::backend::{on_tx, Tx};
use crate::sql::DbId;
use crate::{Scope, Store, StoreError};

/// What an erasure removed, per table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureReport {
    /// `tenant` or `app`.
    pub target: &'static str,
    /// Its id.
    pub id: Uuid,
    /// Rows removed per table, in a fixed order.
    pub removed: Vec<(&'static str, i64)>,
    /// Position of the system audit entry that records it.
    pub audit_seq: u64,
}

impl ErasureReport {
    /// Total rows removed.
    pub fn total(&self) -> i64 {
        self.removed.iter().map(|(_, n)| n).sum()
    }
}

/// Tables that hold a tenant's rows and how to find them.
const TENANT_ROWS: &[(&str, &str)] = &[
    ("tenants", "SELECT count(*) FROM tenants WHERE id = $1"),
    ("apps", "SELECT count(*) FROM apps WHERE tenant_id = $1"),
    ("api_keys", "SELECT count(*) FROM api_keys WHERE tenant_id = $1"),
    ("teams", "SELECT count(*) FROM teams WHERE tenant_id = $1"),
    ("team_members", "SELECT count(*) FROM team_members WHERE team_id IN (SELECT id FROM teams WHERE tenant_id = $1)"),
    ("users", "SELECT count(*) FROM users WHERE tenant_id = $1"),
    ("sessions", "SELECT count(*) FROM sessions WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)"),
    ("mfa_secrets", "SELECT count(*) FROM mfa_secrets WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)"),
    ("roles", "SELECT count(*) FROM roles WHERE tenant_id = $1"),
    ("user_roles", "SELECT count(*) FROM user_roles WHERE tenant_id = $1"),
    ("policies", "SELECT count(*) FROM policies WHERE tenant_id = $1"),
    ("policy_assignments", "SELECT count(*) FROM policy_assignments WHERE tenant_id = $1"),
    ("alerts", "SELECT count(*) FROM alerts WHERE tenant_id = $1"),
    ("alert_subscriptions", "SELECT count(*) FROM alert_subscriptions WHERE tenant_id = $1"),
    ("devices", "SELECT count(*) FROM devices WHERE tenant_id = $1"),
    ("firewall_configs", "SELECT count(*) FROM firewall_configs WHERE tenant_id = $1"),
    ("ai_use_events", "SELECT count(*) FROM ai_use_events WHERE tenant_id = $1"),
    ("usage_logs", "SELECT count(*) FROM usage_logs WHERE tenant_id = $1"),
    ("usage_hourly", "SELECT count(*) FROM usage_hourly WHERE tenant_id = $1"),
    ("usage_daily", "SELECT count(*) FROM usage_daily WHERE tenant_id = $1"),
    ("audit_bodies", "SELECT count(*) FROM audit_bodies WHERE tenant_id = $1"),
    ("audit_log_v0", "SELECT count(*) FROM audit_log_v0 WHERE tenant_id = $1"),
];

/// Tables that hold an app's rows and how to find them.
const APP_ROWS: &[(&str, &str)] = &[
    ("apps", "SELECT count(*) FROM apps WHERE id = $1"),
    ("api_keys", "SELECT count(*) FROM api_keys WHERE app_id = $1"),
    ("policy_assignments", "SELECT count(*) FROM policy_assignments WHERE app_id = $1 OR api_key_id IN (SELECT id FROM api_keys WHERE app_id = $1)"),
    ("usage_logs", "SELECT count(*) FROM usage_logs WHERE app_id = $1 OR api_key_id IN (SELECT id FROM api_keys WHERE app_id = $1)"),
    ("usage_hourly", "SELECT count(*) FROM usage_hourly WHERE app_id = $1"),
    ("usage_daily", "SELECT count(*) FROM usage_daily WHERE grain = 'api_key' AND dim_id IN (SELECT id FROM api_keys WHERE app_id = $1)"),
];

/// The audit bodies that describe a person: of entries they did (under their pseudonym) and
/// of entries about them. `$1` is the user id.
macro_rules! person_bodies {
    () => {
        "FROM audit_bodies WHERE entry_id IN (
            SELECT id FROM audit_log
            WHERE actor_id = (SELECT subject_id FROM users WHERE id = $1)
               OR (resource_type = 'user' AND resource_id = CAST($1 AS TEXT)))"
    };
}

/// What a person's erasure removes: their row (the only link from their pseudonym to them)
/// with what cascades from it, and the bodies that describe them.
const USER_ROWS: &[(&str, &str)] = &[
    ("users", "SELECT count(*) FROM users WHERE id = $1"),
    (
        "sessions",
        "SELECT count(*) FROM sessions WHERE user_id = $1",
    ),
    (
        "mfa_secrets",
        "SELECT count(*) FROM mfa_secrets WHERE user_id = $1",
    ),
    (
        "api_keys",
        "SELECT count(*) FROM api_keys WHERE user_id = $1",
    ),
    (
        "user_roles",
        "SELECT count(*) FROM user_roles WHERE user_id = $1",
    ),
    (
        "team_members",
        "SELECT count(*) FROM team_members WHERE user_id = $1",
    ),
    (
        "audit_bodies",
        concat!("SELECT count(*) ", person_bodies!()),
    ),
];

/// Bodies first (finding them needs the person's row), then the row and its cascade.
const USER_DELETES: &[&str] = &[
    concat!("DELETE ", person_bodies!()),
    "DELETE FROM users WHERE id = $1",
];

/// Everything of a tenant cascades from its row.
const TENANT_DELETES: &[&str] = &["DELETE FROM tenants WHERE id = $1"];

/// Rollups name apps and keys without a foreign key (absent dimensions are the nil id), so
/// their rows go first; everything else cascades from the app's row.
const APP_DELETES: &[&str] = &[
    "DELETE FROM usage_hourly WHERE app_id = $1",
    "DELETE FROM usage_daily WHERE grain = 'api_key' AND dim_id IN (SELECT id FROM api_keys WHERE app_id = $1)",
    "DELETE FROM apps WHERE id = $1",
];

impl Store {
    /// Erases a tenant and everything that belongs to it, usage and audit rows included.
    pub async fn erase_tenant(
        &self,
        id: Uuid,
        requested_by: &str,
    ) -> Result<ErasureReport, StoreError> {
        self.erase("tenant", id, TENANT_ROWS, TENANT_DELETES, requested_by)
            .await
    }

    /// Erases an app with its keys and their usage rows.
    pub async fn erase_app(
        &self,
        id: Uuid,
        requested_by: &str,
    ) -> Result<ErasureReport, StoreError> {
        self.erase("app", id, APP_ROWS, APP_DELETES, requested_by)
            .await
    }

    /// Erases a person (GDPR Art. 17): their user row, which is the only mapping from their
    /// pseudonym to them, with sessions, MFA secrets, admin keys, roles and memberships, and
    /// the audit bodies that describe them. Ledger entries and usage rows keep the pseudonym,
    /// which no longer leads anywhere; the ledger still verifies.
    pub async fn erase_user(
        &self,
        id: Uuid,
        requested_by: &str,
    ) -> Result<ErasureReport, StoreError> {
        self.erase("user", id, USER_ROWS, USER_DELETES, requested_by)
            .await
    }

    async fn erase(
        &self,
        target: &'static str,
        id: Uuid,
        tables: &[(&'static str, &str)],
        deletes: &[&str],
        requested_by: &str,
    ) -> Result<ErasureReport, StoreError> {
        let job = format!("erase {target} {id}");
        let mut tx = self.begin_change(Scope::System(&job)).await?;
        if let Tx::Postgres(t) = &mut *tx {
            // Rows added while counting would be removed but not counted: hold the target.
            let lock = format!("SELECT 1 FROM {target}s WHERE id = $1 FOR UPDATE");
            sqlx::query(&lock).bind(DbId(id)).execute(&mut **t).await?;
        }
        let mut removed = Vec::with_capacity(tables.len());
        for (table, count_sql) in tables {
            let n: i64 = on_tx!(&mut tx.tx, conn => sqlx::query_scalar(count_sql)
                .bind(DbId(id))
                .fetch_one(&mut *conn)
                .await)?;
            removed.push((*table, n));
        }
        if removed.first().map(|(_, n)| *n) != Some(1) {
            return Err(StoreError::NotFound {
                what: target,
                id: id.to_string(),
            });
        }
        // Usage batches that lose rows here (an app's, within its tenant) are re-sealed with
        // what is left, so their seals keep verifying.
        let touched: Vec<(DbId, i64)> = if target == "app" {
            on_tx!(&mut tx.tx, conn => sqlx::query_as(
                "SELECT DISTINCT tenant_id, sealed_by FROM usage_logs
                 WHERE (app_id = $1 OR api_key_id IN (SELECT id FROM api_keys WHERE app_id = $1))
                   AND sealed_by IS NOT NULL",
            )
            .bind(DbId(id))
            .fetch_all(&mut *conn)
            .await)?
        } else {
            Vec::new()
        };
        tx.open_erasure("erasure", requested_by).await?;
        for delete in deletes {
            on_tx!(&mut tx.tx, conn => sqlx::query(delete)
                .bind(DbId(id))
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        tx.close_erasure().await?;
        let mut by_tenant: std::collections::BTreeMap<Uuid, Vec<i64>> = Default::default();
        for (tenant, seal) in touched {
            by_tenant.entry(tenant.0).or_default().push(seal);
        }
        for (tenant, seals) in by_tenant {
            for entry in crate::audit::seal::reseal(&mut tx, tenant, &seals).await? {
                tx.record(entry);
            }
        }
        let details: Map<String, Value> = removed
            .iter()
            .map(|(table, n)| (table.to_string(), json!(n)))
            .collect();
        let mut body = json!({ "requested_by": requested_by, "removed": details });
        if target == "tenant" {
            // The tenant's log is closed: its size and root stay provable from the system log.
            tx.lock_log(id).await?;
            let head = tx.log_head(id).await?;
            let root = tx.frontier(id, head.size).await?.root();
            body["log"] = json!({ "size": head.size, "root": root.to_hex() });
        }
        let appended = tx
            .commit(NewAuditEntry::system(
                &format!("{target}.erase"),
                target,
                Some(id.to_string()),
                body,
            ))
            .await?;
        Ok(ErasureReport {
            target,
            id,
            removed,
            audit_seq: appended
                .iter()
                .rfind(|a| a.log == crate::audit::SYSTEM_LOG)
                .map_or(0, |a| a.seq),
        })
    }
}

impl Tx {
    /// Registers this transaction as an erasure or retention run: until [`Tx::close_erasure`]
    /// the append-only triggers let it delete rows.
    pub(crate) async fn open_erasure(
        &mut self,
        reason: &str,
        requested_by: &str,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query("INSERT INTO erasure_context (reason, requested_by) VALUES ($1, $2)")
            .bind(reason)
            .bind(requested_by)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Withdraws the registration, so that nothing committed can unlock the triggers.
    pub(crate) async fn close_erasure(&mut self) -> Result<(), StoreError> {
        let sql = match self {
            Tx::Sqlite(_) => "DELETE FROM erasure_context",
            Tx::Postgres(_) => "DELETE FROM erasure_context WHERE txid = txid_current()",
        };
        on_tx!(self, conn => sqlx::query(sql).execute(&mut *conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
