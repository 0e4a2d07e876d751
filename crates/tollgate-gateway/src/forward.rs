//! The call to the provider and what follows it, shared by every surface: the model and its
//! fallbacks that fit the prompt, credits held for the dearest of them, the dispatch (retries,
//! fallbacks, breaker), then a whole answer settled and recorded at once, or a stream handed to
//! `relay`, which settles and records when it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};
use tollgate_config::{ModelKind, ModelSettings};
use tollgate_domain::id::RequestId;
use tollgate_pii::Redaction;
use tollgate_providers::anthropic::MessagesRequest;
use tollgate_providers::dispatch::{self, Candidate, Dispatched};
use tollgate_providers::embeddings::EmbeddingRequest;
use tollgate_providers::openai::{ChatRequest, Usage};
use tollgate_providers::stream::{StreamContext, Wire};
use tollgate_providers::tokens;
use tollgate_providers::translate::response::{
    anthropic_usage, anthropic_usage_json, openai_usage, usage_json,
};
use tollgate_providers::upstream::{Answer, CallBody};
use tollgate_store::keys::KeyGrant;
use tollgate_store::usage::Endpoint;
use uuid::Uuid;

use crate::firewall::Screened;
use crate::record::Outcome;
use crate::relay::{self, Finish};
use crate::reservation;
use crate::{GatewayError, GatewayState};

/// A call from its arrival: who, what for, and since when.
#[derive(Clone)]
pub(crate) struct Exchange {
    pub state: GatewayState,
    pub request_id: Uuid,
    pub endpoint: Endpoint,
    pub grant: Arc<KeyGrant>,
    pub started: Instant,
    /// The request body as sent (the caller's, or the firewall's redacted copy), to count its
    /// tokens after the fact.
    pub raw: Bytes,
    /// The firewall's placeholders to put back in the answer.
    pub restore: Option<Arc<Redaction>>,
    /// The types of personal data or secrets the firewall found (types it allows excluded).
    pub pii_found: Vec<String>,
}

/// What the gateway knows of the prompt before the provider does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prompt {
    /// Estimated input tokens.
    pub estimate: u32,
    /// Characters of prompt text.
    pub length: usize,
    /// The caller's output limit.
    pub output_limit: Option<u32>,
    /// Context the call needs: the prompt and the room for the answer.
    pub context_needed: u64,
}

