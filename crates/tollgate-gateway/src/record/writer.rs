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
use tollgate_store::Store;

use super::sink::{Entry, UsageSink};

/// Longest pause between attempts while the database is away.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// How long the writer sleeps when there is nothing to write.
const IDLE: Duration = Duration::from_millis(200);

/// The writer task and the journal syncer; [`UsageWriter::finish`] waits until every record
/// journaled so far is stored.
pub struct UsageWriter {
    stop: watch::Sender<bool>,
    writer: JoinHandle<()>,
    syncer: JoinHandle<()>,
    journal: Journal,
}

/// A journal opened for this process, not yet being written out.
pub struct UsageJournal {
    journal: Journal,
    reader: Reader,
}

impl UsageJournal {
    /// Opens (and locks) the journal of `settings`.
    pub fn open(settings: &UsageSettings) -> Result<Self, JournalError> {
        let (journal, reader) = Journal::open(JournalConfig {
            dir: PathBuf::from(&settings.journal_dir),
            segment_bytes: settings.segment_bytes,
            sync: match settings.sync {
                JournalSync::Interval => SyncMode::Interval,
                JournalSync::Always => SyncMode::Always,
            },
        })?;
        Ok(Self { journal, reader })
    }
}

impl UsageWriter {
    /// Starts writing the journal into `store`; returns the sink handlers use and the writer.
    pub fn start(
        open: UsageJournal,
        store: Store,
        settings: &UsageSettings,
    ) -> (UsageSink, UsageWriter) {
        let UsageJournal { journal, reader } = open;
        let sink = UsageSink::new(journal.clone());
        let (stop, stopped) = watch::channel(false);
        let writer = tokio::spawn(write_out(
            reader,
            journal.clone(),
            sink.clone(),
            store,
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
    /// away) stay in the journal for the next start.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        if let Err(err) = self.writer.await {
            tracing::error!(%err, "usage writer failed");
        }
        let _ = self.syncer.await;
        if let Err(err) = self.journal.sync().await {
            tracing::error!(%err, "cannot sync the usage journal at shutdown");
        }
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

async fn write_out(
    mut reader: Reader,
    journal: Journal,
    sink: UsageSink,
    store: Store,
    limits: Batching,
    mut stopped: watch::Receiver<bool>,
) {
    let mut pending: Vec<UsageRecord> = Vec::new();
    let mut oldest: Option<Instant> = None;
    loop {
        pending.append(&mut sink.stranded.lock().unwrap_or_else(|p| p.into_inner()));
        for bytes in reader.read(limits.records.saturating_sub(pending.len())) {
            match Entry::decode(&bytes) {
                Ok(record) => pending.push(record),
                Err(err) => tracing::error!(%err, "a usage journal entry cannot be read; skipped"),
            }
        }
        let stopping = *stopped.borrow();
        if pending.is_empty() {
            if stopping {
                return;
            }
            tokio::select! {
                _ = reader.wait(IDLE) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let since = *oldest.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        if pending.len() < limits.records && waited < limits.interval && !stopping {
            tokio::select! {
                _ = reader.wait(limits.interval - waited) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        if !store_batch(&store, &pending, &stopped).await {
            tracing::error!(records = pending.len(), "stopping with usage records not stored; they stay in the journal for the next start");
            return;
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
/// and still failing after a few more tries (the records stay in the journal).
async fn store_batch(
    store: &Store,
    records: &[UsageRecord],
    stopped: &watch::Receiver<bool>,
) -> bool {
    let mut pause = Duration::from_millis(100);
    let mut tries_while_stopping = 0;
    loop {
        match store.insert_usage(records).await {
            Ok(new) => {
                metrics::counter!("tollgate_usage_records_written_total").increment(new);
                return true;
            }
            Err(err) => {
                metrics::counter!("tollgate_usage_write_failures_total").increment(1);
                tracing::error!(records = records.len(), %err, retry_in_ms = pause.as_millis() as u64, "usage batch not written yet; it stays in the journal");
            }
        }
        if *stopped.borrow() {
            tries_while_stopping += 1;
            if tries_while_stopping >= 3 {
                return false;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
