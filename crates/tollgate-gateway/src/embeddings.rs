//! `POST /v1/embeddings`: float or base64 vectors from an embedding model, charged and recorded
//! like a chat call.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use tollgate_config::ModelKind;
use tollgate_domain::id::RequestId;
use tollgate_providers::embeddings::{mock_response, EmbeddingRequest};
use tollgate_providers::tokens;

use crate::auth::Caller;
use crate::chat::usage_headers;
use crate::record::Outcome;
use crate::{body, charge, reservation, GatewayError, GatewayState};

pub(crate) async fn embeddings(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    Caller(grant): Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let request_id = request_id.map_or_else(uuid::Uuid::now_v7, |Extension(id)| id.0);
    let request: EmbeddingRequest = body::parse(raw, state.settings.gateway.max_body_bytes)?;
    let texts = request.texts().map_err(|e| GatewayError::InvalidRequest {
        param: "input",
        message: e.to_string(),
    })?;
    let model = state
        .models
        .find_kind(&request.model, ModelKind::Embedding)?;
    let dimensions = request.dimensions.unwrap_or(model.dimensions);
    if dimensions == 0 || dimensions > model.dimensions {
        return Err(GatewayError::InvalidRequest {
            param: "dimensions",
            message: format!(
                "`{}` returns 1 to {} dimensions",
                model.name, model.dimensions
            ),
        });
    }
    if let Some(longest) = texts.iter().map(|t| tokens::estimate(t)).max() {
        if longest > model.context_tokens {
            return Err(GatewayError::ContextTooLong {
                model: model.name.clone(),
                limit: model.context_tokens,
                needed: u64::from(longest),
            });
        }
    }
    let estimate: u32 = texts.iter().map(|t| tokens::estimate(t)).sum();
    let held = reservation::hold(&state, &grant, model, estimate, Some(1)).await?;
    let (response, usage) = mock_response(&request, &texts, &model.name, dimensions as usize);
    let cost = charge::cost(model, usage.prompt_tokens, 0);
    let (charged, remaining) = reservation::settle(&state, held, model, usage).await;
    state
        .usage
        .record(Outcome {
            request_id,
            endpoint: "embeddings",
            grant: &grant,
            provider: &model.provider,
            model: &model.name,
            prompt_length: texts.iter().map(|t| t.chars().count()).sum(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: 0,
            cost_micros: cost,
            credits_deducted: charged,
            started,
            error: None,
            http_status: 200,
            streamed: false,
        })
        .await;
    let mut out = Json(response).into_response();
    usage_headers(out.headers_mut(), cost, remaining);
    Ok(out)
}
