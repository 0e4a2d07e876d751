//! Every way a data-plane call can fail, rendered in the OpenAI error shape with a stable
//! `code` and a message that says what to do. 5xx bodies are generic; the cause is logged with
//! the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tollgate_providers::translate::TranslateError;
use tollgate_providers::upstream::UpstreamError;
use tollgate_store::keys::KeyRefusal;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No key in `Authorization: Bearer` or `x-api-key`.
    #[error("no API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`")]
    MissingKey,
    /// Not a key Tollgate issued, or not a key at all.
    #[error("the API key is not valid: check that it was copied whole, or ask your tenant admin for one")]
    InvalidKey,
    /// An admin key on the data plane.
    #[error("this is an admin API key; model calls need a gateway key (tg_gw_...)")]
    WrongKeyKind,
    /// Revoked, expired or retired.
    #[error(transparent)]
    Key(#[from] KeyRefusal),
    /// The body is not the JSON the endpoint takes.
    #[error("{0}")]
    InvalidJson(String),
    /// A browser page on an origin the key's app does not allow.
    #[error(
        "the origin {origin} is not allowed to use this key; add it to the app's allowed_origins"
    )]
    OriginNotAllowed {
        /// The page's origin.
        origin: String,
    },
    /// The body is JSON of the right shape but asks for something impossible.
    #[error("{message}")]
    InvalidRequest {
        /// The field at fault.
        param: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// The PII firewall's policy blocks what the request contains.
    #[error("the request contains {types}, which this gateway's policy does not let leave; remove or replace them and retry")]
    SensitiveData {
        /// The types blocked, e.g. `SECRET, IBAN` (never the values).
        types: String,
        /// Every type found, sorted by name, for the usage record (not shown).
        found: Vec<String>,
    },
    /// Prompt and output limit do not fit the model's context.
    #[error("this call needs about {needed} tokens but `{model}` takes at most {limit}; shorten the messages or lower max_tokens")]
    ContextTooLong {
        /// The model.
        model: String,
        /// Its context window.
        limit: u32,
        /// Estimated prompt plus output limit.
        needed: u64,
    },
    /// No such endpoint under `/v1`.
    #[error("there is no endpoint {method} {path}; Tollgate serves POST /v1/chat/completions, POST /v1/messages, POST /v1/embeddings and GET /v1/models")]
    UnknownRoute {
        /// The method used.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// The endpoint exists with another method.
    #[error("{path} does not take {method}; see the API reference for the method it takes")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path.
        path: String,
    },
    /// The body is over `gateway.max_body_bytes`.
    #[error("the request body is larger than {limit} bytes; send less, or ask the operator to raise gateway.max_body_bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The model is not in the model table.
    #[error("the model `{model}` does not exist here; available models: {available}")]
    UnknownModel {
        /// What was asked for.
        model: String,
        /// What exists.
        available: String,
    },
    /// The key is limited to other models.
    #[error("the API key `{key}` may not call `{model}`; it may call: {allowed}. Ask your tenant admin to allow the model for this key")]
    ModelNotAllowed {
        /// What was asked for.
        model: String,
        /// The key's name.
        key: String,
        /// What the key may call ("none" when nothing).
        allowed: String,
    },
    /// Not enough credits left on the key.
    #[error("this API key has too few credits left ({remaining} micro-units, this call needs up to {needed}); ask your tenant admin to top it up")]
    InsufficientCredits {
        /// Left on the key.
        remaining: i64,
        /// Reserved for the call.
        needed: i64,
    },
    /// No provider answered: the last failure after every retry and fallback.
    #[error("{}", upstream_message(provider, *attempts, error))]
    Upstream {
        /// The provider of the last attempt.
        provider: String,
        /// Attempts made across retries and fallbacks.
        attempts: u32,
        /// What went wrong last.
        error: UpstreamError,
    },
    /// The database did not answer where the call needs it (an unknown key, credits).
    #[error("Tollgate cannot reach its database right now; retry in a few seconds")]
    StoreUnavailable(String),
    /// Our fault; the cause is in the log.
    #[error("internal error: {0}")]
    Internal(String),
}

/// HTTP status, OpenAI error type and stable code of a key that may not be used, on every
/// surface that takes keys.
pub fn refusal_parts(refusal: &KeyRefusal) -> (StatusCode, &'static str, &'static str) {
    match refusal {
        KeyRefusal::Revoked { .. } => (
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "key_revoked",
        ),
        KeyRefusal::Expired { .. } => (
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "key_expired",
        ),
        KeyRefusal::Inactive { .. } => (StatusCode::FORBIDDEN, "permission_error", "key_inactive"),
    }
}

