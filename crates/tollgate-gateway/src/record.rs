//! The usage record of a call: metadata only, never prompt or answer text. Handlers hand
//! records to a bounded queue; one writer task drains it in batches into the store, so the
//! request path never waits on a database write unless the queue is full (backpressure rather
//! than unbounded memory). The durable on-disk journal comes next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tollgate_providers::openai::Usage;
use tollgate_store::keys::KeyGrant;
use tollgate_store::usage::UsageRecord;
use tollgate_store::Store;
use uuid::Uuid;

use crate::GatewayError;

/// Records waiting for the writer at most; past this, calls wait for room.
const QUEUE: usize = 16_384;
/// Records per batch written.
const BATCH: usize = 500;

/// What a call did, as far as usage is concerned.
pub(crate) struct Outcome {
    pub request_id: Uuid,
    pub endpoint: &'static str,
    pub grant: Arc<KeyGrant>,
    pub provider: String,
    pub model: String,
    pub prompt_length: usize,
    pub usage: Usage,
    pub cost_micros: i64,
    pub credits_deducted: i64,
    pub started: Instant,
    /// When the first attempt went out.
    pub upstream_started: Option<Instant>,
    /// When the provider's answer ended.
    pub upstream_ended: Option<Instant>,
    pub attempts: u32,
    pub error: Option<&'static str>,
    pub http_status: u16,
    pub streamed: bool,
}

impl Outcome {
    /// The record of a call that failed with `err`.
    pub(crate) fn failed(mut self, err: &GatewayError, attempts: u32) -> Self {
        self.error = Some(err.code());
        self.http_status = err.status().as_u16();
        self.attempts = attempts;
        self
    }

    /// The record of a call whose caller went away before the answer.
    pub(crate) fn abandoned(mut self) -> Self {
        self.error = Some(CLIENT_GONE);
        self.http_status = CLIENT_CLOSED_REQUEST;
        self
    }

    fn into_record(self) -> UsageRecord {
        let clamp = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        let upstream = self.upstream_started.map(|from| {
            self.upstream_ended
                .unwrap_or_else(Instant::now)
                .saturating_duration_since(from)
        });
        UsageRecord {
            id: self.request_id,
            tenant_id: self.grant.tenant_id,
            app_id: self.grant.app_id,
            api_key_id: Some(self.grant.key_id),
            team_id: self.grant.team_id,
            subject_id: None,
            device_id: None,
            provider: self.provider,
            model: self.model,
            endpoint: self.endpoint,
            prompt_length: i32::try_from(self.prompt_length).unwrap_or(i32::MAX),
            pii_detected: false,
            prompt_tokens: clamp(self.usage.prompt_tokens),
            completion_tokens: clamp(self.usage.completion_tokens),
            cost_micros: self.cost_micros,
            credits_deducted: self.credits_deducted,
            latency_ms: Some(ms(self.started.elapsed())),
            upstream_latency_ms: upstream.map(ms),
            error_type: self.error.map(str::to_string),
            http_status: i16::try_from(self.http_status).ok(),
            streamed: self.streamed,
            created_at: Utc::now(),
        }
    }
}

/// Error code of a call whose caller left before its end.
pub(crate) const CLIENT_GONE: &str = "client_disconnected";
/// The status nginx logs for it: no response reached the caller.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Where handlers put usage records.
#[derive(Clone)]
pub struct UsageSink(mpsc::Sender<UsageRecord>);

impl UsageSink {
    /// Queues the record of a call; waits only while the queue is full.
    pub(crate) async fn record(&self, outcome: Outcome) {
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
