use std::process::ExitCode;

use clap::Subcommand;
use tollgate_config::Settings;

use super::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum MigrateCommand {
    /// Apply pending migrations (all, or up to --to). On SQLite the database file is first
    /// copied to <file>.bak-<time>-v<version> unless database.backup_before_migrate is false.
    /// On PostgreSQL a lock makes concurrent runs apply each migration once.
    Up {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
    },
    /// Revert the newest applied migration, or every migration newer than --to
    /// (--to 0 reverts them all). Needs --yes; SQLite files are copied aside first.
    Down {
        /// Keep this version and revert everything after it.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Confirm: reverting drops what the reverted migrations created, rows included
        /// (below version 3 that means usage and audit records).
        #[arg(long)]
        yes: bool,
    },
    /// List every migration with the time it was applied, or "pending".
    Status,
}

pub(super) async fn run(cmd: MigrateCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(&settings).await?;
    match cmd {
        MigrateCommand::Up { to } => {
            let report = store
                .migrate_up(to, settings.database.backup_before_migrate)
                .await?;
            if let Some(backup) = report.backup {
                say!("copied the database to {backup}");
            }
            if report.applied.is_empty() {
                say!("nothing to apply: the schema is current");
            }
            for v in report.applied {
                say!("applied {v}");
            }
        }
        MigrateCommand::Down { to, yes } => {
            let to = match to {
                Some(v) => v,
                None => store.previous_version().await?,
            };
            if !yes {
                say!(
                    "refusing to revert to version {to} without --yes: reverting drops the tables \
                     and rows those migrations created. Back up first; SQLite files are copied \
                     aside automatically unless database.backup_before_migrate is false."
                );
                return Ok(ExitCode::from(2));
            }
            let report = store
                .migrate_down(to, settings.database.backup_before_migrate)
                .await?;
            if let Some(backup) = report.backup {
                say!("copied the database to {backup}");
            }
            if report.reverted.is_empty() {
                say!("nothing to revert");
            }
            for v in report.reverted {
                say!("reverted {v}");
            }
        }
        MigrateCommand::Status => {
            say!("{:<8} {:<28} description", "version", "applied");
            for m in store.migration_status().await? {
                let applied = m
                    .applied_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_else(|| "pending".to_string());
                say!("{:<8} {:<28} {}", m.version, applied, m.description);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
