//! The usage record of a call: metadata only, never prompt or answer text. Handlers hand
//! records to a bounded queue; one writer task drains it in batches into the store, so the
//! request path never waits on a database write unless the queue is full (backpressure rather
//! than unbounded memory). The durable on-disk journal comes next.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tollgate_store::keys::KeyGrant;
use tollgate_store::usage::UsageRecord;
use tollgate_store::Store;
use uuid::Uuid;

/// Records waiting for the writer at most; past this, calls wait for room.
const QUEUE: usize = 16_384;
/// Records per batch written.
const BATCH: usize = 500;

/// What a call did, as far as usage is concerned.
pub(crate) struct Outcome<'a> {
    pub request_id: Uuid,
    pub endpoint: &'static str,
    pub grant: &'a KeyGrant,
    pub provider: &'a str,
    pub model: &'a str,
    pub prompt_length: usize,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost_micros: i64,
    pub credits_deducted: i64,
    pub started: std::time::Instant,
    pub error: Option<&'static str>,
    pub http_status: u16,
    pub streamed: bool,
}

impl Outcome<'_> {
    fn into_record(self) -> UsageRecord {
        let clamp = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let latency = i32::try_from(self.started.elapsed().as_millis()).unwrap_or(i32::MAX);
        UsageRecord {
            id: self.request_id,
            tenant_id: self.grant.tenant_id,
            app_id: self.grant.app_id,
            api_key_id: Some(self.grant.key_id),
            team_id: self.grant.team_id,
            subject_id: None,
            device_id: None,
            provider: self.provider.to_string(),
            model: self.model.to_string(),
            endpoint: self.endpoint,
            prompt_length: i32::try_from(self.prompt_length).unwrap_or(i32::MAX),
            pii_detected: false,
            prompt_tokens: clamp(self.prompt_tokens),
            completion_tokens: clamp(self.completion_tokens),
            cost_micros: self.cost_micros,
            credits_deducted: self.credits_deducted,
            latency_ms: Some(latency),
            upstream_latency_ms: None,
            error_type: self.error.map(str::to_string),
            http_status: i16::try_from(self.http_status).ok(),
            streamed: self.streamed,
            created_at: Utc::now(),
        }
    }
}

/// Where handlers put usage records.
#[derive(Clone)]
pub struct UsageSink(mpsc::Sender<UsageRecord>);

impl UsageSink {
    /// Queues the record of a call; waits only while the queue is full.
    pub(crate) async fn record(&self, outcome: Outcome<'_>) {
        let record = outcome.into_record();
        let id = record.id;
        if self.0.send(record).await.is_err() {
            tracing::error!(request_id = %id, "usage writer stopped; record not written");
        }
    }
}

/// The writer task; [`UsageWriter::finish`] waits until every queued record is written.
pub struct UsageWriter(JoinHandle<()>);

impl UsageWriter {
    /// Starts the writer over `store`; returns the sink handlers use and the writer.
    pub fn start(store: Store) -> (UsageSink, UsageWriter) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (UsageSink(tx), UsageWriter(tokio::spawn(drain(store, rx))))
    }

    /// Waits for the queue to empty once every sink is gone.
    pub async fn finish(self) {
        if let Err(err) = self.0.await {
            tracing::error!(%err, "usage writer failed");
        }
    }
}

async fn drain(store: Store, mut rx: mpsc::Receiver<UsageRecord>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut pause = Duration::from_millis(100);
        // A batch is retried until it is written: the database being away is no reason to drop
        // usage. Meanwhile the queue fills and calls slow down instead of records vanishing.
        while let Err(err) = store.insert_usage(&batch).await {
            tracing::error!(records = batch.len(), %err, retry_in_ms = pause.as_millis() as u64, "usage batch not written yet");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        batch.clear();
    }
}