impl GatewayError {
    /// HTTP status, OpenAI error type and stable code.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use GatewayError as E;
        const INVALID: &str = "invalid_request_error";
        match self {
            E::MissingKey => (StatusCode::UNAUTHORIZED, INVALID, "missing_api_key"),
            E::InvalidKey => (StatusCode::UNAUTHORIZED, INVALID, "invalid_api_key"),
            E::WrongKeyKind => (StatusCode::UNAUTHORIZED, INVALID, "wrong_key_kind"),
            E::Key(refusal) => refusal_parts(refusal),
            E::OriginNotAllowed { .. } => (
                StatusCode::FORBIDDEN,
                "permission_error",
                "origin_not_allowed",
            ),
            E::InvalidJson(_) => (StatusCode::BAD_REQUEST, INVALID, "invalid_json"),
            E::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, INVALID, "invalid_request"),
            E::SensitiveData { .. } => (StatusCode::BAD_REQUEST, INVALID, "sensitive_data_blocked"),
            E::ContextTooLong { .. } => {
                (StatusCode::BAD_REQUEST, INVALID, "context_length_exceeded")
            }
            E::UnknownRoute { .. } => (StatusCode::NOT_FOUND, INVALID, "unknown_url"),
            E::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                INVALID,
                "method_not_allowed",
            ),
            E::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, INVALID, "request_too_large"),
            E::UnknownModel { .. } => (StatusCode::NOT_FOUND, INVALID, "model_not_found"),
            E::ModelNotAllowed { .. } => (
                StatusCode::FORBIDDEN,
                "permission_error",
                "model_not_allowed",
            ),
            E::InsufficientCredits { .. } => (
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_quota",
                "insufficient_credits",
            ),
            E::Upstream { error, .. } => upstream_parts(error),
            E::StoreUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "database_unavailable",
            ),
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
            ),
        }
    }

    /// The stable code, for usage records and metrics.
    pub fn code(&self) -> &'static str {
        self.parts().2
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// Adds `Retry-After` when the provider asked for a pause (SDKs honour it).
    pub(crate) fn retry_header(&self, headers: &mut axum::http::HeaderMap) {
        if let GatewayError::Upstream { error, .. } = self {
            if let Some(wait) = error.retry_after() {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                headers.insert(axum::http::header::RETRY_AFTER, secs.into());
            }
        }
    }
}

/// What the caller is told when no provider answered. Never the provider's key: a refused
/// key is reported as the operator's to fix.
fn upstream_message(provider: &str, attempts: u32, error: &UpstreamError) -> String {
    let tries = if attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{attempts} attempts")
    };
    match error {
        UpstreamError::Status { status: 429, .. } => format!(
            "the provider `{provider}` is rate limiting Tollgate ({tries}); retry later"
        ),
        UpstreamError::Status { status, message, .. } if *status < 500 => {
            format!("the provider `{provider}` refused the request ({status}): {message}")
        }
        UpstreamError::Status { status, .. } => format!(
            "the provider `{provider}` failed with status {status} ({tries}); try again later or pick another model"
        ),
        UpstreamError::Timeout(_) => format!(
            "the provider `{provider}` did not answer in time ({tries}); try again later or pick another model"
        ),
        UpstreamError::Connect(_) | UpstreamError::BadAnswer(_) => format!(
            "the provider `{provider}` could not be reached or gave an unreadable answer ({tries}); try again later or pick another model"
        ),
        UpstreamError::Credentials(_) => format!(
            "the provider `{provider}` refused Tollgate's credentials; the operator must check providers.{provider}.api_key"
        ),
        UpstreamError::CircuitOpen(wait) => format!(
            "the provider `{provider}` is failing and calls to it are paused for {}s; try again then or pick another model",
            wait.as_secs().max(1)
        ),
        UpstreamError::Translate(t) => t.to_string(),
    }
}

fn upstream_parts(error: &UpstreamError) -> (StatusCode, &'static str, &'static str) {
    const INVALID: &str = "invalid_request_error";
    match error {
        // A provider's 4xx says the request cannot succeed as sent: pass it on (429 stays a
        // rate limit that SDKs retry); a 5xx or an unreadable answer becomes 502.
        UpstreamError::Status { status: 429, .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "upstream_rate_limited",
        ),
        UpstreamError::Status { status, .. } if (400..500).contains(status) => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            INVALID,
            "upstream_rejected",
        ),
        UpstreamError::Status { .. } | UpstreamError::Connect(_) | UpstreamError::BadAnswer(_) => {
            (StatusCode::BAD_GATEWAY, "api_error", "upstream_error")
        }
        UpstreamError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "api_error", "upstream_timeout"),
        UpstreamError::Credentials(_) => (
            StatusCode::BAD_GATEWAY,
            "api_error",
            "upstream_credentials_refused",
        ),
        UpstreamError::CircuitOpen(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "provider_unavailable",
        ),
        UpstreamError::Translate(TranslateError::Unsupported(_)) => {
            (StatusCode::BAD_REQUEST, INVALID, "unsupported_by_provider")
        }
        UpstreamError::Translate(TranslateError::Invalid(_)) => {
            (StatusCode::BAD_REQUEST, INVALID, "invalid_request")
        }
    }
}

impl From<tollgate_store::StoreError> for GatewayError {
    fn from(err: tollgate_store::StoreError) -> Self {
        if err.is_unavailable() {
            GatewayError::StoreUnavailable(err.to_string())
        } else {
            GatewayError::Internal(err.to_string())
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, kind, code) = self.parts();
        let message = match &self {
            GatewayError::StoreUnavailable(cause) => {
                tracing::error!(%cause, "database unavailable on the data plane");
                self.to_string()
            }
            GatewayError::Internal(cause) => {
                tracing::error!(%cause, "internal error on the data plane");
                "internal error; the request id in x-request-id locates the cause in the log"
                    .to_string()
            }
            other => other.to_string(),
        };
        let param = match &self {
            GatewayError::UnknownModel { .. } | GatewayError::ModelNotAllowed { .. } => {
                Some("model")
            }
            GatewayError::InvalidRequest { param, .. } => Some(*param),
            GatewayError::ContextTooLong { .. } => Some("messages"),
            _ => None,
        };
        let body =
            json!({ "error": { "message": message, "type": kind, "param": param, "code": code } });
        let mut response = (status, Json(body)).into_response();
        self.retry_header(response.headers_mut());
        response
    }
}
