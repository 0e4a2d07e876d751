//! Whole (non-streamed) answers from one API's shape to the other's, and the pieces both
//! directions share: stop reasons and token counts.

use serde_json::{json, Value};

use super::request::parse_arguments;
use crate::openai::Usage;

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Anthropic's `stop_reason` for OpenAI's `finish_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Token counts of an OpenAI `usage` object; `None` when it has none.
pub fn openai_usage(usage: Option<&Value>) -> Option<Usage> {
    match openai_counts(usage) {
        (None, None) => None,
        (prompt, completion) => Some(Usage::new(prompt.unwrap_or(0), completion.unwrap_or(0))),
    }
}

/// Input and output tokens of an OpenAI `usage` object, each when present.
pub fn openai_counts(usage: Option<&Value>) -> (Option<u32>, Option<u32>) {
    let Some(u) = usage.filter(|u| u.is_object()) else {
        return (None, None);
    };
    let n = |k: &str| {
        u.get(k)
            .and_then(Value::as_u64)
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
    };
    (n("prompt_tokens"), n("completion_tokens"))
}

/// Input tokens of an Anthropic `usage` object, cache reads and writes included (they are
/// input the model read), and output tokens when present.
pub fn anthropic_usage(usage: Option<&Value>) -> (Option<u32>, Option<u32>) {
    let Some(u) = usage.filter(|u| u.is_object()) else {
        return (None, None);
    };
    let n = |k: &str| {
        u.get(k)
            .and_then(Value::as_u64)
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
    };
    let input = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|k| n(k))
    .reduce(u32::saturating_add);
    (input, n("output_tokens"))
}

/// An OpenAI `usage` object.
pub fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    })
}

/// An Anthropic `usage` object.
pub fn anthropic_usage_json(usage: Usage) -> Value {
    json!({"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens})
}

/// The `chat.completion` for an Anthropic message.
pub fn message_to_completion(msg: &Value, created: i64) -> Value {
    let blocks = msg
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| {
            json!({
                "id": b.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": b.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": b.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                }
            })
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let stop = msg
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    let id = msg
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("chatcmpl-{}", id.trim_start_matches("msg_")));
    let mut completion = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": msg.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(stop)}],
    });
    // Counts only when the provider gave them: invented zeros would be billed as real.
    if let (Some(input), output) = anthropic_usage(msg.get("usage")) {
        completion["usage"] = usage_json(Usage::new(input, output.unwrap_or(0)));
    }
    completion
}

/// The Anthropic message for an OpenAI `chat.completion` (its first choice).
pub fn completion_to_message(completion: &Value) -> Value {
    let choice = completion.pointer("/choices/0").unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    let text = crate::openai::content_text(message.get("content"));
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    if let Some(Value::Array(calls)) = message.get("tool_calls") {
        for call in calls {
            content.push(json!({
                "type": "tool_use",
                "id": call.get("id").cloned().unwrap_or(Value::Null),
                "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                "input": parse_arguments(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}")),
            }));
        }
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let id = completion
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("msg_{}", id.trim_start_matches("chatcmpl-")));
    let mut message = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").cloned().unwrap_or(Value::Null),
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
    });
    if let Some(usage) = openai_usage(completion.get("usage")) {
        message["usage"] = anthropic_usage_json(usage);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_message_with_text_and_a_tool_call() {
        let msg = json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude",
            "content": [
                {"type": "thinking", "thinking": "hmm"},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}
        });
        let c = message_to_completion(&msg, 42);
        assert_eq!(c["id"], "chatcmpl-01");
        assert_eq!(c["created"], 42);
        assert_eq!(c["choices"][0]["message"]["content"], "Let me look.");
        assert_eq!(
            c["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Oslo\"}"
        );
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            c["usage"],
            json!({"prompt_tokens": 15, "completion_tokens": 7, "total_tokens": 22})
        );
    }

    #[test]
    fn openai_completion_with_only_a_tool_call() {
        let c = json!({
            "id": "chatcmpl-9", "object": "chat.completion", "model": "gpt",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        });
        let m = completion_to_message(&c);
        assert_eq!(m["id"], "msg_9");
        assert_eq!(
            m["content"],
            json!([{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}])
        );
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["usage"], json!({"input_tokens": 3, "output_tokens": 4}));
    }

    #[test]
    fn reasons_map_both_ways() {
        for f in ["stop", "length", "tool_calls", "content_filter"] {
            assert_eq!(finish_reason(stop_reason(f)), f);
        }
        assert_eq!(finish_reason("stop_sequence"), "stop");
        assert_eq!(openai_usage(Some(&json!({}))), None);
        assert_eq!(openai_usage(Some(&Value::Null)), None);
    }
}
