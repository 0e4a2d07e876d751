//! Schema migrations: `migrations/sqlite` and `migrations/postgres`, same version numbers,
//! each with an up and a down. On PostgreSQL an advisory lock makes replicas that start
//! together migrate once while the others wait; on SQLite the file is copied aside first.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::Row;
use sqlx::{Connection, PgConnection};

use crate::backend::{on_pool, Pool};
use crate::sql::DbTime;
use crate::{Backend, Store, StoreError};

/// Advisory lock key of `migrate up` and `migrate down` ("tollgate" in ASCII).
const MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// One migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// Version number, shared by both backends.
    pub version: i64,
    /// What it does.
    pub description: String,
    /// When it was applied; `None` while pending.
    pub applied_at: Option<DateTime<Utc>>,
}

/// What `migrate up` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// Versions applied, in order.
    pub applied: Vec<i64>,
    /// Where the SQLite file was copied before applying, if it was.
    pub backup: Option<String>,
}

/// What `migrate down` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevertReport {
    /// Versions reverted, newest first.
    pub reverted: Vec<i64>,
    /// Where the SQLite file was copied before reverting, if it was.
    pub backup: Option<String>,
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self.backend() {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        }
    }

    /// Every known migration, oldest first, with its applied time.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        let applied = self.applied_migrations().await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| MigrationState {
                version: m.version,
                description: m.description.to_string(),
                applied_at: applied
                    .iter()
                    .find(|(v, _)| *v == m.version)
                    .map(|(_, at)| *at),
            })
            .collect())
    }

    /// The newest version this build knows.
    pub fn latest_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Whether every migration of this build is applied. Newer ones are allowed: during a
    /// rolling upgrade the first new replica migrates while old ones keep serving.
    pub async fn migrations_current(&self) -> Result<bool, StoreError> {
        let applied = self.applied_migrations().await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.iter().any(|(v, _)| *v == m.version)))
    }

    /// Applies pending migrations up to `to` (all when `None`). With `backup`, a SQLite file
    /// that already holds a schema is first copied to `<file>.bak-<time>-v<version>`.
    pub async fn migrate_up(
        &self,
        to: Option<i64>,
        backup: bool,
    ) -> Result<MigrateReport, StoreError> {
        let target = match to {
            Some(v) if !self.migrator().version_exists(v) => {
                return Err(StoreError::UnknownVersion(v))
            }
            Some(v) => v,
            None => self.latest_version(),
        };
        // Held until this function returns: replicas starting together migrate one at a time,
        // and each reads what is applied only once it holds the lock.
        let _lock = self.migration_lock().await?;
        let before = self.applied_migrations().await?;
        let pending: Vec<i64> = self
            .migration_status()
            .await?
            .into_iter()
            .filter(|m| m.applied_at.is_none() && m.version <= target)
            .map(|m| m.version)
            .collect();
        if pending.is_empty() {
            return Ok(MigrateReport::default());
        }
        let backup = match (backup, self.sqlite_file(), before.last()) {
            (true, Some(file), Some((current, _))) => {
                Some(self.copy_sqlite(&file, *current).await?)
            }
            _ => None,
        };
        let migrator = Migrator {
            migrations: Cow::Owned(
                self.migrator()
                    .iter()
                    .filter(|m| m.version <= target)
                    .cloned()
                    .collect(),
            ),
            ignore_missing: true,
            locking: false,
            no_tx: false,
        };
        on_pool!(self, pool => migrator.run(pool).await)?;
        let after = self.applied_migrations().await?;
        Ok(MigrateReport {
            applied: after
                .iter()
                .map(|(v, _)| *v)
                .filter(|v| !before.iter().any(|(b, _)| b == v))
                .collect(),
            backup,
        })
    }

    /// Reverts applied migrations newer than `to` (`0` reverts everything). With `backup`, a
    /// SQLite file is first copied aside, as before migrating up.
    pub async fn migrate_down(&self, to: i64, backup: bool) -> Result<RevertReport, StoreError> {
        if to != 0 && !self.migrator().version_exists(to) {
            return Err(StoreError::UnknownVersion(to));
        }
        // Held until this function returns: replicas starting together migrate one at a time,
        // and each reads what is applied only once it holds the lock.
        let _lock = self.migration_lock().await?;
        let before = self.applied_migrations().await?;
        if !before.iter().any(|(v, _)| *v > to) {
            return Ok(RevertReport::default());
        }
        let backup = match (backup, self.sqlite_file(), before.last()) {
            (true, Some(file), Some((current, _))) => {
                Some(self.copy_sqlite(&file, *current).await?)
            }
            _ => None,
        };
        let migrator = Migrator {
            migrations: self.migrator().migrations.clone(),
            ignore_missing: false,
            locking: false,
            no_tx: false,
        };
        on_pool!(self, pool => migrator.undo(pool, to).await)?;
        let after = self.applied_migrations().await?;
        Ok(RevertReport {
            reverted: before
                .iter()
                .rev()
                .map(|(v, _)| *v)
                .filter(|v| !after.iter().any(|(a, _)| a == v))
                .collect(),
            backup,
        })
    }

    /// The version just before the newest applied one (what `migrate down` goes back to).
    pub async fn previous_version(&self) -> Result<i64, StoreError> {
        let applied = self.applied_migrations().await?;
        Ok(applied.iter().rev().nth(1).map(|(v, _)| *v).unwrap_or(0))
    }

    /// On PostgreSQL, a session advisory lock on a connection of its own (so that a pool of one
    /// connection cannot deadlock); dropping the connection releases it, even after an error.
    async fn migration_lock(&self) -> Result<Option<PgConnection>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut conn)
            .await?;
        Ok(Some(conn))
    }

    async fn applied_migrations(&self) -> Result<Vec<(i64, DateTime<Utc>)>, StoreError> {
        let exists_sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'"
            }
        };
        let exists: i64 =
            on_pool!(self, pool => sqlx::query_scalar(exists_sql).fetch_one(pool).await)?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        let sql =
            "SELECT version, installed_on FROM _sqlx_migrations WHERE success ORDER BY version";
        let rows = on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<DbTime, _>(1)?.0)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        Ok(rows)
    }

    async fn copy_sqlite(&self, file: &str, version: i64) -> Result<String, StoreError> {
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        let target = format!("{file}.bak-{stamp}-v{version}");
        if std::path::Path::new(&target).exists() {
            return Err(StoreError::Backup(format!("{target} already exists")));
        }
        // VACUUM INTO writes a consistent copy even while WAL holds recent pages.
        let statement = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
        on_pool!(self, pool => sqlx::query(&statement).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(|e| StoreError::Backup(e.to_string()))?;
        Ok(target)
    }
}
