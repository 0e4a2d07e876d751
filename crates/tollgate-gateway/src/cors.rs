//! Browser callers (seed 000's allowed origins). A preflight is answered for any origin, since
//! it carries no key; the call itself is refused unless its `Origin` is one of the key's app's
//! `allowed_origins` (checked in `auth`). Responses to calls with an `Origin` name it back, so a
//! page can read errors as well as answers.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How long a browser may cache a preflight.
const PREFLIGHT_MAX_AGE: &str = "600";

pub(crate) async fn cors(request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let mut response = if preflight {
        let asked = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type, x-api-key"));
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        r
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-request-id, x-tollgate-cost-micros, x-tollgate-credits-remaining, x-tollgate-model, x-tollgate-attempts, retry-after",
        ),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// Whether `origin` may call with a key of an app that allows `allowed`.
pub(crate) fn allowed(origin: &str, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn origins_match_exactly_or_by_wildcard() {
        let list = vec![
            "https://app.example.com".to_string(),
            "http://localhost:3000/".to_string(),
        ];
        assert!(allowed("https://app.example.com", &list));
        assert!(allowed("http://localhost:3000", &list));
        assert!(!allowed("https://evil.example.com", &list));
        assert!(!allowed("https://app.example.com.evil.net", &list));
        assert!(!allowed("https://app.example.com", &[]));
        assert!(allowed("https://anything.example", &["*".to_string()]));
    }
}
