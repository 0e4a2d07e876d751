//! The HTTP surface. Read the layers top to bottom: every request gets an id and is counted
//! and logged (`observe`), then reaches its route.

mod admin;
mod audit;
mod devices;
mod error;
mod firewall;
mod health;
mod metrics;
mod observe;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tollgate_config::Settings;
use tollgate_domain::proxy::IpRange;
use tollgate_store::Store;

/// Shared state of every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    /// Proxies whose forwarded headers are believed.
    pub trusted_proxies: Arc<[IpRange]>,
    /// Public keys of the audit checkpoints (`name+id+key`).
    pub audit_keys: Arc<[String]>,
    /// What the firewall does per type (`[pii]`), for device scans.
    pub pii: Arc<tollgate_config::PiiSettings>,
    /// Each tenant's detector, with its custom patterns.
    pub scanners: Arc<devices::TenantScanners>,
    /// Rows per retention transaction.
    pub retention_batch: u32,
}

pub(crate) fn router(
    store: Store,
    settings: &Settings,
    gateway: tollgate_gateway::GatewayState,
) -> Router {
    let server = &settings.server;
    let handle = metrics::handle();
    // The settings were checked when loaded; a range that does not parse is not trusted.
    let trusted_proxies: Arc<[IpRange]> = server
        .trusted_proxies
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    let gateway = tollgate_gateway::router(gateway);
    // Checked when the application was built.
    let audit_keys: Arc<[String]> = crate::checkpoints::trusted(&settings.audit)
        .unwrap_or_default()
        .iter()
        .map(|k| k.to_vkey())
        .collect();
    let state = AppState {
        store,
        trusted_proxies,
        audit_keys,
        pii: Arc::new(settings.pii.clone()),
        scanners: Arc::default(),
        retention_batch: settings.retention.batch_size,
    };
    Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(move || metrics::render(handle.clone())))
        .merge(audit::routes())
        .merge(devices::routes())
        .merge(firewall::routes())
        .fallback(health::not_found)
        .with_state(state.clone())
        .merge(gateway)
        .layer(axum::middleware::from_fn_with_state(
            state,
            observe::observe,
        ))
}
