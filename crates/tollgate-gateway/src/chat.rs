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
use tollgate_domain::id::RequestId;
use tollgate_providers::openai::ChatRequest;
use tollgate_providers::{mock, sse, tokens};

use crate::auth::Caller;
use crate::record::{self, Outcome};
use crate::{charge, GatewayError, GatewayState};

pub(crate) async fn chat_completions(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    Caller(grant): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let request_id = request_id.map_or_else(uuid::Uuid::now_v7, |Extension(id)| id.0);
    let request = parse(body, state.settings.gateway.max_body_bytes)?;
    let model = state.models.find(&request.model)?;
    let gateway = &state.settings.gateway;

    let prompt_estimate: u32 = request
        .messages
        .iter()
        .map(|m| tokens::estimate(&m.text()).saturating_add(4))
        .sum();
    let limited = grant.credits_remaining.is_some();
    let reserved = if limited {
        charge::reservation(
            gateway.credit_rule,
            gateway.credits_per_request,
            model,
            prompt_estimate,
            request.output_limit(),
        )
    } else {
        0
    };
    let mut remaining = None;
    if limited {
        match state
            .store
            .take_credits(grant.tenant_id, grant.key_id, reserved)
            .await?
        {
            Some(left) => remaining = Some(left),
            None => {
                return Err(GatewayError::InsufficientCredits {
                    remaining: grant.credits_remaining.unwrap_or(0).max(0),
                    needed: reserved,
                })
            }
        }
    }

    let latency = Duration::from_millis(state.settings.providers.mock.latency_ms);
    let answer = match mock::answer(&request, &model.upstream_model) {
        Ok(answer) => answer,
        Err(failure) => {
            if limited {
                state
                    .store
                    .return_credits(grant.tenant_id, grant.key_id, reserved)
                    .await?;
            }
            let err = GatewayError::Upstream {
                provider: model.provider.clone(),
                status: failure.status,
            };
            record::spawn(
                &state.store,
                Outcome {
                    request_id,
                    grant: &grant,
                    provider: &model.provider,
                    model: &model.name,
                    prompt_length: request.prompt_length(),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    cost_micros: 0,
                    credits_deducted: 0,
                    started,
                    error: Some(err.code()),
                    http_status: err.status().as_u16(),
                    streamed: request.stream,
                },
            );
            return Err(err);
        }
    };
    if !request.stream && !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let usage = answer.usage;
    let cost = charge::cost(model, usage.prompt_tokens, usage.completion_tokens);
    let charged = if limited {
        let due = charge::charge(
            gateway.credit_rule,
            gateway.credits_per_request,
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        .min(reserved);
        if reserved > due {
            remaining = state
                .store
                .return_credits(grant.tenant_id, grant.key_id, reserved - due)
                .await?;
        }
        due
    } else {
        0
    };
    record::spawn(
        &state.store,
        Outcome {
            request_id,
            grant: &grant,
            provider: &model.provider,
            model: &model.name,
            prompt_length: request.prompt_length(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_micros: cost,
            credits_deducted: charged,
            started,
            error: None,
            http_status: 200,
            streamed: request.stream,
        },
    );

    let id = format!("chatcmpl-{}", request_id.simple());
    let created = chrono::Utc::now().timestamp();
    let mut response = if request.stream {
        let include_usage = request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage);
        let events: Vec<String> = mock::chunks(&id, created, &model.name, &answer, include_usage)
            .iter()
            .map(sse::event)
            .chain(std::iter::once(sse::DONE.to_string()))
            .collect();
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
    } else {
        Json(mock::completion(&id, created, &model.name, &answer)).into_response()
    };
    usage_headers(response.headers_mut(), cost, remaining);
    Ok(response)
}

/// Reads the body as a chat request; a bad one is refused with the field at fault.
fn parse(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<ChatRequest, GatewayError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GatewayError::TooLarge { limit }
        } else {
            GatewayError::InvalidJson(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })?;
    let mut json = serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            GatewayError::InvalidJson(format!("the body is not a valid chat request: {inner}"))
        } else {
            GatewayError::InvalidJson(format!("invalid field `{path}`: {inner}"))
        }
    })
}

/// Tells the caller what the call cost and what is left.
fn usage_headers(headers: &mut HeaderMap, cost: i64, remaining: Option<i64>) {
    headers.insert("x-tollgate-cost-micros", HeaderValue::from(cost));
    if let Some(left) = remaining.filter(|l| *l != i64::MAX) {
        headers.insert("x-tollgate-credits-remaining", HeaderValue::from(left));
    }
}
