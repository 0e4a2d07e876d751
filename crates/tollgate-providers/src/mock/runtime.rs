//! The mock provider at work: latency, directives and the per-prompt attempt counts that
//! `[mock:flaky N]` needs, answering in whichever shape the caller speaks. The same provider
//! serves in-process (the default model table) and behind `tollgate mock-provider`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use super::{answer, chunks, completion, last_user_text, Directives};
use crate::embeddings::mock_response;
use crate::openai::ChatRequest;
use crate::stream::{Converter, Outgoing, Wire};
use crate::translate::request::messages_to_chat;
use crate::translate::response::completion_to_message;
use crate::upstream::{Answer, Call, CallBody, StreamFailure};

/// A failure the mock was asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the mock provider was asked to fail with status {status}")]
pub struct MockError {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, when asked for.
    pub retry_after: Option<Duration>,
    /// The message a real provider would give.
    pub message: String,
}

/// Prompts whose attempts are counted for `[mock:flaky N]`, at most; past this the counts
/// start over (a test's prompts are few).
const MAX_COUNTED: usize = 10_000;

/// The mock provider.
#[derive(Debug, Default)]
pub struct MockProvider {
    latency: Duration,
    attempts: Mutex<HashMap<u64, u32>>,
}

impl MockProvider {
    /// A mock that waits `latency` before an answer and between streamed events.
    pub fn new(latency: Duration) -> Self {
        Self {
            latency,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Answers `call`, or fails as its directives ask.
    pub async fn call(&self, call: &Call<'_>) -> Result<Answer, MockError> {
        let chat = match call.body {
            CallBody::Chat(r) => r.clone(),
            CallBody::Messages(r) => {
                let body =
                    messages_to_chat(r, call.upstream_model, false).map_err(|e| MockError {
                        status: 400,
                        retry_after: None,
                        message: e.to_string(),
                    })?;
                serde_json::from_value::<ChatRequest>(body).map_err(|e| MockError {
                    status: 400,
                    retry_after: None,
                    message: e.to_string(),
                })?
            }
            CallBody::Embeddings(r) => return self.embed(r, call).await,
        };
        let text = last_user_text(&chat);
        let directives = Directives::parse(&text);
        if let Some(ms) = directives.slow_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self.fail_if_asked(&directives, &text)?;
        let answer = answer(&chat, call.upstream_model);
        let id = format!("chatcmpl-{}", call.id);
        let wire = call.body.wire();
        if !call.body.is_stream() {
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            let mut whole = completion(&id, call.created, call.upstream_model, &answer);
            if directives.no_usage {
                if let Some(o) = whole.as_object_mut() {
                    o.remove("usage");
                }
            }
            return Ok(Answer::Whole(match wire {
                Wire::OpenAi => whole,
                Wire::Anthropic => completion_to_message(&whole),
            }));
        }
        let mut events = chunks(&id, call.created, call.upstream_model, &answer);
        if directives.no_usage {
            events.pop();
        }
        let cut = directives.cut.map(|n| n + 1).filter(|n| *n < events.len());
        if let Some(n) = cut {
            events.truncate(n);
        }
        let mut converter = Converter::new(Wire::OpenAi, wire, call.created);
        if !directives.no_usage {
            converter = converter.with_input_tokens(answer.usage.prompt_tokens);
        }
        let mut out: Vec<Outgoing> = events
            .into_iter()
            .flat_map(|e| converter.value(e))
            .collect();
        if cut.is_none() {
            out.extend(converter.done());
        }
        let latency = self.latency;
        let stream = futures_util::stream::iter(out).then(move |event| async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            Ok::<_, StreamFailure>(event)
        });
        Ok(Answer::Stream(Box::pin(stream)))
    }

    async fn embed(
        &self,
        request: &crate::embeddings::EmbeddingRequest,
        call: &Call<'_>,
    ) -> Result<Answer, MockError> {
        let texts = request.texts().map_err(|e| MockError {
            status: 400,
            retry_after: None,
            message: e.to_string(),
        })?;
        let joined = texts.join(" ");
        self.fail_if_asked(&Directives::parse(&joined), &joined)?;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let dimensions = request.dimensions.unwrap_or(call.dimensions).max(1) as usize;
        let (response, _) = mock_response(request, &texts, call.upstream_model, dimensions);
        Ok(Answer::Whole(
            serde_json::to_value(response).unwrap_or(Value::Null),
        ))
    }

    fn fail_if_asked(&self, d: &Directives, text: &str) -> Result<(), MockError> {
        let retry_after = d.retry_after.map(|s| Duration::from_secs(u64::from(s)));
        if let Some(status) = d.status {
            return Err(MockError {
                status,
                retry_after,
                message: format!("the mock provider fails with {status} as asked"),
            });
        }
        if let Some(failures) = d.flaky {
            let mut hasher = DefaultHasher::new();
            text.hash(&mut hasher);
            let key = hasher.finish();
            let seen = {
                let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
                if attempts.len() >= MAX_COUNTED {
                    attempts.clear();
                }
                let n = attempts.entry(key).or_insert(0);
                *n += 1;
                *n
            };
            if seen <= failures {
                return Err(MockError {
                    status: 503,
                    retry_after,
                    message: format!(
                        "the mock provider is flaky: attempt {seen} of {failures} failing"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    async fn collect(answer: Answer) -> Vec<Outgoing> {
        match answer {
            Answer::Stream(s) => s.map(|e| e.unwrap()).collect().await,
            Answer::Whole(v) => panic!("expected a stream, got {v}"),
        }
    }

    #[tokio::test]
    async fn flaky_prompts_fail_then_succeed() {
        let mock = MockProvider::default();
        let req = chat(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi [mock:flaky 2]"}]}),
        );
        let call = Call {
            body: CallBody::Chat(&req),
            upstream_model: "m",
            id: "1",
            created: 0,
            dimensions: 0,
        };
        assert_eq!(mock.call(&call).await.unwrap_err().status, 503);
        assert_eq!(mock.call(&call).await.unwrap_err().status, 503);
        assert!(mock.call(&call).await.is_ok());
    }

    #[tokio::test]
    async fn a_cut_stream_has_no_end() {
        let mock = MockProvider::default();
        let req = chat(
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "a b c d e f [mock:cut 2]"}]}),
        );
        let call = Call {
            body: CallBody::Chat(&req),
            upstream_model: "m",
            id: "1",
            created: 0,
            dimensions: 0,
        };
        let events = collect(mock.call(&call).await.unwrap()).await;
        assert_eq!(events.len(), 3, "role chunk and two pieces: {events:?}");
        assert!(!events.contains(&Outgoing::Done));
    }

    #[tokio::test]
    async fn answers_anthropic_callers_in_their_shape() {
        let mock = MockProvider::default();
        let req: crate::anthropic::MessagesRequest = serde_json::from_value(json!({
            "model": "m", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hello"}]
        })).unwrap();
        let call = Call {
            body: CallBody::Messages(&req),
            upstream_model: "m",
            id: "1",
            created: 0,
            dimensions: 0,
        };
        let events = collect(mock.call(&call).await.unwrap()).await;
        let first = match &events[0] {
            Outgoing::Json(v) => v.clone(),
            Outgoing::Done => Value::Null,
        };
        assert_eq!(first["type"], "message_start");
        assert!(matches!(events.last(), Some(Outgoing::Json(v)) if v["type"] == "message_stop"));
    }
}
