//! `POST /v1/messages`: the Anthropic Messages API, answered by any chat model of the table
//! (the mock here), charged and recorded like a chat completion, with errors in Anthropic's
//! shape (`{"type": "error", "error": {"type", "message"}}`).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use tollgate_config::ModelKind;
use tollgate_domain::id::RequestId;
use tollgate_providers::anthropic::{self, MessagesRequest};

use crate::auth::Caller;
use crate::chat::{event_stream, usage_headers};
use crate::forward::{Answered, Call};
use crate::{body, reservation, GatewayError, GatewayState};

/// A data-plane error rendered as the Anthropic API renders errors.
pub(crate) struct AnthropicError(GatewayError);

impl From<GatewayError> for AnthropicError {
    fn from(err: GatewayError) -> Self {
        Self(err)
    }
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let kind = match status.as_u16() {
            400 | 405 => "invalid_request_error",
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            _ => "api_error",
        };
        let message = match &self.0 {
            GatewayError::Internal(cause) => {
                tracing::error!(%cause, "internal error on /v1/messages");
                "internal error; the request id in x-request-id locates the cause in the log"
                    .to_string()
            }
            other => other.to_string(),
        };
        let body = json!({"type": "error", "error": {"type": kind, "message": message}});
        (status, Json(body)).into_response()
    }
}

pub(crate) async fn messages(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    caller: Result<Caller, GatewayError>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, AnthropicError> {
    let started = Instant::now();
    let request_id = request_id.map_or_else(uuid::Uuid::now_v7, |Extension(id)| id.0);
    let Caller(grant) = caller?;
    let request: MessagesRequest = body::parse(raw, state.settings.gateway.max_body_bytes)?;
    if request.messages.is_empty() {
        return Err(GatewayError::InvalidRequest {
            param: "messages",
            message: "`messages` is empty: send at least one message".to_string(),
        }
        .into());
    }
    if request.max_tokens == 0 {
        return Err(GatewayError::InvalidRequest {
            param: "max_tokens",
            message: "`max_tokens` must be at least 1".to_string(),
        }
        .into());
    }
    let model = state.models.find_kind(&request.model, ModelKind::Chat)?;
    let chat = request.to_chat();
    let prompt_estimate = chat.prompt_token_estimate();
    let needed = u64::from(prompt_estimate) + u64::from(request.max_tokens);
    if needed > u64::from(model.context_tokens) {
        return Err(GatewayError::ContextTooLong {
            model: model.name.clone(),
            limit: model.context_tokens,
            needed,
        }
        .into());
    }
    let held = reservation::hold(
        &state,
        &grant,
        model,
        prompt_estimate,
        Some(request.max_tokens),
    )
    .await?;
    let call = Call {
        request_id,
        endpoint: "messages",
        grant: &grant,
        model,
        started,
    };
    let Answered {
        answer,
        cost,
        remaining,
        latency,
    } = call.answer(&state, &chat, held).await?;
    let usage = answer.usage;

    let id = format!("msg_{}", request_id.simple());
    let stop = anthropic::stop_reason(answer.finish_reason);
    let mut response = if request.is_stream() {
        let events: Vec<String> = anthropic::stream_events(
            &id,
            &model.name,
            &answer.pieces,
            stop,
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        .iter()
        .map(anthropic::Event::to_sse)
        .collect();
        event_stream(events, latency)
    } else {
        Json(anthropic::message(
            &id,
            &model.name,
            &answer.text(),
            stop,
            usage.prompt_tokens,
            usage.completion_tokens,
        ))
        .into_response()
    };
    usage_headers(response.headers_mut(), cost, remaining);
    Ok(response)
}
