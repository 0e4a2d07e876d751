//! Seed 003's latency targets on a realistic organisation, on SQLite and PostgreSQL:
//! lookup by id < 1 ms, single insert < 1 ms, user permission aggregation < 10 ms, team
//! hierarchy < 20 ms (1,000 users, 200 teams six levels deep); and bytes per usage row on disk
//! (seed 000 estimates ~500). Run: `cargo bench -p tollgate-store --bench store_latency`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::Utc;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tollgate_domain::builtin::SYSTEM_ROLES;
use tollgate_store::people::{NewTeam, NewUser};
use tollgate_store::tenants::NewTenant;
use tollgate_store::usage::UsageRecord;
use tollgate_store::{Backend, Scope, Store};
use tollgate_testkit::TestDb;
use uuid::Uuid;

/// Teams per level: 1 + 5 + 15 + 35 + 64 + 80 = 200, six levels.
const LEVELS: [usize; 6] = [1, 5, 15, 35, 64, 80];
const USERS: usize = 1_000;
const ITERATIONS: usize = 400;
const USAGE_ROWS: usize = 50_000;

struct Org {
    tenant: Uuid,
    users: Vec<Uuid>,
    subjects: Vec<Uuid>,
    teams: Vec<Uuid>,
}

async fn build_org(store: &Store) -> Org {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let tenant = Uuid::new_v4();
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    tx.insert_tenant(&NewTenant {
        id: tenant,
        name: "Bench".into(),
        email: "bench@example.com".into(),
    })
    .await
    .unwrap();
    let mut levels: Vec<Vec<Uuid>> = Vec::new();
    for (depth, count) in LEVELS.iter().enumerate() {
        let mut level = Vec::new();
        for i in 0..*count {
            let id = Uuid::new_v4();
            let parent = levels
                .last()
                .map(|above: &Vec<Uuid>| above[i % above.len()]);
            tx.insert_team(&NewTeam {
                id,
                tenant_id: tenant,
                parent_team_id: parent,
                name: format!("team {depth}.{i}"),
                budget_micros: Some(1_000_000_000),
                currency: "EUR".into(),
                period: "monthly".into(),
            })
            .await
            .unwrap();
            level.push(id);
        }
        levels.push(level);
    }
    let teams: Vec<Uuid> = levels.concat();
    let mut users = Vec::with_capacity(USERS);
    let mut subjects = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let id = Uuid::new_v4();
        let subject = Uuid::new_v4();
        subjects.push(subject);
        tx.insert_user(&NewUser {
            id,
            tenant_id: tenant,
            subject_id: subject,
            username: format!("user{i}"),
            email: format!("user{i}@bench.example"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            full_name: None,
            is_superuser: false,
            must_change_password: false,
        })
        .await
        .unwrap();
        let team = *teams.choose(&mut rng).unwrap();
        tx.add_team_member(team, id, "member").await.unwrap();
        for _ in 0..2 {
            let (role, _, _) = SYSTEM_ROLES[rng.gen_range(0..SYSTEM_ROLES.len())];
            tx.assign_role(id, role, tenant, Some(team), None)
                .await
                .unwrap();
        }
        users.push(id);
    }
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    Org {
        tenant,
        users,
        subjects,
        teams,
    }
}

/// A realistic usage row: one of the organisation's people and teams, within the last day.
fn usage(org: &Org, i: usize) -> UsageRecord {
    UsageRecord {
        id: Uuid::now_v7(),
        tenant_id: org.tenant,
        app_id: None,
        api_key_id: None,
        team_id: Some(org.teams[i % org.teams.len()]),
        subject_id: Some(org.subjects[i % org.subjects.len()]),
        device_id: None,
        provider: "anthropic".into(),
        model: "claude-3-5-sonnet".into(),
        endpoint: tollgate_store::usage::Endpoint::Chat,
        prompt_length: 180,
        pii_detected: i % 5 == 0,
        pii_types: Vec::new(),
        prompt_tokens: 120,
        completion_tokens: 300,
        cost_micros: 4_860,
        credits_deducted: 4_860,
        latency_ms: Some(812),
        upstream_latency_ms: Some(811),
        error_type: None,
        http_status: Some(200),
        streamed: true,
        created_at: Utc::now() - chrono::Duration::seconds((i % 86_400) as i64),
    }
}

