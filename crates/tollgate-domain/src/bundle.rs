//! The audit bundle: one log exported as JSON lines, checkable offline without a database.
//! The first line is a header (the log, its signed checkpoint, the public keys, and
//! consistency proofs from every older stored checkpoint to it); then one line per entry,
//! 1 to the checkpoint's size, with its hashes and its body while it exists. The same entry
//! shape is what the audit API lists.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tollgate_ledger::tree::verify_consistency;
use tollgate_ledger::{Checkpoint, Entry, Hash, LogCheck, Verifier, VerifyError};
use uuid::Uuid;

use crate::audit::Body;

/// The `format` of a bundle's header.
pub const FORMAT: &str = "tollgate-audit-bundle";
/// The version this code writes and reads.
pub const VERSION: u32 = 1;

/// The first line of a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The log (nil: the system log).
    pub log: Uuid,
    /// The signed checkpoint the entries lead to.
    pub checkpoint: String,
    /// Public keys of the deployment, for information: a verifier trusts its own copy.
    pub keys: Vec<String>,
    /// Proofs that older stored checkpoints are prefixes of this one.
    pub consistency: Vec<Consistency>,
}

/// A consistency proof from an older signed checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// The older checkpoint, signed: what vouches for `from` and `from_root`.
    pub checkpoint: String,
    /// The older checkpoint's size.
    pub from: u64,
    /// Its root (hex).
    pub from_root: String,
    /// The proof's hashes (hex).
    pub proof: Vec<String>,
}

/// An entry as listed by the API and written to a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryLine {
    /// Position, from 1.
    pub seq: u64,
    /// Row id.
    pub id: Uuid,
    /// When, RFC 3339 to the millisecond, UTC.
    pub time: String,
    /// `user`, `api_key`, `device` or `system`.
    pub actor_type: String,
    /// Pseudonymous actor.
    pub actor: Option<Uuid>,
    /// What was done.
    pub action: String,
    /// Kind of target.
    pub target_type: String,
    /// Which target.
    pub target_id: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The request it happened in.
    pub request_id: Option<Uuid>,
    /// SHA-256 of the body (hex).
    pub body_hash: Option<String>,
    /// The entry's leaf hash (hex).
    pub leaf_hash: Option<String>,
    /// The stored chain hash (hex).
    pub chain_hash: Option<String>,
    /// The body, while it exists.
    pub body: Option<Body>,
}

