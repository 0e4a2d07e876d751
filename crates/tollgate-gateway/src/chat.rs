//! `POST /v1/chat/completions`: parse, check, find the model, forward.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use tollgate_config::ModelKind;
use tollgate_domain::id::RequestId;
use tollgate_providers::openai::ChatRequest;
use tollgate_providers::upstream::CallBody;
use tollgate_store::usage::Endpoint;

use crate::auth::Caller;
use crate::forward::{Exchange, Prompt};
use crate::{GatewayError, GatewayState};

pub(crate) async fn chat_completions(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    Caller(grant): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let (exchange, request): (Exchange, ChatRequest) =
        Exchange::begin(state, request_id, Endpoint::Chat, grant, body).await?;
    check(&request)?;
    let model = exchange.model(&request.model, ModelKind::Chat)?;
    let estimate = request.prompt_token_estimate();
    let prompt = Prompt {
        estimate,
        length: request.prompt_length(),
        output_limit: request.output_limit(),
        context_needed: u64::from(estimate) + u64::from(request.output_limit().unwrap_or(1)),
    };
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    exchange
        .forward(CallBody::Chat(&request), &model, prompt, include_usage)
        .await
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
