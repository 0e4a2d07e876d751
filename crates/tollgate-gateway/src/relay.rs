//! A streamed answer relayed to the caller as it arrives. Each upstream read becomes one
//! write to the caller (however many events it held); the meter names the model, counts
//! tokens and holds back the end. At the end the call is settled and recorded first, then the
//! closing events go out, so a caller that saw the end of its stream has its usage record. A
//! caller that leaves early cancels the upstream call (its connection is dropped) and is
//! charged and recorded for what was produced until then.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, StreamExt};
use serde_json::json;
use tollgate_config::ModelSettings;
use tollgate_providers::openai::Usage;
use tollgate_providers::stream::{Outgoing, StreamContext, StreamMeter, Wire};
use tollgate_providers::tokens::Counting;
use tollgate_providers::upstream::{Events, StreamFailure};

use crate::firewall::StreamFirewall;
use crate::forward::Sent;
use crate::record::{Outcome, CLIENT_GONE};
use crate::reservation::{self, Held};
use crate::{charge, GatewayState};

/// Calls answered (or answering) whose credits and usage record are not settled yet.
#[derive(Default)]
pub(crate) struct Inflight {
    count: AtomicUsize,
    none: tokio::sync::Notify,
}

/// One call counted in [`Inflight`] until dropped.
pub(crate) struct Unsettled(Arc<Inflight>);

impl Inflight {
    /// Counts a call until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Unsettled {
        self.count.fetch_add(1, Ordering::AcqRel);
        Unsettled(self.clone())
    }

    /// Returns once no call is unsettled.
    pub(crate) async fn idle(&self) {
        loop {
            let woken = self.none.notified();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            woken.await;
        }
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none.notify_waiters();
        }
    }
}

/// What is left to do once the answer's usage is known.
pub(crate) struct Finish {
    pub state: GatewayState,
    pub held: Option<Held>,
    pub model: Arc<ModelSettings>,
    pub outcome: Outcome,
    pub sent: Sent,
    /// Keeps shutdown waiting until this call is recorded.
    pub unsettled: Unsettled,
    /// The firewall's placeholders to put back in the answer.
    pub restore: Option<Arc<tollgate_pii::Redaction>>,
}

/// A settled call.
pub(crate) struct Settled {
    /// Its cost in micro-units.
    pub cost: i64,
    /// Credits left on the key, when it has a balance.
    pub remaining: Option<i64>,
}

impl Finish {
    /// Settles the held credits for `usage` and records the call.
    pub(crate) async fn complete(self, usage: Usage, error: Option<&'static str>) -> Settled {
        let Finish {
            state,
            held,
            model,
            mut outcome,
            sent: _,
            unsettled,
            restore: _,
        } = self;
        let cost = charge::cost(&model, usage.prompt_tokens, usage.completion_tokens);
        let (charged, remaining) = reservation::settle(&state, held, &model, usage);
        outcome.usage = usage;
        outcome.cost_micros = cost;
        outcome.credits_deducted = charged;
        outcome.upstream_ended = Some(std::time::Instant::now());
        outcome.error = error;
        state.usage.record(outcome).await;
        drop(unsettled);
        Settled { cost, remaining }
    }
}

/// Tells the caller what the call cost and what is left.
pub(crate) fn usage_headers(headers: &mut HeaderMap, cost: i64, remaining: Option<i64>) {
    headers.insert("x-tollgate-cost-micros", HeaderValue::from(cost));
    if let Some(left) = remaining.filter(|l| *l != i64::MAX) {
        headers.insert("x-tollgate-credits-remaining", HeaderValue::from(left));
    }
}

struct Relay {
    events: Events,
    meter: StreamMeter,
    firewall: Option<StreamFirewall>,
    wire: Wire,
    finish: Option<Finish>,
    out: Vec<u8>,
    over: bool,
}

/// The streamed response for `events`.
pub(crate) fn respond(finish: Finish, events: Events, ctx: StreamContext) -> Response {
    let model = HeaderValue::from_str(&ctx.model).ok();
    let attempts = finish.outcome.attempts;
    let firewall = StreamFirewall::new(
        finish.restore.clone(),
        finish.state.firewall.as_ref().and_then(|f| f.answers()),
        ctx.wire,
    );
    let relay = Relay {
        events,
        firewall,
        wire: ctx.wire,
        meter: StreamMeter::new(ctx),
        finish: Some(finish),
        out: Vec::new(),
        over: false,
    };
    let body = futures_util::stream::unfold(relay, |mut relay| async move {
        let bytes = relay.next().await?;
        Some((Ok::<_, Infallible>(bytes), relay))
    });
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response();
    let headers = response.headers_mut();
    // Proxies such as nginx must not hold the events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(model) = model {
        headers.insert("x-tollgate-model", model);
    }
    headers.insert("x-tollgate-attempts", HeaderValue::from(attempts));
    response
}

