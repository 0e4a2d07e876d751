//! Providers over HTTP: any OpenAI-compatible server and Anthropic's Messages API. The request
//! goes out in the provider's shape (passed through when the caller speaks it, translated when
//! not), and the answer comes back in the caller's, streamed event by event as it arrives.

use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::{json, Value};
use tollgate_config::{ProviderKind, ProviderSettings};

use crate::retry;
use crate::stream::{Converter, Outgoing, Wire};
use crate::translate::request::{chat_to_messages, messages_to_chat};
use crate::translate::response::{completion_to_message, message_to_completion};
use crate::translate::TranslateError;
use crate::upstream::{Answer, Call, CallBody, StreamFailure, UpstreamError};

/// Most bytes of an error answer read (enough for any provider's error JSON).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Why a provider cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A header name or value, or the base URL, is not valid.
    #[error("providers.{provider}: {detail}")]
    Header {
        /// The provider.
        provider: String,
        /// What is wrong.
        detail: String,
    },
    /// The HTTP client could not be built.
    #[error("providers.{provider}: cannot build the HTTP client: {detail}")]
    Client {
        /// The provider.
        provider: String,
        /// Why.
        detail: String,
    },
}

/// Where each kind of call goes.
struct Urls {
    chat: reqwest::Url,
    embeddings: reqwest::Url,
}

/// An OpenAI-compatible or Anthropic provider.
pub struct HttpProvider {
    wire: Wire,
    base: String,
    /// The endpoint of each call, parsed once.
    urls: Urls,
    key: Option<String>,
    /// Sends the auth and extra headers on every call.
    client: reqwest::Client,
    attempt_timeout: Duration,
    idle_timeout: Duration,
    stream_usage: bool,
    default_max_tokens: u32,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("wire", &self.wire)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpProvider {
    /// The provider `name` as configured, calling with `key`.
    pub fn new(
        name: &str,
        settings: &ProviderSettings,
        key: Option<String>,
    ) -> Result<Self, SetupError> {
        let wire = match settings.kind {
            ProviderKind::Anthropic => Wire::Anthropic,
            ProviderKind::Openai | ProviderKind::Mock => Wire::OpenAi,
        };
        let header_error = |detail: String| SetupError::Header {
            provider: name.to_string(),
            detail,
        };
        let mut headers = HeaderMap::new();
        for (k, v) in &settings.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| header_error(format!("header `{k}`: {e}")))?;
            let value =
                HeaderValue::from_str(v).map_err(|e| header_error(format!("header `{k}`: {e}")))?;
            headers.insert(name, value);
        }
        if let Some(key) = &key {
            let (name, value) = match wire {
                Wire::OpenAi => ("authorization", format!("Bearer {key}")),
                Wire::Anthropic => ("x-api-key", key.clone()),
            };
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| header_error("the API key holds characters a header cannot".into()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if wire == Wire::Anthropic {
            let version = HeaderValue::from_str(&settings.anthropic_version)
                .map_err(|e| header_error(format!("anthropic_version: {e}")))?;
            headers.insert("anthropic-version", version);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            // A provider's redirect is not followed (it would resend the key elsewhere), and
            // the environment's proxy settings do not apply: base_url says where calls go.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| SetupError::Client {
                provider: name.to_string(),
                detail: e.to_string(),
            })?;
        let base = settings.endpoint().to_string();
        let url = |path: &str| {
            reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| SetupError::Header {
                provider: name.to_string(),
                detail: format!("base_url `{base}` is not a URL: {e}"),
            })
        };
        let urls = match wire {
            Wire::OpenAi => Urls {
                chat: url("/chat/completions")?,
                embeddings: url("/embeddings")?,
            },
            Wire::Anthropic => Urls {
                chat: url("/v1/messages")?,
                embeddings: url("/v1/embeddings")?,
            },
        };
        Ok(Self {
            wire,
            urls,
            base,
            key,
            client,
            attempt_timeout: Duration::from_millis(settings.attempt_timeout_ms),
            idle_timeout: Duration::from_millis(settings.stream_idle_timeout_ms),
            stream_usage: settings.stream_usage,
            default_max_tokens: settings.default_max_tokens,
        })
    }

    /// One attempt: the request out, the answer (or its start, when streamed) back within the
    /// attempt timeout.
    pub async fn call(&self, call: &Call<'_>) -> Result<Answer, UpstreamError> {
        let (url, body) = self.request(call)?;
        let stream = call.body.is_stream();
        let caller = call.body.wire();
        let created = call.created;
        let attempt = async {
            let response = self
                .client
                .post(url)
                .json(&body)
                .send()
                .await
                .map_err(|e| connect_error(&e))?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                return Err(self.failure(response).await);
            }
            let is_sse = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
            if stream && is_sse {
                return Ok(Answer::Stream(self.events(response, caller, created)));
            }
            let bytes = response.bytes().await.map_err(|e| connect_error(&e))?;
            let whole: Value = serde_json::from_slice(&bytes)
                .map_err(|e| UpstreamError::BadAnswer(format!("not JSON: {e}")))?;
            if stream {
                // A JSON answer to a stream request: usually an error in a 200.
                return Err(UpstreamError::BadAnswer(format!(
                    "expected a stream, got: {}",
                    self.scrub(&error_message(&whole, &bytes))
                )));
            }
            Ok(Answer::Whole(match (self.wire, caller) {
                (Wire::Anthropic, Wire::OpenAi) => message_to_completion(&whole, created),
                (Wire::OpenAi, Wire::Anthropic) => completion_to_message(&whole),
                _ => whole,
            }))
        };
        match tokio::time::timeout(self.attempt_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout(self.attempt_timeout)),
        }
    }

    /// The URL and body for the provider's shape.
    fn request(&self, call: &Call<'_>) -> Result<(reqwest::Url, Value), UpstreamError> {
        let model = call.upstream_model;
        let with_model = |mut v: Value| {
            v["model"] = json!(model);
            v
        };
        let serialized = |r: Result<Value, serde_json::Error>| {
            r.map_err(|e| UpstreamError::Translate(TranslateError::Invalid(e.to_string())))
        };
        Ok(match (self.wire, call.body) {
            (Wire::OpenAi, CallBody::Chat(r)) => {
                let mut body = with_model(serialized(serde_json::to_value(r))?);
                if r.is_stream() && self.stream_usage {
                    body["stream_options"]["include_usage"] = json!(true);
                }
                (self.urls.chat.clone(), body)
            }
            (Wire::OpenAi, CallBody::Messages(r)) => (
                self.urls.chat.clone(),
                messages_to_chat(r, model, self.stream_usage)?,
            ),
            (Wire::OpenAi, CallBody::Embeddings(r)) => (
                self.urls.embeddings.clone(),
                with_model(serialized(serde_json::to_value(r))?),
            ),
            (Wire::Anthropic, CallBody::Messages(r)) => (
                self.urls.chat.clone(),
                with_model(serialized(serde_json::to_value(r))?),
            ),
            (Wire::Anthropic, CallBody::Chat(r)) => (
                self.urls.chat.clone(),
                chat_to_messages(r, model, self.default_max_tokens)?,
            ),
            (Wire::Anthropic, CallBody::Embeddings(_)) => {
                return Err(TranslateError::Unsupported("embeddings".into()).into())
            }
        })
    }

    /// The error of a non-2xx answer.
    async fn failure(&self, response: reqwest::Response) -> UpstreamError {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = retry::retry_after(
            header("retry-after-ms").as_deref(),
            header("retry-after").as_deref(),
            SystemTime::now(),
        );
        let bytes = read_limited(response, ERROR_BODY_LIMIT).await;
        let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = self.scrub(&error_message(&parsed, &bytes));
        if status == 401 || status == 403 {
            tracing::warn!(status, %message, "the provider refused Tollgate's credentials");
            return UpstreamError::Credentials(status);
        }
        UpstreamError::Status {
            status,
            message,
            retry_after,
        }
    }

    /// The caller's events from the provider's stream, each read within the idle timeout.
    fn events(
        &self,
        response: reqwest::Response,
        caller: Wire,
        created: i64,
    ) -> crate::upstream::Events {
        let converter = Converter::new(self.wire, caller, created);
        let idle = self.idle_timeout;
        let state = (response.bytes_stream(), converter, false);
        let stream = futures_util::stream::unfold(
            state,
            move |(mut body, mut converter, over)| async move {
                if over {
                    return None;
                }
                let batch: Vec<Result<Outgoing, StreamFailure>> =
                    match tokio::time::timeout(idle, body.next()).await {
                        Ok(Some(Ok(bytes))) => {
                            return Some((
                                converter
                                    .feed(&bytes)
                                    .into_iter()
                                    .map(Ok)
                                    .collect::<Vec<_>>(),
                                (body, converter, false),
                            ))
                        }
                        Ok(None) => converter.finish().into_iter().map(Ok).collect(),
                        Ok(Some(Err(e))) => vec![Err(StreamFailure::Broken(e.to_string()))],
                        Err(_) => vec![Err(StreamFailure::Idle(idle))],
                    };
                Some((batch, (body, converter, true)))
            },
        )
        .flat_map(futures_util::stream::iter);
        Box::pin(stream)
    }

    /// `text` with Tollgate's key replaced, should a provider echo it.
    fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(key) if key.len() >= 8 => text.replace(key.as_str(), "****"),
            _ => text.to_string(),
        }
    }
}

