//! `tollgate audit`: make a signing key, sign checkpoints now, and verify the ledger.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use rand::RngCore;
use tollgate_config::Settings;
use tollgate_ledger::{Checkpoint, Signer, Verifier};
use tollgate_store::audit::{LogReport, VerifyOptions, SYSTEM_LOG};
use uuid::Uuid;

use super::open_store;
use crate::checkpoints::{self, Checkpointer};

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Make a checkpoint signing key: writes the private key to FILE (readable by you only)
    /// and prints the public key to publish and give to auditors.
    Keygen {
        /// The key's name, shown in every signature (e.g. the host name).
        #[arg(long, default_value = "tollgate")]
        name: String,
        /// Where to write the private key; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a checkpoint of every log that grew since its last one (or of --log, grown or
    /// not), store it and send it to the configured sinks.
    Checkpoint {
        /// Only this log: a tenant id, or `system`.
        #[arg(long, value_parser = parse_log)]
        log: Option<Uuid>,
    },
    /// Check the ledger: every entry's chain hash, every stored subtree hash, every stored
    /// checkpoint, and checkpoints held outside the database. Exit code 0: intact; 1: a log
    /// was changed (the message names the first entry that fails); 2: bad arguments.
    Verify {
        /// A signed checkpoint held outside the database (from audit.checkpoint_dir, the
        /// webhook, or an auditor); repeat for several. A restored older backup or a
        /// rewritten log fails against it.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// A public key (name+id+key) to trust besides the configured ones; repeatable.
        #[arg(long = "trust", value_name = "KEY")]
        trust: Vec<String>,
        /// Only this log: a tenant id, or `system`.
        #[arg(long, value_parser = parse_log)]
        log: Option<Uuid>,
    },
}

fn parse_log(text: &str) -> Result<Uuid, String> {
    if text == "system" {
        return Ok(SYSTEM_LOG);
    }
    Uuid::parse_str(text).map_err(|_| "a log is a tenant id or `system`".to_string())
}

fn log_name(log: Uuid) -> String {
    if log == SYSTEM_LOG {
        "system log".to_string()
    } else {
        format!("log of tenant {log}")
    }
}

pub(super) async fn run(cmd: AuditCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Keygen { name, out } => keygen(&name, &out),
        AuditCommand::Checkpoint { log } => {
            let Some(checkpointer) = Checkpointer::from_settings(&settings.audit)? else {
                say!("no signing key: set audit.signing_key_file (or TOLLGATE_AUDIT__SIGNING_KEY); `tollgate audit keygen` makes one");
                return Ok(ExitCode::from(2));
            };
            let store = open_store(&settings).await?;
            let signed = checkpointer.sign(&store, log).await?;
            if signed.is_empty() {
                say!("no log grew since its last checkpoint");
            }
            for s in signed {
                let how = if s.stored { "signed" } else { "already signed" };
                say!("{}: {how} at {} entries", log_name(s.head.log), s.head.size);
                say_raw!("{}", s.note);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            checkpoints,
            trust,
            log,
        } => verify(&settings, &checkpoints, &trust, log).await,
    }
}

fn keygen(name: &str, out: &PathBuf) -> anyhow::Result<ExitCode> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let (signer, skey) = match Signer::generate(name, seed) {
        Ok(pair) => pair,
        Err(err) => {
            say!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(out) {
        Ok(f) => f,
        Err(err) => {
            say!(
                "cannot create {}: {err} (an existing key is never overwritten)",
                out.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    file.write_all(format!("{skey}\n").as_bytes())?;
    file.sync_all()?;
    say!(
        "private key written to {} (keep it off the database host's backups)",
        out.display()
    );
    say!("public key, to publish and give to auditors:");
    say!("{}", signer.verifier().to_vkey());
    say!(
        "use it with: audit.signing_key_file = \"{}\"",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn verify(
    settings: &Settings,
    files: &[PathBuf],
    trust: &[String],
    only: Option<Uuid>,
) -> anyhow::Result<ExitCode> {
    let mut trusted = checkpoints::trusted(&settings.audit)?;
    for key in trust {
        match Verifier::from_vkey(key) {
            Ok(v) => trusted.push(v),
            Err(err) => {
                say!("--trust {key:?} is not a public key: {err}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let mut external = Vec::new();
    for file in files {
        match outside_checkpoint(settings, file, &trusted) {
            Ok(pair) => external.push(pair),
            Err(message) => {
                say!("{}: {message}", file.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let store = open_store(settings).await?;
    let reports = store
        .verify_audit(&VerifyOptions {
            trusted: trusted.clone(),
            external,
            only,
        })
        .await?;
    if trusted.is_empty() {
        say!("note: no trusted key is configured, so checkpoint signatures were not checked (set audit.signing_key_file or pass --trust KEY)");
    }
    let mut failed = 0;
    for r in &reports {
        say!("{}", describe(r));
        failed += usize::from(!r.ok());
    }
    if reports.is_empty() {
        say!("the ledger is empty");
    }
    if failed > 0 {
        say!("{failed} of {} logs FAILED verification", reports.len());
        return Ok(ExitCode::from(1));
    }
    say!("all {} logs verified", reports.len());
    Ok(ExitCode::SUCCESS)
}

/// Reads and opens a checkpoint file; returns the log it is for.
fn outside_checkpoint(
    settings: &Settings,
    file: &PathBuf,
    trusted: &[Verifier],
) -> Result<(Uuid, Checkpoint), String> {
    if trusted.is_empty() {
        return Err("a checkpoint from outside needs the key that signed it: configure audit.trusted_keys or pass --trust KEY".into());
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
    let checkpoint = Checkpoint::open(&text, trusted).map_err(|e| e.to_string())?;
    let log = checkpoints::log_of_origin(&settings.audit.origin, &checkpoint.origin).ok_or_else(
        || {
            format!(
                "it is for {:?}, not a log of this deployment ({}/audit/<log>)",
                checkpoint.origin, settings.audit.origin
            )
        },
    )?;
    Ok((log, checkpoint))
}

fn describe(r: &LogReport) -> String {
    let log = describe_log(r);
    let u = &r.usage;
    match &u.failure {
        Some(failure) => format!("{log}\n  usage: FAILED: {failure}"),
        None if u.seals > 0 => {
            let erased = if u.without_body > 0 {
                format!(" ({} with erased bodies, not checkable)", u.without_body)
            } else {
                String::new()
            };
            format!(
                "{log}\n  usage: ok, {} rows under {} seals{erased}",
                u.rows, u.seals
            )
        }
        None => log,
    }
}

fn describe_log(r: &LogReport) -> String {
    let name = log_name(r.log);
    let checkpoints = format!(
        "{} checkpoints, {} signed by a trusted key",
        r.checkpoints, r.signed
    );
    match (&r.failure, r.root) {
        (Some(failure), _) => format!("{name}: FAILED: {failure}"),
        (None, Some(root)) => format!(
            "{name}: ok, {} entries, root {}, {checkpoints}",
            r.size,
            root.to_hex()
        ),
        (None, None) => format!("{name}: ok, {} entries, {checkpoints}", r.size),
    }
}
