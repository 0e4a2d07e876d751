//! Reading the ledger back: a log's head, its entries in order, stored subtree hashes and
//! checkpoints. Rows become `tollgate-ledger` values here, so everything above works on the
//! pure types.

use std::collections::HashMap;

use sqlx::Row;
use tollgate_ledger::hash::CHAIN_START;
use tollgate_ledger::{Entry, Hash, Nodes};
use uuid::Uuid;

use super::SYSTEM_LOG;
use crate::backend::{on_tx, Tx};
use crate::sql::{DbId, DbTime};
use crate::StoreError;

/// Selects one log's rows of `audit_log`; `$1` is the log id (nil for the system log).
const IN_LOG: &str = "log_id = $1";

/// Where a log ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHead {
    /// The log.
    pub log: Uuid,
    /// Entries in it.
    pub size: u64,
    /// Chain hash of the last one (all zeros for an empty log).
    pub chain: Hash,
}

/// An entry as read back, with what is stored beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Row id.
    pub id: Uuid,
    /// The entry, rebuilt from its columns.
    pub entry: Entry,
    /// Its stored chain hash, if the column holds a hash at all.
    pub chain: Option<Hash>,
    /// Its stored encoding version.
    pub version: i16,
}

/// A checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The log.
    pub log: Uuid,
    /// Entries it covers.
    pub size: u64,
    /// The root it claims.
    pub root: Hash,
    /// The signed note.
    pub note: String,
}

/// An entry from a row with the columns of `audit_log`.
pub(crate) fn stored_entry<R>(row: &R, log: Uuid) -> Result<StoredEntry, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    i16: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    String: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    Option<String>: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    Option<Vec<u8>>: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    DbTime: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    DbId: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    Option<DbId>: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
{
    let seq: i64 = row.try_get("seq")?;
    let created: DbTime = row.try_get("created_at")?;
    let body_hash: Option<Vec<u8>> = row.try_get("body_hash")?;
    let checksum: String = row.try_get("checksum")?;
    Ok(StoredEntry {
        id: row.try_get::<DbId, _>("id")?.0,
        version: row.try_get("version")?,
        chain: checksum.parse().ok(),
        entry: Entry {
            log,
            seq: u64::try_from(seq).unwrap_or(0),
            time_ms: created.0.timestamp_millis(),
            actor_type: row.try_get("actor_type")?,
            actor: row.try_get::<Option<DbId>, _>("actor_id")?.map(|d| d.0),
            action: row.try_get("action")?,
            target_type: row.try_get("resource_type")?,
            target_id: row.try_get("resource_id")?,
            outcome: row.try_get("outcome")?,
            request_id: row.try_get::<Option<DbId>, _>("request_id")?.map(|d| d.0),
            // A stored value of the wrong length hashes as a different body.
            body_hash: body_hash.map(|b| hash_of(&b).unwrap_or_default()),
        },
    })
}

/// Subtree hashes read from `audit_tree`.
#[derive(Clone, Debug, Default)]
pub(crate) struct FetchedNodes(pub(crate) HashMap<(u32, u64), Hash>);

impl Nodes for FetchedNodes {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.0.get(&(level, index)).copied()
    }
}

fn hash_of(bytes: &[u8]) -> Option<Hash> {
    <[u8; 32]>::try_from(bytes).ok().map(Hash)
}

impl Tx {
    /// The size of `log` and the chain hash of its last entry.
    pub(crate) async fn log_head(&mut self, log: Uuid) -> Result<LogHead, StoreError> {
        let sql =
            format!("SELECT seq, checksum FROM audit_log WHERE {IN_LOG} ORDER BY seq DESC LIMIT 1");
        let row: Option<(i64, String)> = on_tx!(self, conn => sqlx::query_as(&sql)
            .bind(DbId(log))
            .fetch_optional(&mut *conn)
            .await)?;
        let Some((seq, checksum)) = row else {
            return Ok(LogHead {
                log,
                size: 0,
                chain: CHAIN_START,
            });
        };
        let chain = checksum
            .parse()
            .map_err(|e| StoreError::Ledger(format!("log {log} entry {seq}: {e}")))?;
        Ok(LogHead {
            log,
            size: u64::try_from(seq).unwrap_or(0),
            chain,
        })
    }

