//! The model table from the settings, each call's chain of candidates (the model asked for,
//! then its fallbacks that fit the prompt and that the key may use), and `GET /v1/models`.
//! A key limited to some models sees only those: in the list, in errors, as fallbacks.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use tollgate_config::{ModelKind, ModelSettings};
use tollgate_providers::openai::ModelEntry;
use tollgate_store::keys::KeyGrant;

use crate::auth::Caller;
use crate::{GatewayError, GatewayState};

/// The models callers may name.
pub(crate) struct ModelTable {
    models: Vec<Arc<ModelSettings>>,
}

impl ModelTable {
    pub(crate) fn new(models: Vec<ModelSettings>) -> Self {
        Self {
            models: models.into_iter().map(Arc::new).collect(),
        }
    }

    /// The model called `name` if the key may call it and it is of `kind`; else an error
    /// that says which endpoint serves it.
    pub(crate) fn find_kind(
        &self,
        grant: &KeyGrant,
        name: &str,
        kind: ModelKind,
    ) -> Result<&Arc<ModelSettings>, GatewayError> {
        let model = self.find(grant, name)?;
        if model.kind == kind {
            return Ok(model);
        }
        let (what, endpoint) = match model.kind {
            ModelKind::Chat => ("a chat model", "/v1/chat/completions or /v1/messages"),
            ModelKind::Embedding => ("an embedding model", "/v1/embeddings"),
        };
        Err(GatewayError::InvalidRequest {
            param: "model",
            message: format!("`{name}` is {what}; call it through {endpoint}"),
        })
    }

    /// The model called `name` if the key may call it, or an error that lists what the key
    /// may call.
    pub(crate) fn find(
        &self,
        grant: &KeyGrant,
        name: &str,
    ) -> Result<&Arc<ModelSettings>, GatewayError> {
        let usable = || {
            let names: Vec<&str> = self.usable(grant).map(|m| m.name.as_str()).collect();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        let Some(model) = self.models.iter().find(|m| m.name == name) else {
            return Err(GatewayError::UnknownModel {
                model: name.to_string(),
                available: usable(),
            });
        };
        if !grant.may_use(name) {
            return Err(GatewayError::ModelNotAllowed {
                model: name.to_string(),
                key: grant.name.clone(),
                allowed: usable(),
            });
        }
        Ok(model)
    }

    /// The models the key may call, in table order.
    fn usable<'a>(&'a self, grant: &'a KeyGrant) -> impl Iterator<Item = &'a Arc<ModelSettings>> {
        self.models.iter().filter(|m| grant.may_use(&m.name))
    }

    /// The candidates for a call of `model` needing `needed` tokens of context: the model
    /// itself (refused when too small: the caller named it), then those of its fallbacks whose
    /// context is large enough.
    pub(crate) fn chain(
        &self,
        grant: &KeyGrant,
        model: &Arc<ModelSettings>,
        needed: u64,
    ) -> Result<Vec<Arc<ModelSettings>>, GatewayError> {
        if needed > u64::from(model.context_tokens) {
            return Err(GatewayError::ContextTooLong {
                model: model.name.clone(),
                limit: model.context_tokens,
                needed,
            });
        }
        let fallbacks = model
            .fallbacks
            .iter()
            .filter_map(|name| self.usable(grant).find(|m| &m.name == name))
            .filter(|m| needed <= u64::from(m.context_tokens))
            .cloned();
        Ok(std::iter::once(model.clone()).chain(fallbacks).collect())
    }
}

/// `GET /v1/models/{model}`: one model.
pub(crate) async fn retrieve(
    State(state): State<GatewayState>,
    Caller(grant): Caller,
    Path(name): Path<String>,
) -> Result<Json<ModelEntry>, GatewayError> {
    state.models.find(&grant, &name).map(|m| Json(entry(m)))
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
pub(crate) async fn list(State(state): State<GatewayState>, Caller(grant): Caller) -> Json<Value> {
    let data: Vec<ModelEntry> = state.models.usable(&grant).map(|m| entry(m)).collect();
    Json(json!({ "object": "list", "data": data }))
}
