use std::process::ExitCode;

use clap::Args;
use tollgate_config::Settings;

use crate::{shutdown_signal, Application};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Demo mode: migrate, seed the demo data set if the database is empty and print its
    /// keys, then serve. With the defaults this needs nothing but this binary.
    #[arg(long)]
    demo: bool,
}

/// Where the demo keeps its checkpoint signing key, beside its database.
const DEMO_KEY_FILE: &str = "tollgate-audit.key";

pub(super) async fn run(args: ServeArgs, mut settings: Settings) -> anyhow::Result<ExitCode> {
    if args.demo
        && settings.audit.signing_key.is_empty()
        && settings.audit.signing_key_file.is_empty()
    {
        // The demo signs its audit checkpoints too: with a key in a file of its own, made on
        // the first start (never in the database).
        let path = std::path::Path::new(DEMO_KEY_FILE);
        if !path.exists() {
            super::audit::write_key("tollgate-demo", path)?;
        }
        settings.audit.signing_key_file = DEMO_KEY_FILE.to_string();
    }
    let app = Application::build(settings.clone()).await?;
    if args.demo {
        // Unless clients are told another address, the demo's commands call the bound one.
        let base = if settings.server.external_url
            == tollgate_config::ServerSettings::default().external_url
        {
            format!("{}://{}", app.scheme(), app.local_addr())
        } else {
            settings.server.external_url.clone()
        };
        super::demo::seed_if_empty(app.store(), &settings, &base).await?;
    }
    tracing::info!(
        addr = %app.local_addr(),
        database = %app.store().display_url(),
        "tollgate is serving"
    );
    say!(
        "tollgate listening on {}://{}",
        app.scheme(),
        app.local_addr()
    );
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
