/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        /// The URL, with any password masked.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A migration failed or the migration history does not match this build.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The requested migration version does not exist.
    #[error("there is no migration version {0}; `tollgate migrate status` lists them")]
    UnknownVersion(i64),
    /// The database refused a change because a rule in the schema forbids it.
    #[error("the database refused the change: {0}")]
    Refused(String),
    /// A row with the same unique key exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A row that was asked for does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// The kind of row.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// Copying the SQLite file aside before migrating failed.
    #[error("cannot back up the SQLite database before migrating: {0}")]
    Backup(String),
    /// A position or size outside what exists (an entry beyond the log's end).
    #[error("{0}")]
    OutOfRange(String),
    /// The stored audit ledger does not hold together (a subtree hash missing, an entry that
    /// cannot be encoded): someone changed it outside Tollgate.
    #[error("the audit ledger is damaged: {0}; `tollgate audit verify` says where")]
    Ledger(String),
    /// Too many changes of one tenant are waiting for the sequencer.
    #[error("too busy: {0}")]
    Busy(String),
    /// A sequenced change was not committed because the transaction it shared failed.
    #[error(
        "the change was not saved: {reason}; nothing of it was committed, so it is safe to retry"
    )]
    Batch {
        /// What failed.
        reason: String,
        /// Whether it failed because the database could not be reached.
        unavailable: bool,
    },
    /// The commit of a sequenced change's batch failed midway (the connection broke): the
    /// change may or may not have been saved.
    #[error("the change may or may not have been saved: the database did not confirm the commit ({0}); check before retrying")]
    CommitUnknown(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        // Triggers and CHECK constraints speak for the schema: surface their message.
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
            let refused = db.is_check_violation()
                || matches!(db.code().as_deref(), Some("42501") | Some("1811"))
                || db.message().contains("append-only")
                || db.message().contains("hierarchy");
            if refused {
                return StoreError::Refused(db.message().to_string());
            }
        }
        StoreError::Database(err)
    }
}

impl StoreError {
    /// Whether the database could not be reached (down, restarting, pool exhausted, SQLite
    /// locked by another process) rather than refusing what was asked: worth retrying later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } | StoreError::Busy(_) | StoreError::CommitUnknown(_) => true,
            StoreError::Batch { unavailable, .. } => *unavailable,
            StoreError::Database(err) => match err {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => {
                    // PostgreSQL: connection exceptions (08), shutting down (57P01-57P03),
                    // too many connections (53300); SQLite: busy (5) or locked (6).
                    let code = db.code().unwrap_or_default();
                    code.starts_with("08")
                        || code.starts_with("57P")
                        || code == "53300"
                        || code == "5"
                        || code == "6"
                        || db.message().contains("database is locked")
                }
                _ => false,
            },
            _ => false,
        }
    }
}
