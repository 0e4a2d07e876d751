//! Test kit: a fresh database per test on SQLite or PostgreSQL, and the real server started on
//! `127.0.0.1:0` against it. Tests run in parallel; nothing sleeps to wait for a server.
//!
//! PostgreSQL is found at `TOLLGATE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it is unreachable a PostgreSQL test is
//! skipped with a note, except under `CI=true`, where it fails. Each test database is owned by
//! the plain role `tollgate_test_owner`, which the server must let connect without a password
//! (trust on loopback), so that row-level security is in force as in production.

// A test kit fails loudly: a broken fixture should stop the test, not hide in a Result.
#![allow(clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate::Application;
use tollgate_config::Settings;
use tollgate_store::audit::NewAuditEntry;
use tollgate_store::Store;

pub use tollgate_store::Backend;

/// Default administrative connection for creating and dropping test databases.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Writes one `(name: sqlite)` and one `(name: postgres)` test for each named
/// `async fn name(db: TestDb)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Sqlite).await {
                        super::$name(db).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres).await {
                        super::$name(db).await;
                    }
                }
            }
        )*
    };
}

/// A database that exists for one test: a SQLite file in a temporary directory, or a
/// PostgreSQL database created for the test and dropped after it.
pub struct TestDb {
    /// Connection URL.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

/// The role that owns each test database.
const TEST_OWNER: &str = "tollgate_test_owner";

/// The admin URL with the test owner as user and `database` as database.
fn owner_url(admin: &str, database: &str) -> String {
    let (scheme, rest) = admin.split_once("://").unwrap_or(("postgres", admin));
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let host = host.split('/').next().unwrap_or(host);
    format!("{scheme}://{TEST_OWNER}@{host}/{database}")
}

fn postgres_admin_url() -> String {
    std::env::var("TOLLGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

impl TestDb {
    /// A fresh database, or `None` when PostgreSQL is unreachable outside CI.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
                Some(Self {
                    url,
                    backend,
                    dir,
                    pg_name: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = match PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(err) if !in_ci() => {
                        eprintln!("skipping PostgreSQL test: {admin} unreachable ({err}); CI=true makes this a failure");
                        return None;
                    }
                    Err(err) => panic!("PostgreSQL at {admin} is required under CI=true: {err}"),
                };
                // Tollgate runs as a plain role that owns its tables, so row-level security
                // applies to every test exactly as it does in production.
                conn.execute(
                    "DO $$ BEGIN
                        CREATE ROLE tollgate_test_owner LOGIN NOSUPERUSER NOBYPASSRLS;
                     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                     END $$",
                )
                .await
                .expect("the test owner role exists");
                let name = format!("tg_test_{}", uuid::Uuid::new_v4().simple());
                conn.execute(format!("CREATE DATABASE {name} OWNER {TEST_OWNER}").as_str())
                    .await
                    .expect("CREATE DATABASE for the test");
                Some(Self {
                    url: owner_url(&admin, &name),
                    backend,
                    dir: tempfile::tempdir().expect("a temporary directory"),
                    pg_name: Some(name),
                })
            }
        }
    }

    /// Runs `sql` as someone who controls the database itself, past every guard Tollgate
    /// puts up: on PostgreSQL as the superuser with triggers off (`session_replication_role`),
    /// which also skips row-level security and the revoked rights; on SQLite after dropping
    /// the triggers of the audit and usage tables, as whoever holds the file can. For tamper tests.
    pub async fn tamper(&self, sql: &str) {
        match &self.pg_name {
            Some(name) => {
                let admin = postgres_admin_url();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                let mut conn = PgConnection::connect(&format!("{base}/{name}"))
                    .await
                    .expect("a superuser connection to the test database");
                conn.execute(format!("SET session_replication_role = replica; {sql}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("tampering with {sql}: {e}"));
            }
            None => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("the SQLite file");
                let triggers: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'
                     AND (tbl_name LIKE 'audit%' OR tbl_name = 'usage_logs')",
                )
                .fetch_all(&mut conn)
                .await
                .expect("the trigger list");
                for t in triggers {
                    conn.execute(format!("DROP TRIGGER {t}").as_str())
                        .await
                        .expect("dropping a trigger");
                }
                conn.execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("tampering with {sql}: {e}"));
            }
        }
    }

