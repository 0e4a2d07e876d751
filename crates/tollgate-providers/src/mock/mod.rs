//! The mock provider's answers: deterministic, from the request alone, in the OpenAI shape
//! (other shapes are translated from it). It echoes the last user message, calls the first
//! tool when tools are offered, answers a tool result, and honours the output limit.
//!
//! Directives in the last user message make it misbehave on purpose, for tests and demos:
//! `[mock:status 503]` fails with that status, `[mock:retry-after 2]` adds `Retry-After`,
//! `[mock:flaky 2]` fails the first two attempts of the same prompt with 503, `[mock:cut 3]`
//! ends a stream after three pieces without its end, `[mock:slow 200]` waits 200 ms first,
//! `[mock:no-usage]` reports no token counts, `[mock:leak]` adds personal data and a key of
//! its own to the answer (for testing the scanning of answers).

mod runtime;

pub use runtime::{MockError, MockProvider};

use serde_json::{json, Value};

use crate::openai::{content_text, ChatRequest, Usage};
use crate::tokens;
use crate::translate::response::usage_json;

/// How the caller asked the mock to misbehave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// Fail with this status.
    pub status: Option<u16>,
    /// Seconds for `Retry-After` on a failure.
    pub retry_after: Option<u32>,
    /// Fail this many attempts of the same prompt with 503 first.
    pub flaky: Option<u32>,
    /// Stop a stream after this many pieces, without its end.
    pub cut: Option<usize>,
    /// Wait this long before answering, in milliseconds.
    pub slow_ms: Option<u64>,
    /// Report no token counts, like servers without usage reporting.
    pub no_usage: bool,
    /// Add [`LEAK`] to the answer.
    pub leak: bool,
}

/// What `[mock:leak]` adds to an answer: a card, an email and a key no request sent.
pub const LEAK: &str = "Here is what I found: card 4000 0566 5566 5556, mail leak.victim@example.org, and the key sk-live-0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2yZ3 in the logs.";

impl Directives {
    /// The directives in `text`.
    pub fn parse(text: &str) -> Self {
        let number = |name: &str| -> Option<u64> {
            let rest = text.split(&format!("[mock:{name} ")).nth(1)?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        Self {
            status: number("status")
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..600).contains(s)),
            retry_after: number("retry-after").and_then(|s| u32::try_from(s).ok()),
            flaky: number("flaky").and_then(|s| u32::try_from(s).ok()),
            cut: number("cut").and_then(|s| usize::try_from(s).ok()),
            slow_ms: number("slow"),
            no_usage: text.contains("[mock:no-usage]"),
            leak: text.contains("[mock:leak]"),
        }
    }
}

/// A tool call the mock makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    /// Call id.
    pub id: String,
    /// The function.
    pub name: String,
    /// Its arguments, as JSON text.
    pub arguments: String,
}

/// What the mock answers.
#[derive(Clone, Debug, PartialEq)]
pub struct MockAnswer {
    /// The words of the answer, each ending in the whitespace that follows it.
    pub pieces: Vec<String>,
    /// The tool it calls instead of answering, if any.
    pub tool_call: Option<ToolCall>,
    /// `stop`, `length` when the output limit cut it, or `tool_calls`.
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

/// The text of the last user message: what the mock echoes and reads directives from.
pub fn last_user_text(request: &ChatRequest) -> String {
    request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.text())
        .unwrap_or_default()
}

