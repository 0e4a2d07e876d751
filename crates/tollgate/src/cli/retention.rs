use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;
use tollgate_config::Settings;
use tollgate_store::devices::Actor;
use tollgate_store::retention::RetentionRun;
use uuid::Uuid;

use super::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum RetentionCommand {
    /// Delete AI-use events older than each tenant's log_retention_days (30-365, default 90),
    /// in batches of retention.batch_size, each recorded in the tenant's audit log. Safe to
    /// run again: what is gone stays gone and nothing else is touched.
    Run {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// One tenant only.
        #[arg(long)]
        tenant: Option<Uuid>,
    },
}

pub(super) async fn run(cmd: RetentionCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Run { dry_run, tenant } = cmd;
    let store = open_store(&settings).await?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "cli".to_string());
    let requested_by = format!("cli:{operator}");
    let run = RetentionRun {
        now: Utc::now(),
        batch: settings.retention.batch_size,
        dry_run,
        requested_by: &requested_by,
        actor: Actor::SYSTEM,
    };
    let reports = match tenant {
        Some(id) => vec![store.run_retention(id, run).await?],
        None => store.run_retention_all(run).await?,
    };
    let verb = if dry_run { "would remove" } else { "removed" };
    for r in &reports {
        say!(
            "tenant {}: {verb} {} event(s) older than {} days (before {}){}",
            r.tenant_id,
            r.removed,
            r.days,
            r.cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            if r.batches > 0 {
                format!(" in {} batch(es)", r.batches)
            } else {
                String::new()
            }
        );
    }
    let total: u64 = reports.iter().map(|r| r.removed).sum();
    say!("{verb} {total} event(s) in {} tenant(s)", reports.len());
    Ok(ExitCode::SUCCESS)
}
