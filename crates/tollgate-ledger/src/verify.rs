//! Checking a whole log from its first entry: positions without gaps, every stored chain hash
//! recomputed, the tree rebuilt, and the roots at the sizes of known checkpoints compared. The
//! first failure names the entry, so an auditor knows exactly where the log was changed.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::entry::{Entry, EntryError};
use crate::hash::{chain_hash, Hash, CHAIN_START};
use crate::tree::{Frontier, Node};

/// Where and how a log fails its check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// An entry of another log among this log's entries.
    #[error("entry {seq} belongs to log {found}, not {expected}")]
    WrongLog {
        /// Its position.
        seq: u64,
        /// The log being checked.
        expected: Uuid,
        /// The log it names.
        found: Uuid,
    },
    /// A position missing, repeated or out of order: an entry was removed, inserted or moved.
    #[error("expected entry {expected}, found entry {found}: an entry was removed, inserted or reordered")]
    Sequence {
        /// The position that should come next.
        expected: u64,
        /// The one that came.
        found: u64,
    },
    /// The stored chain hash is not the one the entry and its predecessor give: this entry (or
    /// one before it) was changed.
    #[error("entry {seq}: its chain hash does not match its content: it or an entry before it was changed")]
    Chain {
        /// Its position.
        seq: u64,
    },
    /// The entry cannot be encoded.
    #[error("entry {seq}: {source}")]
    Entry {
        /// Its position.
        seq: u64,
        /// Why.
        source: EntryError,
    },
    /// The tree at a checkpoint's size has another root than the checkpoint.
    #[error("the log's first {size} entries do not have the root of the checkpoint for that size: entries up to {size} were changed since it was signed")]
    Checkpoint {
        /// The checkpoint's size.
        size: u64,
    },
    /// Two checkpoints of the same size with different roots: the log showed two histories.
    #[error("two checkpoints for {size} entries have different roots: the log was forked")]
    Forked {
        /// Their size.
        size: u64,
    },
    /// A checkpoint for more entries than the log has: entries were removed from the end.
    #[error(
        "a checkpoint covers {size} entries but the log has only {have}: entries were removed"
    )]
    Truncated {
        /// The checkpoint's size.
        size: u64,
        /// Entries found.
        have: u64,
    },
}

/// A log checked so far.
#[derive(Clone, Debug)]
pub struct LogCheck {
    log: Uuid,
    chain: Hash,
    tree: Frontier,
    expected: BTreeMap<u64, Hash>,
}

impl LogCheck {
    /// Starts checking `log` from its first entry.
    pub fn new(log: Uuid) -> Self {
        Self {
            log,
            chain: CHAIN_START,
            tree: Frontier::new(),
            expected: BTreeMap::new(),
        }
    }

    /// Demands that the first `size` entries have `root` (a checkpoint's claim).
    pub fn expect(&mut self, size: u64, root: Hash) -> Result<(), VerifyError> {
        if size < self.tree.size() {
            return Err(VerifyError::Sequence {
                expected: self.tree.size() + 1,
                found: size,
            });
        }
        if size == self.tree.size() && self.tree.root() != root {
            return Err(VerifyError::Checkpoint { size });
        }
        match self.expected.insert(size, root) {
            Some(earlier) if earlier != root => Err(VerifyError::Forked { size }),
            _ => Ok(()),
        }?;
        Ok(())
    }

    /// Checks the next entry against the chain hash stored with it; returns the complete
    /// subtrees it finished (its leaf first), for comparison with stored tree hashes.
    pub fn push(&mut self, entry: &Entry, stored_chain: &Hash) -> Result<Vec<Node>, VerifyError> {
        let seq = entry.seq;
        if entry.log != self.log {
            return Err(VerifyError::WrongLog {
                seq,
                expected: self.log,
                found: entry.log,
            });
        }
        let expected = self.tree.size() + 1;
        if seq != expected {
            return Err(VerifyError::Sequence {
                expected,
                found: seq,
            });
        }
        let leaf = entry
            .leaf_hash()
            .map_err(|source| VerifyError::Entry { seq, source })?;
        let chain = chain_hash(&self.chain, &leaf);
        if &chain != stored_chain {
            return Err(VerifyError::Chain { seq });
        }
        self.chain = chain;
        let done = self.tree.push(leaf);
        if let Some(root) = self.expected.get(&seq) {
            if *root != self.tree.root() {
                return Err(VerifyError::Checkpoint { size: seq });
            }
        }
        Ok(done)
    }

