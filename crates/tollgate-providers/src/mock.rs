//! The mock provider: answers deterministically from the request, so demos, tests and
//! benchmarks need no network. A user message containing `[mock:status 503]` (any status)
//! makes it fail with that status, to exercise error handling.

use crate::openai::{
    AnswerMessage, ChatChunk, ChatCompletion, ChatRequest, Choice, ChunkChoice, Delta, Usage,
};

/// A failure the caller asked the mock to produce.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the mock provider was asked to fail with status {status}")]
pub struct MockFailure {
    /// The HTTP status it fails with.
    pub status: u16,
}

/// What the mock answers.
#[derive(Clone, Debug, PartialEq)]
pub struct MockAnswer {
    /// The words of the answer, each ending in the whitespace that follows it.
    pub pieces: Vec<String>,
    /// `stop`, or `length` when the output limit cut it.
    pub finish_reason: &'static str,
    /// Token counts.
    pub usage: Usage,
}

impl MockAnswer {
    /// The whole text.
    pub fn text(&self) -> String {
        self.pieces.concat()
    }
}

/// The answer to `request`, or the failure it asks for.
pub fn answer(request: &ChatRequest, model: &str) -> Result<MockAnswer, MockFailure> {
    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.text())
        .unwrap_or_default();
    if let Some(status) = requested_failure(&last_user) {
        return Err(MockFailure { status });
    }
    let echo: String = last_user
        .split_whitespace()
        .take(24)
        .collect::<Vec<_>>()
        .join(" ");
    let text = if echo.is_empty() {
        format!("Hello from the {model} mock model of Tollgate.")
    } else {
        format!("This is the {model} mock model of Tollgate. You said: {echo}")
    };
    let mut pieces: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
    let mut finish_reason = "stop";
    if let Some(limit) = request.output_limit() {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
        if pieces.len() > limit {
            pieces.truncate(limit);
            finish_reason = "length";
        }
    }
    let prompt = request.prompt_token_estimate();
    let completion = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
    Ok(MockAnswer {
        pieces,
        finish_reason,
        usage: Usage::new(prompt, completion),
    })
}

fn requested_failure(text: &str) -> Option<u16> {
    let rest = text.split("[mock:status ").nth(1)?;
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    code.parse().ok().filter(|c| (400..600).contains(c))
}

/// The answer as one `chat.completion`.
pub fn completion(id: &str, created: i64, model: &str, answer: &MockAnswer) -> ChatCompletion {
    ChatCompletion {
        id: id.to_string(),
        object: "chat.completion".to_string(),
        created,
        model: model.to_string(),
        choices: vec![Choice {
            index: 0,
            message: AnswerMessage {
                role: "assistant".to_string(),
                content: answer.text(),
            },
            finish_reason: answer.finish_reason.to_string(),
        }],
        usage: answer.usage,
    }
}

/// The answer as stream chunks: the role, one chunk per word, the finish reason, and, when
/// `include_usage`, a last chunk with no choices and the usage.
pub fn chunks(
    id: &str,
    created: i64,
    model: &str,
    answer: &MockAnswer,
    include_usage: bool,
) -> Vec<ChatChunk> {
    let chunk = |delta: Delta, finish: Option<&str>| ChatChunk {
        id: id.to_string(),
        object: "chat.completion.chunk".to_string(),
        created,
        model: model.to_string(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish.map(str::to_string),
        }],
        usage: None,
    };
    let mut out = vec![chunk(
        Delta {
            role: Some("assistant".to_string()),
            content: Some(String::new()),
        },
        None,
    )];
    out.extend(answer.pieces.iter().map(|p| {
        chunk(
            Delta {
                role: None,
                content: Some(p.clone()),
            },
            None,
        )
    }));
    out.push(chunk(Delta::default(), Some(answer.finish_reason)));
    if include_usage {
        out.push(ChatChunk {
            id: id.to_string(),
            object: "chat.completion.chunk".to_string(),
            created,
            model: model.to_string(),
            choices: Vec::new(),
            usage: Some(answer.usage),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn answers_are_deterministic_and_echo_the_question() {
        let req = request(json!({"model": "m", "messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "What is Tollgate?"}
        ]}));
        let a = answer(&req, "mock-small").unwrap();
        assert_eq!(a, answer(&req, "mock-small").unwrap());
        assert!(
            a.text().ends_with("You said: What is Tollgate?"),
            "{}",
            a.text()
        );
        assert_eq!(a.finish_reason, "stop");
        assert_eq!(a.usage.completion_tokens as usize, a.pieces.len());
        assert!(a.usage.prompt_tokens > 0);
    }

    #[test]
    fn output_limit_cuts_with_length() {
        let req = request(
            json!({"model": "m", "max_tokens": 3, "messages": [{"role": "user", "content": "hello there"}]}),
        );
        let a = answer(&req, "mock-small").unwrap();
        assert_eq!(a.pieces.len(), 3);
        assert_eq!(a.finish_reason, "length");
    }

    #[test]
    fn failures_on_request() {
        let req = request(
            json!({"model": "m", "messages": [{"role": "user", "content": "please [mock:status 503]"}]}),
        );
        assert_eq!(answer(&req, "x"), Err(MockFailure { status: 503 }));
    }

    #[test]
    fn stream_reassembles_to_the_same_text_and_usage_comes_last() {
        let req = request(
            json!({"model": "m", "messages": [{"role": "user", "content": "one two three"}]}),
        );
        let a = answer(&req, "mock-small").unwrap();
        let stream = chunks("id", 1, "mock-small", &a, true);
        let text: String = stream
            .iter()
            .flat_map(|c| c.choices.iter())
            .filter_map(|c| c.delta.content.clone())
            .collect();
        assert_eq!(text, a.text());
        let last = stream.last().unwrap();
        assert!(last.choices.is_empty());
        assert_eq!(last.usage, Some(a.usage));
        assert_eq!(
            stream[stream.len() - 2].choices[0].finish_reason.as_deref(),
            Some("stop")
        );
        assert!(chunks("id", 1, "m", &a, false)
            .iter()
            .all(|c| c.usage.is_none()));
    }
}
