use serde::{Deserialize, Serialize};

/// When a usage record written to the journal is forced to disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalSync {
    /// Appended before the answer is sent (a killed process loses nothing) and synced to disk
    /// every `sync_interval_ms` (a power cut loses at most that much).
    #[default]
    Interval,
    /// Every answer waits until its record is synced to disk; concurrent calls share one sync.
    Always,
}

/// Usage records: the local journal they pass through on their way to the database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageSettings {
    /// Directory of the journal (one per replica; a second process on it is refused).
    pub journal_dir: String,
    /// `interval` (the default) or `always`.
    pub sync: JournalSync,
    /// How often the journal is synced to disk under `interval`, in milliseconds.
    pub sync_interval_ms: u64,
    /// A journal file is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Records written to the database per transaction at most.
    pub batch_records: usize,
    /// How long records may wait in the journal to share a transaction, in milliseconds: a
    /// batch is written when it is full or its oldest record is this old.
    pub flush_interval_ms: u64,
}

impl Default for UsageSettings {
    fn default() -> Self {
        Self {
            journal_dir: "tollgate-journal".to_string(),
            sync: JournalSync::Interval,
            sync_interval_ms: 10,
            segment_bytes: 4 * 1024 * 1024,
            batch_records: 1_000,
            flush_interval_ms: 200,
        }
    }
}

impl UsageSettings {
    /// Checks ranges.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.journal_dir.is_empty() {
            return Err(("usage.journal_dir", "must not be empty".to_string()));
        }
        if self.sync_interval_ms == 0 {
            return Err(("usage.sync_interval_ms", "must be at least 1".to_string()));
        }
        if self.flush_interval_ms == 0 {
            return Err(("usage.flush_interval_ms", "must be at least 1".to_string()));
        }
        if self.segment_bytes < 64 * 1024 {
            return Err(("usage.segment_bytes", "must be at least 65536".to_string()));
        }
        if !(1..=10_000).contains(&self.batch_records) {
            return Err((
                "usage.batch_records",
                "must be between 1 and 10000".to_string(),
            ));
        }
        Ok(())
    }
}
