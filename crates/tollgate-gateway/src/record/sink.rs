//! Where handlers put usage records: the journal, before the answer leaves. Should the disk
//! refuse a write, the record is kept in memory for the writer instead, so it still reaches
//! the database unless the process dies first (an error is logged and counted).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tollgate_journal::Journal;
use tollgate_store::usage::UsageRecord;

use super::Outcome;

/// Version of the journal entry format.
const ENTRY_VERSION: u8 = 1;

/// A usage record as the journal holds it.
#[derive(Serialize, Deserialize)]
pub(super) struct Entry {
    /// Format version.
    pub v: u8,
    /// The record.
    pub usage: UsageRecord,
}

impl Entry {
    pub(super) fn decode(bytes: &[u8]) -> Result<UsageRecord, String> {
        let entry: Entry = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if entry.v != ENTRY_VERSION {
            return Err(format!(
                "journal entry version {} is not {ENTRY_VERSION}",
                entry.v
            ));
        }
        Ok(entry.usage)
    }
}

/// Where handlers put usage records.
#[derive(Clone)]
pub struct UsageSink {
    journal: Journal,
    /// Records the journal could not take, for the writer.
    pub(super) stranded: Arc<Mutex<Vec<UsageRecord>>>,
}

impl UsageSink {
    pub(super) fn new(journal: Journal) -> Self {
        Self {
            journal,
            stranded: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Journals the record of a call: on disk (or, under `usage.sync = "always"`, synced)
    /// when this returns. Only a record the journal refused is kept in memory instead; one
    /// written but not synced is in the file, and the writer reads it from there.
    pub(crate) async fn record(&self, outcome: Outcome) {
        let usage = outcome.into_record();
        let entry = Entry {
            v: ENTRY_VERSION,
            usage,
        };
        let appended = serde_json::to_vec(&entry)
            .map_err(|e| e.to_string())
            .and_then(|bytes| self.journal.append(&bytes).map_err(|e| e.to_string()));
        match appended {
            Ok(at) => {
                if let Err(err) = self.journal.sync_through(at).await {
                    metrics::counter!("tollgate_usage_journal_failures_total").increment(1);
                    tracing::error!(request_id = %entry.usage.id, %err, "usage record written but not synced to disk");
                }
            }
            Err(err) => {
                metrics::counter!("tollgate_usage_journal_failures_total").increment(1);
                tracing::error!(request_id = %entry.usage.id, %err, "usage record not journaled; kept in memory for the writer");
                self.stranded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(entry.usage);
            }
        }
    }
}
