//! Fuzzing the parts that read untrusted input: the entry decoder, the proof verifiers, the
//! checkpoint and note readers and the whole-log check. Whatever the bytes, they answer with
//! a value or an error, never a panic; and nothing but the one valid input is accepted.
//! Random inputs, plus mutations of valid ones (the inputs that get furthest), run on every
//! CI pass; `PROPTEST_CASES=100000 cargo test -p tollgate-ledger --test fuzz` runs longer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tollgate_ledger::hash::{chain_hash, CHAIN_START};
use tollgate_ledger::tree::{self, verify_consistency, verify_inclusion, MemoryTree};
use tollgate_ledger::{Checkpoint, Entry, Hash, LogCheck, Signer, Verifier};
use uuid::Uuid;

fn sample() -> Entry {
    Entry {
        log: Uuid::from_u128(1),
        seq: 7,
        time_ms: 1_764_633_600_000,
        actor_type: "user".into(),
        actor: Some(Uuid::from_u128(2)),
        action: "key.revoke".into(),
        target_type: "api_key".into(),
        target_id: Some("k1".into()),
        outcome: "success".into(),
        request_id: Some(Uuid::from_u128(3)),
        body_hash: Some(Hash([9; 32])),
    }
}

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push(tollgate_ledger::hash::leaf_hash(&i.to_be_bytes()));
    }
    t
}

fn signer() -> Signer {
    Signer::generate("fuzz.example", [4; 32]).unwrap().0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(entry) = Entry::decode(&bytes) {
            // Whatever decodes has exactly this encoding.
            prop_assert_eq!(entry.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn a_mutated_encoding_is_refused_or_another_entry(
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let good = sample().encode().unwrap();
        let mut flipped = good.clone();
        let i = at.index(flipped.len());
        flipped[i] ^= xor;
        match Entry::decode(&flipped) {
            Ok(other) => prop_assert_ne!(other, sample()),
            Err(_) => {}
        }
        let short = &good[..cut.index(good.len())];
        prop_assert!(Entry::decode(short).is_err());
        if !extra.is_empty() {
            let mut long = good.clone();
            long.extend_from_slice(&extra);
            prop_assert!(Entry::decode(&long).is_err());
        }
    }

    #[test]
    fn random_proofs_never_verify_and_never_panic(
        size in 0u64..200,
        index in 0u64..220,
        old in 0u64..220,
        hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..12),
        root in any::<[u8; 32]>(),
    ) {
        let proof: Vec<Hash> = hashes.into_iter().map(Hash).collect();
        let t = tree(size);
        let real_root = t.root();
        let leaf = Hash(root);
        // A random leaf with a random proof does not reach the real root.
        prop_assert!(verify_inclusion(index, size, &leaf, &proof, &real_root).is_err());
        let _ = verify_consistency(old, size, &Hash(root), &real_root, &proof);
        let _ = verify_inclusion(index, size, &leaf, &proof, &Hash(root));
    }

    #[test]
    fn a_mutated_real_proof_is_refused(
        size in 2u64..150,
        index in any::<prop::sample::Index>(),
        old in any::<prop::sample::Index>(),
        which in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let t = tree(size);
        let root = t.root();
        let i = index.index(size as usize) as u64;
        let leaf = tollgate_ledger::hash::leaf_hash(&i.to_be_bytes());
        let mut proof = tree::inclusion_proof(&t, i, size).unwrap();
        prop_assert!(verify_inclusion(i, size, &leaf, &proof, &root).is_ok());
        if !proof.is_empty() {
            let k = which.index(proof.len());
            proof[k].0[0] ^= xor;
            prop_assert!(verify_inclusion(i, size, &leaf, &proof, &root).is_err());
        }
        let m = old.index(size as usize) as u64 + 1;
        let old_root = tree(m).root();
        let mut proof = tree::consistency_proof(&t, m, size).unwrap();
        prop_assert!(verify_consistency(m, size, &old_root, &root, &proof).is_ok());
        if !proof.is_empty() {
            let k = which.index(proof.len());
            proof[k].0[31] ^= xor;
            prop_assert!(verify_consistency(m, size, &old_root, &root, &proof).is_err());
        }
    }

    #[test]
    fn checkpoint_and_note_text_never_panics(text in "\\PC{0,200}", lines in proptest::collection::vec("[ -~]{0,60}", 0..8)) {
        let trusted = [signer().verifier()];
        let _ = Checkpoint::parse(&text);
        let _ = Checkpoint::open(&text, &trusted);
        let joined = lines.join("\n");
        let _ = Checkpoint::open(&joined, &trusted);
        let _ = Verifier::from_vkey(&text);
        let _ = Signer::from_skey(&text);
    }

    #[test]
    fn a_mutated_signed_checkpoint_is_refused(at in any::<prop::sample::Index>(), with in any::<char>()) {
        let cp = Checkpoint { origin: "fuzz.example/audit/x".into(), size: 12, root: Hash([3; 32]), extensions: vec![] };
        let signed = cp.sign(&signer()).unwrap();
        let trusted = [signer().verifier()];
        prop_assert_eq!(Checkpoint::open(&signed, &trusted).unwrap(), cp.clone());
        let mut chars: Vec<char> = signed.chars().collect();
        let i = at.index(chars.len());
        if chars[i] != with {
            chars[i] = with;
            let changed: String = chars.into_iter().collect();
            if let Ok(opened) = Checkpoint::open(&changed, &trusted) {
                // Only a change outside the signed text and signature may pass (none exist
                // but trailing bytes the format ignores): the content must be the same.
                prop_assert_eq!(opened, cp);
            }
        }
    }

    #[test]
    fn the_log_check_takes_any_sequence_without_panicking(
        seqs in proptest::collection::vec(0u64..12, 0..12),
        chains in proptest::collection::vec(any::<[u8; 32]>(), 12),
        expect in proptest::collection::vec((0u64..14, any::<[u8; 32]>()), 0..3),
    ) {
        let mut check = LogCheck::new(Uuid::from_u128(1));
        for (size, root) in expect {
            let _ = check.expect(size, Hash(root));
        }
        let mut ok = true;
        for (i, seq) in seqs.iter().enumerate() {
            let mut e = sample();
            e.seq = *seq;
            if check.push(&e, &Hash(chains[i])).is_err() {
                ok = false;
                break;
            }
        }
        if ok {
            let _ = check.finish();
        }
        // The only way through is the right chain: entry 1 with its real chain hash.
        let mut check = LogCheck::new(Uuid::from_u128(1));
        let mut e = sample();
        e.seq = 1;
        let chain = chain_hash(&CHAIN_START, &e.leaf_hash().unwrap());
        prop_assert!(check.push(&e, &chain).is_ok());
    }
}
