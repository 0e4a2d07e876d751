//! `tollgate audit`: make a signing key, sign checkpoints now, and verify the ledger.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use rand::RngCore;
use tollgate_config::Settings;
use tollgate_domain::bundle::{self, EntryLine};
use tollgate_ledger::{Checkpoint, Signer, Verifier};
use tollgate_store::audit::{EntryFilter, LogReport, VerifyOptions, MAX_LIST, SYSTEM_LOG};
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
    /// Write one log as a bundle (JSON lines: a header with the newest signed checkpoint and
    /// consistency proofs from the older ones, then every entry it covers with its hashes and
    /// body) that `audit verify --bundle` checks without a database.
    Export {
        /// The log: a tenant id, or `system`.
        #[arg(long, value_parser = parse_log)]
        log: Uuid,
        /// Where to write the bundle.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check the ledger: every entry's chain hash, every stored subtree hash, every stored
    /// checkpoint, usage seals, and checkpoints held outside the database; or, with
    /// --bundle, an exported bundle, offline. Exit code 0: intact; 1: a log was changed (the
    /// message names the first entry that fails); 2: bad arguments.
    Verify {
        /// Check this exported bundle instead of the database (no database needed).
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
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

/// Older checkpoints a bundle carries proofs from, at most.
const OLDER_CHECKPOINTS: usize = 32;

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
            let round = checkpointer.sign(&store, log).await?;
            if round.signed.is_empty() && round.refused.is_empty() {
                say!("no log grew since its last checkpoint");
            }
            for s in &round.signed {
                let how = if s.stored { "signed" } else { "already signed" };
                say!("{}: {how} at {} entries", log_name(s.head.log), s.head.size);
                say_raw!("{}", s.note);
            }
            for (log, reason) in &round.refused {
                say!(
                    "{}: NOT signed: {reason}; `tollgate audit verify` says where it was changed",
                    log_name(*log)
                );
            }
            Ok(if round.refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        AuditCommand::Export { log, out } => export(&settings, log, &out).await,
        AuditCommand::Verify {
            bundle: Some(bundle),
            checkpoints,
            trust,
            ..
        } => verify_bundle(&settings, &bundle, &checkpoints, &trust),
        AuditCommand::Verify {
            bundle: None,
            checkpoints,
            trust,
            log,
        } => verify(&settings, &checkpoints, &trust, log).await,
    }
}

fn keygen(name: &str, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    match write_key(name, out) {
        Ok(public) => {
            say!(
                "private key written to {} (keep it off the database host's backups)",
                out.display()
            );
            say!("public key, to publish and give to auditors:");
            say!("{public}");
            say!(
                "use it with: audit.signing_key_file = \"{}\"",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            say!("{err}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Makes a signing key named `name`, writes its private half to `out` (readable by its owner
/// only; an existing file is never overwritten) and returns the public key.
pub(super) fn write_key(name: &str, out: &std::path::Path) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let (signer, skey) = Signer::generate(name, seed)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|err| {
        anyhow::anyhow!(
            "cannot create {}: {err} (an existing key is never overwritten)",
            out.display()
        )
    })?;
    file.write_all(format!("{skey}\n").as_bytes())?;
    file.sync_all()?;
    Ok(signer.verifier().to_vkey())
}

/// The configured keys and those passed with --trust; `None`, after saying why, when one is
/// not a key.
fn trusted_keys(settings: &Settings, trust: &[String]) -> anyhow::Result<Option<Vec<Verifier>>> {
    let mut trusted = checkpoints::trusted(&settings.audit)?;
    for key in trust {
        match Verifier::from_vkey(key) {
            Ok(v) => trusted.push(v),
            Err(err) => {
                say!("--trust {key:?} is not a public key: {err}");
                return Ok(None);
            }
        }
    }
    Ok(Some(trusted))
}

/// The checkpoints in `files`, opened; `None`, after saying which one failed and why.
fn held_checkpoints(
    settings: &Settings,
    files: &[PathBuf],
    trusted: &[Verifier],
) -> Option<Vec<(Uuid, Checkpoint)>> {
    let mut held = Vec::new();
    for file in files {
        match outside_checkpoint(settings, file, trusted) {
            Ok(pair) => held.push(pair),
            Err(message) => {
                say!("{}: {message}", file.display());
                return None;
            }
        }
    }
    Some(held)
}

async fn export(settings: &Settings, log: Uuid, out: &PathBuf) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let Some(newest) = store.latest_checkpoint(log).await? else {
        say!(
            "the {} has no signed checkpoint yet; sign one first: tollgate audit checkpoint --log {}",
            log_name(log),
            if log == SYSTEM_LOG { "system".to_string() } else { log.to_string() }
        );
        return Ok(ExitCode::from(2));
    };
    // Proofs from the newest older checkpoints (a bounded number: the entries themselves
    // already lead to the newest root; the proofs tie in the checkpoints an auditor held).
    let mut older: Vec<_> = store
        .checkpoints(log)
        .await?
        .into_iter()
        .filter(|c| c.size > 0 && c.size < newest.size)
        .collect();
    let skip = older.len().saturating_sub(OLDER_CHECKPOINTS);
    let mut consistency = Vec::new();
    for older in older.drain(skip..) {
        let p = store
            .consistency_proof(log, older.size, Some(newest.size))
            .await?;
        consistency.push(bundle::Consistency {
            checkpoint: older.note,
            from: p.from,
            from_root: p.from_root.to_hex(),
            proof: p.proof.iter().map(|h| h.to_hex()).collect(),
        });
    }
    let header = bundle::Header {
        format: bundle::FORMAT.to_string(),
        version: bundle::VERSION,
        log,
        checkpoint: newest.note.clone(),
        keys: checkpoints::trusted(&settings.audit)?
            .iter()
            .map(|k| k.to_vkey())
            .collect(),
        consistency,
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(file, "{}", serde_json::to_string(&header)?)?;
    let mut after = 0;
    loop {
        let page = store
            .list_audit(
                log,
                &EntryFilter {
                    after: Some(after),
                    until_seq: Some(newest.size),
                    limit: MAX_LIST,
                    ..EntryFilter::default()
                },
            )
            .await?;
        let Some(last) = page.last().map(|e| e.stored.entry.seq) else {
            break;
        };
        for e in &page {
            let line = EntryLine::of(
                &e.stored.entry,
                e.stored.id,
                e.stored.chain,
                e.body.as_ref(),
            );
            writeln!(file, "{}", serde_json::to_string(&line)?)?;
        }
        after = last;
    }
    file.flush()?;
    say!(
        "wrote the {} up to its checkpoint of {} entries to {}",
        log_name(log),
        newest.size,
        out.display()
    );
    say!(
        "check it anywhere with: tollgate audit verify --bundle {} --trust KEY",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify_bundle(
    settings: &Settings,
    file: &PathBuf,
    held_files: &[PathBuf],
    trust: &[String],
) -> anyhow::Result<ExitCode> {
    let Some(trusted) = trusted_keys(settings, trust)? else {
        return Ok(ExitCode::from(2));
    };
    // Held checkpoints are matched to the bundle's own log, whatever this machine's settings.
    let mut held = Vec::new();
    for f in held_files {
        let opened = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|text| Checkpoint::open(&text, &trusted).map_err(|e| e.to_string()));
        match opened {
            Ok(cp) => held.push(cp),
            Err(message) => {
                say!("{}: {message}", f.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let reader = match std::fs::File::open(file) {
        Ok(f) => std::io::BufReader::new(f),
        Err(err) => {
            say!("cannot read {}: {err}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let suffix = |log: Uuid| format!("/audit/{log}");
    match bundle::check(std::io::BufRead::lines(reader), suffix, &trusted, &held) {
        Ok(r) => {
            say!(
                "{}: ok, {} entries, root {}, {} bodies, {} consistency proofs, {} held checkpoints checked",
                log_name(r.log),
                r.size,
                r.root.to_hex(),
                r.bodies,
                r.proofs,
                r.held
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err @ (bundle::BundleError::Unreadable { .. } | bundle::BundleError::Untrusted(_))) => {
            say!("{}: {err}", file.display());
            Ok(ExitCode::from(2))
        }
        Err(err) => {
            say!("{}: FAILED: {err}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

async fn verify(
    settings: &Settings,
    files: &[PathBuf],
    trust: &[String],
    only: Option<Uuid>,
) -> anyhow::Result<ExitCode> {
    let Some(trusted) = trusted_keys(settings, trust)? else {
        return Ok(ExitCode::from(2));
    };
    let Some(external) = held_checkpoints(settings, files, &trusted) else {
        return Ok(ExitCode::from(2));
    };
    if let Some((other, _)) = only.and_then(|log| external.iter().find(|(l, _)| *l != log)) {
        say!(
            "a --checkpoint is for the {}, but --log asks for another log",
            log_name(*other)
        );
        return Ok(ExitCode::from(2));
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