    /// Settings pointing at this database, at port 0 and at a usage journal of its own, with
    /// everything else default.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        s.database.url = self.url.clone();
        s.usage.journal_dir = self.dir.path().join("journal").display().to_string();
        s.database.max_connections = 5;
        s.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        s.server.shutdown_grace_seconds = 5;
        s
    }

    /// A store on this database, without migrating it.
    pub async fn store(&self) -> Store {
        Store::connect(&self.settings().database)
            .await
            .expect("connect to the test database")
    }

    /// A store on this database with every migration applied.
    pub async fn migrated(&self) -> Store {
        let store = self.store().await;
        store
            .migrate_up(None, false)
            .await
            .expect("migrations apply");
        store
    }

    /// The test's own directory (the SQLite file's, on SQLite).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Drops the PostgreSQL database now (connections are terminated), as if the server lost it.
    pub async fn drop_database(&self) {
        if let Some(name) = &self.pg_name {
            drop_pg_database(name).await;
        }
    }
}

async fn drop_pg_database(name: &str) {
    if let Ok(mut conn) = PgConnection::connect(&postgres_admin_url()).await {
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async: finish the cleanup on a thread with its own runtime.
        let cleanup = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_pg_database(&name));
            }
        });
        let _ = cleanup.join();
    }
}

/// The real server, running on a random port against a [`TestDb`].
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The store it uses.
    pub store: Store,
    /// An HTTP client for it.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Builds the application exactly as `tollgate serve` does and starts serving.
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db.settings()).await
    }

    /// Like [`TestApp::spawn`] with adjusted settings.
    pub async fn spawn_with(settings: Settings) -> Self {
        let app = Application::build(settings)
            .await
            .expect("the application builds");
        let addr = app.local_addr();
        let store = app.store().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            store,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends the shutdown signal and waits for the server to drain and stop.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

/// The mock provider on its own port, exactly as `tollgate mock-provider` serves it: the
/// upstream of tests that go through the real HTTP adapters.
pub struct MockUpstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw.
    pub stats: std::sync::Arc<MockStats>,
    task: JoinHandle<()>,
}

pub use tollgate::mock_server::{MockServerConfig, MockStats};

impl MockUpstream {
    /// Starts it on `127.0.0.1:0`.
    pub async fn spawn(config: MockServerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the mock provider");
        let addr = listener.local_addr().expect("the mock provider's address");
        let stats = std::sync::Arc::new(MockStats::default());
        let app = tollgate::mock_server::router(config, stats.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, stats, task }
    }

    /// Its base URL for OpenAI-compatible settings (`http://addr/v1`).
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Its base URL for Anthropic settings (`http://addr`).
    pub fn anthropic_base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP proxy to a server (PostgreSQL) that a test can cut and restore: cutting drops every
/// open connection and refuses new ones, as a database outage does for its clients.
pub struct TcpProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// A proxy on `127.0.0.1:0` to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let open = up.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            up,
            cut,
            task,
        }
    }

    /// Drops every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestDb {
    /// The PostgreSQL server's address (PostgreSQL only).
    pub fn postgres_addr(&self) -> Option<SocketAddr> {
        let rest = self.url.split_once("://")?.1;
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let host = host.split('/').next()?;
        let host = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:5432")
        };
        std::net::ToSocketAddrs::to_socket_addrs(&host).ok()?.next()
    }

    /// This database's URL with `addr` as the server (to go through a [`TcpProxy`]).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        match self.postgres_addr() {
            Some(server) => self.url.replacen(&server.to_string(), &addr.to_string(), 1),
            None => self.url.clone(),
        }
    }
}

/// The audit entry that commits a test's fixture rows (a [`tollgate_store::Change`] needs one).
pub fn fixture_entry() -> NewAuditEntry {
    NewAuditEntry::system("test.fixture", "test", None, serde_json::Value::Null)
}
