//! Issue 5's pure targets on this machine: verifying a log (decode-free: encode, leaf hash,
//! chain hash, tree) at ≥ 200,000 entries/s, and proofs served in < 5 ms p99 (here the proof
//! computation alone, from an in-memory tree of 1,000,000 entries).
//! Run: `cargo bench -p tollgate-ledger --bench ledger`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use tollgate_ledger::hash::{chain_hash, CHAIN_START};
use tollgate_ledger::tree::{self, MemoryTree};
use tollgate_ledger::{Entry, LogCheck};
use uuid::Uuid;

const ENTRIES: u64 = 1_000_000;
const PROOFS: usize = 10_000;

fn entry(seq: u64) -> Entry {
    Entry {
        log: Uuid::nil(),
        seq,
        time_ms: 1_764_000_000_000 + seq as i64,
        actor_type: "user".into(),
        actor: Some(Uuid::from_u128(u128::from(seq % 97))),
        action: "key.revoke".into(),
        target_type: "api_key".into(),
        target_id: Some(Uuid::from_u128(u128::from(seq)).to_string()),
        outcome: "success".into(),
        request_id: Some(Uuid::from_u128(u128::from(seq) << 64)),
        body_hash: Some(tollgate_ledger::hash::digest(&seq.to_be_bytes())),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let entries: Vec<Entry> = (1..=ENTRIES).map(entry).collect();
    let mut chain = CHAIN_START;
    let mut tree = MemoryTree::new();
    let chains: Vec<_> = entries
        .iter()
        .map(|e| {
            let leaf = e.leaf_hash().unwrap();
            chain = chain_hash(&chain, &leaf);
            tree.push(leaf);
            chain
        })
        .collect();

    let started = Instant::now();
    let mut check = LogCheck::new(Uuid::nil());
    check.expect(ENTRIES, tree.root()).unwrap();
    for (e, c) in entries.iter().zip(&chains) {
        check.push(e, c).unwrap();
    }
    let done = check.finish().unwrap();
    let took = started.elapsed();
    println!(
        "verify: {} entries in {:.3} s = {:.0} entries/s (root {})",
        done.size,
        took.as_secs_f64(),
        done.size as f64 / took.as_secs_f64(),
        done.root
    );

    let mut inclusion = Vec::with_capacity(PROOFS);
    let mut consistency = Vec::with_capacity(PROOFS);
    for i in 0..PROOFS as u64 {
        let index = i.wrapping_mul(2_654_435_761) % ENTRIES;
        let t = Instant::now();
        let p = tree::inclusion_proof(&tree, index, ENTRIES).unwrap();
        inclusion.push(t.elapsed());
        std::hint::black_box(p);
        let old = 1 + index % (ENTRIES - 1);
        let t = Instant::now();
        let p = tree::consistency_proof(&tree, old, ENTRIES).unwrap();
        consistency.push(t.elapsed());
        std::hint::black_box(p);
    }
    inclusion.sort();
    consistency.sort();
    for (name, d) in [("inclusion", &inclusion), ("consistency", &consistency)] {
        println!(
            "{name} proof in a tree of {ENTRIES}: p50 {:?}, p99 {:?}, max {:?} over {PROOFS}",
            percentile(d, 0.5),
            percentile(d, 0.99),
            d[d.len() - 1]
        );
    }
}
