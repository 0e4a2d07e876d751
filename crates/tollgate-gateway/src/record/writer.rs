//! The usage writer: reads the journal in batches into the store, retrying while the database
//! is away, and releases journal segments once their records are stored. On start it reads
//! whatever an earlier process left (a crash, `kill -9`, an outage at shutdown); request ids
//! are the rows' ids, so a record stored before is skipped, never doubled.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tollgate_config::{JournalSync, UsageSettings};
use tollgate_journal::{Journal, JournalConfig, JournalError, Reader, SyncMode};
use tollgate_store::usage::UsageRecord;
use tollgate_store::{Store, StoreError};
use uuid::Uuid;

use super::sink::{Entry, UsageSink};

/// Longest pause between attempts while the database is away.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// How long the writer sleeps when there is nothing to write.
const IDLE: Duration = Duration::from_millis(200);

/// The writer task and the journal syncer; [`UsageWriter::finish`] waits until every record
/// journaled so far is stored.
pub struct UsageWriter {
    stop: watch::Sender<bool>,
    writer: JoinHandle<bool>,
    syncer: JoinHandle<()>,
    journal: Journal,
}

/// A journal opened for this process, not yet being written out.
pub struct UsageJournal {
    journal: Journal,
    reader: Reader,
    holder: Uuid,
    /// Records read from the journal that recovery could not store; the writer stores them
    /// first (the reader has moved past them).
    unstored: Vec<UsageRecord>,
}

/// What [`UsageJournal::recover`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records an earlier process left that were not stored yet.
    pub records: u64,
    /// Credits of its leases given back to their keys.
    pub credits: i64,
}

impl UsageJournal {
    /// Opens (and locks) the journal of `settings`.
    pub fn open(settings: &UsageSettings) -> Result<Self, JournalError> {
        let dir = PathBuf::from(&settings.journal_dir);
        let (journal, reader) = Journal::open(JournalConfig {
            dir: dir.clone(),
            segment_bytes: settings.segment_bytes,
            sync: match settings.sync {
                JournalSync::Interval => SyncMode::Interval,
                JournalSync::Always => SyncMode::Always,
            },
        })?;
        let holder = holder_of(&dir).map_err(|source| JournalError::Dir { dir, source })?;
        Ok(Self {
            journal,
            reader,
            holder,
            unstored: Vec::new(),
        })
    }

    /// The id under which this journal's processes lease credits: the same across restarts,
    /// so a restart finds the leases of the process before it.
    pub fn holder(&self) -> Uuid {
        self.holder
    }

    /// Stores what an earlier process left in the journal, then gives its unspent credit
    /// leases back. Run before serving: a lease is only known unspent once every call it paid
    /// for is stored.
    /// If a batch cannot be stored, it is kept for the writer and the leases stay (a later
    /// clean stop gives them back, once everything is stored).
    pub async fn recover(&mut self, store: &Store, batch: usize) -> Result<Recovered, StoreError> {
        let mut found = Recovered::default();
        loop {
            let entries = self.reader.read(batch);
            if entries.is_empty() {
                break;
            }
            let records = decode_all(entries);
            match store.insert_usage(&records, Some(self.holder)).await {
                Ok(new) => found.records += new,
                Err(err) => {
                    self.unstored = records;
                    return Err(err);
                }
            }
            self.journal.release(self.reader.position());
        }
        found.credits = store.return_leases(self.holder).await?;
        Ok(found)
    }
}

/// The holder id kept in the journal directory, created on first use.
fn holder_of(dir: &std::path::Path) -> std::io::Result<Uuid> {
    let path = dir.join("HOLDER");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|e| {
            std::io::Error::other(format!("{} is not a holder id: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let holder = Uuid::now_v7();
            let tmp = dir.join("HOLDER.tmp");
            std::fs::write(&tmp, holder.to_string())?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(holder)
        }
        Err(e) => Err(e),
    }
}

fn decode_all(entries: Vec<Vec<u8>>) -> Vec<UsageRecord> {
    entries
        .iter()
        .filter_map(|bytes| match Entry::decode(bytes) {
            Ok(record) => Some(record),
            Err(err) => {
                tracing::error!(%err, "a usage journal entry cannot be read; skipped");
                None
            }
        })
        .collect()
}

impl UsageWriter {
    /// Starts writing the journal into `store`; returns the sink handlers use and the writer.
    pub fn start(
        open: UsageJournal,
        store: Store,
        settings: &UsageSettings,
    ) -> (UsageSink, UsageWriter) {
        let UsageJournal {
            journal,
            reader,
            holder,
            unstored,
        } = open;
        let sink = UsageSink::new(journal.clone());
        let (stop, stopped) = watch::channel(false);
        let writer = tokio::spawn(write_out(
            unstored,
            reader,
            journal.clone(),
            sink.clone(),
            Target {
                store,
                holder,
                dead_letters: PathBuf::from(&settings.journal_dir).join("dead-letter.jsonl"),
            },
            Batching {
                records: settings.batch_records,
                interval: Duration::from_millis(settings.flush_interval_ms),
            },
            stopped.clone(),
        ));
        let interval = Duration::from_millis(settings.sync_interval_ms);
        let syncer = tokio::spawn(sync_every(journal.clone(), interval, stopped));
        (
            sink,
            UsageWriter {
                stop,
                writer,
                syncer,
                journal,
            },
        )
    }

    /// Writes out what is journaled, then stops. Records it cannot store (the database is
    /// away) stay in the journal for the next start. `true` when everything was stored.
    pub async fn finish(self) -> bool {
        let _ = self.stop.send(true);
        let stored = match self.writer.await {
            Ok(stored) => stored,
            Err(err) => {
                tracing::error!(%err, "usage writer failed");
                false
            }
        };
        let _ = self.syncer.await;
        if let Err(err) = self.journal.sync().await {
            tracing::error!(%err, "cannot sync the usage journal at shutdown");
        }
        stored
    }
}

async fn sync_every(journal: Journal, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        if let Err(err) = journal.sync().await {
            tracing::error!(%err, "cannot sync the usage journal");
        }
    }
}

