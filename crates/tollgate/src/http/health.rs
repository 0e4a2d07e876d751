//! Liveness and readiness for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;

/// The process is up and serving.
pub(crate) async fn alive() -> impl IntoResponse {
    Json(json!({ "status": "alive", "version": env!("CARGO_PKG_VERSION") }))
}

/// Ready to take traffic: the database answers and its schema is this build's.
pub(crate) async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = match state.store.ping(Duration::from_secs(2)).await {
        Ok(()) => Ok(()),
        Err(err) => {
            tracing::warn!(%err, "readiness: database unreachable");
            Err("unreachable")
        }
    };
    let migrations = match database {
        Err(_) => Err("unknown"),
        Ok(()) => match state.store.migrations_current().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("pending: run `tollgate migrate up`"),
            Err(err) => {
                tracing::warn!(%err, "readiness: cannot read migration state");
                Err("unknown")
            }
        },
    };
    let ready = database.is_ok() && migrations.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "checks": {
            "database": database.err().unwrap_or("ok"),
            "migrations": migrations.err().unwrap_or("current"),
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Any path no route serves.
pub(crate) async fn not_found(uri: Uri) -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": {
                "code": "not_found",
                "message": format!("nothing is served at {}; try /healthz, /readyz or /metrics", uri.path()),
            }
        })),
    )
}
