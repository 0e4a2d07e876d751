//! The mock provider over HTTP (`tollgate mock-provider`): the OpenAI API
//! (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) and Anthropic's
//! (`/v1/messages`) on one port, answered by the same deterministic mock as the built-in
//! provider. It is the upstream of the adapter tests and of the load benchmark, so it behaves
//! like a real server: its own error shapes, `Retry-After`, an optional key, and streams a
//! client may abandon (counted, so a test can see the upstream call was cancelled).
//!
//! `[mock:lenient]` in the last user message makes an OpenAI stream look like the sloppier
//! compatible servers: no `id`, `model` or `finish_reason`, each event written in two halves,
//! and the connection closed without `[DONE]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tollgate_providers::anthropic::MessagesRequest;
use tollgate_providers::embeddings::EmbeddingRequest;
use tollgate_providers::mock::{MockError, MockProvider};
use tollgate_providers::openai::ChatRequest;
use tollgate_providers::stream::{Outgoing, Wire};
use tollgate_providers::upstream::{Answer, Call, CallBody};

/// Vector length of the mock's embeddings when the caller asks for none.
const DIMENSIONS: u32 = 256;

/// How the mock server behaves.
#[derive(Clone, Debug, Default)]
pub struct MockServerConfig {
    /// Delay before an answer and between streamed events.
    pub latency: Duration,
    /// The key callers must send (`Authorization: Bearer` or `x-api-key`); none: any.
    pub api_key: Option<String>,
}

/// What the server saw, for tests.
#[derive(Debug, Default)]
pub struct MockStats {
    /// Calls answered or refused.
    pub calls: AtomicU64,
    /// Streams whose client went away before the end.
    pub streams_abandoned: AtomicU64,
}

#[derive(Clone)]
struct MockState {
    mock: Arc<MockProvider>,
    config: Arc<MockServerConfig>,
    stats: Arc<MockStats>,
}

/// The mock provider's routes; `stats` counts what they see.
pub fn router(config: MockServerConfig, stats: Arc<MockStats>) -> Router {
    let state = MockState {
        mock: Arc::new(MockProvider::new(config.latency)),
        config: Arc::new(config),
        stats,
    };
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .with_state(state)
}

async fn chat(State(s): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let req: ChatRequest = match parse(&body, Wire::OpenAi) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let lenient = tollgate_providers::mock::last_user_text(&req).contains("[mock:lenient]");
    s.answer(
        &headers,
        CallBody::Chat(&req),
        &req.model,
        Wire::OpenAi,
        lenient,
    )
    .await
}

async fn messages(State(s): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let req: MessagesRequest = match parse(&body, Wire::Anthropic) {
        Ok(r) => r,
        Err(e) => return e,
    };
    s.answer(
        &headers,
        CallBody::Messages(&req),
        &req.model,
        Wire::Anthropic,
        false,
    )
    .await
}

async fn embeddings(State(s): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let req: EmbeddingRequest = match parse(&body, Wire::OpenAi) {
        Ok(r) => r,
        Err(e) => return e,
    };
    s.answer(
        &headers,
        CallBody::Embeddings(&req),
        &req.model,
        Wire::OpenAi,
        false,
    )
    .await
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "mock-small", "object": "model", "created": 0, "owned_by": "mock"},
        {"id": "mock-large", "object": "model", "created": 0, "owned_by": "mock"},
        {"id": "mock-embed", "object": "model", "created": 0, "owned_by": "mock"}
    ]}))
}

impl MockState {
    async fn answer(
        &self,
        headers: &HeaderMap,
        body: CallBody<'_>,
        model: &str,
        wire: Wire,
        lenient: bool,
    ) -> Response {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(expected) = &self.config.api_key {
            let presented = headers
                .get("x-api-key")
                .or_else(|| headers.get(header::AUTHORIZATION))
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim_start_matches("Bearer ").to_string());
            if presented.as_deref() != Some(expected.as_str()) {
                return error(wire, 401, None, "invalid x-api-key / bearer token");
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let call = Call {
            body,
            upstream_model: model,
            id: &id,
            created: chrono::Utc::now().timestamp(),
            dimensions: DIMENSIONS,
        };
        match self.mock.call(&call).await {
            Err(MockError {
                status,
                retry_after,
                message,
            }) => error(wire, status, retry_after, &message),
            Ok(Answer::Whole(v)) => Json(v).into_response(),
            Ok(Answer::Stream(events)) => {
                let guard = Abandoned {
                    stats: self.stats.clone(),
                    done: false,
                };
                let bytes = events
                    .filter_map(|e| async move { e.ok() })
                    .flat_map(move |e| futures_util::stream::iter(encode(&e, wire, lenient)))
                    .scan(guard, |guard, piece| {
                        if piece.is_empty() {
                            guard.done = true;
                        }
                        futures_util::future::ready(Some(piece))
                    })
                    .filter(|piece| futures_util::future::ready(!piece.is_empty()))
                    .map(Ok::<_, std::convert::Infallible>);
                (
                    [(header::CONTENT_TYPE, "text/event-stream")],
                    Body::from_stream(bytes),
                )
                    .into_response()
            }
        }
    }
}

/// The bytes of one event; an empty piece marks the end of the stream.
fn encode(event: &Outgoing, wire: Wire, lenient: bool) -> Vec<Bytes> {
    let last = matches!(event, Outgoing::Done)
        || matches!((event, wire), (Outgoing::Json(v), Wire::Anthropic) if v["type"] == "message_stop");
    let mut out = Vec::new();
    match (event, lenient) {
        (Outgoing::Done, true) => {}
        (Outgoing::Json(v), true) => {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                for field in ["id", "model", "object", "created"] {
                    o.remove(field);
                }
            }
            if let Some(c) = v.pointer_mut("/choices/0") {
                if let Some(c) = c.as_object_mut() {
                    c.remove("finish_reason");
                }
            }
            let text = Outgoing::Json(v).encode(wire);
            let (a, b) = text.split_at(text.len() / 2);
            out.push(Bytes::from(a.to_string()));
            out.push(Bytes::from(b.to_string()));
        }
        (e, false) => out.push(Bytes::from(e.encode(wire))),
    }
    if last {
        out.push(Bytes::new());
    }
    out
}

/// Counts a stream dropped before its last event.
struct Abandoned {
    stats: Arc<MockStats>,
    done: bool,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if !self.done {
            self.stats.streams_abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[allow(clippy::result_large_err)]
fn parse<T: DeserializeOwned>(body: &[u8], wire: Wire) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| error(wire, 400, None, &format!("invalid body: {e}")))
}

/// An error in the shape of `wire`'s API.
fn error(wire: Wire, status: u16, retry_after: Option<Duration>, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match wire {
        Wire::OpenAi => {
            json!({"error": {"message": message, "type": "mock_error", "param": null, "code": status.as_u16()}})
        }
        Wire::Anthropic => {
            json!({"type": "error", "error": {"type": if status.as_u16() == 529 { "overloaded_error" } else { "api_error" }, "message": message}})
        }
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(wait) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, wait.as_secs().into());
    }
    response
}
