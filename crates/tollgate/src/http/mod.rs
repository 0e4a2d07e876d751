//! The HTTP surface. Read the layers top to bottom: every request gets an id and is counted
//! and logged (`observe`), then reaches its route.

mod health;
mod metrics;
mod observe;

use axum::routing::get;
use axum::Router;
use tollgate_store::Store;

/// Shared state of every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
}

pub(crate) fn router(store: Store) -> Router {
    let handle = metrics::handle();
    Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(move || metrics::render(handle.clone())))
        .fallback(health::not_found)
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(AppState { store })
}
