//! SHA-256 hashes with the domain separation of RFC 9162: a leaf is `H(0x00 || entry)`, an
//! interior node `H(0x01 || left || right)`, so no leaf can pass for a node. The hash chain
//! (the per-entry checksum the seeds ask for) links each leaf to the one before it under its
//! own prefix.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 output.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The hash of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1).
    pub fn empty() -> Self {
        Self(Sha256::digest([]).into())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hexadecimal digits; got {0:?}")]
pub struct BadHash(pub String);

impl FromStr for Hash {
    type Err = BadHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| BadHash(s.to_string()))?;
        Ok(Self(out))
    }
}

const LEAF: u8 = 0x00;
const NODE: u8 = 0x01;
/// Not an RFC 9162 prefix: the chain is ours, and must never collide with a tree hash.
const CHAIN: u8 = 0x02;

/// The leaf hash of an encoded entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The chain hash of an entry: `H(0x02 || previous || leaf)`, where `previous` is the chain
/// hash of the entry before it (all zeros before the first). Changing, removing or reordering
/// any entry changes every chain hash after it.
pub fn chain_hash(previous: &Hash, leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([CHAIN]);
    h.update(previous.0);
    h.update(leaf.0);
    Hash(h.finalize().into())
}

/// The chain hash before the first entry of a log.
pub const CHAIN_START: Hash = Hash([0; 32]);

/// SHA-256 of arbitrary bytes (entry bodies).
pub fn digest(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_a_hash() {
        let h = leaf_hash(b"x");
        assert_eq!(h.to_hex().parse::<Hash>(), Ok(h));
        assert!("abc".parse::<Hash>().is_err());
        assert!("zz".repeat(32).parse::<Hash>().is_err());
    }

    #[test]
    fn the_prefixes_separate_leaves_nodes_and_chain_links() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut as_leaf = a.0.to_vec();
        as_leaf.extend_from_slice(&b.0);
        assert_ne!(node_hash(&a, &b), leaf_hash(&as_leaf));
        assert_ne!(node_hash(&a, &b), chain_hash(&a, &b));
        assert_eq!(
            Hash::empty().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
