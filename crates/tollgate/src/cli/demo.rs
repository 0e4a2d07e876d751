use std::process::ExitCode;

use clap::Args;
use tollgate_config::Settings;
use tollgate_store::demo::{DemoOptions, DemoReport};
use tollgate_store::Store;

use super::open_store;

#[derive(Debug, Args)]
pub(super) struct SeedArgs {
    /// Create the demo data set: demo tenant, the app "Demo App - AGB Generator"
    /// (00000000-0000-0000-0000-000000000010), five keys, the root team "Organization" with a
    /// budget of 100,000, the admin admin@llmgovernance.local and ten usage rows.
    #[arg(long)]
    demo: bool,
    /// Currency of the root team's budget (ISO 4217).
    #[arg(long, default_value = "USD", value_parser = parse_currency)]
    currency: String,
    /// Budget period of the root team.
    #[arg(long, default_value = "monthly",
          value_parser = ["daily", "weekly", "monthly", "quarterly", "yearly"])]
    budget_period: String,
}

fn parse_currency(s: &str) -> Result<String, String> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(s.to_string())
    } else {
        Err("expected a three-letter ISO 4217 code such as USD or EUR".to_string())
    }
}

pub(super) async fn run(args: SeedArgs, settings: Settings) -> anyhow::Result<ExitCode> {
    if !args.demo {
        say!("nothing to seed: pass --demo to create the demo data set");
        return Ok(ExitCode::from(2));
    }
    let store = open_store(&settings).await?;
    store
        .migrate_up(None, settings.database.backup_before_migrate)
        .await?;
    let options = DemoOptions {
        currency: args.currency,
        budget_period: args.budget_period,
    };
    let report = store.seed_demo(&options).await?;
    print_report(&report, &settings, &settings.server.external_url);
    Ok(ExitCode::SUCCESS)
}

/// Seeds the demo data into an empty database (for `serve --demo`); prints what it made, with
/// commands that call `base_url`.
pub(super) async fn seed_if_empty(
    store: &Store,
    settings: &Settings,
    base_url: &str,
) -> anyhow::Result<()> {
    let tables = store.check().await?.tables;
    let tenants = tables
        .iter()
        .find(|(name, _)| name == "tenants")
        .map(|(_, n)| *n)
        .unwrap_or(0);
    if tenants > 0 {
        say!("demo: the database already has data; the demo keys were printed when it was seeded");
        return Ok(());
    }
    let report = store.seed_demo(&DemoOptions::default()).await?;
    print_report(&report, settings, base_url);
    Ok(())
}

fn print_report(report: &DemoReport, settings: &Settings, base_url: &str) {
    if !report.changed_anything() {
        say!("demo data already present: nothing changed");
        return;
    }
    say!("demo data created (secrets are shown once and stored only as hashes):");
    for (name, secret) in &report.keys {
        say!("  {name}: {secret}");
    }
    if let Some(password) = &report.admin_password {
        say!(
            "  admin: {} / {password} (one-time: must be changed at first sign-in)",
            tollgate_domain::demo::ADMIN_EMAIL
        );
    }
    say!("  usage rows: {}", report.usage_rows);
    let base = base_url.trim_end_matches('/');
    let key = report
        .keys
        .first()
        .map_or("<a demo key>", |(_, secret)| secret.as_str());
    let model = settings
        .models
        .first()
        .map_or("mock-small", |m| m.name.as_str());
    say!(
        "try next:\n  curl -s {base}/v1/chat/completions -H 'Authorization: Bearer {key}' \\\n    \
         -H 'Content-Type: application/json' \\\n    \
         -d '{{\"model\": \"{model}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello, Tollgate\"}}]}}'"
    );
}
