//! `tollgate audit verify` against the database: every log read from its first entry, each
//! chain hash recomputed, the tree rebuilt and compared with every stored subtree hash, and
//! every checkpoint (stored, or held outside and passed in) compared with the rebuilt roots.
//! The first failure of a log is reported with the entry or subtree where it is.

use std::collections::BTreeMap;

use tollgate_ledger::{Checkpoint, Hash, LogCheck, Node, Verifier, VerifyError};
use uuid::Uuid;

use super::read::StoredCheckpoint;
use crate::backend::Tx;
use crate::{Scope, Store, StoreError};

/// Entries read per query.
const PAGE: u32 = 5_000;

/// A stored subtree hash that does not match the entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeDamage {
    /// Level of the subtree (0: an entry's leaf).
    pub level: u32,
    /// Its index at that level.
    pub index: u64,
    /// Whether it is missing (else it differs, or should not exist).
    pub missing: bool,
}

/// Why a log failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditFailure {
    /// The entries themselves (chain, order, checkpoint roots).
    #[error(transparent)]
    Log(#[from] VerifyError),
    /// An entry in an encoding this version does not know.
    #[error("entry {seq}: encoding version {version} is not known to this version of Tollgate")]
    Version {
        /// Its position.
        seq: u64,
        /// The stored version.
        version: i16,
    },
    /// A body that does not hash to its entry's `body_hash` (or an entry without one).
    #[error("entry {seq}: its body does not match its body_hash: audit_bodies was changed")]
    Body {
        /// The entry's position.
        seq: u64,
    },
    /// A log with entries that `audit_log_list` does not name.
    #[error("the log has entries but is missing from audit_log_list: the list was changed")]
    Unlisted,
    /// The stored tree does not match the entries: proofs served from it would lie.
    #[error("{}", tree_message(.0))]
    Tree(TreeDamage),
    /// More subtree hashes are stored than the entries make.
    #[error("audit_tree holds {extra} subtree hashes beyond the log's {size} entries: rows were added or entries removed")]
    ExtraNodes {
        /// Entries in the log.
        size: u64,
        /// Surplus rows.
        extra: i64,
    },
    /// A checkpoint whose signature or text does not hold.
    #[error("checkpoint for {size} entries: {reason}")]
    Checkpoint {
        /// The size it claims.
        size: u64,
        /// What is wrong.
        reason: String,
    },
}

fn tree_message(d: &TreeDamage) -> String {
    let which = if d.level == 0 {
        format!("the leaf hash of entry {}", d.index + 1)
    } else {
        format!(
            "the hash of subtree level {} index {} (entries {}..{})",
            d.level,
            d.index,
            (d.index << d.level) + 1,
            (d.index + 1) << d.level
        )
    };
    if d.missing {
        format!("{which} is missing from audit_tree: rows were removed")
    } else {
        format!("{which} stored in audit_tree does not match the entries: audit_tree was changed")
    }
}

/// How one log fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogReport {
    /// The log (nil: the system log).
    pub log: Uuid,
    /// Entries checked.
    pub size: u64,
    /// Root of the entries checked (of all of them when the log passed).
    pub root: Option<Hash>,
    /// Checkpoints compared (stored and outside).
    pub checkpoints: usize,
    /// Of those, how many had a signature by a trusted key.
    pub signed: usize,
    /// The first failure, if any.
    pub failure: Option<AuditFailure>,
    /// The tenant's usage seals (none for the system log).
    pub usage: super::SealReport,
}

impl LogReport {
    /// Whether the log and its usage seals passed.
    pub fn ok(&self) -> bool {
        self.failure.is_none() && self.usage.failure.is_none()
    }
}

/// What to check against.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Keys whose signatures on stored checkpoints are checked. Without any, a stored
    /// checkpoint's text is still compared, but its signature is not checked.
    pub trusted: Vec<Verifier>,
    /// Checkpoints held outside the database (already opened), each compared with its log.
    pub external: Vec<(Uuid, Checkpoint)>,
    /// Check only this log.
    pub only: Option<Uuid>,
}

