//! Storing signed checkpoints: which logs grew since their last checkpoint (and their size and
//! root now), and writing a checkpoint once per log and size, whichever replica signs first.

use tollgate_ledger::Hash;
use uuid::Uuid;

use super::read::StoredCheckpoint;
use crate::backend::on_tx;
use crate::sql::DbId;
use crate::{Scope, Store, StoreError};

/// A log's size and root, to be signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// The log.
    pub log: Uuid,
    /// Its entries.
    pub size: u64,
    /// Their Merkle root.
    pub root: Hash,
}

impl Store {
    /// Every log with entries beyond its newest checkpoint, with its size and root now; with
    /// `only`, that log whether or not it grew (a checkpoint on demand).
    pub async fn tree_heads(&self, only: Option<Uuid>) -> Result<Vec<TreeHead>, StoreError> {
        let mut tx = self
            .begin_read_in(Scope::System("audit checkpoint"))
            .await?;
        // One round trip for every log's size and newest checkpoint, by index lookups.
        let sql = format!(
            "SELECT l.log_id,
                    (SELECT max(seq) FROM audit_log e WHERE e.log_id = l.log_id),
                    (SELECT max(tree_size) FROM audit_checkpoints c WHERE c.log_id = l.log_id)
             FROM audit_log_list l{}",
            if only.is_some() {
                " WHERE l.log_id = $1"
            } else {
                ""
            }
        );
        let rows: Vec<(DbId, Option<i64>, Option<i64>)> = on_tx!(&mut tx, conn => {
            let q = sqlx::query_as(&sql);
            let q = match only {
                Some(log) => q.bind(DbId(log)),
                None => q,
            };
            q.fetch_all(&mut *conn).await
        })?;
        let mut heads = Vec::new();
        for (log, size, newest) in rows {
            let size = size.map_or(0, |s| u64::try_from(s).unwrap_or(0));
            let newest = newest.map(|s| u64::try_from(s).unwrap_or(0));
            if only.is_none() && newest >= Some(size) {
                continue;
            }
            let root = tx.frontier(log.0, size).await?.root();
            heads.push(TreeHead {
                log: log.0,
                size,
                root,
            });
        }
        tx.commit().await?;
        Ok(heads)
    }

    /// Stores a signed checkpoint; false when that log already has one of that size (another
    /// replica signed it first).
    pub async fn store_checkpoint(&self, head: &TreeHead, note: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_in(Scope::System("audit checkpoint")).await?;
        let done = on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO audit_checkpoints (log_id, tree_size, root, note)
             SELECT $1, $2, $3, $4
             WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE log_id = $1 AND tree_size = $2)",
        )
        .bind(DbId(head.log))
        .bind(i64::try_from(head.size).unwrap_or(i64::MAX))
        .bind(head.root.0.to_vec())
        .bind(note)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Every stored checkpoint of `log`, smallest first.
    pub async fn checkpoints(&self, log: Uuid) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let mut tx = self.begin_read_in(super::proofs::read_scope(log)).await?;
        let all = tx.checkpoints(log).await?;
        tx.commit().await?;
        Ok(all)
    }

    /// The newest stored checkpoint of `log`.
    pub async fn latest_checkpoint(
        &self,
        log: Uuid,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let mut tx = self.begin_read_in(super::proofs::read_scope(log)).await?;
        let newest = tx.newest_checkpoint(log).await?;
        tx.commit().await?;
        Ok(newest)
    }
}
