//! Appending entries: per log, under that log's lock, read the head (size and last chain hash)
//! and the tree's right edge, number and hash the new entries, and write entries, bodies and
//! the subtree hashes they complete, each as one multi-row INSERT. Logs are locked in id
//! order, so two transactions never wait on each other in a cycle.

use std::collections::BTreeMap;

use sqlx::types::Json;
use tollgate_domain::audit::Body;
use tollgate_ledger::hash::chain_hash;
use tollgate_ledger::{Entry, Frontier, Hash, Node};
use uuid::Uuid;

use super::{Appended, NewAuditEntry, SYSTEM_LOG};
use crate::backend::{on_tx, Tx};
use crate::sql::{DbId, DbTime};
use crate::StoreError;

/// Rows per INSERT statement: far below both backends' limits on bound values.
const ROWS_PER_STATEMENT: usize = 500;

/// The right edge of each log's tree as this process last appended it, keyed by log, with the
/// size and chain hash it belongs to. An append uses it only when the database's head (read
/// under the log's lock) has that size and chain hash, so another writer (a replica, a
/// rolled-back transaction) never leads it astray; it saves reading the edge back.
#[derive(Debug, Default)]
pub(crate) struct EdgeCache(
    std::sync::Mutex<std::collections::HashMap<Uuid, (u64, Hash, Frontier)>>,
);

/// Logs remembered at most; past it the cache starts over.
const CACHED_LOGS: usize = 10_000;

impl EdgeCache {
    fn get(&self, log: Uuid, size: u64, chain: &Hash) -> Option<Frontier> {
        let logs = self.0.lock().ok()?;
        let (s, c, edge) = logs.get(&log)?;
        (*s == size && c == chain).then(|| edge.clone())
    }

    fn put(&self, log: Uuid, chain: Hash, edge: &Frontier) {
        if let Ok(mut logs) = self.0.lock() {
            if logs.len() >= CACHED_LOGS {
                logs.clear();
            }
            logs.insert(log, (edge.size(), chain, edge.clone()));
        }
    }
}

/// One entry ready to write.
struct Ready {
    id: Uuid,
    entry: Entry,
    created_at: DbTime,
    chain: Hash,
    body: Option<Body>,
}

impl Tx {
    /// Appends `entries` to their logs inside this transaction; returns them as appended, in
    /// the order given within each log, logs in id order.
    pub(crate) async fn append_audit(
        &mut self,
        entries: Vec<NewAuditEntry>,
        edges: &EdgeCache,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut by_log: BTreeMap<Uuid, Vec<NewAuditEntry>> = BTreeMap::new();
        for e in entries {
            by_log.entry(e.log()).or_default().push(e);
        }
        let mut appended = Vec::new();
        for (log, batch) in by_log {
            appended.extend(self.append_to_log(log, batch, edges).await?);
        }
        Ok(appended)
    }

    async fn append_to_log(
        &mut self,
        log: Uuid,
        batch: Vec<NewAuditEntry>,
        edges: &EdgeCache,
    ) -> Result<Vec<Appended>, StoreError> {
        self.lock_log(log).await?;
        let head = self.log_head(log).await?;
        if head.size == 0 {
            self.list_log(log).await?;
        }
        let mut tree = match edges.get(log, head.size, &head.chain) {
            Some(edge) => edge,
            None => self.frontier(log, head.size).await?,
        };
        let mut chain = head.chain;
        let created_at = DbTime::now();
        let mut ready = Vec::with_capacity(batch.len());
        let mut nodes: Vec<Node> = Vec::with_capacity(batch.len() * 2);
        let mut appended = Vec::with_capacity(batch.len());
        for new in batch {
            let body = (!new.body.is_empty()).then_some(new.body);
            let entry = Entry {
                log,
                seq: tree.size() + 1,
                time_ms: created_at.0.timestamp_millis(),
                actor_type: new.actor_type.as_str().to_string(),
                actor: new.actor_id,
                action: new.action,
                target_type: new.resource_type,
                target_id: new.resource_id,
                outcome: new.outcome.as_str().to_string(),
                request_id: new.request_id,
                body_hash: body.as_ref().map(Body::hash),
            };
            let leaf = entry
                .leaf_hash()
                .map_err(|e| StoreError::Refused(format!("the audit entry is invalid: {e}")))?;
            chain = chain_hash(&chain, &leaf);
            nodes.extend(tree.push(leaf));
            let id = tollgate_domain::id::time_ordered();
            appended.push(Appended {
                id,
                log,
                seq: entry.seq,
                leaf,
                chain,
            });
            ready.push(Ready {
                id,
                entry,
                created_at,
                chain,
                body,
            });
        }
        for chunk in ready.chunks(ROWS_PER_STATEMENT) {
            self.insert_entries(chunk).await?;
            self.insert_bodies(chunk).await?;
        }
        for chunk in nodes.chunks(ROWS_PER_STATEMENT) {
            self.insert_nodes(log, chunk).await?;
        }
        edges.put(log, chain, &tree);
        Ok(appended)
    }