    /// The stored hashes of the subtrees `(level, index)` of `log` asked for (those present).
    pub(crate) async fn tree_nodes(
        &mut self,
        log: Uuid,
        wanted: &[(u32, u64)],
    ) -> Result<FetchedNodes, StoreError> {
        if wanted.is_empty() {
            return Ok(FetchedNodes::default());
        }
        // One primary-key lookup per subtree, so both planners read exactly those rows (an OR
        // of the pairs made SQLite scan the log's whole tree). The text depends only on how
        // many subtrees are asked for, so each length is prepared once per connection.
        let sql = (0..wanted.len())
            .map(|i| {
                format!(
                    "SELECT level, idx, hash FROM audit_tree WHERE log_id = $1 AND level = ${} AND idx = ${}",
                    2 * i + 2,
                    2 * i + 3
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows: Vec<(i16, i64, Vec<u8>)> = on_tx!(self, conn => {
            let mut q = sqlx::query_as(&sql).bind(DbId(log));
            for (level, index) in wanted {
                q = q
                    .bind(i16::try_from(*level).unwrap_or(i16::MAX))
                    .bind(i64::try_from(*index).unwrap_or(i64::MAX));
            }
            q.fetch_all(&mut *conn).await
        })?;
        let mut nodes = FetchedNodes::default();
        for (level, index, hash) in rows {
            if let (Ok(level), Ok(index), Some(hash)) =
                (u32::try_from(level), u64::try_from(index), hash_of(&hash))
            {
                nodes.0.insert((level, index), hash);
            }
        }
        Ok(nodes)
    }

    /// Every stored subtree hash of `log` at `level` with index in `from..until`, in order.
    pub(crate) async fn tree_level(
        &mut self,
        log: Uuid,
        level: u32,
        from: u64,
        until: u64,
    ) -> Result<Vec<(u64, Option<Hash>)>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = on_tx!(self, conn => sqlx::query_as(
            "SELECT idx, hash FROM audit_tree WHERE log_id = $1 AND level = $2 AND idx >= $3 AND idx < $4
             ORDER BY idx",
        )
        .bind(DbId(log))
        .bind(level as i16)
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(i64::try_from(until).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(idx, hash)| (u64::try_from(idx).unwrap_or(u64::MAX), hash_of(&hash)))
            .collect())
    }

    /// Up to `limit` entries of `log` after position `after`, in order of position.
    pub(crate) async fn entries_after(
        &mut self,
        log: Uuid,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let sql = format!(
            "SELECT id, seq, version, created_at, actor_type, actor_id, action, resource_type,
                    resource_id, outcome, request_id, body_hash, checksum
             FROM audit_log WHERE {IN_LOG} AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let rows = on_tx!(self, conn => {
            let rows = sqlx::query(&sql)
                .bind(DbId(log))
                .bind(i64::try_from(after).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter()
                .map(|row| stored_entry(row, log))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(rows)
    }

    /// The stored checkpoints of `log`, smallest first.
    pub(crate) async fn checkpoints(
        &mut self,
        log: Uuid,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.checkpoints_where(log, "ORDER BY tree_size").await
    }

    /// The newest stored checkpoint of `log`.
    pub(crate) async fn newest_checkpoint(
        &mut self,
        log: Uuid,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        Ok(self
            .checkpoints_where(log, "ORDER BY tree_size DESC LIMIT 1")
            .await?
            .pop())
    }

    async fn checkpoints_where(
        &mut self,
        log: Uuid,
        order: &'static str,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let sql = format!(
            "SELECT tree_size, root, note FROM audit_checkpoints WHERE log_id = $1 {order}"
        );
        let rows: Vec<(i64, Vec<u8>, String)> = on_tx!(self, conn => sqlx::query_as(&sql)
        .bind(DbId(log))
        .fetch_all(&mut *conn)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(size, root, note)| StoredCheckpoint {
                log,
                size: u64::try_from(size).unwrap_or(u64::MAX),
                root: hash_of(&root).unwrap_or_default(),
                note,
            })
            .collect())
    }

    /// Every log found in the ledger's tables, listed or not (reads every entry's log id, so
    /// only for `audit verify`): the system log first, then tenants by id.
    pub(crate) async fn logs_with_entries(&mut self) -> Result<Vec<Uuid>, StoreError> {
        self.log_ids(
            "SELECT log_id FROM audit_log_list UNION SELECT DISTINCT log_id FROM audit_log
             UNION SELECT DISTINCT log_id FROM audit_tree
             UNION SELECT DISTINCT log_id FROM audit_checkpoints",
        )
        .await
    }

    /// Every log that has entries: the system log first, then tenants by id.
    pub(crate) async fn logs(&mut self) -> Result<Vec<Uuid>, StoreError> {
        self.log_ids("SELECT log_id FROM audit_log_list").await
    }

    async fn log_ids(&mut self, sql: &'static str) -> Result<Vec<Uuid>, StoreError> {
        let logs: Vec<DbId> = on_tx!(self, conn => sqlx::query_scalar(sql)
            .fetch_all(&mut *conn)
            .await)?;
        Ok(system_first(logs.into_iter().map(|d| d.0).collect()))
    }
}

/// Sorted and unique, the system log first.
fn system_first(mut logs: Vec<Uuid>) -> Vec<Uuid> {
    logs.sort();
    logs.dedup();
    if let Some(pos) = logs.iter().position(|l| *l == SYSTEM_LOG) {
        logs.remove(pos);
        logs.insert(0, SYSTEM_LOG);
    }
    logs
}
