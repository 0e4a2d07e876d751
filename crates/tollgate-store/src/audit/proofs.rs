//! Proofs served from the stored subtree hashes: an inclusion proof for an entry and a
//! consistency proof between two sizes, each with the roots it leads to. Which subtrees a
//! proof needs depends only on the sizes, so a first pass over a recording [`Nodes`] lists
//! them, one query fetches them, and the second pass builds the proof.

use std::cell::RefCell;

use tollgate_ledger::tree::{consistency_proof, inclusion_proof, root};
use tollgate_ledger::{Hash, Nodes, ProofError};
use uuid::Uuid;

use super::read::FetchedNodes;
use super::SYSTEM_LOG;
use crate::backend::Tx;
use crate::{Scope, Store, StoreError};

/// Entry `seq` is in the tree of `size` entries whose root is `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The log.
    pub log: Uuid,
    /// The entry's position, from 1 (its leaf index is `seq - 1`).
    pub seq: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The entry's leaf hash.
    pub leaf: Hash,
    /// The tree's root at `size`.
    pub root: Hash,
    /// Sibling hashes, nearest first.
    pub proof: Vec<Hash>,
}

/// The tree of `from` entries is a prefix of the tree of `to` entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The log.
    pub log: Uuid,
    /// The smaller size.
    pub from: u64,
    /// The larger size.
    pub to: u64,
    /// Root at `from`.
    pub from_root: Hash,
    /// Root at `to`.
    pub to_root: Hash,
    /// The proof's hashes.
    pub proof: Vec<Hash>,
}

/// Lists the subtrees asked for, answering with placeholders.
#[derive(Default)]
struct Recorder(RefCell<Vec<(u32, u64)>>);

impl Nodes for Recorder {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.0.borrow_mut().push((level, index));
        Some(Hash::default())
    }
}

/// The scope that may read `log`.
pub(crate) fn read_scope(log: Uuid) -> Scope<'static> {
    if log == SYSTEM_LOG {
        Scope::System("audit read")
    } else {
        Scope::Tenant(log)
    }
}

fn out_of_range(e: ProofError) -> StoreError {
    StoreError::OutOfRange(e.to_string())
}

impl Store {
    /// The inclusion proof of entry `seq` in the tree of `size` entries (the whole log when
    /// `None`).
    pub async fn inclusion_proof(
        &self,
        log: Uuid,
        seq: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, StoreError> {
        let mut tx = self.begin_read_in(read_scope(log)).await?;
        let size = tx.size_within_log(log, size).await?;
        if seq == 0 || seq > size {
            return Err(StoreError::OutOfRange(format!(
                "entry {seq} is not in a tree of {size} entries; entries are numbered from 1"
            )));
        }
        let index = seq - 1;
        let nodes = tx
            .nodes_for(log, |r| {
                r.node(0, index);
                inclusion_proof(r, index, size)?;
                root(r, size).map(|_| ())
            })
            .await?;
        tx.commit().await?;
        let damaged = |e: ProofError| StoreError::Ledger(format!("log {log}: {e}"));
        Ok(InclusionProof {
            log,
            seq,
            size,
            leaf: nodes
                .node(0, index)
                .ok_or_else(|| damaged(ProofError::Missing { level: 0, index }))?,
            root: root(&nodes, size).map_err(damaged)?,
            proof: inclusion_proof(&nodes, index, size).map_err(damaged)?,
        })
    }

    /// The consistency proof from `from` entries to `to` entries (the whole log when `None`).
    pub async fn consistency_proof(
        &self,
        log: Uuid,
        from: u64,
        to: Option<u64>,
    ) -> Result<ConsistencyProof, StoreError> {
        let mut tx = self.begin_read_in(read_scope(log)).await?;
        let to = tx.size_within_log(log, to).await?;
        if from > to {
            return Err(StoreError::OutOfRange(format!(
                "a tree of {from} entries cannot be a prefix of one of {to}"
            )));
        }
        let nodes = tx
            .nodes_for(log, |r| {
                consistency_proof(r, from, to)?;
                root(r, from)?;
                root(r, to).map(|_| ())
            })
            .await?;
        tx.commit().await?;
        let damaged = |e: ProofError| StoreError::Ledger(format!("log {log}: {e}"));
        Ok(ConsistencyProof {
            log,
            from,
            to,
            from_root: root(&nodes, from).map_err(damaged)?,
            to_root: root(&nodes, to).map_err(damaged)?,
            proof: consistency_proof(&nodes, from, to).map_err(damaged)?,
        })
    }
}

impl Tx {
    /// `size`, checked against the log's size, or the log's size.
    async fn size_within_log(&mut self, log: Uuid, size: Option<u64>) -> Result<u64, StoreError> {
        let have = self.log_head(log).await?.size;
        match size {
            Some(s) if s > have => Err(StoreError::OutOfRange(format!(
                "the log has {have} entries, not {s}"
            ))),
            Some(s) => Ok(s),
            None => Ok(have),
        }
    }

    /// Fetches every subtree `plan` asks a [`Nodes`] for.
    async fn nodes_for(
        &mut self,
        log: Uuid,
        plan: impl FnOnce(&Recorder) -> Result<(), ProofError>,
    ) -> Result<FetchedNodes, StoreError> {
        let recorder = Recorder::default();
        plan(&recorder).map_err(out_of_range)?;
        let mut wanted = recorder.0.into_inner();
        wanted.sort_unstable();
        wanted.dedup();
        self.tree_nodes(log, &wanted).await
    }
}
