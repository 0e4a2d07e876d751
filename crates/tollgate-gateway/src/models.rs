//! The model table from the settings, and `GET /v1/models`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use tollgate_config::{ModelKind, ModelSettings};
use tollgate_providers::openai::ModelEntry;

use crate::auth::Caller;
use crate::{GatewayError, GatewayState};

/// The models callers may name.
pub(crate) struct ModelTable {
    models: Vec<ModelSettings>,
}

impl ModelTable {
    pub(crate) fn new(models: Vec<ModelSettings>) -> Self {
        Self { models }
    }

    /// The model called `name` if it is of `kind`; else an error that says which endpoint
    /// serves it.
    pub(crate) fn find_kind(
        &self,
        name: &str,
        kind: ModelKind,
    ) -> Result<&ModelSettings, GatewayError> {
        let model = self.find(name)?;
        if model.kind == kind {
            return Ok(model);
        }
        let (what, endpoint) = match model.kind {
            ModelKind::Chat => ("a chat model", "/v1/chat/completions"),
            ModelKind::Embedding => ("an embedding model", "/v1/embeddings"),
        };
        Err(GatewayError::InvalidRequest {
            param: "model",
            message: format!("`{name}` is {what}; call it through {endpoint}"),
        })
    }

    /// The model called `name`, or an error that lists what exists.
    pub(crate) fn find(&self, name: &str) -> Result<&ModelSettings, GatewayError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| GatewayError::UnknownModel {
                model: name.to_string(),
                available: self
                    .models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// `GET /v1/models/{model}`: one model.
pub(crate) async fn retrieve(
    State(state): State<GatewayState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ModelEntry>, GatewayError> {
    state.models.find(&name).map(|m| Json(entry(m)))
}

fn entry(m: &ModelSettings) -> ModelEntry {
    ModelEntry {
        id: m.name.clone(),
        object: "model".to_string(),
        created: 0,
        owned_by: m.provider.clone(),
    }
}

/// `GET /v1/models`: the models this key may use.
pub(crate) async fn list(State(state): State<GatewayState>, _caller: Caller) -> Json<Value> {
    let data: Vec<ModelEntry> = state.models.models.iter().map(entry).collect();
    Json(json!({ "object": "list", "data": data }))
}