impl Relay {
    /// The next write to the caller, or `None` after the last.
    async fn next(&mut self) -> Option<Bytes> {
        while self.out.is_empty() {
            if self.over {
                return None;
            }
            let item = self.events.next().await;
            self.take(item).await;
            // What the provider sent in the same burst goes out in the same write: one
            // syscall and one packet instead of one per event, and no event waits for it.
            while !self.over {
                match self.events.next().now_or_never() {
                    Some(item) => self.take(item).await,
                    None => break,
                }
            }
        }
        Some(Bytes::from(std::mem::take(&mut self.out)))
    }

    /// Handles one item of the provider's stream (`None`: it ended).
    async fn take(&mut self, item: Option<Result<Outgoing, StreamFailure>>) {
        match item {
            Some(Ok(event)) => {
                for e in self.meter.pass(event) {
                    self.push(&e);
                }
                if self.meter.ended() {
                    self.end(None).await;
                }
            }
            Some(Err(failure)) => {
                tracing::warn!(%failure, "the provider's stream broke off");
                let message = format!("{failure}; the answer is incomplete");
                let error = match self.wire {
                    Wire::OpenAi => {
                        json!({"error": {"message": message, "type": "api_error", "param": null, "code": "upstream_stream_broken"}})
                    }
                    Wire::Anthropic => {
                        json!({"type": "error", "error": {"type": "api_error", "message": message}})
                    }
                };
                for e in self.meter.pass(Outgoing::Json(error)) {
                    self.push(&e);
                }
                self.end(Some("upstream_stream_broken")).await;
            }
            None => self.end(None).await,
        }
    }

    /// Queues `event` for the caller, the firewall's placeholders put back.
    fn push(&mut self, event: &Outgoing) {
        match &mut self.firewall {
            Some(firewall) => {
                for e in firewall.pass(event.clone()) {
                    e.encode_into(self.wire, &mut self.out);
                }
            }
            None => event.encode_into(self.wire, &mut self.out),
        }
    }

    /// The call's tokens so far; the request is counted only if the provider gave no count.
    fn usage(&self, how: Counting) -> Usage {
        self.meter.usage(
            || self.finish.as_ref().map_or(0, |f| f.sent.tokens(how)),
            how,
        )
    }

    /// Settles and records, then queues the closing events (judged first, so that the record
    /// holds what the answer's last text showed).
    async fn end(&mut self, error: Option<&'static str>) {
        self.over = true;
        let error = error.or(self.meter.error().map(|_| "upstream_stream_error"));
        let usage = self.usage(Counting::Exact);
        let body = std::mem::take(&mut self.out);
        for e in self.meter.closing(usage) {
            self.push(&e);
        }
        let closing = std::mem::replace(&mut self.out, body);
        if let Some(mut finish) = self.finish.take() {
            if let Some(firewall) = &self.firewall {
                finish.outcome.found_in_answer(firewall.answer_types());
            }
            let settled = finish.complete(usage, error).await;
            // An SSE comment: every client ignores it, and curl users see the cost.
            let mut note = format!(": tollgate cost_micros={}", settled.cost);
            if let Some(left) = settled.remaining.filter(|l| *l != i64::MAX) {
                note.push_str(&format!(" credits_remaining={left}"));
            }
            note.push_str("\n\n");
            self.out.extend_from_slice(note.as_bytes());
        }
        self.out.extend_from_slice(&closing);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The caller left before the end: charge and record what was produced.
        let usage = self.usage(Counting::IfReady);
        let Some(mut finish) = self.finish.take() else {
            return;
        };
        if let Some(firewall) = &self.firewall {
            finish.outcome.found_in_answer(firewall.answer_types());
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut finish = finish;
                finish.outcome.http_status = 200;
                finish.complete(usage, Some(CLIENT_GONE)).await;
            });
        }
    }
}
