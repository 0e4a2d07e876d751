//! The RFC 9162 (RFC 6962) Merkle tree over a log's leaf hashes: its root, inclusion proofs
//! (an entry is in the tree at an index) and consistency proofs (a tree is a prefix of a larger
//! one), and their verification (§2.1.3.2 and §2.1.4.2).
//!
//! Proofs are built from the hashes of *complete* subtrees only (level `k`, index `i` covers
//! leaves `i·2^k .. (i+1)·2^k`), which is what a log stores: such a hash never changes once the
//! subtree is full, so storage is write-once. [`Frontier`] appends one leaf at a time and says
//! which complete subtrees the leaf finished; [`MemoryTree`] keeps all of them in memory.

use crate::hash::{node_hash, Hash};

/// Where proofs read the hashes of complete subtrees.
pub trait Nodes {
    /// The hash of the complete subtree at `level` and `index`, if stored.
    fn node(&self, level: u32, index: u64) -> Option<Hash>;
}

/// Why a tree hash or a proof could not be computed, or a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not in a tree of this size.
    #[error("entry {index} is not in a tree of {size} entries")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof between sizes in the wrong order.
    #[error("a tree of {old} entries cannot be a prefix of one of {new}")]
    SizesOutOfOrder {
        /// The smaller size asked for.
        old: u64,
        /// The larger size asked for.
        new: u64,
    },
    /// The store lacks a subtree hash the proof needs.
    #[error("the hash of subtree level {level} index {index} is missing")]
    Missing {
        /// Level of the subtree.
        level: u32,
        /// Its index at that level.
        index: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof leads to another root.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `start..end`, a range the RFC's recursion produces (so `start` is a
/// multiple of the largest power of two not above the range's length).
fn subtree(nodes: &impl Nodes, start: u64, end: u64) -> Result<Hash, ProofError> {
    let len = end - start;
    if len.is_power_of_two() && start.is_multiple_of(len) {
        let level = len.trailing_zeros();
        let index = start >> level;
        return nodes
            .node(level, index)
            .ok_or(ProofError::Missing { level, index });
    }
    let k = split(len);
    Ok(node_hash(
        &subtree(nodes, start, start + k)?,
        &subtree(nodes, start + k, end)?,
    ))
}

/// The root of the first `size` leaves.
pub fn root(nodes: &impl Nodes, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(Hash::empty());
    }
    subtree(nodes, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves, nearest sibling first.
pub fn inclusion_proof(nodes: &impl Nodes, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(nodes, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    nodes: &impl Nodes,
    index: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let len = end - start;
    if len == 1 {
        return Ok(());
    }
    let k = split(len);
    if index < k {
        path(nodes, index, start, start + k, out)?;
        out.push(subtree(nodes, start + k, end)?);
    } else {
        path(nodes, index - k, start + k, end, out)?;
        out.push(subtree(nodes, start, start + k)?);
    }
    Ok(())
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
pub fn consistency_proof(nodes: &impl Nodes, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(nodes, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof(
    nodes: &impl Nodes,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let len = end - start;
    if m == len {
        if !whole {
            out.push(subtree(nodes, start, end)?);
        }
        return Ok(());
    }
    let k = split(len);
    if m <= k {
        subproof(nodes, m, start, start + k, whole, out)?;
        out.push(subtree(nodes, start + k, end)?);
    } else {
        subproof(nodes, m - k, start + k, end, false, out)?;
        out.push(subtree(nodes, start, start + k)?);
    }
    Ok(())
}

/// Checks that `leaf` is entry `index` of the tree of `size` entries whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old` entries with root `old_root` is a prefix of the tree of `new`
/// entries with root `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        let same = if old == 0 {
            *old_root == Hash::empty() && (new > 0 || *new_root == Hash::empty())
        } else {
            old_root == new_root
        };
        return if same {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        hashes.push(*old_root);
    }
    hashes.extend_from_slice(proof);
    let Some((first, rest)) = hashes.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// A complete subtree: its level, its index at that level, its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// 0 for a leaf.
    pub level: u32,
    /// Index at that level.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

/// The right edge of a tree: one complete subtree per set bit of its size, largest first.
/// Enough to append and to compute the root, without the rest of the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    edge: Vec<Node>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the tree of `size` leaves, read from stored subtrees.
    pub fn load(nodes: &impl Nodes, size: u64) -> Result<Self, ProofError> {
        let mut edge = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1 << level) != 0 {
                let index = start >> level;
                let hash = nodes
                    .node(level, index)
                    .ok_or(ProofError::Missing { level, index })?;
                edge.push(Node { level, index, hash });
                start += 1 << level;
            }
        }
        Ok(Self { size, edge })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; returns the complete subtrees it finished, the leaf itself first.
    pub fn push(&mut self, leaf: Hash) -> Vec<Node> {
        let mut done = vec![Node {
            level: 0,
            index: self.size,
            hash: leaf,
        }];
        let mut carry = done[0];
        while let Some(last) = self.edge.last() {
            if last.level != carry.level {
                break;
            }
            let left = *last;
            self.edge.pop();
            carry = Node {
                level: carry.level + 1,
                index: left.index >> 1,
                hash: node_hash(&left.hash, &carry.hash),
            };
            done.push(carry);
        }
        self.edge.push(carry);
        self.size += 1;
        done
    }

    /// The tree's root.
    pub fn root(&self) -> Hash {
        let mut nodes = self.edge.iter().rev();
        let Some(last) = nodes.next() else {
            return Hash::empty();
        };
        nodes.fold(last.hash, |right, left| node_hash(&left.hash, &right))
    }
}

/// Every complete subtree of a tree, in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        for node in self.frontier.push(leaf) {
            let level = node.level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(node.hash);
        }
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl Nodes for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.levels
            .get(level as usize)?
            .get(usize::try_from(index).ok()?)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    #[test]
    fn the_frontier_root_is_the_recursive_root() {
        for n in 0..70 {
            let t = tree(n);
            assert_eq!(t.root(), root(&t, n).unwrap(), "size {n}");
            assert_eq!(Frontier::load(&t, n).unwrap().root(), t.root());
        }
    }

    #[test]
    fn every_proof_of_small_trees_verifies_and_a_changed_one_does_not() {
        let t = tree(40);
        for n in 1..=40u64 {
            let r = root(&t, n).unwrap();
            for i in 0..n {
                let leaf = t.node(0, i).unwrap();
                let p = inclusion_proof(&t, i, n).unwrap();
                verify_inclusion(i, n, &leaf, &p, &r).unwrap();
                assert!(verify_inclusion(i, n, &leaf_hash(b"other"), &p, &r).is_err());
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first);
                    assert!(verify_inclusion(i, n, &leaf, &bad, &r).is_err());
                    assert!(verify_inclusion(i, n, &leaf, &p[1..], &r).is_err());
                }
                let mut long = p.clone();
                long.push(r);
                assert!(verify_inclusion(i, n, &leaf, &long, &r).is_err());
            }
            for m in 0..=n {
                let old = root(&t, m).unwrap();
                let p = consistency_proof(&t, m, n).unwrap();
                verify_consistency(m, n, &old, &r, &p).unwrap();
                if m > 0 && m < n {
                    let other = root(&t, m - 1).unwrap();
                    assert!(verify_consistency(m, n, &other, &r, &p).is_err());
                    assert!(verify_consistency(m, n, &old, &old, &p).is_err() || m == n);
                    assert!(verify_consistency(m, n, &old, &r, &p[1..]).is_err());
                }
            }
        }
    }

    #[test]
    fn impossible_requests_are_errors_not_panics() {
        let t = tree(5);
        assert_eq!(
            inclusion_proof(&t, 5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(inclusion_proof(&t, 0, 0).is_err());
        assert!(consistency_proof(&t, 6, 5).is_err());
        assert!(matches!(root(&t, 9), Err(ProofError::Missing { .. })));
        let r = t.root();
        assert!(verify_inclusion(0, 0, &r, &[], &r).is_err());
        assert!(verify_consistency(3, 2, &r, &r, &[]).is_err());
        assert!(
            verify_consistency(0, 5, &r, &r, &[]).is_err(),
            "size 0 has the empty root"
        );
        verify_consistency(0, 5, &Hash::empty(), &r, &[]).unwrap();
        assert!(verify_consistency(0, 0, &Hash::empty(), &r, &[]).is_err());
        assert!(verify_consistency(0, 5, &Hash::empty(), &r, &[r]).is_err());
        assert!(verify_consistency(3, 5, &r, &r, &[]).is_err());
    }
}