impl Exchange {
    /// A call that arrived now: its id, what it is for, who sent it, and its body parsed.
    pub(crate) async fn begin<T: serde::de::DeserializeOwned>(
        state: GatewayState,
        request_id: Option<Extension<RequestId>>,
        endpoint: Endpoint,
        grant: Arc<KeyGrant>,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(Self, T), GatewayError> {
        let started = Instant::now();
        let request_id = request_id.map_or_else(Uuid::now_v7, |Extension(id)| id.0);
        let screened = match (&state.firewall, body) {
            (Some(firewall), Ok(bytes)) => match firewall.screen(bytes.clone()) {
                Ok(screened) => Ok(screened),
                Err(refusal) => {
                    // The operator sees every refusal: who, and the types (never the values),
                    // in the log and as a usage record.
                    tracing::warn!(tenant = %grant.tenant_id, key = %grant.key_id, %refusal, "the PII firewall blocked a request");
                    let model = named_model(&bytes)
                        .filter(|m| state.models.find(&grant, m).is_ok())
                        .unwrap_or_default();
                    let record =
                        Outcome::refused(request_id, endpoint, &grant, model, started, &refusal);
                    state.usage.record(record).await;
                    return Err(refusal);
                }
            },
            (_, Ok(bytes)) => Ok(Screened {
                body: bytes,
                ..Screened::default()
            }),
            (_, Err(rejection)) => Err(rejection),
        };
        let (body, restore, pii_found) = match screened {
            Ok(s) => (
                Ok(s.body),
                s.restore,
                crate::firewall::sorted_names(&s.found),
            ),
            Err(rejection) => (Err(rejection), None, Vec::new()),
        };
        let raw = body.as_ref().map(Bytes::clone).unwrap_or_default();
        let request = crate::body::parse(body, state.settings.gateway.max_body_bytes)?;
        let exchange = Self {
            state,
            request_id,
            endpoint,
            grant,
            started,
            raw,
            restore,
            pii_found,
        };
        Ok((exchange, request))
    }

    /// The model called `name`, of `kind`, if this caller's key may call it.
    pub(crate) fn model(
        &self,
        name: &str,
        kind: ModelKind,
    ) -> Result<Arc<ModelSettings>, GatewayError> {
        self.state
            .models
            .find_kind(&self.grant, name, kind)
            .cloned()
    }

    /// Sends `body` to `model` (or its fallbacks) and answers the caller.
    pub(crate) async fn forward(
        self,
        body: CallBody<'_>,
        model: &Arc<ModelSettings>,
        prompt: Prompt,
        include_usage: bool,
    ) -> Result<Response, GatewayError> {
        let state = &self.state;
        let chain = state
            .models
            .chain(&self.grant, model, prompt.context_needed)?;
        let held = reservation::hold(state, &self.grant, &chain, prompt).await?;
        let mut pending = Pending {
            exchange: Some(&self),
            model,
            prompt,
        };
        let candidates: Vec<Candidate<'_>> = chain
            .iter()
            .filter_map(|m| {
                Some(Candidate {
                    upstream: state.upstreams.get(&m.provider)?,
                    upstream_model: &m.upstream_model,
                })
            })
            .collect();
        let id = self.request_id.simple().to_string();
        let created = chrono::Utc::now().timestamp();
        let request = dispatch::Request {
            body,
            id: &id,
            created,
            dimensions: model.dimensions,
        };
        let dispatched = Instant::now();
        let deadline =
            dispatched + Duration::from_secs(state.settings.gateway.call_deadline_seconds);
        let outcome = dispatch::dispatch(&candidates, request, deadline).await;
        pending.exchange = None;
        let Dispatched {
            chosen,
            answer,
            attempts,
        } = match outcome {
            Ok(d) => d,
            Err(failure) => {
                // Dropping the reservation gives every credit back.
                drop(held);
                let err = GatewayError::Upstream {
                    provider: failure.provider,
                    attempts: failure.attempts,
                    error: failure.error,
                };
                let record = self.outcome(model, prompt, Usage::default(), body.is_stream());
                state
                    .usage
                    .record(record.failed(&err, attempts_of(&err)))
                    .await;
                return Err(err);
            }
        };
        let answered_by = chain.get(chosen).cloned().unwrap_or_else(|| model.clone());
        let mut base = self.outcome(&answered_by, prompt, Usage::default(), body.is_stream());
        base.attempts = attempts;
        base.upstream_started = Some(dispatched);
        let finish = Finish {
            state: state.clone(),
            held,
            model: answered_by.clone(),
            outcome: base,
            sent: Sent {
                endpoint: self.endpoint,
                raw: self.raw.clone(),
                estimate: prompt.estimate,
            },
            unsettled: state.inflight.enter(),
            restore: self.restore.clone(),
        };
        match answer {
            Answer::Whole(whole) => Ok(whole_answer(finish, body, whole).await),
            Answer::Stream(events) => {
                let ctx = StreamContext {
                    wire: body.wire(),
                    model: answered_by.name.clone(),
                    id: match body.wire() {
                        Wire::OpenAi => format!("chatcmpl-{id}"),
                        Wire::Anthropic => format!("msg_{id}"),
                    },
                    created,
                    include_usage,
                };
                Ok(relay::respond(finish, events, ctx))
            }
        }
    }

    /// The usage record of this call so far.
    pub(crate) fn outcome(
        &self,
        model: &ModelSettings,
        prompt: Prompt,
        usage: Usage,
        streamed: bool,
    ) -> Outcome {
        Outcome {
            request_id: self.request_id,
            endpoint: self.endpoint,
            grant: self.grant.clone(),
            provider: model.provider.clone(),
            model: model.name.clone(),
            prompt_length: prompt.length,
            usage,
            cost_micros: 0,
            credits_deducted: 0,
            started: self.started,
            upstream_started: None,
            upstream_ended: None,
            attempts: 0,
            error: None,
            http_status: 200,
            streamed,
            pii_detected: !self.pii_found.is_empty(),
            pii_types: self.pii_found.clone(),
        }
    }
}

/// The `model` a request body names, if it parses that far.
fn named_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<String>,
    }
    serde_json::from_slice::<Named>(body).ok()?.model
}

