//! The audit ledger in the database, against issue 5's targets: appends one per transaction
//! (≥ 2,000/s on PostgreSQL, ≥ 400/s on SQLite) and batched (≥ 15,000/s on both), `audit
//! verify` (≥ 200,000 entries/s) and proofs served (< 5 ms at p99).
//! Run: `cargo bench -p tollgate-store --bench ledger_store` (PostgreSQL from
//! TOLLGATE_TEST_POSTGRES_URL, as in the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use tollgate_store::audit::{NewAuditEntry, VerifyOptions};
use tollgate_store::tenants::{NewApp, NewTenant};
use tollgate_store::{Backend, Change, Scope, Store};
use tollgate_testkit::{fixture_entry, TestDb};
use uuid::Uuid;

/// Appends timed one per transaction, per writer.
const SINGLE: usize = 2_000;
/// Callers on one log, each committing one change at a time.
const CALLERS: usize = 64;
/// Entries per batched transaction.
const BATCH: usize = 100;
/// Entries appended in batches; the proofs and verify run on this log.
const BATCHED: usize = 100_000;
/// Proofs timed.
const PROOFS: usize = 2_000;

fn entry(log: Uuid, i: usize) -> NewAuditEntry {
    let mut e = NewAuditEntry::system(
        "bench.step",
        "bench",
        Some(i.to_string()),
        serde_json::json!({ "n": i }),
    );
    e.tenant_id = Some(log);
    e
}

async fn tenant(store: &Store) -> Uuid {
    let id = Uuid::new_v4();
    let mut tx = store.begin_change(Scope::System("bench")).await.unwrap();
    tx.insert_tenant(&NewTenant {
        id,
        name: "bench".into(),
        email: format!("{id}@bench.example"),
    })
    .await
    .unwrap();
    tx.commit(fixture_entry()).await.unwrap();
    id
}

/// `writers` tasks, each on its own tenant's log, each appending `per_writer` entries one per
/// transaction; returns appends per second over all.
async fn single(store: &Store, writers: usize, per_writer: usize) -> f64 {
    let mut logs = Vec::new();
    for _ in 0..writers {
        logs.push(tenant(store).await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = logs
        .into_iter()
        .map(|log| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let tx = store.begin_change(Scope::Tenant(log)).await.unwrap();
                    tx.commit(entry(log, i)).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (writers * per_writer) as f64 / started.elapsed().as_secs_f64()
}

/// `callers` tasks on one tenant's log, each committing `per_caller` changes one after the
/// other (a change each: one app and its entry), through the sequencer or each in its own
/// transaction; returns changes per second and the mean batch.
async fn one_log(store: &Store, callers: usize, per_caller: usize, sequenced: bool) -> (f64, f64) {
    let log = tenant(store).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut batches = 0;
                for i in 0..per_caller {
                    let app = NewApp {
                        id: Uuid::new_v4(),
                        tenant_id: log,
                        name: format!("app {c}.{i}"),
                        allowed_origins: vec![],
                    };
                    let entry = entry(log, c * per_caller + i);
                    if sequenced {
                        let done = store
                            .sequenced(log, move |tx: &mut Change| {
                                Box::pin(async move {
                                    tx.insert_app(&app).await?;
                                    Ok(((), entry))
                                })
                            })
                            .await
                            .unwrap();
                        batches += done.batch;
                    } else {
                        let mut tx = store.begin_change(Scope::Tenant(log)).await.unwrap();
                        tx.insert_app(&app).await.unwrap();
                        tx.commit(entry).await.unwrap();
                        batches += 1;
                    }
                }
                batches
            })
        })
        .collect();
    let mut batch_sum = 0;
    for t in tasks {
        batch_sum += t.await.unwrap();
    }
    let n = callers * per_caller;
    (
        n as f64 / started.elapsed().as_secs_f64(),
        batch_sum as f64 / n as f64,
    )
}

async fn batched(store: &Store, log: Uuid) -> f64 {
    let started = Instant::now();
    for b in 0..BATCHED / BATCH {
        let mut tx = store.begin_change(Scope::Tenant(log)).await.unwrap();
        for i in 1..BATCH {
            tx.record(entry(log, b * BATCH + i));
        }
        tx.commit(entry(log, b * BATCH)).await.unwrap();
    }
    BATCHED as f64 / started.elapsed().as_secs_f64()
}

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[i].as_secs_f64() * 1000.0
}

async fn proofs(store: &Store, log: Uuid, size: u64) {
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n + 1
    };
    let mut inclusion = Vec::with_capacity(PROOFS);
    let mut consistency = Vec::with_capacity(PROOFS);
    for _ in 0..PROOFS {
        let seq = next(size);
        let started = Instant::now();
        let p = store.inclusion_proof(log, seq, None).await.unwrap();
        inclusion.push(started.elapsed());
        assert_eq!(p.size, size);
        let from = next(size);
        let started = Instant::now();
        store.consistency_proof(log, from, None).await.unwrap();
        consistency.push(started.elapsed());
    }
    for (name, times) in [
        ("inclusion", &mut inclusion),
        ("consistency", &mut consistency),
    ] {
        println!(
            "  {name:<11} proof, {size} entries   p50 {:>6.2} ms  p99 {:>6.2} ms  (target p99 < 5 ms)",
            percentile(times, 0.50),
            percentile(times, 0.99),
        );
    }
}

async fn run(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        println!("{}: server unreachable, skipped", backend.name());
        return;
    };
    let store = db.migrated().await;
    let target_single = if backend == Backend::Postgres {
        2_000
    } else {
        400
    };
    println!("{}", backend.name());
    let rate = single(&store, 1, SINGLE).await;
    println!(
        "  appends, one per transaction, 1 writer   {rate:>8.0}/s (target ≥ {target_single}/s)"
    );
    let rate = single(&store, 4, SINGLE / 2).await;
    println!("  appends, one per transaction, 4 writers  {rate:>8.0}/s (4 tenants' logs)");
    for sequenced in [false, true] {
        let (rate, batch) = one_log(&store, CALLERS, SINGLE / CALLERS * 2, sequenced).await;
        let how = if sequenced {
            "through the sequencer"
        } else {
            "each its own transaction"
        };
        println!(
            "  changes, {CALLERS} callers on 1 log, {how:<24} {rate:>8.0}/s (mean batch {batch:.1}; target ≥ {target_single}/s)"
        );
    }
    let log = tenant(&store).await;
    let rate = batched(&store, log).await;
    println!("  appends, {BATCH} per transaction           {rate:>8.0}/s (target ≥ 15000/s)");
    let size = store.inclusion_proof(log, 1, None).await.unwrap().size;
    proofs(&store, log, size).await;
    let started = Instant::now();
    let reports = store
        .verify_audit(&VerifyOptions {
            only: Some(log),
            ..VerifyOptions::default()
        })
        .await
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(reports[0].ok(), "{reports:?}");
    println!(
        "  audit verify of {} entries             {:>8.0}/s (target ≥ 200000/s; database reads included)",
        reports[0].size,
        reports[0].size as f64 / secs
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run(Backend::Sqlite).await;
        run(Backend::Postgres).await;
    });
}