/// The answer to `request` from the model called `model`.
pub fn answer(request: &ChatRequest, model: &str) -> MockAnswer {
    let prompt = request.prompt_token_estimate();
    if let Some(call) = tool_call(request) {
        let completion = tokens::estimate(&call.arguments).saturating_add(4);
        return MockAnswer {
            pieces: Vec::new(),
            tool_call: Some(call),
            finish_reason: "tool_calls",
            usage: Usage::new(prompt, completion),
        };
    }
    let last = request.messages.last();
    let text = if last.is_some_and(|m| m.role == "tool") {
        let result = last.map(|m| m.text()).unwrap_or_default();
        format!("The tool answered: {}", words(&result))
    } else {
        let echo = words(&last_user_text(request));
        let said = if echo.is_empty() {
            format!("Hello from the {model} mock model of Tollgate.")
        } else {
            format!("This is the {model} mock model of Tollgate. You said: {echo}")
        };
        if Directives::parse(&last_user_text(request)).leak {
            format!("{said} {LEAK}")
        } else {
            said
        }
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
    let completion = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
    MockAnswer {
        pieces,
        tool_call: None,
        finish_reason,
        usage: Usage::new(prompt, completion),
    }
}

/// At most 24 words of `text`, on one line.
fn words(text: &str) -> String {
    text.split_whitespace()
        .take(24)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The call the mock makes when the caller offers tools and the last turn is the user's: the
/// tool `tool_choice` names, else the first, with the user's words as its first parameter.
fn tool_call(request: &ChatRequest) -> Option<ToolCall> {
    let tools = request.extra.get("tools")?.as_array()?;
    let choice = request.extra.get("tool_choice");
    if choice.and_then(Value::as_str) == Some("none")
        || request.messages.last().is_none_or(|m| m.role != "user")
    {
        return None;
    }
    let wanted = choice
        .and_then(|c| c.pointer("/function/name"))
        .and_then(Value::as_str);
    let tool = tools.iter().find(|t| {
        wanted.is_none_or(|w| t.pointer("/function/name").and_then(Value::as_str) == Some(w))
    })?;
    let name = tool.pointer("/function/name")?.as_str()?.to_string();
    let params = tool.pointer("/function/parameters");
    let first_param = params
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .or_else(|| {
            params
                .and_then(|p| p.get("properties"))
                .and_then(Value::as_object)
                .and_then(|o| o.keys().next())
                .map(String::as_str)
        })
        .unwrap_or("input");
    let arguments =
        json!({ first_param: words(&content_text(request.messages.last()?.content.as_ref())) });
    Some(ToolCall {
        id: format!("call_mock_{}", name.len()),
        name,
        arguments: arguments.to_string(),
    })
}

/// The answer as one `chat.completion`.
pub fn completion(id: &str, created: i64, model: &str, answer: &MockAnswer) -> Value {
    let mut message = json!({"role": "assistant", "content": answer.text()});
    if let Some(call) = &answer.tool_call {
        message["content"] = Value::Null;
        message["tool_calls"] = json!([{
            "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}
        }]);
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": answer.finish_reason}],
        "usage": usage_json(answer.usage),
    })
}

/// The answer as stream chunks: the role, one chunk per word (or the tool call in two
/// pieces), the finish reason, and a last chunk with no choices and the usage.
pub fn chunks(id: &str, created: i64, model: &str, answer: &MockAnswer) -> Vec<Value> {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        })
    };
    let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    out.extend(
        answer
            .pieces
            .iter()
            .map(|p| chunk(json!({"content": p}), None)),
    );
    if let Some(call) = &answer.tool_call {
        out.push(chunk(
            json!({"tool_calls": [{"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]}),
            None,
        ));
        let mid = call.arguments.len() / 2;
        let mid = (mid..=call.arguments.len())
            .find(|i| call.arguments.is_char_boundary(*i))
            .unwrap_or(call.arguments.len());
        for part in [&call.arguments[..mid], &call.arguments[mid..]] {
            out.push(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
                None,
            ));
        }
    }
    out.push(chunk(json!({}), Some(answer.finish_reason)));
    out.push(json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [], "usage": usage_json(answer.usage)
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn answers_are_deterministic_and_echo_the_question() {
        let req = request(json!({"model": "m", "messages": [
            {"role": "system", "content": "be brief"}, {"role": "user", "content": "What is Tollgate?"}
        ]}));
        let a = answer(&req, "mock-small");
        assert_eq!(a, answer(&req, "mock-small"));
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
        let a = answer(&req, "mock-small");
        assert_eq!(a.pieces.len(), 3);
        assert_eq!(a.finish_reason, "length");
    }

    #[test]
    fn directives_are_read_from_the_text() {
        let d = Directives::parse("please [mock:status 503] [mock:retry-after 2] [mock:cut 4] [mock:flaky 1] [mock:slow 30]");
        assert_eq!(
            d,
            Directives {
                status: Some(503),
                retry_after: Some(2),
                flaky: Some(1),
                cut: Some(4),
                slow_ms: Some(30),
                no_usage: false,
                leak: false,
            }
        );
        assert!(Directives::parse("[mock:no-usage]").no_usage);
        assert!(Directives::parse("tell me [mock:leak]").leak);
        assert_eq!(Directives::parse("[mock:status 200]").status, None);
        assert_eq!(Directives::parse("plain"), Directives::default());
    }

    #[test]
    fn calls_the_offered_tool_then_reads_its_result() {
        let tools = json!([{"type": "function", "function": {"name": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
        let req = request(
            json!({"model": "m", "tools": tools, "messages": [{"role": "user", "content": "Paris"}]}),
        );
        let a = answer(&req, "m");
        let call = a.tool_call.clone().unwrap();
        assert_eq!(call.name, "weather");
        assert_eq!(call.arguments, "{\"city\":\"Paris\"}");
        assert_eq!(a.finish_reason, "tool_calls");
        let c = completion("id", 1, "m", &a);
        assert_eq!(
            c["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "weather"
        );
        let args: String = chunks("id", 1, "m", &a)
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(args, call.arguments);

        let req = request(json!({"model": "m", "tools": tools, "messages": [
            {"role": "user", "content": "Paris"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "weather", "arguments": call.arguments}}]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
        ]}));
        let a = answer(&req, "m");
        assert_eq!(a.text(), "The tool answered: sunny, 21 C");
        let req = request(
            json!({"model": "m", "tools": tools, "tool_choice": "none", "messages": [{"role": "user", "content": "Paris"}]}),
        );
        assert!(answer(&req, "m").tool_call.is_none());
    }

    #[test]
    fn stream_reassembles_to_the_same_text_and_usage_comes_last() {
        let req = request(
            json!({"model": "m", "messages": [{"role": "user", "content": "one two three"}]}),
        );
        let a = answer(&req, "mock-small");
        let stream = chunks("id", 1, "mock-small", &a);
        let text: String = stream
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(text, a.text());
        let last = stream.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(
            last["usage"]["completion_tokens"],
            a.usage.completion_tokens
        );
        assert_eq!(
            stream[stream.len() - 2]["choices"][0]["finish_reason"],
            "stop"
        );
    }
}