/// Where records go: the store, charging `holder`'s credit leases; those it refuses go to
/// `dead_letters`.
struct Target {
    store: Store,
    holder: Uuid,
    dead_letters: PathBuf,
}

/// Writes the journal out until stopped; `true` when everything was stored.
async fn write_out(
    mut pending: Vec<UsageRecord>,
    mut reader: Reader,
    journal: Journal,
    sink: UsageSink,
    target: Target,
    limits: Batching,
    mut stopped: watch::Receiver<bool>,
) -> bool {
    let mut oldest: Option<Instant> = None;
    loop {
        pending.append(&mut sink.stranded.lock().unwrap_or_else(|p| p.into_inner()));
        pending.extend(decode_all(
            reader.read(limits.records.saturating_sub(pending.len())),
        ));
        let stopping = *stopped.borrow();
        if pending.is_empty() {
            if stopping {
                return true;
            }
            tokio::select! {
                _ = reader.wait(IDLE) => {}
                changed = stopped.changed() => {
                    // The writer's owner is gone without stopping it: what is read stays in
                    // the journal.
                    if changed.is_err() {
                        return false;
                    }
                }
            }
            continue;
        }
        let since = *oldest.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        if pending.len() < limits.records && waited < limits.interval && !stopping {
            // A plain sleep, not a wait on the journal: woken per record, the writer would
            // cost every call a wake-up and a read.
            tokio::select! {
                _ = tokio::time::sleep(limits.interval - waited) => {}
                changed = stopped.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                }
            }
            continue;
        }
        if !store_batch(&target, &pending, &stopped).await {
            tracing::error!(records = pending.len(), "stopping with usage records not stored; they stay in the journal for the next start");
            return false;
        }
        pending.clear();
        oldest = None;
        journal.release(reader.position());
        metrics::gauge!("tollgate_usage_journal_backlog_bytes")
            .set(journal.backlog(reader.position()) as f64);
    }
}

/// When a batch is written: full, or its oldest record this old.
#[derive(Clone, Copy)]
struct Batching {
    records: usize,
    interval: Duration,
}

/// Stores `records`, retrying while the database is away. `false` when it gave up: stopping,
/// and still failing after a few more tries (the records stay in the journal). When the
/// database refuses the batch itself, the records go one by one, so that one it will never
/// take (its tenant was erased meanwhile) is set aside rather than holding up the rest.
async fn store_batch(
    target: &Target,
    records: &[UsageRecord],
    stopped: &watch::Receiver<bool>,
) -> bool {
    match store_retrying(target, records, stopped).await {
        Stored::Yes => true,
        Stored::GaveUp => false,
        Stored::Refused(_) if records.len() > 1 => {
            for record in records {
                match store_retrying(target, std::slice::from_ref(record), stopped).await {
                    Stored::Yes => {}
                    Stored::GaveUp => return false,
                    Stored::Refused(err) => target.set_aside(record, &err),
                }
            }
            true
        }
        Stored::Refused(err) => {
            if let Some(record) = records.first() {
                target.set_aside(record, &err);
            }
            true
        }
    }
}

enum Stored {
    Yes,
    GaveUp,
    /// The database refused it (not a matter of reaching it).
    Refused(StoreError),
}

async fn store_retrying(
    target: &Target,
    records: &[UsageRecord],
    stopped: &watch::Receiver<bool>,
) -> Stored {
    let mut pause = Duration::from_millis(100);
    let mut tries_while_stopping = 0;
    loop {
        match target
            .store
            .insert_usage(records, Some(target.holder))
            .await
        {
            Ok(new) => {
                metrics::counter!("tollgate_usage_records_written_total").increment(new);
                return Stored::Yes;
            }
            Err(err) if !err.is_unavailable() => return Stored::Refused(err),
            Err(err) => {
                metrics::counter!("tollgate_usage_write_failures_total").increment(1);
                tracing::error!(records = records.len(), %err, retry_in_ms = pause.as_millis() as u64, "usage batch not written yet; it stays in the journal");
            }
        }
        if *stopped.borrow() {
            tries_while_stopping += 1;
            if tries_while_stopping >= 3 {
                return Stored::GaveUp;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

impl Target {
    /// Keeps a record the database refused in `dead-letter.jsonl` beside the journal, with
    /// why, for the operator (it is then released from the journal).
    fn set_aside(&self, record: &UsageRecord, err: &StoreError) {
        metrics::counter!("tollgate_usage_dead_letters_total").increment(1);
        let line = serde_json::json!({"error": err.to_string(), "usage": record});
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.dead_letters)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(f, "{line}")?;
                f.sync_data()
            });
        match written {
            Ok(()) => {
                tracing::error!(request_id = %record.id, %err, path = %self.dead_letters.display(), "the database refused a usage record; set aside")
            }
            Err(io) => {
                tracing::error!(request_id = %record.id, %err, %io, "the database refused a usage record and it could not be set aside; dropped")
            }
        }
    }
}
