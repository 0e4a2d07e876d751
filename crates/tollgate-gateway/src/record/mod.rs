//! The usage record of a call: metadata only, never prompt or answer text. Handlers append it
//! to the local journal before the caller gets the answer (`sink`); one writer task reads the
//! journal in batches into the store (`writer`), so the request path never waits on the
//! database, a killed process loses nothing, and a database outage only delays the records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tollgate_providers::openai::Usage;
use tollgate_store::keys::KeyGrant;
use tollgate_store::usage::{Endpoint, UsageRecord};
use uuid::Uuid;

use crate::GatewayError;

mod sink;
mod writer;

pub use sink::UsageSink;
pub use writer::{Recovered, UsageJournal, UsageWriter};

/// What a call did, as far as usage is concerned.
pub(crate) struct Outcome {
    pub request_id: Uuid,
    pub endpoint: Endpoint,
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
    pub pii_detected: bool,
    /// The types the firewall found, sorted.
    pub pii_types: Vec<String>,
}

impl Outcome {
    /// The record of a call that failed with `err`.
    pub(crate) fn failed(mut self, err: &GatewayError, attempts: u32) -> Self {
        self.error = Some(err.code());
        self.http_status = err.status().as_u16();
        self.attempts = attempts;
        self
    }

    /// Adds the types found in the answer to those found in the request (names sorted, each
    /// once).
    pub(crate) fn found_in_answer(
        &mut self,
        types: &std::collections::BTreeSet<tollgate_pii::EntityType>,
    ) {
        for t in types {
            let name = t.as_str().to_string();
            if let Err(at) = self.pii_types.binary_search(&name) {
                self.pii_types.insert(at, name);
            }
        }
        self.pii_detected = !self.pii_types.is_empty();
    }

    /// The record of a call the gateway refused before sending it on (the PII firewall blocked
    /// it): the model it named (checked by the caller to be one it may call, so that no blocked
    /// value is stored from that field), no provider, no tokens, the error and the types found.
    pub(crate) fn refused(
        request_id: Uuid,
        endpoint: Endpoint,
        grant: &Arc<KeyGrant>,
        model: String,
        started: Instant,
        err: &GatewayError,
    ) -> Self {
        let pii_types = match err {
            GatewayError::SensitiveData { found, .. } => found.clone(),
            _ => Vec::new(),
        };
        Self {
            request_id,
            endpoint,
            grant: grant.clone(),
            provider: String::new(),
            model,
            prompt_length: 0,
            usage: Usage::default(),
            cost_micros: 0,
            credits_deducted: 0,
            started,
            upstream_started: None,
            upstream_ended: None,
            attempts: 0,
            error: Some(err.code()),
            http_status: err.status().as_u16(),
            streamed: false,
            pii_detected: !pii_types.is_empty(),
            pii_types,
        }
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
            pii_detected: self.pii_detected,
            pii_types: self.pii_types,
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