impl EntryLine {
    /// The line of an entry with its row id, stored chain hash and body.
    pub fn of(entry: &Entry, id: Uuid, chain: Option<Hash>, body: Option<&Body>) -> Self {
        let time = DateTime::<Utc>::from_timestamp_millis(entry.time_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        Self {
            seq: entry.seq,
            id,
            time,
            actor_type: entry.actor_type.clone(),
            actor: entry.actor,
            action: entry.action.clone(),
            target_type: entry.target_type.clone(),
            target_id: entry.target_id.clone(),
            outcome: entry.outcome.clone(),
            request_id: entry.request_id,
            body_hash: entry.body_hash.map(|h| h.to_hex()),
            leaf_hash: entry.leaf_hash().ok().map(|h| h.to_hex()),
            chain_hash: chain.map(|h| h.to_hex()),
            body: body.cloned(),
        }
    }

    /// The ledger entry the line describes, in `log`.
    pub fn entry(&self, log: Uuid) -> Result<Entry, String> {
        let time = DateTime::parse_from_rfc3339(&self.time)
            .map_err(|e| format!("entry {}: time {:?}: {e}", self.seq, self.time))?;
        let body_hash = match &self.body_hash {
            None => None,
            Some(h) => Some(
                h.parse()
                    .map_err(|e| format!("entry {}: body_hash: {e}", self.seq))?,
            ),
        };
        Ok(Entry {
            log,
            seq: self.seq,
            time_ms: time.timestamp_millis(),
            actor_type: self.actor_type.clone(),
            actor: self.actor,
            action: self.action.clone(),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
            outcome: self.outcome.clone(),
            request_id: self.request_id,
            body_hash,
        })
    }
}

/// Why a bundle cannot be checked (exit 2) or failed (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not a bundle, or a line that does not parse.
    #[error("line {line}: {reason}")]
    Unreadable {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint has no signature by a trusted key.
    #[error("the bundle's checkpoint is not signed by a key you trust ({0}); pass the deployment's public key with --trust")]
    Untrusted(String),
    /// The entries do not lead to the checkpoint, or a check failed.
    #[error(transparent)]
    Failed(#[from] VerifyError),
    /// A body does not hash to its entry's `body_hash`.
    #[error("entry {seq}: its body does not match its body_hash: the body was changed")]
    Body {
        /// The entry.
        seq: u64,
    },
    /// A consistency proof in the header does not hold.
    #[error("the consistency proof from {from} entries does not hold: {reason}")]
    Consistency {
        /// The older size.
        from: u64,
        /// Why.
        reason: String,
    },
    /// An entry the bundle's checkpoint does not cover: nothing vouches for it.
    #[error("entry {seq} is beyond the bundle's signed checkpoint of {size} entries: it was added to the bundle")]
    Beyond {
        /// The entry.
        seq: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// A checkpoint held outside is for another log or larger than the bundle.
    #[error("the checkpoint held outside {0}")]
    Held(String),
}

/// A bundle that passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    /// The log.
    pub log: Uuid,
    /// Entries checked.
    pub size: u64,
    /// Their root, which the signed checkpoint carries.
    pub root: Hash,
    /// Bodies checked against their hashes.
    pub bodies: u64,
    /// Consistency proofs checked.
    pub proofs: usize,
    /// Checkpoints held outside that were checked.
    pub held: usize,
}

/// Checks a bundle, line by line: the header's checkpoint against `trusted` keys, every entry
/// (order, chain, body) up to the checkpoint's root, each consistency proof, and each
/// checkpoint `held` outside (already opened) of the same log.
pub fn check(
    lines: impl Iterator<Item = std::io::Result<String>>,
    origin_suffix: impl Fn(Uuid) -> String,
    trusted: &[Verifier],
    held: &[Checkpoint],
) -> Result<BundleReport, BundleError> {
    let mut lines = lines.enumerate();
    let unreadable = |line: usize, reason: String| BundleError::Unreadable {
        line: line + 1,
        reason,
    };
    let (_, first) = lines
        .next()
        .ok_or_else(|| unreadable(0, "the file is empty".into()))?;
    let first = first.map_err(|e| unreadable(0, e.to_string()))?;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| unreadable(0, format!("not a bundle header: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(unreadable(
            0,
            format!(
                "format {} version {} is not known to this version of Tollgate",
                header.format, header.version
            ),
        ));
    }
    let checkpoint = Checkpoint::open(&header.checkpoint, trusted)
        .map_err(|e| BundleError::Untrusted(e.to_string()))?;
    if !checkpoint.origin.ends_with(&origin_suffix(header.log)) {
        return Err(BundleError::Untrusted(format!(
            "its checkpoint is for {}, not log {}",
            checkpoint.origin, header.log
        )));
    }
    let mut log = LogCheck::new(header.log);
    log.expect(checkpoint.size, checkpoint.root)?;
    let mut held_checked = 0;
    for h in held {
        if h.origin != checkpoint.origin {
            return Err(BundleError::Held(format!(
                "is for {}, the bundle for {}",
                h.origin, checkpoint.origin
            )));
        }
        if h.size > checkpoint.size {
            return Err(BundleError::Held(format!(
                "covers {} entries, the bundle only {}: export a newer bundle",
                h.size, checkpoint.size
            )));
        }
        log.expect(h.size, h.root)?;
        held_checked += 1;
    }
    let mut bodies = 0;
    for (n, line) in lines {
        let line = line.map_err(|e| unreadable(n, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: EntryLine =
            serde_json::from_str(&line).map_err(|err| unreadable(n, err.to_string()))?;
        let entry = e
            .entry(header.log)
            .map_err(|reason| unreadable(n, reason))?;
        if entry.seq > checkpoint.size {
            return Err(BundleError::Beyond {
                seq: entry.seq,
                size: checkpoint.size,
            });
        }
        let chain = e
            .chain_hash
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or_default();
        log.push(&entry, &chain)?;
        if let Some(body) = &e.body {
            if Some(body.hash()) != entry.body_hash {
                return Err(BundleError::Body { seq: e.seq });
            }
            bodies += 1;
        }
    }
    let done = log.finish()?;
    let mut proofs = 0;
    for c in &header.consistency {
        let parse = |h: &str| h.parse::<Hash>().map_err(|e| e.to_string());
        let result = Checkpoint::open(&c.checkpoint, trusted)
            .map_err(|e| format!("its checkpoint: {e}"))
            .and_then(|older| {
                let from_root = parse(&c.from_root)?;
                if older.origin != checkpoint.origin
                    || older.size != c.from
                    || older.root != from_root
                {
                    return Err(
                        "it names another size or root than its signed checkpoint".to_string()
                    );
                }
                let proof = c
                    .proof
                    .iter()
                    .map(|h| parse(h))
                    .collect::<Result<Vec<_>, _>>()?;
                verify_consistency(
                    c.from,
                    checkpoint.size,
                    &from_root,
                    &checkpoint.root,
                    &proof,
                )
                .map_err(|e| e.to_string())
            });
        result.map_err(|reason| BundleError::Consistency {
            from: c.from,
            reason,
        })?;
        proofs += 1;
    }
    Ok(BundleReport {
        log: header.log,
        size: done.size,
        root: done.root,
        bodies,
        proofs,
        held: held_checked,
    })
}
