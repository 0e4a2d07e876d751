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

pub(super) async fn run(args: ServeArgs, settings: Settings) -> anyhow::Result<ExitCode> {
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