fn connect_error(e: &reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        return UpstreamError::Timeout(Duration::ZERO);
    }
    // The source chain says what failed (refused, DNS, TLS); the URL is ours, not secret.
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    UpstreamError::Connect(detail)
}

/// The provider's own words: `error.message` in either API's error shape, else the start of
/// the body.
fn error_message(parsed: &Value, raw: &[u8]) -> String {
    let message = parsed
        .pointer("/error/message")
        .or_else(|| parsed.get("message"))
        .or_else(|| parsed.get("error").filter(|e| e.is_string()))
        .and_then(Value::as_str);
    match message {
        Some(m) => m.to_string(),
        None => String::from_utf8_lossy(&raw[..raw.len().min(300)])
            .trim()
            .to_string(),
    }
}

async fn read_limited(response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = response.bytes_stream();
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        out.extend_from_slice(&chunk[..chunk.len().min(limit - out.len())]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_of_both_shapes() {
        let openai =
            json!({"error": {"message": "bad temperature", "type": "invalid_request_error"}});
        assert_eq!(error_message(&openai, b""), "bad temperature");
        let anthropic = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(error_message(&anthropic, b""), "Overloaded");
        assert_eq!(
            error_message(&Value::Null, b"  upstream connect error  "),
            "upstream connect error"
        );
    }

    #[test]
    fn the_key_never_leaves_in_a_message() {
        let settings = ProviderSettings::default();
        let p =
            HttpProvider::new("openai", &settings, Some("sk-live-abcdef123456".into())).unwrap();
        assert_eq!(
            p.scrub("Incorrect key sk-live-abcdef123456 given"),
            "Incorrect key **** given"
        );
        assert!(!format!("{p:?}").contains("sk-live-abcdef123456"));
    }
}
