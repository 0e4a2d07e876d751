//! Request bodies: size limit and JSON parsing with errors that name the field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::GatewayError;

/// Reads a JSON body; a bad one is refused with the field at fault.
pub(crate) fn parse<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, GatewayError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GatewayError::TooLarge { limit }
        } else {
            GatewayError::InvalidJson(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })?;
    let mut json = serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            GatewayError::InvalidJson(format!("the body is not valid JSON: {inner}"))
        } else if path == "." {
            GatewayError::InvalidJson(format!(
                "the body must be a JSON object of this endpoint's fields: {inner}"
            ))
        } else {
            GatewayError::InvalidJson(format!("invalid field `{path}`: {inner}"))
        }
    })
}