fn report(name: &str, target_ms: f64, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0
    };
    println!(
        "  {name:<30} p50 {:>7.3} ms  p95 {:>7.3} ms  p99 {:>7.3} ms  target < {target_ms} ms  {}",
        at(0.50),
        at(0.95),
        at(0.99),
        if at(0.95) < target_ms {
            "met (p95)"
        } else {
            "MISSED (p95)"
        }
    );
}

async fn time<F, Fut>(mut op: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..ITERATIONS / 10 {
        op(i).await;
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS {
        let started = Instant::now();
        op(i).await;
        samples.push(started.elapsed());
    }
    samples
}

async fn bytes_per_usage_row(db: &TestDb, store: &Store, org: &Org) -> (f64, Option<f64>) {
    let size = |s: &'static str| async move { store.scalar_raw(s).await.unwrap() };
    let sqlite_size = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
    let before = match db.backend {
        Backend::Sqlite => size(sqlite_size).await,
        Backend::Postgres => 0,
    };
    let rows: Vec<UsageRecord> = (0..USAGE_ROWS).map(|i| usage(org, i)).collect();
    let started = Instant::now();
    store.append_usage(&rows).await.unwrap();
    let rate = USAGE_ROWS as f64 / started.elapsed().as_secs_f64();
    println!(
        "  batched usage insert           {rate:>9.0} rows/s ({USAGE_ROWS} rows, batches of 500)"
    );
    match db.backend {
        Backend::Sqlite => {
            let after = size(sqlite_size).await;
            let bytes = (after - before) as f64 / USAGE_ROWS as f64;
            rollup_time(store, org, &rows).await;
            (bytes, None)
        }
        Backend::Postgres => {
            let total = size("SELECT pg_total_relation_size('usage_logs')").await;
            let heap = size("SELECT pg_relation_size('usage_logs')").await;
            rollup_time(store, org, &rows).await;
            (
                total as f64 / USAGE_ROWS as f64,
                Some(heap as f64 / USAGE_ROWS as f64),
            )
        }
    }
}

async fn rollup_time(store: &Store, org: &Org, rows: &[UsageRecord]) {
    let first = rows.iter().map(|r| r.created_at).min().unwrap();
    let last = rows.iter().map(|r| r.created_at).max().unwrap();
    let started = Instant::now();
    store.rollup_usage(org.tenant, first, last).await.unwrap();
    println!(
        "  rollup of those rows (24 h)    {:>9.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}

async fn run(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        println!("{}: server unreachable, skipped", backend.name());
        return;
    };
    let store = db.migrated().await;
    let org = build_org(&store).await;
    println!(
        "{} ({} users, 200 teams in 6 levels)",
        backend.name(),
        org.users.len()
    );

    let users = &org.users;
    report(
        "lookup user by id",
        1.0,
        time(|i| {
            let s = &store;
            async move {
                s.user(org.tenant, users[i % users.len()]).await.unwrap();
            }
        })
        .await,
    );
    report(
        "single usage insert",
        1.0,
        time(|i| {
            let s = &store;
            let o = &org;
            async move {
                let rec = usage(o, i);
                s.append_usage(std::slice::from_ref(&rec)).await.unwrap();
            }
        })
        .await,
    );
    report(
        "user permission aggregation",
        10.0,
        time(|i| {
            let s = &store;
            async move {
                s.permissions_of(org.tenant, users[(i * 7) % users.len()])
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    report(
        "team hierarchy (200 teams)",
        20.0,
        time(|_| {
            let s = &store;
            let t = org.tenant;
            async move {
                assert_eq!(s.team_tree(t).await.unwrap().len(), 200);
            }
        })
        .await,
    );

    let (total, heap) = bytes_per_usage_row(&db, &store, &org).await;
    match heap {
        Some(heap) => println!(
            "  bytes per usage row            {total:>7.0} with indexes, {heap:.0} table only"
        ),
        None => println!(
            "  bytes per usage row            {total:>7.0} (file growth, indexes included)"
        ),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    run(Backend::Sqlite).await;
    run(Backend::Postgres).await;
}
