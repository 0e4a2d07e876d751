//! Tollgate's data plane, in the order a call takes it: `auth` (key to grant, `cors` for
//! browsers), `body` (parse), the surface (`chat`, `messages`, `embeddings`), `models` (the
//! model and its fallbacks), `reservation` and `charge` (credits held, then settled),
//! `firewall` (personal data and secrets redacted, blocked or logged), `forward` (to the providers), `relay` (a streamed answer), `record` (the usage record).
//! Errors render in the OpenAI shape (`error`), or Anthropic's on `/v1/messages`.

mod auth;
mod body;
mod charge;
mod chat;
mod cors;
mod embeddings;
mod error;
mod firewall;
mod forward;
mod messages;
mod models;
mod record;
mod relay;
mod reservation;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{any, get, post};
use axum::Router;
use tollgate_config::Settings;
use tollgate_providers::dispatch::Upstream;
use tollgate_providers::http::SetupError;
use tollgate_store::Store;

pub use error::{refusal_parts, GatewayError};
pub use record::{Recovered, UsageJournal, UsageSink, UsageWriter};
pub use tollgate_journal::JournalError;

/// The configured providers, by name.
pub struct Upstreams(HashMap<String, Upstream>);

impl Upstreams {
    /// Every provider of `settings`, keys read from the environment where configured so.
    pub fn from_settings(settings: &Settings) -> Result<Self, SetupError> {
        settings
            .providers
            .iter()
            .map(|(name, p)| {
                Ok((
                    name.clone(),
                    Upstream::new(name, p, |v| std::env::var(v).ok())?,
                ))
            })
            .collect::<Result<HashMap<_, _>, _>>()
            .map(Self)
    }

    fn get(&self, name: &str) -> Option<&Upstream> {
        self.0.get(name)
    }
}

/// What every data-plane handler shares.
#[derive(Clone)]
pub struct GatewayState {
    store: Store,
    models: Arc<models::ModelTable>,
    upstreams: Arc<Upstreams>,
    keys: Arc<auth::KeyCache>,
    credits: Arc<reservation::CreditBook>,
    inflight: Arc<relay::Inflight>,
    settings: Arc<Settings>,
    usage: UsageSink,
    /// The PII firewall, unless `pii.enabled` is off.
    firewall: Option<Arc<firewall::Firewall>>,
}

impl GatewayState {
    /// The data plane over `store`, configured by `settings`, calling `upstreams`, recording
    /// usage into `usage`, leasing credits as `holder` (the journal's, see [`UsageJournal`]).
    pub fn new(
        store: Store,
        settings: &Settings,
        upstreams: Arc<Upstreams>,
        usage: UsageSink,
        holder: uuid::Uuid,
    ) -> Self {
        Self {
            credits: Arc::new(reservation::CreditBook::new(
                store.clone(),
                holder,
                &settings.gateway,
            )),
            upstreams,
            inflight: Arc::new(relay::Inflight::default()),
            keys: Arc::new(auth::KeyCache::new(std::time::Duration::from_secs(
                settings.gateway.key_cache_seconds,
            ))),
            models: Arc::new(models::ModelTable::new(settings.models.clone())),
            settings: Arc::new(settings.clone()),
            firewall: firewall::Firewall::new(&settings.pii).map(Arc::new),
            store,
            usage,
        }
    }
}

impl GatewayState {
    /// Waits, at most `within`, until every answered call has settled its credits and written
    /// its usage record (streams whose client left settle after the connection is gone).
    /// `false` when some had not.
    pub async fn settled(&self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, self.inflight.idle())
            .await
            .is_ok()
    }

    /// Gives back, every few seconds until `stop`, the credit leases of keys that went idle.
    pub async fn return_idle_credits(&self, stop: impl std::future::Future<Output = ()>) {
        let idle = std::time::Duration::from_secs(self.settings.gateway.credit_lease_idle_seconds);
        let mut tick = tokio::time::interval(idle.max(std::time::Duration::from_secs(1)) / 2);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = tick.tick() => self.credits.return_idle(idle).await,
                _ = &mut stop => return,
            }
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
