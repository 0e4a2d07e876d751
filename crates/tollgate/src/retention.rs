//! The retention job of seed 001: with `retention.enabled`, `serve` deletes every tenant's
//! expired AI-use events once per `retention.interval_hours`, however many replicas run (each
//! asks often; the database lets one of them claim each interval).

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use tollgate_config::RetentionSettings;
use tollgate_store::devices::Actor;
use tollgate_store::retention::{RetentionReport, RetentionRun};
use tollgate_store::Store;

/// The job's name in `job_runs`.
pub const JOB: &str = "retention";

/// A report as the API, the CLI and the job's record show it.
pub fn report_json(r: &RetentionReport) -> Value {
    json!({
        "tenant_id": r.tenant_id,
        "log_retention_days": r.days,
        "cutoff": r.cutoff.to_rfc3339_opts(SecondsFormat::Millis, true),
        "removed": r.removed,
        "batches": r.batches,
        "dry_run": r.dry_run,
    })
}

/// Runs retention for every tenant whenever this replica claims the interval's run, until
/// `stop` completes. `holder` names this replica in `job_runs`.
pub async fn run_every(
    store: Store,
    settings: RetentionSettings,
    holder: String,
    stop: impl std::future::Future<Output = ()>,
) {
    let interval = Duration::from_secs(settings.interval_hours.saturating_mul(3600));
    // Asking often keeps one run per interval across replicas whose clocks and starts differ.
    let ask = (interval / 24).clamp(Duration::from_secs(1), Duration::from_secs(300));
    tracing::info!(
        interval_hours = settings.interval_hours,
        "retention scheduler on"
    );
    let mut ticks = tokio::time::interval(ask);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticks.tick() => run_once(&store, &settings, &holder, interval).await,
        }
    }
}

async fn run_once(store: &Store, settings: &RetentionSettings, holder: &str, every: Duration) {
    match store.claim_job(JOB, holder, every).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(err) => {
            tracing::warn!(%err, "retention: cannot claim this interval's run; asking again soon");
            return;
        }
    }
    let run = RetentionRun {
        now: Utc::now(),
        batch: settings.batch_size,
        dry_run: false,
        requested_by: "scheduler",
        actor: Actor::SYSTEM,
    };
    let outcome = match store.run_retention_all(run).await {
        Ok(outcomes) => {
            let mut removed = 0;
            let mut failed = Vec::new();
            for (tenant, outcome) in &outcomes {
                match outcome {
                    Ok(report) => removed += report.removed,
                    Err(err) => {
                        tracing::error!(%tenant, %err, "retention failed for this tenant; the others went on");
                        failed.push(tenant.to_string());
                    }
                }
            }
            tracing::info!(
                tenants = outcomes.len(),
                removed,
                failed = failed.len(),
                "retention: expired events deleted"
            );
            json!({ "removed": removed, "tenants": outcomes.len(), "failed": failed }).to_string()
        }
        Err(err) => {
            tracing::error!(%err, "retention run failed; the next interval tries again");
            json!({ "error": err.to_string() }).to_string()
        }
    };
    if let Err(err) = store.finish_job(JOB, holder, &outcome).await {
        tracing::warn!(%err, "retention: cannot record how the run ended");
    }
}
