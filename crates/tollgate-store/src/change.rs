//! [`Change`]: the one way to commit a control-plane change. Every method that writes
//! tenants, apps, keys, people or policies lives on `Change`, not on [`Tx`], and
//! [`Change::commit`] takes the audit entry that records the change, so a change cannot be
//! committed without one: the entries are appended to the ledger in the same transaction,
//! right before it commits (holding each log's lock for the shortest time).

use std::ops::{Deref, DerefMut};

use crate::audit::{Appended, NewAuditEntry};
use crate::backend::Tx;
use crate::{Scope, Store, StoreError};

/// A write transaction whose commit requires an audit entry.
pub struct Change {
    pub(crate) tx: Tx,
    pub(crate) entries: Vec<NewAuditEntry>,
    edges: std::sync::Arc<crate::audit::EdgeCache>,
}

impl Store {
    /// Starts a control-plane change in `scope`. In a tenant's scope only that tenant's log
    /// can be written; the system log needs the system scope.
    pub async fn begin_change(&self, scope: Scope<'_>) -> Result<Change, StoreError> {
        Ok(Change {
            tx: self.begin_in(scope).await?,
            entries: Vec::new(),
            edges: self.edges.clone(),
        })
    }
}

impl Change {
    /// Records one more entry for this change (a change that did several things).
    pub fn record(&mut self, entry: NewAuditEntry) {
        self.entries.push(entry);
    }

    /// Takes `log`'s lock now rather than at commit. A change that updates rows the usage
    /// writer also updates (a key's balance or state) does this first, so both take the log's
    /// lock before the row's and never wait on each other in a cycle.
    pub async fn lock_log_first(&mut self, log: uuid::Uuid) -> Result<(), StoreError> {
        self.tx.lock_log(log).await
    }

    /// Appends `entry` and any recorded before it to the ledger, then commits everything;
    /// returns the entries as appended (logs in id order, each log's in the order given).
    pub async fn commit(mut self, entry: NewAuditEntry) -> Result<Vec<Appended>, StoreError> {
        self.entries.push(entry);
        let appended = self.append_recorded().await?;
        self.tx.commit().await?;
        Ok(appended)
    }

    /// Commits a change whose methods recorded their own entries (device registration,
    /// firewall configuration); a change that recorded none is refused and rolled back.
    pub async fn commit_recorded(mut self) -> Result<Vec<Appended>, StoreError> {
        if self.entries.is_empty() {
            return Err(StoreError::Refused(
                "a control-plane change cannot commit without an audit entry".to_string(),
            ));
        }
        let appended = self.append_recorded().await?;
        self.tx.commit().await?;
        Ok(appended)
    }

    /// Appends the entries recorded so far; the caller commits. For the sequencer, whose
    /// changes each return their entry (so none can be forgotten), recorded before the batch
    /// commits.
    pub(crate) async fn append_recorded(&mut self) -> Result<Vec<Appended>, StoreError> {
        self.tx
            .append_audit(std::mem::take(&mut self.entries), &self.edges)
            .await
    }
}

/// Reads (and the data-plane writes of this crate) run on the transaction underneath.
impl Deref for Change {
    type Target = Tx;

    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for Change {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}
