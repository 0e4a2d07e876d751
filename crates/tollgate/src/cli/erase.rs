use std::process::ExitCode;

use clap::Subcommand;
use tollgate_config::Settings;
use tollgate_store::erasure::ErasureReport;
use uuid::Uuid;

use super::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum EraseCommand {
    /// Erase a tenant: its apps, keys, teams, users, policies, devices, usage and audit rows.
    Tenant {
        /// The tenant's id.
        id: Uuid,
        /// Confirm that the data is to be destroyed; nothing happens without it.
        #[arg(long)]
        yes: bool,
    },
    /// Erase a person (GDPR Art. 17): their user row (the only link from their pseudonym to
    /// them), sessions, MFA, admin keys, roles, memberships, and the audit bodies about them.
    /// Ledger entries and usage rows keep the pseudonym, which then leads nowhere.
    User {
        /// The user's id.
        id: Uuid,
        /// Confirm that the data is to be destroyed; nothing happens without it.
        #[arg(long)]
        yes: bool,
    },
    /// Erase an app: its keys and their usage rows.
    App {
        /// The app's id.
        id: Uuid,
        /// Confirm that the data is to be destroyed; nothing happens without it.
        #[arg(long)]
        yes: bool,
    },
}

pub(super) async fn run(cmd: EraseCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    let (target, id, yes) = match cmd {
        EraseCommand::Tenant { id, yes } => ("tenant", id, yes),
        EraseCommand::App { id, yes } => ("app", id, yes),
        EraseCommand::User { id, yes } => ("user", id, yes),
    };
    if !yes {
        say!(
            "refusing to erase {target} {id} without --yes: this permanently deletes it with all \
             its usage and audit rows. To retire it instead, deactivate it."
        );
        return Ok(ExitCode::from(2));
    }
    let store = open_store(&settings).await?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "cli".to_string());
    let requested_by = format!("cli:{operator}");
    let report = match target {
        "tenant" => store.erase_tenant(id, &requested_by).await?,
        "user" => store.erase_user(id, &requested_by).await?,
        _ => store.erase_app(id, &requested_by).await?,
    };
    print_report(&report);
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &ErasureReport) {
    say!("erased {} {}; removed:", report.target, report.id);
    for (table, n) in report.removed.iter().filter(|(_, n)| *n > 0) {
        say!("  {table:<22} {n:>10}");
    }
    say!(
        "  {:<22} {:>10}\nrecorded as entry {} of the system audit log",
        "total",
        report.total(),
        report.audit_seq
    );
}
