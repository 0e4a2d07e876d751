//! Usage that is never lost: every call that got its answer has exactly one usage record, when
//! the gateway is killed with SIGKILL under load and started again, and when the database goes
//! away under load and comes back. On both backends.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_store::Store;
use tollgate_testkit::{backend_tests, Backend, TcpProxy, TestApp, TestDb};

use crate::fixtures::{chat, key_with, unspent_credits};

backend_tests!(
    a_killed_gateway_loses_no_answered_call,
    a_database_outage_loses_no_answered_call,
    a_record_the_database_refuses_is_set_aside_and_the_rest_stored,
);

/// The gateway binary, started as `tollgate serve` in its own process.
struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Gateway {
    async fn start(db: &TestDb, journal: &std::path::Path, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(db.dir().join(format!("gateway-{port}.log"))).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.arg("serve")
            .env("TOLLGATE_DATABASE__URL", &db.url)
            .env("TOLLGATE_SERVER__BIND", addr.to_string())
            .env("TOLLGATE_USAGE__JOURNAL_DIR", journal)
            .env("TOLLGATE_LOG__LEVEL", "warn")
            .env("TOLLGATE_LOG__FORMAT", "json")
            .current_dir(db.dir())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("tollgate starts");
        // A separate process: its readiness can only be asked for.
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client.get(format!("http://{addr}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "tollgate exited at start"
            );
            assert!(Instant::now() < deadline, "tollgate did not become ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { child, addr }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL: no drain, no flush
        self.child.wait().unwrap();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls from `workers` clients until `stop`, half of them streamed; returns the request ids
/// of the calls whose answer arrived whole (a 200 and, for streams, the end of the stream).
fn load(
    base: String,
    key: String,
    workers: usize,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let answered = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let (base, key, stop, answered) =
                    (base.clone(), key.clone(), stop.clone(), answered.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let mut body = chat("mock-small", &format!("call {w}-{n}"));
                        let streamed = n.is_multiple_of(2);
                        body["stream"] = json!(streamed);
                        let Ok(r) = client
                            .post(format!("{base}/v1/chat/completions"))
                            .bearer_auth(&key)
                            .json(&body)
                            .send()
                            .await
                        else {
                            continue;
                        };
                        if r.status() != 200 {
                            continue;
                        }
                        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
                        let Ok(text) = r.text().await else { continue };
                        let whole = if streamed {
                            text.ends_with("data: [DONE]\n\n")
                        } else {
                            serde_json::from_str::<Value>(&text).is_ok()
                        };
                        if whole {
                            answered.lock().unwrap().push(id);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        let ids = answered.lock().unwrap().clone();
        ids
    })
}

/// How many of `ids` have a usage record, and whether any has two.
async fn recorded(store: &Store, ids: &[String]) -> (usize, bool) {
    let rows = store
        .strings_raw("SELECT CAST(id AS TEXT) FROM usage_logs")
        .await
        .unwrap();
    let unique: HashSet<&String> = rows.iter().collect();
    let wanted: HashSet<&String> = ids.iter().collect();
    (
        wanted.intersection(&unique).count(),
        unique.len() != rows.len(),
    )
}

async fn all_recorded(store: &Store, ids: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (found, doubled) = recorded(store, ids).await;
        assert!(!doubled, "a call has two usage records");
        if found == ids.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} answered calls have no usage record",
            ids.len() - found,
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_killed_gateway_loses_no_answered_call(db: TestDb) {
    let store = db.migrated().await;
    let (_, _, key) = key_with(&store, None).await;
    // A key with credits too: the kill strands credits in this process's lease, which the
    // restart must give back once the journal is stored.
    const CREDITS: i64 = 1_000_000_000_000;
    let (_, paying_id, paying) = key_with(&store, Some(CREDITS)).await;
    let journal = db.dir().join("journal");
    // Records wait in the journal (no batch is full or old enough), so the kill finds them
    // there and only the restart can store them.
    let gateway = Gateway::start(
        &db,
        &journal,
        &[
            ("TOLLGATE_USAGE__FLUSH_INTERVAL_MS", "600000"),
            ("TOLLGATE_USAGE__BATCH_RECORDS", "10000"),
        ],
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let base = format!("http://{}", gateway.addr);
    let free = load(base.clone(), key.clone(), 4, stop.clone());
    let paid = load(base, paying.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gateway.kill();
    stop.store(true, Ordering::SeqCst);
    let mut answered = free.await.unwrap();
    let paid = paid.await.unwrap();
    assert!(!paid.is_empty(), "calls with credits were answered");
    answered.extend(paid);
    assert!(
        answered.len() > 50,
        "the load got answers: {}",
        answered.len()
    );
    let (before, _) = recorded(&store, &answered).await;
    assert!(
        before < answered.len(),
        "the kill left records only in the journal"
    );
    assert!(leased(&store).await > 0, "the killed process held credits");

    let again = Gateway::start(&db, &journal, &[]).await;
    all_recorded(&store, &answered, Duration::from_secs(30)).await;
    // The restart stored the journal, then gave the lease back: the key has lost exactly
    // what its recorded calls were charged.
    assert_eq!(leased(&store).await, 0);
    let charged = store
        .scalar_raw(&format!(
            "SELECT CAST(sum(credits_deducted) AS BIGINT) FROM usage_logs WHERE api_key_id = '{paying_id}'"
        ))
        .await
        .unwrap();
    assert!(charged > 0);
    assert_eq!(unspent_credits(&store, paying_id).await, CREDITS - charged);
    drop(again);
}

/// Credits held in leases, all keys.
async fn leased(store: &Store) -> i64 {
    store
        .scalar_raw("SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM credit_leases")
        .await
        .unwrap()
}

async fn a_database_outage_loses_no_answered_call(db: TestDb) {
    let store = db.migrated().await;
    let (_, _, key) = key_with(&store, None).await;
    let mut settings = db.settings();
    settings.usage.flush_interval_ms = 20;
    settings.gateway.key_cache_seconds = 1;
    settings.database.acquire_timeout_seconds = 1;
    settings.database.sqlite_busy_timeout_ms = 100;
    let proxy = match db.backend {
        Backend::Postgres => {
            let proxy = TcpProxy::start(db.postgres_addr().unwrap()).await;
            settings.database.url = db.url_via(proxy.addr);
            Some(proxy)
        }
        Backend::Sqlite => None,
    };
    let app = TestApp::spawn_with(settings).await;
    // The key is looked up once while the database is there.
    let warm = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&chat("mock-small", "warm up"))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 200);

    // The outage: PostgreSQL connections are cut and refused; SQLite is locked for writing by
    // another connection.
    let lock = match &proxy {
        Some(proxy) => {
            proxy.cut();
            None
        }
        None => {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            Some(conn)
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let running = load(app.url(""), key.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::SeqCst);
    let answered = running.await.unwrap();
    assert!(
        answered.len() > 20,
        "the gateway kept answering without its database: {}",
        answered.len()
    );
    let (during, _) = recorded(&store, &answered).await;
    assert!(during < answered.len(), "records waited for the database");

    match (&proxy, lock) {
        (Some(proxy), _) => proxy.restore(),
        (None, Some(mut conn)) => {
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
        (None, None) => {}
    }
    all_recorded(&store, &answered, Duration::from_secs(30)).await;
    app.stop().await.unwrap();
}

async fn a_record_the_database_refuses_is_set_aside_and_the_rest_stored(db: TestDb) {
    let mut settings = db.settings();
    // Long enough that the erasure below comes before the first flush even on a busy machine.
    settings.usage.flush_interval_ms = 4_000;
    let journal = std::path::PathBuf::from(&settings.usage.journal_dir);
    let app = TestApp::spawn_with(settings).await;
    let (gone_tenant, _, gone) = key_with(&app.store, None).await;
    let (_, _, kept) = key_with(&app.store, None).await;
    let mut ids = Vec::new();
    for key in [&gone, &kept, &kept] {
        let r = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat("mock-small", "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(r.headers()["x-request-id"].to_str().unwrap().to_string());
    }
    // The first tenant is erased before its call's record is stored: the database will never
    // take that row (its tenant is gone). It must not hold up the others.
    app.store.erase_tenant(gone_tenant, "test").await.unwrap();
    all_recorded(&app.store, &ids[1..], Duration::from_secs(20)).await;
    // The other tenant's records may be stored before the refused one is set aside.
    let dead_letters = journal.join("dead-letter.jsonl");
    let mut waited = Duration::ZERO;
    while !dead_letters.exists() && waited < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    let dead = std::fs::read_to_string(&dead_letters).unwrap();
    assert!(dead.contains(&ids[0]), "{dead}");
    assert_eq!(dead.lines().count(), 1);
    app.stop().await.unwrap();
}
