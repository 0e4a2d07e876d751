//! The tree against independent work: the RFC 6962 reference roots, and `ct-merkle` (another
//! implementation of RFC 6962) for roots, inclusion and consistency proofs of every size and
//! index up to 70 leaves and of random trees, each side verifying the other's proofs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_range_loop
)]

use ct_merkle::consistency::ConsistencyProof;
use ct_merkle::inclusion::InclusionProof;
use ct_merkle::{CtMerkleTree, RootHash};
use proptest::prelude::*;
use sha2::Sha256;
use tollgate_ledger::hash::leaf_hash;
use tollgate_ledger::tree::{self, MemoryTree};
use tollgate_ledger::Hash;

/// The inputs of RFC 6962's test vectors (as in the Certificate Transparency reference code).
const RFC_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
/// The roots of the first n of them, n = 0..=8.
const RFC_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn the_rfc_reference_roots() {
    let mut t = MemoryTree::new();
    assert_eq!(t.root().to_hex(), RFC_ROOTS[0]);
    for (n, input) in RFC_INPUTS.iter().enumerate() {
        t.push(leaf_hash(&hex::decode(input).unwrap()));
        assert_eq!(t.root().to_hex(), RFC_ROOTS[n + 1], "size {}", n + 1);
    }
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash(c.try_into().unwrap()))
        .collect()
}

fn flat(proof: &[Hash]) -> Vec<u8> {
    proof.iter().flat_map(|h| h.0).collect()
}

/// Both trees over the same leaves.
fn both(leaves: &[Vec<u8>]) -> (MemoryTree, Vec<CtMerkleTree<Sha256, Vec<u8>>>) {
    let mut ours = MemoryTree::new();
    let mut theirs = Vec::new();
    let mut t = CtMerkleTree::<Sha256, Vec<u8>>::new();
    theirs.push(t.clone());
    for leaf in leaves {
        ours.push(leaf_hash(leaf));
        t.push(leaf.clone());
        theirs.push(t.clone());
    }
    (ours, theirs)
}

fn agree(leaves: &[Vec<u8>]) {
    let (ours, theirs) = both(leaves);
    for n in 1..=leaves.len() {
        let ct = &theirs[n];
        let root = tree::root(&ours, n as u64).unwrap();
        assert_eq!(
            root.0.as_slice(),
            ct.root().as_bytes().as_slice(),
            "root of {n}"
        );
        for i in 0..n {
            let mine = tree::inclusion_proof(&ours, i as u64, n as u64).unwrap();
            let other = ct.prove_inclusion(i);
            assert_eq!(flat(&mine), other.as_bytes(), "inclusion {i} of {n}");
            tree::verify_inclusion(
                i as u64,
                n as u64,
                &leaf_hash(&leaves[i]),
                &hashes(other.as_bytes()),
                &root,
            )
            .unwrap();
            ct.root()
                .verify_inclusion(
                    &leaves[i],
                    i,
                    &InclusionProof::<Sha256>::from_bytes(flat(&mine)),
                )
                .unwrap();
        }
        for m in 1..=n {
            let mine = tree::consistency_proof(&ours, m as u64, n as u64).unwrap();
            let old_root = tree::root(&ours, m as u64).unwrap();
            let other = ct.prove_consistency(m);
            tree::verify_consistency(
                m as u64,
                n as u64,
                &old_root,
                &root,
                &hashes(other.as_bytes()),
            )
            .unwrap_or_else(|e| panic!("their proof {m}..{n}: {e}"));
            let old = RootHash::<Sha256>::new(old_root.0.into(), m);
            ct.root()
                .verify_consistency(&old, &ConsistencyProof::<Sha256>::from_bytes(flat(&mine)))
                .unwrap_or_else(|e| panic!("our proof {m}..{n}: {e:?}"));
        }
    }
}

#[test]
fn agrees_with_ct_merkle_on_every_size_and_index_to_70() {
    let leaves: Vec<Vec<u8>> = (0u32..70).map(|i| i.to_be_bytes().to_vec()).collect();
    agree(&leaves);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn agrees_with_ct_merkle_on_random_trees(leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..40)) {
        agree(&leaves);
    }

    #[test]
    fn a_mutated_proof_hash_never_verifies(n in 2u64..200, seed in any::<u64>(), byte in 0usize..32, bit in 0u8..8) {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&(seed ^ i).to_be_bytes()));
        }
        let root = t.root();
        let i = seed % n;
        let leaf = leaf_hash(&(seed ^ i).to_be_bytes());
        let mut proof = tree::inclusion_proof(&t, i, n).unwrap();
        let at = (seed as usize) % proof.len();
        proof[at].0[byte] ^= 1 << bit;
        prop_assert!(tree::verify_inclusion(i, n, &leaf, &proof, &root).is_err());

        let m = 1 + seed % (n - 1);
        let old = tree::root(&t, m).unwrap();
        let mut proof = tree::consistency_proof(&t, m, n).unwrap();
        let at = (seed as usize) % proof.len();
        proof[at].0[byte] ^= 1 << bit;
        prop_assert!(tree::verify_consistency(m, n, &old, &root, &proof).is_err());
        // (A proof checks hashes against the sizes it is given; that a size belongs with a
        // root is what the signed checkpoint vouches for.)
    }
}
