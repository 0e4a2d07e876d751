use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tollgate_config::{mask_url_password, DatabaseSettings};

use crate::StoreError;

/// Which database engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL, for production and several replicas.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The one store type: a connection pool to SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    url: String,
    /// The audit logs' tree edges as last appended here.
    pub(crate) edges: std::sync::Arc<crate::audit::EdgeCache>,
    /// The queues of changes waiting to share a transaction.
    pub(crate) sequencer: std::sync::Arc<crate::sequencer::Sequencer>,
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds. The body is compiled once
/// per backend, so the same SQL text and binds serve both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::backend::Pool::Sqlite($pool) => $body,
            $crate::backend::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Store {
    /// Opens a pool for `settings.url`. A SQLite file is created if missing and runs in WAL
    /// mode with a busy timeout; `sqlite::memory:` keeps one shared connection.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let url = settings.url.as_str();
        let connect_err = |source| StoreError::Connect {
            url: mask_url_password(url),
            source,
        };
        let pool = match Backend::of_url(url) {
            Some(Backend::Sqlite) => {
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let mut options = SqliteConnectOptions::from_str(url)
                    .map_err(connect_err)?
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_millis(settings.sqlite_busy_timeout_ms));
                if !in_memory {
                    options = options
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal);
                }
                let pool_options = if in_memory {
                    // Every connection to :memory: is its own database: keep exactly one, forever.
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    SqlitePoolOptions::new()
                        .max_connections(settings.max_connections)
                        .min_connections(settings.min_connections)
                        .idle_timeout(Duration::from_secs(settings.idle_timeout_seconds))
                        .max_lifetime(Duration::from_secs(settings.max_lifetime_seconds))
                };
                let pool = pool_options
                    .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Sqlite(pool)
            }
            Some(Backend::Postgres) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(connect_err)?
                    .application_name("tollgate");
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .min_connections(settings.min_connections)
                    .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
                    .idle_timeout(Duration::from_secs(settings.idle_timeout_seconds))
                    .max_lifetime(Duration::from_secs(settings.max_lifetime_seconds))
                    .connect_with(options)
                    .await
                    .map_err(connect_err)?;
                Pool::Postgres(pool)
            }
            None => {
                return Err(connect_err(sqlx::Error::Configuration(
                    "the URL must start with sqlite: or postgres://".into(),
                )))
            }
        };
        Ok(Self {
            pool,
            url: settings.url.clone(),
            edges: Default::default(),
            sequencer: Default::default(),
        })
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database URL with any password masked.
    pub fn display_url(&self) -> String {
        mask_url_password(&self.url)
    }

    /// The SQLite file path, when the store is a SQLite file.
    pub(crate) fn sqlite_file(&self) -> Option<String> {
        let rest = self.url.strip_prefix("sqlite:")?;
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.contains(":memory:") {
            return None;
        }
        Some(path.to_string())
    }

    /// Answers `SELECT 1` within `timeout`: is the database reachable right now?
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let probe = async {
            on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
        };
        match tokio::time::timeout(timeout, probe).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Connections open and idle in the pool.
    pub fn pool_stats(&self) -> (u32, usize) {
        on_pool!(self, pool => (pool.size(), pool.num_idle()))
    }

    /// Closes every connection; later queries fail.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// A transaction on either backend. On SQLite it starts with `BEGIN IMMEDIATE`, so a writer
/// takes the lock up front instead of failing half-way with "database is locked".
pub enum Tx {
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$conn` bound to the transaction's connection, compiled per backend.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::backend::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::backend::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// Whose rows a transaction may see and change. On PostgreSQL row-level security enforces it:
/// a transaction that names no scope sees no tenant's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One tenant's rows (and the built-in roles and policies).
    Tenant(uuid::Uuid),
    /// Every tenant's rows, for a cross-tenant job. Each use is recorded in `system_scope_log`
    /// with the job's name.
    System(&'a str),
    /// Only the API key or device token with this hash (hex SHA-256): authentication, before
    /// the tenant is known.
    Key(&'a str),
}

impl Store {
    /// Starts a write transaction in `scope`. Control-plane changes use
    /// [`Store::begin_change`], whose commit requires an audit entry.
    pub(crate) async fn begin_in(&self, scope: Scope<'_>) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => Tx::Postgres(postgres_begin_in(pool, scope).await?),
        })
    }

    /// Starts a read transaction in `scope` (on SQLite it does not take the write lock).
    pub(crate) async fn begin_read_in(&self, scope: Scope<'_>) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Pool::Postgres(pool) => Tx::Postgres(postgres_begin_in(pool, scope).await?),
        })
    }

    /// Starts a read transaction that names no scope: under row-level security it sees only
    /// rows that belong to no tenant.
    pub(crate) async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

/// A PostgreSQL transaction in `scope`. A tenant or key scope is set in the same round trip as
/// `BEGIN` (setting a variable cannot fail). The system scope's INSERT can fail (a database
/// not migrated yet), so it runs as a statement of the transaction: a failure then rolls the
/// transaction back instead of leaving the connection aborted for the pool's next user.
async fn postgres_begin_in(
    pool: &sqlx::PgPool,
    scope: Scope<'_>,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let setting = match scope {
        Scope::Tenant(id) => ("tollgate.tenant_id", id.hyphenated().to_string()),
        // A key hash is hex; anything else names no key.
        Scope::Key(hash) => (
            "tollgate.key_hash",
            hash.chars().filter(char::is_ascii_hexdigit).collect(),
        ),
        Scope::System(job) => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO system_scope_log (job) VALUES ($1)")
                .bind(job)
                .execute(&mut *tx)
                .await?;
            return Ok(tx);
        }
    };
    pool.begin_with(begin_setting(setting.0, &setting.1)).await
}

/// `BEGIN` and a transaction-local setting in one simple query. Callers pass a formatted UUID
/// or hex only, so nothing a client sends reaches this text unescaped.
fn begin_setting(name: &str, value: &str) -> String {
    format!("BEGIN; SELECT set_config('{name}', '{value}', true)")
}

impl Tx {
    /// Starts a savepoint for the next change of a batch, releasing the previous one if
    /// `replace` (one round trip either way).
    pub(crate) async fn savepoint(&mut self, replace: bool) -> Result<(), StoreError> {
        let sql = if replace {
            "RELEASE SAVEPOINT tollgate_change; SAVEPOINT tollgate_change"
        } else {
            "SAVEPOINT tollgate_change"
        };
        on_tx!(self, conn => sqlx::Executor::execute(&mut *conn, sql).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Ends the last [`Tx::savepoint`], keeping what was done since.
    pub(crate) async fn release_savepoint(&mut self) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::Executor::execute(&mut *conn, "RELEASE SAVEPOINT tollgate_change")
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Undoes everything since the last [`Tx::savepoint`] (the savepoint stays).
    pub(crate) async fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::Executor::execute(&mut *conn, "ROLLBACK TO SAVEPOINT tollgate_change")
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Makes the transaction's changes permanent.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Which backend the transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_statements_embed_only_what_they_checked() {
        assert_eq!(
            begin_setting("tollgate.tenant_id", &uuid::Uuid::nil().hyphenated().to_string()),
            "BEGIN; SELECT set_config('tollgate.tenant_id', '00000000-0000-0000-0000-000000000000', true)"
        );
    }
}
