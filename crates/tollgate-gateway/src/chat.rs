//! `POST /v1/chat/completions`: parse, find the model, reserve credits, call the provider,
//! settle, answer (whole or streamed), record usage.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use tollgate_config::ModelKind;
use tollgate_domain::id::RequestId;
use tollgate_providers::openai::ChatRequest;
use tollgate_providers::{mock, sse};

use crate::auth::Caller;
use crate::forward::{Answered, Call};
use crate::reservation;
use crate::{body, GatewayError, GatewayState};

pub(crate) async fn chat_completions(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    Caller(grant): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let request_id = request_id.map_or_else(uuid::Uuid::now_v7, |Extension(id)| id.0);
    let request: ChatRequest = body::parse(body, state.settings.gateway.max_body_bytes)?;
    check(&request)?;
    let model = state.models.find_kind(&request.model, ModelKind::Chat)?;

    let prompt_estimate = request.prompt_token_estimate();
    let needed = u64::from(prompt_estimate) + u64::from(request.output_limit().unwrap_or(1));
    if needed > u64::from(model.context_tokens) {
        return Err(GatewayError::ContextTooLong {
            model: model.name.clone(),
            limit: model.context_tokens,
            needed,
        });
    }

    // Credits are held before the call; dropping the reservation (client gone, handler failed)
    // gives them all back.
    let reservation = reservation::hold(
        &state,
        &grant,
        model,
        prompt_estimate,
        request.output_limit(),
    )
    .await?;

    let call = Call {
        request_id,
        endpoint: "chat",
        grant: &grant,
        model,
        started,
    };
    let Answered {
        answer,
        cost,
        remaining,
        latency,
    } = call.answer(&state, &request, reservation).await?;

    let id = format!("chatcmpl-{}", request_id.simple());
    let created = chrono::Utc::now().timestamp();
    let mut response = if request.is_stream() {
        let include_usage = request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage);
        let events: Vec<String> = mock::chunks(&id, created, &model.name, &answer, include_usage)
            .iter()
            .map(sse::event)
            .chain(std::iter::once(sse::DONE.to_string()))
            .collect();
        event_stream(events, latency)
    } else {
        Json(mock::completion(&id, created, &model.name, &answer)).into_response()
    };
    usage_headers(response.headers_mut(), cost, remaining);
    Ok(response)
}

/// A streamed answer: the given server-sent events, each after the provider's latency.
pub(crate) fn event_stream(events: Vec<String>, latency: Duration) -> Response {
    let stream = futures_util::stream::iter(events).then(move |event| async move {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        Ok::<_, Infallible>(Bytes::from(event))
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Refuses what the OpenAI API refuses although it parses.
fn check(request: &ChatRequest) -> Result<(), GatewayError> {
    if request.messages.is_empty() {
        return Err(GatewayError::InvalidRequest {
            param: "messages",
            message: "`messages` is empty: send at least one message".to_string(),
        });
    }
    if request.stream_options.is_some() && !request.is_stream() {
        return Err(GatewayError::InvalidRequest {
            param: "stream_options",
            message: "`stream_options` is only allowed with `stream: true`".to_string(),
        });
    }
    if request.output_limit() == Some(0) {
        return Err(GatewayError::InvalidRequest {
            param: "max_tokens",
            message: "the output limit must be at least 1 token".to_string(),
        });
    }
    Ok(())
}

/// Tells the caller what the call cost and what is left.
pub(crate) fn usage_headers(headers: &mut HeaderMap, cost: i64, remaining: Option<i64>) {
    headers.insert("x-tollgate-cost-micros", HeaderValue::from(cost));
    if let Some(left) = remaining.filter(|l| *l != i64::MAX) {
        headers.insert("x-tollgate-credits-remaining", HeaderValue::from(left));
    }
}