    /// One appender per log at a time. On SQLite the transaction holds the database's write
    /// lock from `BEGIN IMMEDIATE`, which serialises appends already.
    pub(crate) async fn lock_log(&mut self, log: Uuid) -> Result<(), StoreError> {
        if let Tx::Postgres(t) = self {
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtextextended('tollgate.audit.' || $1::text, 0))",
            )
            .bind(DbId(log))
            .execute(&mut **t)
            .await?;
        }
        Ok(())
    }

    /// Registers a log at its first entry (under its lock, so once).
    async fn list_log(&mut self, log: Uuid) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO audit_log_list (log_id) SELECT $1
             WHERE NOT EXISTS (SELECT 1 FROM audit_log_list WHERE log_id = $1)",
        )
        .bind(DbId(log))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The right edge of `log`'s tree of `size` entries, from its stored subtree hashes.
    pub(crate) async fn frontier(&mut self, log: Uuid, size: u64) -> Result<Frontier, StoreError> {
        let mut wanted = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1 << level) != 0 {
                wanted.push((level, start >> level));
                start += 1 << level;
            }
        }
        let nodes = self.tree_nodes(log, &wanted).await?;
        Frontier::load(&nodes, size).map_err(|e| StoreError::Ledger(format!("log {log}: {e}")))
    }

    async fn insert_entries(&mut self, rows: &[Ready]) -> Result<(), StoreError> {
        let sql = values_sql(
            "INSERT INTO audit_log (id, tenant_id, seq, version, created_at, actor_type, actor_id,
                action, resource_type, resource_id, outcome, request_id, body_hash, checksum)",
            14,
            rows.len(),
        );
        on_tx!(self, conn => {
            let mut q = sqlx::query(&sql);
            for r in rows {
                let e = &r.entry;
                q = q
                    .bind(DbId(r.id))
                    .bind((e.log != SYSTEM_LOG).then_some(DbId(e.log)))
                    .bind(e.seq as i64)
                    .bind(i16::from(tollgate_ledger::entry::VERSION))
                    .bind(r.created_at)
                    .bind(e.actor_type.as_str())
                    .bind(e.actor.map(DbId))
                    .bind(e.action.as_str())
                    .bind(e.target_type.as_str())
                    .bind(e.target_id.as_deref())
                    .bind(e.outcome.as_str())
                    .bind(e.request_id.map(DbId))
                    .bind(e.body_hash.map(|h| h.0.to_vec()))
                    .bind(r.chain.to_hex());
            }
            q.execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    async fn insert_bodies(&mut self, rows: &[Ready]) -> Result<(), StoreError> {
        let with_body: Vec<(&Ready, &Body)> = rows
            .iter()
            .filter_map(|r| r.body.as_ref().map(|b| (r, b)))
            .collect();
        if with_body.is_empty() {
            return Ok(());
        }
        let sql = values_sql(
            "INSERT INTO audit_bodies (entry_id, tenant_id, before, after, details, ip_address, user_agent)",
            7,
            with_body.len(),
        );
        on_tx!(self, conn => {
            let mut q = sqlx::query(&sql);
            for (r, b) in &with_body {
                q = q
                    .bind(DbId(r.id))
                    .bind((r.entry.log != SYSTEM_LOG).then_some(DbId(r.entry.log)))
                    .bind(b.before.as_ref().map(Json))
                    .bind(b.after.as_ref().map(Json))
                    .bind(Json(b.details_object()))
                    .bind(b.ip_address.as_deref())
                    .bind(b.user_agent.as_deref());
            }
            q.execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    async fn insert_nodes(&mut self, log: Uuid, nodes: &[Node]) -> Result<(), StoreError> {
        let sql = values_sql(
            "INSERT INTO audit_tree (log_id, level, idx, hash)",
            4,
            nodes.len(),
        );
        on_tx!(self, conn => {
            let mut q = sqlx::query(&sql);
            for n in nodes {
                q = q
                    .bind(DbId(log))
                    .bind(n.level as i16)
                    .bind(n.index as i64)
                    .bind(n.hash.0.to_vec());
            }
            q.execute(&mut *conn).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }
}

/// `head VALUES ($1, …, $columns), (…)` for `rows` rows.
fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * columns * 6);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::values_sql;

    #[test]
    fn values_are_numbered_row_by_row() {
        assert_eq!(
            values_sql("INSERT INTO t (a, b)", 2, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }
}
