//! `tollgate db check` (seed 002's health check): can we connect, how is the pool, how many
//! rows does each table hold.

use std::time::{Duration, Instant};

use crate::backend::{on_pool, on_tx};
use crate::{Backend, Scope, Store, StoreError};

/// The health of the database as seen from here.
#[derive(Clone, Debug)]
pub struct DbCheck {
    /// Backend in use.
    pub backend: Backend,
    /// URL with the password masked.
    pub url: String,
    /// What the server says its version is.
    pub server_version: String,
    /// Round trip of `SELECT 1`.
    pub round_trip: Duration,
    /// Connections open in the pool.
    pub pool_size: u32,
    /// Of which idle.
    pub pool_idle: usize,
    /// Applied migrations.
    pub migrations_applied: usize,
    /// Migrations this build knows.
    pub migrations_known: usize,
    /// Row count per table, by name.
    pub tables: Vec<(String, i64)>,
}

impl Store {
    /// Connects, measures a round trip and counts the rows of every table.
    pub async fn check(&self) -> Result<DbCheck, StoreError> {
        let started = Instant::now();
        self.ping(Duration::from_secs(5)).await?;
        let round_trip = started.elapsed();
        let (version_sql, tables_sql) = match self.backend() {
            Backend::Sqlite => (
                "SELECT sqlite_version()",
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            ),
            Backend::Postgres => (
                "SELECT current_setting('server_version')",
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
            ),
        };
        let server_version: String =
            on_pool!(self, pool => sqlx::query_scalar(version_sql).fetch_one(pool).await)?;
        let names: Vec<String> =
            on_pool!(self, pool => sqlx::query_scalar(tables_sql).fetch_all(pool).await)?;
        let mut tables = Vec::with_capacity(names.len());
        // Before the row-security migration there is no system scope to enter (nor a need to).
        let mut tx = if names.iter().any(|n| n == "system_scope_log") {
            self.begin_read_in(Scope::System("db check")).await?
        } else {
            self.begin_read().await?
        };
        for name in names {
            let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
            let n: i64 =
                on_tx!(&mut tx, conn => sqlx::query_scalar(&sql).fetch_one(&mut *conn).await)?;
            tables.push((name, n));
        }
        tx.commit().await?;
        let status = self.migration_status().await?;
        let (pool_size, pool_idle) = self.pool_stats();
        Ok(DbCheck {
            backend: self.backend(),
            url: self.display_url(),
            server_version,
            round_trip,
            pool_size,
            pool_idle,
            migrations_applied: status.iter().filter(|m| m.applied_at.is_some()).count(),
            migrations_known: status.len(),
            tables,
        })
    }
}