impl Store {
    /// Checks every log (or `options.only`); a log with no entries and no checkpoints is not
    /// listed unless an outside checkpoint names it.
    pub async fn verify_audit(
        &self,
        options: &VerifyOptions,
    ) -> Result<Vec<LogReport>, StoreError> {
        let mut tx = self.begin_read_in(Scope::System("audit verify")).await?;
        let listed = tx.logs().await?;
        let mut logs = match options.only {
            Some(log) => vec![log],
            None => tx.logs_with_entries().await?,
        };
        for (log, _) in &options.external {
            if !logs.contains(log) && options.only.is_none_or(|o| o == *log) {
                logs.push(*log);
            }
        }
        let mut reports = Vec::with_capacity(logs.len());
        for log in logs {
            let mut report = tx.verify_log(log, options).await?;
            if report.failure.is_none() && report.size > 0 && !listed.contains(&log) {
                report.failure = Some(AuditFailure::Unlisted);
            }
            reports.push(report);
        }
        tx.commit().await?;
        for report in &mut reports {
            report.usage = self.verify_usage_seals(report.log).await?;
        }
        Ok(reports)
    }
}

impl Tx {
    async fn verify_log(
        &mut self,
        log: Uuid,
        options: &VerifyOptions,
    ) -> Result<LogReport, StoreError> {
        let mut report = LogReport {
            log,
            size: 0,
            root: None,
            checkpoints: 0,
            signed: 0,
            failure: None,
            usage: super::SealReport::default(),
        };
        let mut check = LogCheck::new(log);
        let stored = self.checkpoints(log).await?;
        if let Err(failure) = expect_checkpoints(&mut check, &stored, options, &mut report) {
            report.failure = Some(failure);
            return Ok(report);
        }
        let mut after = 0u64;
        loop {
            let page = self.entries_after(log, after, PAGE).await?;
            let Some(last) = page.last().map(|e| e.entry.seq) else {
                break;
            };
            let bodies = self.bodies_between(log, after, last).await?;
            let mut built: BTreeMap<u32, Vec<Node>> = BTreeMap::new();
            for stored in &page {
                let seq = stored.entry.seq;
                if stored.version != i16::from(tollgate_ledger::entry::VERSION) {
                    report.failure = Some(AuditFailure::Version {
                        seq,
                        version: stored.version,
                    });
                    return Ok(report);
                }
                if let Some(body) = bodies.get(&stored.id) {
                    if stored.entry.body_hash != Some(body.hash()) {
                        report.size = check.size();
                        report.failure = Some(AuditFailure::Body { seq });
                        return Ok(report);
                    }
                }
                let chain = stored.chain.unwrap_or_default();
                match check.push(&stored.entry, &chain) {
                    Ok(nodes) => {
                        for n in nodes {
                            built.entry(n.level).or_default().push(n);
                        }
                    }
                    Err(e) => {
                        report.size = check.size();
                        report.failure = Some(e.into());
                        return Ok(report);
                    }
                }
            }
            if let Some(damage) = self.compare_tree(log, &built).await? {
                report.size = check.size();
                report.failure = Some(AuditFailure::Tree(damage));
                return Ok(report);
            }
            after = last;
        }
        report.size = check.size();
        // Rows an append committed after the last page added are not counted (on a live
        // PostgreSQL each statement sees the newest commits).
        let extra = self.tree_rows(log, report.size).await? - expected_rows(report.size);
        match check.finish() {
            Ok(done) => {
                report.root = Some(done.root);
                if extra != 0 {
                    report.failure = Some(AuditFailure::ExtraNodes {
                        size: report.size,
                        extra,
                    });
                }
            }
            Err(e) => report.failure = Some(e.into()),
        }
        Ok(report)
    }

