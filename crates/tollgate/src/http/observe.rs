//! Every request gets a fresh id (returned as `x-request-id`), a log line and metrics.
//! Ids are always ours: a client-sent `x-request-id` is not trusted, because usage records
//! use the id as their unique key.

use std::time::Instant;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use tollgate_domain::id::RequestId;

use super::AppState;

pub(crate) async fn observe(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let client = client_ip(&state, &request);
    let request_id = uuid::Uuid::now_v7();
    let id = request_id.to_string();
    request.extensions_mut().insert(RequestId(request_id));
    let method = request.method().clone();
    let route = route_label(request.uri().path());
    let uri = request.uri().clone();

    let mut response = next.run(request).await;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let labels = [
        (
            "method",
            metrics::SharedString::const_str(method_label(&method)),
        ),
        ("route", metrics::SharedString::const_str(route)),
        ("status", metrics::SharedString::from(status.to_string())),
    ];
    metrics::counter!("tollgate_http_requests_total", &labels).increment(1);
    metrics::histogram!("tollgate_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %uri.path(),
        client = %client.map(|ip| ip.to_string()).unwrap_or_default(),
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A low-cardinality label for the metrics: the route, never the raw path.
fn route_label(path: &str) -> &'static str {
    match path {
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/v1/chat/completions" => "/v1/chat/completions",
        "/v1/messages" => "/v1/messages",
        "/v1/embeddings" => "/v1/embeddings",
        "/v1/models" => "/v1/models",
        p if p.starts_with("/v1/models/") => "/v1/models/{model}",
        _ => "unmatched",
    }
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::OPTIONS => "OPTIONS",
        M::HEAD => "HEAD",
        M::PUT => "PUT",
        M::DELETE => "DELETE",
        M::PATCH => "PATCH",
        _ => "other",
    }
}

/// The client's address, believing `X-Forwarded-For` only from trusted proxies.
fn client_ip(state: &AppState, request: &Request) -> Option<std::net::IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip();
    let forwarded: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(tollgate_domain::proxy::client_ip(
        peer,
        &forwarded,
        &state.trusted_proxies,
    ))
}
