//! `POST /v1/embeddings`: float or base64 vectors from an embedding model, charged and recorded
//! like a chat call.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use tollgate_config::ModelKind;
use tollgate_domain::id::RequestId;
use tollgate_providers::embeddings::EmbeddingRequest;
use tollgate_providers::tokens;
use tollgate_providers::upstream::CallBody;
use tollgate_store::usage::Endpoint;

use crate::auth::Caller;
use crate::forward::{Exchange, Prompt};
use crate::{GatewayError, GatewayState};

pub(crate) async fn embeddings(
    State(state): State<GatewayState>,
    request_id: Option<Extension<RequestId>>,
    Caller(grant): Caller,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let (exchange, request): (Exchange, EmbeddingRequest) =
        Exchange::begin(state, request_id, Endpoint::Embeddings, grant, raw).await?;
    let texts = request.texts().map_err(|e| GatewayError::InvalidRequest {
        param: "input",
        message: e.to_string(),
    })?;
    let model = exchange.model(&request.model, ModelKind::Embedding)?;
    if let Some(asked) = request.dimensions {
        if asked == 0 || asked > model.dimensions {
            return Err(GatewayError::InvalidRequest {
                param: "dimensions",
                message: format!(
                    "`{}` returns 1 to {} dimensions",
                    model.name, model.dimensions
                ),
            });
        }
    }
    let counts: Vec<u32> = texts.iter().map(|t| tokens::estimate(t)).collect();
    let prompt = Prompt {
        estimate: counts.iter().sum(),
        length: texts.iter().map(|t| t.chars().count()).sum(),
        output_limit: Some(0),
        // Each input is embedded on its own: the longest must fit.
        context_needed: u64::from(counts.iter().copied().max().unwrap_or(0)),
    };
    exchange
        .forward(CallBody::Embeddings(&request), &model, prompt, false)
        .await
}
