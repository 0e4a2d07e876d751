//! What every provider takes and gives: a call in the caller's API shape, and an answer in
//! that same shape (translated when the provider speaks the other one), whole or streamed.

use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use serde_json::Value;

use crate::anthropic::MessagesRequest;
use crate::embeddings::EmbeddingRequest;
use crate::openai::{visit_text, ChatRequest};
use crate::stream::{Outgoing, Wire};
use crate::tokens;
use crate::translate::TranslateError;

/// The request as the caller sent it.
#[derive(Clone, Copy, Debug)]
pub enum CallBody<'a> {
    /// `POST /v1/chat/completions`.
    Chat(&'a ChatRequest),
    /// `POST /v1/messages`.
    Messages(&'a MessagesRequest),
    /// `POST /v1/embeddings`.
    Embeddings(&'a EmbeddingRequest),
}

impl CallBody<'_> {
    /// The shape the answer must have.
    pub fn wire(&self) -> Wire {
        match self {
            CallBody::Messages(_) => Wire::Anthropic,
            CallBody::Chat(_) | CallBody::Embeddings(_) => Wire::OpenAi,
        }
    }

    /// Input tokens of the request by the tokenizer: every text, a few tokens of framing per
    /// message, the tool definitions (for when a provider reports none).
    pub fn counted_prompt(&self, how: tokens::Counting) -> u32 {
        let mut n = 0u32;
        let mut add = |t: &str| n = n.saturating_add(tokens::count_with(t, how));
        match self {
            CallBody::Chat(r) => {
                for m in &r.messages {
                    visit_text(m.content.as_ref(), &mut add);
                }
                if let Some(tools) = r.extra.get("tools") {
                    add(&tools.to_string());
                }
                n.saturating_add(4u32.saturating_mul(len32(r.messages.len())))
            }
            CallBody::Messages(r) => {
                visit_text(r.system.as_ref(), &mut add);
                for m in &r.messages {
                    visit_text(m.content.as_ref(), &mut add);
                }
                if let Some(tools) = r.extra.get("tools") {
                    add(&tools.to_string());
                }
                n.saturating_add(4u32.saturating_mul(len32(r.messages.len())))
            }
            CallBody::Embeddings(r) => {
                for text in r.texts().unwrap_or_default() {
                    add(&text);
                }
                n
            }
        }
    }

    /// Whether the caller wants the answer streamed.
    pub fn is_stream(&self) -> bool {
        match self {
            CallBody::Chat(r) => r.is_stream(),
            CallBody::Messages(r) => r.is_stream(),
            CallBody::Embeddings(_) => false,
        }
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One call to one provider.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The request.
    pub body: CallBody<'a>,
    /// The provider's name for the model.
    pub upstream_model: &'a str,
    /// The call's id (the request id), for answers that need one.
    pub id: &'a str,
    /// Unix seconds, stamped on translated chunks.
    pub created: i64,
    /// Vector length of the model (embedding models): what the mock returns by default.
    pub dimensions: u32,
}

/// Events of a streamed answer, in the caller's shape.
pub type Events = Pin<Box<dyn Stream<Item = Result<Outgoing, StreamFailure>> + Send>>;

/// A provider's answer.
pub enum Answer {
    /// The whole answer body, in the caller's shape.
    Whole(Value),
    /// The answer as it streams.
    Stream(Events),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Whole(v) => f.debug_tuple("Whole").field(v).finish(),
            Answer::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// Why a stream stopped before its end.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamFailure {
    /// No event for longer than the provider's `stream_idle_timeout_ms`.
    #[error("the provider sent nothing for {0:?}")]
    Idle(Duration),
    /// The connection broke.
    #[error("the connection to the provider broke: {0}")]
    Broken(String),
}

/// Why a provider did not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No connection could be made (refused, DNS, TLS).
    #[error("cannot reach the provider: {0}")]
    Connect(String),
    /// No answer within the attempt's time.
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The provider answered with an error status.
    #[error("the provider answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// What the provider said (with Tollgate's key scrubbed out).
        message: String,
        /// `Retry-After`, when the provider sent one.
        retry_after: Option<Duration>,
    },
    /// The provider refused Tollgate's own key (401/403): the operator's to fix.
    #[error("the provider refused Tollgate's credentials (status {0})")]
    Credentials(u16),
    /// The answer could not be read.
    #[error("the provider's answer could not be read: {0}")]
    BadAnswer(String),
    /// The circuit breaker is open after repeated failures.
    #[error("the provider failed repeatedly; calls resume in {0:?}")]
    CircuitOpen(Duration),
    /// The request cannot be put into the provider's API shape.
    #[error(transparent)]
    Translate(#[from] TranslateError),
}

impl UpstreamError {
    /// Whether another attempt (or another model) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_)
            | UpstreamError::Timeout(_)
            | UpstreamError::BadAnswer(_)
            | UpstreamError::CircuitOpen(_) => true,
            UpstreamError::Status { status, .. } => {
                *status == 429 || *status >= 500 || *status == 408
            }
            UpstreamError::Credentials(_) | UpstreamError::Translate(_) => false,
        }
    }

    /// Whether this failure says the provider is unwell (it counts toward the breaker); a
    /// rate limit or a refused request does not.
    pub fn is_outage(&self) -> bool {
        match self {
            UpstreamError::Connect(_) | UpstreamError::Timeout(_) | UpstreamError::BadAnswer(_) => {
                true
            }
            UpstreamError::Status { status, .. } => *status >= 500,
            UpstreamError::Credentials(_)
            | UpstreamError::CircuitOpen(_)
            | UpstreamError::Translate(_) => false,
        }
    }

    /// How long the provider asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            UpstreamError::Status { retry_after, .. } => *retry_after,
            UpstreamError::CircuitOpen(d) => Some(*d),
            _ => None,
        }
    }
}
