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
    let outcomes = match tenant {
        Some(id) => vec![(id, store.run_retention(id, run).await)],
        None => store.run_retention_all(run).await?,
    };
    let verb = if dry_run { "would remove" } else { "removed" };
    let (mut total, mut failed) = (0, 0);
    for (tenant, outcome) in &outcomes {
        match outcome {
            Ok(r) => {
                total += r.removed;
                say!(
                    "tenant {tenant}: {verb} {} event(s) older than {} days (before {}){}",
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
            Err(err) => {
                failed += 1;
                say!("tenant {tenant}: failed: {err}");
            }
        }
    }
    say!("{verb} {total} event(s) in {} tenant(s)", outcomes.len());
    if failed > 0 {
        say!("{failed} tenant(s) failed; run again to retry them");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