    /// Entries checked so far.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// Ends the check: every checkpoint must be within the log.
    pub fn finish(self) -> Result<Checked, VerifyError> {
        let have = self.tree.size();
        if let Some((&size, _)) = self.expected.range(have + 1..).next() {
            return Err(VerifyError::Truncated { size, have });
        }
        Ok(Checked {
            size: have,
            root: self.tree.root(),
            chain: self.chain,
        })
    }
}

/// A log that passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Entries.
    pub size: u64,
    /// Merkle root of all of them.
    pub root: Hash,
    /// Chain hash of the last one.
    pub chain: Hash,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            log: Uuid::nil(),
            seq,
            time_ms: 1_000 * seq as i64,
            actor_type: "system".into(),
            actor: None,
            action: "test.step".into(),
            target_type: "test".into(),
            target_id: Some(seq.to_string()),
            outcome: "success".into(),
            request_id: None,
            body_hash: None,
        }
    }

    /// Entries 1..=n with their chain hashes, and the root at each size.
    fn log(n: u64) -> (Vec<(Entry, Hash)>, Vec<Hash>) {
        let mut chain = CHAIN_START;
        let mut tree = Frontier::new();
        let mut roots = vec![tree.root()];
        let mut out = Vec::new();
        for seq in 1..=n {
            let e = entry(seq);
            let leaf = e.leaf_hash().unwrap();
            chain = chain_hash(&chain, &leaf);
            tree.push(leaf);
            roots.push(tree.root());
            out.push((e, chain));
        }
        (out, roots)
    }

    fn check(
        entries: &[(Entry, Hash)],
        checkpoints: &[(u64, Hash)],
    ) -> Result<Checked, VerifyError> {
        let mut c = LogCheck::new(Uuid::nil());
        for (size, root) in checkpoints {
            c.expect(*size, *root)?;
        }
        for (e, h) in entries {
            c.push(e, h)?;
        }
        c.finish()
    }

    #[test]
    fn an_untouched_log_passes_with_its_checkpoints() {
        let (entries, roots) = log(20);
        let done = check(&entries, &[(5, roots[5]), (20, roots[20])]).unwrap();
        assert_eq!(done.size, 20);
        assert_eq!(done.root, roots[20]);
    }

    #[test]
    fn every_kind_of_tampering_is_caught_and_located() {
        let (entries, roots) = log(10);
        let mut changed = entries.clone();
        changed[3].0.action = "test.other".into();
        assert_eq!(check(&changed, &[]), Err(VerifyError::Chain { seq: 4 }));

        // Changed and re-chained from there on: only a checkpoint catches it.
        let mut rewritten = entries[..3].to_vec();
        let mut chain = rewritten[2].1;
        for (i, (e, _)) in entries[3..].iter().enumerate() {
            let mut e = e.clone();
            if i == 0 {
                e.outcome = "denied".into();
            }
            chain = chain_hash(&chain, &e.leaf_hash().unwrap());
            rewritten.push((e, chain));
        }
        assert_eq!(check(&rewritten, &[]).map(|c| c.size), Ok(10));
        assert_eq!(
            check(&rewritten, &[(6, roots[6])]),
            Err(VerifyError::Checkpoint { size: 6 })
        );

        let mut removed = entries.clone();
        removed.remove(4);
        assert_eq!(
            check(&removed, &[]),
            Err(VerifyError::Sequence {
                expected: 5,
                found: 6
            })
        );
        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert!(matches!(
            check(&swapped, &[]),
            Err(VerifyError::Sequence { .. })
        ));
        assert_eq!(
            check(&entries[..8], &[(10, roots[10])]),
            Err(VerifyError::Truncated { size: 10, have: 8 })
        );
        let mut c = LogCheck::new(Uuid::nil());
        c.expect(6, roots[6]).unwrap();
        assert_eq!(c.expect(6, roots[5]), Err(VerifyError::Forked { size: 6 }));
        let mut foreign = entries.clone();
        foreign[0].0.log = Uuid::from_u128(9);
        assert!(matches!(
            check(&foreign, &[]),
            Err(VerifyError::WrongLog { seq: 1, .. })
        ));
    }
}
