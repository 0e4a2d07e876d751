//! The one mapping from what went wrong to an HTTP response, for every API but the model
//! surfaces (whose errors are the gateway's).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tollgate_store::keys::KeyRefusal;
use tollgate_store::StoreError;

/// Why a request to the audit, device or admin API failed: one mapping to HTTP responses, in
/// the OpenAI error shape (`error.message`, `type`, `code`), with `errors` listing every bad
/// field of a 422.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("no API key: send {0} as `Authorization: Bearer <key>`")]
    MissingKey(&'static str),
    #[error("the API key is not valid: check that it was copied whole")]
    InvalidKey,
    #[error("{0}")]
    WrongKeyKind(&'static str),
    #[error(transparent)]
    Key(KeyRefusal),
    #[error("this key lacks the scope {0}; ask your tenant admin for a key with it (`tollgate keys create-admin --scope {0}`)")]
    MissingScope(&'static str),
    #[error("this device is deactivated; register it again with a key of your organisation")]
    DeviceInactive,
    #[error("{} field(s) are not valid: {}", .0.len(), .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<tollgate_pii::ConfigError>),
    #[error(
        "the system log is read only by superusers, and this key's person is not one any more"
    )]
    NotSuperuser,
    #[error("there is no log {0} for this key: a key reads its own tenant's log, or the system log with audit:read:system")]
    UnknownLog(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal error; the cause is logged with the request id")]
    Internal,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError as E;
        const INVALID: &str = "invalid_request_error";
        match self {
            E::MissingKey(_) => (StatusCode::UNAUTHORIZED, INVALID, "missing_api_key"),
            E::InvalidKey => (StatusCode::UNAUTHORIZED, INVALID, "invalid_api_key"),
            E::WrongKeyKind(_) => (StatusCode::UNAUTHORIZED, INVALID, "wrong_key_kind"),
            E::DeviceInactive => (StatusCode::UNAUTHORIZED, INVALID, "device_inactive"),
            E::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                INVALID,
                "validation_failed",
            ),
            E::Key(refusal) => tollgate_gateway::refusal_parts(refusal),
            E::MissingScope(_) => (StatusCode::FORBIDDEN, "permission_error", "missing_scope"),
            E::NotSuperuser => (StatusCode::FORBIDDEN, "permission_error", "not_superuser"),
            E::UnknownLog(_) => (StatusCode::NOT_FOUND, INVALID, "unknown_log"),
            E::BadRequest(_) => (StatusCode::BAD_REQUEST, INVALID, "invalid_request"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, INVALID, "not_found"),
            E::Conflict(_) => (StatusCode::CONFLICT, INVALID, "conflict"),
            E::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                INVALID,
                "precondition_failed",
            ),
            E::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "database_unavailable",
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::OutOfRange(message) => ApiError::BadRequest(message),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            e if e.is_unavailable() => ApiError::Unavailable,
            e => {
                tracing::error!(err = %e, "API: store error");
                ApiError::Internal
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, code) = self.parts();
        let mut body =
            json!({ "error": { "message": self.to_string(), "type": kind, "code": code } });
        if let ApiError::Invalid(errors) = &self {
            body["error"]["errors"] = json!(errors);
        }
        (status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}