fn attempts_of(err: &GatewayError) -> u32 {
    match err {
        GatewayError::Upstream { attempts, .. } => *attempts,
        _ => 0,
    }
}

/// Records a call whose caller left while it waited on the provider (the handler's future
/// was dropped): the reservation goes back on its own; this leaves the usage record.
struct Pending<'a> {
    exchange: Option<&'a Exchange>,
    model: &'a ModelSettings,
    prompt: Prompt,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let Some(exchange) = self.exchange.take() else {
            return;
        };
        let outcome = exchange
            .outcome(self.model, self.prompt, Usage::default(), false)
            .abandoned();
        let usage = exchange.state.usage.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { usage.record(outcome).await });
        }
    }
}

/// A whole answer: the caller's model name on it, its usage settled and recorded, then sent.
async fn whole_answer(mut finish: Finish, request: CallBody<'_>, mut body: Value) -> Response {
    let usage = whole_usage(request.wire(), &body, || {
        request.counted_prompt(tokens::Counting::Exact)
    });
    body["model"] = json!(finish.model.name);
    // A provider that reported no counts: the caller gets Tollgate's.
    if body.get("usage").is_none_or(Value::is_null) {
        body["usage"] = match request.wire() {
            Wire::OpenAi => usage_json(usage),
            Wire::Anthropic => anthropic_usage_json(usage),
        };
    }
    if let Some(redaction) = &finish.restore {
        crate::firewall::restore_json(redaction, &mut body);
    }
    if let Some(rules) = finish.state.firewall.as_ref().and_then(|f| f.answers()) {
        let found = rules.judge_whole(request.wire(), finish.restore.clone(), &mut body);
        finish.outcome.found_in_answer(&found);
    }
    let model = finish.model.name.clone();
    let attempts = finish.outcome.attempts;
    let settled = finish.complete(usage, None).await;
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    relay::usage_headers(headers, settled.cost, settled.remaining);
    if let Ok(v) = HeaderValue::from_str(&model) {
        headers.insert("x-tollgate-model", v);
    }
    headers.insert("x-tollgate-attempts", HeaderValue::from(attempts));
    response
}

/// The tokens of a whole answer: the provider's counts, else the request (`prompt()`) and the
/// answer's text counted with the tokenizer.
fn whole_usage(wire: Wire, body: &Value, prompt: impl FnOnce() -> u32) -> Usage {
    let text = |v: Option<&Value>| tokens::count(&tollgate_providers::openai::content_text(v));
    match wire {
        Wire::OpenAi => openai_usage(body.get("usage")).unwrap_or_else(|| {
            let args = body
                .pointer("/choices/0/message/tool_calls")
                .map_or(0, |calls| tokens::count(&calls.to_string()));
            Usage::new(
                prompt(),
                text(body.pointer("/choices/0/message/content")).saturating_add(args),
            )
        }),
        Wire::Anthropic => {
            let (input, output) = anthropic_usage(body.get("usage"));
            Usage::new(
                input.unwrap_or_else(prompt),
                output.unwrap_or_else(|| text(body.get("content"))),
            )
        }
    }
}

/// The request as sent, to count its tokens with the tokenizer should the provider report
/// none (parsed again only then).
pub(crate) struct Sent {
    pub endpoint: Endpoint,
    pub raw: Bytes,
    /// The gateway's estimate, should the body not parse again.
    pub estimate: u32,
}

impl Sent {
    /// Input tokens of the request, counted as `how` says.
    pub(crate) fn tokens(&self, how: tokens::Counting) -> u32 {
        let counted = match self.endpoint {
            Endpoint::Chat => serde_json::from_slice::<ChatRequest>(&self.raw)
                .ok()
                .map(|r| CallBody::Chat(&r).counted_prompt(how)),
            Endpoint::Messages => serde_json::from_slice::<MessagesRequest>(&self.raw)
                .ok()
                .map(|r| CallBody::Messages(&r).counted_prompt(how)),
            Endpoint::Embeddings => serde_json::from_slice::<EmbeddingRequest>(&self.raw)
                .ok()
                .map(|r| CallBody::Embeddings(&r).counted_prompt(how)),
            Endpoint::Device => None,
        };
        counted.unwrap_or(self.estimate)
    }
}
