//! Tollgate's data plane, in the order a call takes it: `auth` (key to grant), `models` (the
//! model table), `charge` (credits reserved, then settled), `chat` (the call itself) and
//! `record` (the usage record). Errors render in the OpenAI shape (`error`).

mod auth;
mod body;
mod charge;
mod chat;
mod cors;
mod embeddings;
mod error;
mod forward;
mod messages;
mod models;
mod record;
mod reservation;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{any, get, post};
use axum::Router;
use tollgate_config::Settings;
use tollgate_store::Store;

pub use error::GatewayError;
pub use record::{UsageSink, UsageWriter};

/// What every data-plane handler shares.
#[derive(Clone)]
pub struct GatewayState {
    store: Store,
    models: Arc<models::ModelTable>,
    keys: Arc<auth::KeyCache>,
    settings: Arc<Settings>,
    usage: UsageSink,
}

impl GatewayState {
    /// The data plane over `store`, configured by `settings`, recording usage into `usage`.
    pub fn new(store: Store, settings: &Settings, usage: UsageSink) -> Self {
        Self {
            keys: Arc::new(auth::KeyCache::new(std::time::Duration::from_secs(
                settings.gateway.key_cache_seconds,
            ))),
            models: Arc::new(models::ModelTable::new(settings.models.clone())),
            settings: Arc::new(settings.clone()),
            store,
            usage,
        }
    }
}

/// The `/v1` routes keys call.
pub fn router(state: GatewayState) -> Router {
    let limit = state.settings.gateway.max_body_bytes;
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/messages", post(messages::messages))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{model}", get(models::retrieve))
        .route("/v1/{*rest}", any(unknown_route))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(cors::cors))
        .with_state(state)
}

async fn unknown_route(method: Method, uri: Uri) -> GatewayError {
    GatewayError::UnknownRoute {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> GatewayError {
    GatewayError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}
