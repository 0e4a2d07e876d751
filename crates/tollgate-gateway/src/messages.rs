//! `POST /v1/messages`: the Anthropic Messages API, answered by any chat model of the table
//! (translated when its provider speaks the OpenAI API), charged and recorded like a chat
//! completion, with errors in Anthropic's shape (`{"type": "error", "error": {"type", "message"}}`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use tollgate_config::ModelKind;
use tollgate_domain::id::RequestId;
use tollgate_providers::anthropic::MessagesRequest;
use tollgate_providers::upstream::CallBody;
use tollgate_store::usage::Endpoint;

use crate::auth::Caller;
use crate::forward::{Exchange, Prompt};
use crate::{GatewayError, GatewayState};

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
            503 | 529 => "overloaded_error",
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
        let mut response = (status, Json(body)).into_response();
        self.0.retry_header(response.headers_mut());
        response
    }
}

pub(crate) async fn messages(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    caller: Result<Caller, GatewayError>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, AnthropicError> {
    let Caller(grant) = caller?;
    let (exchange, request): (Exchange, MessagesRequest) =
        Exchange::begin(state, request_id, Endpoint::Messages, grant, raw).await?;
    check(&request)?;
    let model = exchange.model(&request.model, ModelKind::Chat)?;
    let estimate = request.prompt_token_estimate();
    let prompt = Prompt {
        estimate,
        length: request.prompt_length(),
        output_limit: Some(request.max_tokens),
        context_needed: u64::from(estimate) + u64::from(request.max_tokens),
    };
    Ok(exchange
        .forward(CallBody::Messages(&request), &model, prompt, false)
        .await?)
}

/// Refuses what the Messages API refuses although it parses.
fn check(request: &MessagesRequest) -> Result<(), GatewayError> {
    if request.messages.is_empty() {
        return Err(GatewayError::InvalidRequest {
            param: "messages",
            message: "`messages` is empty: send at least one message".to_string(),
        });
    }
    if request.max_tokens == 0 {
        return Err(GatewayError::InvalidRequest {
            param: "max_tokens",
            message: "`max_tokens` must be at least 1".to_string(),
        });
    }
    Ok(())
}
