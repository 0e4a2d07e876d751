use serde::{Deserialize, Serialize};

/// Seed 001's log retention: AI-use events older than each tenant's `log_retention_days` are
/// deleted by a scheduler in `serve` (once per interval across replicas), by
/// `tollgate retention run`, or by the admin endpoint (docs/devices.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Run the scheduler in `serve` (seed 001 `ENABLE_RETENTION_SCHEDULER`, off by default).
    pub enabled: bool,
    /// Hours between runs (seed 001 `RETENTION_CLEANUP_INTERVAL_HOURS`, default 24).
    pub interval_hours: u64,
    /// Rows deleted per transaction.
    pub batch_size: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            interval_hours: 24,
            batch_size: 5_000,
        }
    }
}

impl RetentionSettings {
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=24 * 365).contains(&self.interval_hours) {
            return Err((
                "retention.interval_hours",
                "must be from 1 to 8760 hours".to_string(),
            ));
        }
        if !(1..=100_000).contains(&self.batch_size) {
            return Err((
                "retention.batch_size",
                "must be from 1 to 100000 rows".to_string(),
            ));
        }
        Ok(())
    }
}
