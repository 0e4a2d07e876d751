//! The `tollgate` command line. Each subcommand is a module; output meant for people goes to
//! stdout, logs to stderr.

/// Writes a line for the person at the terminal. A closed pipe (`tollgate db check | head`)
/// is not an error worth a panic, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Like `say!` without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod audit;
mod db;
mod demo;
mod erase;
mod keys;
mod migrate;
mod mock_provider;
mod pii;
mod retention;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tollgate_config::{ConfigSource, Settings};

/// Tollgate: an AI governance gateway between your people, apps and devices and the
/// language-model providers they use.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about, long_about = None)]
pub struct Cli {
    /// Settings file (TOML). Without it, ./tollgate.toml is read if present. Every setting can
    /// also be set as an environment variable: database.url is TOLLGATE_DATABASE__URL.
    #[arg(
        long,
        short,
        global = true,
        env = "TOLLGATE_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: migrate the database (unless database.migrate_on_start is false), then
    /// serve HTTP on server.bind until Ctrl-C or SIGTERM, draining in-flight requests.
    Serve(serve::ServeArgs),
    /// Apply, revert or list database schema migrations.
    #[command(subcommand)]
    Migrate(migrate::MigrateCommand),
    /// Create data: `tollgate seed --demo` adds the demo tenant, app, keys, team, admin and
    /// usage rows. Safe to run twice: the second run changes nothing.
    Seed(demo::SeedArgs),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the database: connection, pool, migrations and rows per table.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Verify the schema: every expected table, view, index, trigger, foreign key and
    /// built-in row. Exits non-zero and lists what is missing.
    #[command(subcommand)]
    Schema(db::SchemaCommand),
    /// Create tenants (until the admin API exists).
    #[command(subcommand)]
    Tenants(keys::TenantsCommand),
    /// Create apps of a tenant (until the admin API exists).
    #[command(subcommand)]
    Apps(keys::AppsCommand),
    /// Create, list, revoke and top up gateway keys (until the admin API exists).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Serve the mock provider over HTTP (OpenAI and Anthropic APIs on one port): the
    /// upstream for trying real provider settings, adapter tests and load benchmarks.
    MockProvider(mock_provider::MockProviderArgs),
    /// Permanently erase a tenant or app with all its data, usage rows and audit bodies
    /// included (data-protection requests); the ledger's entries stay, as pseudonyms. Retiring is `is_active = false`; this is for erasure only.
    #[command(subcommand)]
    Erase(erase::EraseCommand),
    /// The tamper-evident audit ledger: make a signing key, sign checkpoints, verify.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The PII and secrets detector: `tollgate pii scan` on files or stdin.
    #[command(subcommand)]
    Pii(pii::PiiCommand),
    /// Guard a pipeline or a commit hook: check files or stdin for personal data and secrets,
    /// say what was found where (never the values), exit 1 on red (or amber with --fail-on).
    Scan(pii::GuardArgs),
    /// Seed 001's log retention: delete expired AI-use events now (`serve` does it on a
    /// schedule with retention.enabled).
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective settings as TOML (defaults, then file, then TOLLGATE_* variables),
    /// with passwords and keys masked.
    Show,
}

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match load_settings(cli.config.as_ref()) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if settings.server.worker_threads > 0 {
        builder.worker_threads(settings.server.worker_threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_settings(config: Option<&PathBuf>) -> Result<Settings, tollgate_config::ConfigError> {
    let source = match config {
        Some(path) => ConfigSource::Required(path.clone()),
        None => ConfigSource::IfPresent(PathBuf::from("tollgate.toml")),
    };
    // A variable that is not UTF-8 cannot be a setting; skip it rather than panic.
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    tollgate_config::load(&source, env)
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args, settings).await,
        Command::Migrate(cmd) => migrate::run(cmd, settings).await,
        Command::Seed(args) => demo::run(args, settings).await,
        Command::Config(ConfigCommand::Show) => {
            say_raw!("{}", settings.to_masked_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(cmd) => db::run_db(cmd, settings).await,
        Command::Schema(cmd) => db::run_schema(cmd, settings).await,
        Command::Erase(cmd) => erase::run(cmd, settings).await,
        Command::Audit(cmd) => audit::run(cmd, settings).await,
        Command::Tenants(cmd) => keys::run_tenants(cmd, settings).await,
        Command::Apps(cmd) => keys::run_apps(cmd, settings).await,
        Command::Keys(cmd) => keys::run_keys(cmd, settings).await,
        Command::MockProvider(args) => mock_provider::run(args).await,
        Command::Pii(cmd) => pii::run(cmd),
        Command::Scan(args) => pii::guard(args),
        Command::Retention(cmd) => retention::run(cmd, settings).await,
    }
}

/// Opens the store named by the settings.
async fn open_store(settings: &Settings) -> anyhow::Result<tollgate_store::Store> {
    Ok(tollgate_store::Store::connect(&settings.database).await?)
}