    /// The first stored subtree hash among `built` (per level, in index order) that is missing
    /// or differs.
    async fn compare_tree(
        &mut self,
        log: Uuid,
        built: &BTreeMap<u32, Vec<Node>>,
    ) -> Result<Option<TreeDamage>, StoreError> {
        for (level, nodes) in built {
            let (Some(first), Some(last)) = (nodes.first(), nodes.last()) else {
                continue;
            };
            let stored: BTreeMap<u64, Option<Hash>> = self
                .tree_level(log, *level, first.index, last.index + 1)
                .await?
                .into_iter()
                .collect();
            for n in nodes {
                let damage = |missing| TreeDamage {
                    level: n.level,
                    index: n.index,
                    missing,
                };
                match stored.get(&n.index) {
                    None => return Ok(Some(damage(true))),
                    Some(hash) if *hash != Some(n.hash) => return Ok(Some(damage(false))),
                    Some(_) => {}
                }
            }
        }
        Ok(None)
    }

    /// Stored subtree hashes of `log` that cover only entries `1..=size`, plus any that cover
    /// nothing at all (beyond every entry ever numbered is also counted, as surplus).
    async fn tree_rows(&mut self, log: Uuid, size: u64) -> Result<i64, StoreError> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        Ok(crate::backend::on_tx!(self, conn => sqlx::query_scalar(
            "SELECT count(*) FROM audit_tree WHERE log_id = $1 AND (
                (idx + 1) * (CAST(1 AS BIGINT) << level) <= $2
                OR idx * (CAST(1 AS BIGINT) << level) >= (SELECT COALESCE(max(seq), 0) FROM audit_log WHERE log_id = $1))",
        )
        .bind(crate::sql::DbId(log))
        .bind(size)
        .fetch_one(&mut *conn)
        .await)?)
    }
}

/// Subtree hashes a tree of `size` entries stores: ⌊size / 2^k⌋ at each level k.
fn expected_rows(size: u64) -> i64 {
    let total: u64 = (0..64).map(|k| size >> k).sum();
    i64::try_from(total).unwrap_or(i64::MAX)
}

/// Registers every checkpoint with the check, after checking what can be checked of it.
fn expect_checkpoints(
    check: &mut LogCheck,
    stored: &[StoredCheckpoint],
    options: &VerifyOptions,
    report: &mut LogReport,
) -> Result<(), AuditFailure> {
    for cp in stored {
        let failure = |reason: String| AuditFailure::Checkpoint {
            size: cp.size,
            reason,
        };
        let text = if options.trusted.is_empty() {
            unsigned_text(&cp.note).map_err(failure)?
        } else {
            let opened = Checkpoint::open(&cp.note, &options.trusted)
                .map_err(|e| failure(format!("{e}")))?;
            report.signed += 1;
            opened
        };
        if text.size != cp.size || text.root != cp.root {
            return Err(failure(
                "its signed text names another size or root than its row: audit_checkpoints was changed"
                    .into(),
            ));
        }
        if !text.origin.ends_with(&format!("/audit/{}", cp.log)) {
            return Err(failure(format!(
                "it is for another log ({}): audit_checkpoints was changed",
                text.origin
            )));
        }
        check.expect(cp.size, cp.root)?;
        report.checkpoints += 1;
    }
    for (log, cp) in &options.external {
        if *log == report.log {
            check.expect(cp.size, cp.root)?;
            report.checkpoints += 1;
            report.signed += 1;
        }
    }
    Ok(())
}

/// The checkpoint text of a note, without checking its signatures.
fn unsigned_text(note: &str) -> Result<Checkpoint, String> {
    let text = note
        .split_once("\n\n")
        .map(|(text, _)| format!("{text}\n"))
        .ok_or("it is not a signed note")?;
    Checkpoint::parse(&text).map_err(|e| e.to_string())
}
