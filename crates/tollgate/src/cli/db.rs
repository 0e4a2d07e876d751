use std::process::ExitCode;

use clap::Subcommand;
use tollgate_config::Settings;

use super::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum DbCommand {
    /// Connect, time a round trip, show pool statistics, migration state and rows per table.
    /// Exits non-zero when the database is unreachable or migrations are pending.
    Check,
}

#[derive(Debug, Subcommand)]
pub(super) enum SchemaCommand {
    /// Compare the live schema with what this build expects and list anything missing.
    Verify,
}

pub(super) async fn run_db(cmd: DbCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let DbCommand::Check = cmd;
    let store = open_store(&settings).await?;
    let check = store.check().await?;
    say!("database   {} ({})", check.url, check.backend.name());
    say!("server     {}", check.server_version);
    say!(
        "round trip {:.2} ms",
        check.round_trip.as_secs_f64() * 1000.0
    );
    say!(
        "pool       {} open, {} idle (max {})",
        check.pool_size,
        check.pool_idle,
        settings.database.max_connections
    );
    say!(
        "migrations {} of {} applied",
        check.migrations_applied,
        check.migrations_known
    );
    say!("tables");
    for (name, rows) in &check.tables {
        say!("  {name:<28} {rows:>12}");
    }
    if check.migrations_applied < check.migrations_known {
        say!("pending migrations: run `tollgate migrate up`");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn run_schema(cmd: SchemaCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let SchemaCommand::Verify = cmd;
    let store = open_store(&settings).await?;
    let report = store.verify_schema().await?;
    if report.ok() {
        say!(
            "schema ok: {} objects checked on {}",
            report.checked,
            store.backend().name()
        );
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "schema incomplete: {} of {} objects missing or wrong on {}",
        report.problems.len(),
        report.checked,
        store.backend().name()
    );
    for problem in &report.problems {
        say!("  missing: {problem}");
    }
    say!("run `tollgate migrate up`, or restore what was dropped");
    Ok(ExitCode::FAILURE)
}
