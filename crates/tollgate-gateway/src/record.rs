//! The usage record of a call: metadata only, never prompt or answer text. Written off the
//! request path.

use chrono::Utc;
use tollgate_store::keys::KeyGrant;
use tollgate_store::usage::UsageRecord;
use tollgate_store::Store;
use uuid::Uuid;

/// What a call did, as far as usage is concerned.
pub(crate) struct Outcome<'a> {
    pub request_id: Uuid,
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

/// Writes the record in the background; a failure is logged with the request id.
pub(crate) fn spawn(store: &Store, outcome: Outcome<'_>) {
    let clamp = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let latency = i32::try_from(outcome.started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let record = UsageRecord {
        id: outcome.request_id,
        tenant_id: outcome.grant.tenant_id,
        app_id: outcome.grant.app_id,
        api_key_id: Some(outcome.grant.key_id),
        team_id: outcome.grant.team_id,
        subject_id: None,
        device_id: None,
        provider: outcome.provider.to_string(),
        model: outcome.model.to_string(),
        endpoint: "chat",
        prompt_length: i32::try_from(outcome.prompt_length).unwrap_or(i32::MAX),
        pii_detected: false,
        prompt_tokens: clamp(outcome.prompt_tokens),
        completion_tokens: clamp(outcome.completion_tokens),
        cost_micros: outcome.cost_micros,
        credits_deducted: outcome.credits_deducted,
        latency_ms: Some(latency),
        upstream_latency_ms: Some(latency),
        error_type: outcome.error.map(str::to_string),
        http_status: i16::try_from(outcome.http_status).ok(),
        streamed: outcome.streamed,
        created_at: Utc::now(),
    };
    let store = store.clone();
    tokio::spawn(async move {
        if let Err(err) = store.insert_usage(std::slice::from_ref(&record)).await {
            tracing::error!(request_id = %record.id, %err, "usage record not written");
        }
    });
}
