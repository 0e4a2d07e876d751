//! The OpenAI chat completions wire format: what Tollgate reads of a request, and the
//! responses and stream chunks it writes. Fields Tollgate does not interpret are kept in
//! `extra` and passed through.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A `POST /v1/chat/completions` body.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ChatRequest {
    /// The model the caller names.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Stream the answer as server-sent events (`null` counts as false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Upper bound on output tokens (older name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Upper bound on output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Everything else (temperature, tools, ...), passed through as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `stream_options`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct StreamOptions {
    /// Send a final chunk with the usage of the whole call.
    #[serde(default)]
    pub include_usage: bool,
}

/// One message of the conversation.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool` or `developer`.
    pub role: String,
    /// Text, or a list of content parts; absent on some assistant tool-call messages.
    #[serde(default)]
    pub content: Option<Value>,
    /// Everything else (name, tool_calls, tool_call_id), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// The message's text: the string content, or the text parts joined by newlines.
    pub fn text(&self) -> String {
        content_text(self.content.as_ref())
    }
}

/// Calls `f` with each piece of text of a content value of either API (the string, or the
/// `text` of its parts, looking inside nested `content`), without copying any.
pub fn visit_text(content: Option<&Value>, f: &mut impl FnMut(&str)) {
    match content {
        Some(Value::String(s)) => f(s),
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("text") {
                    Some(Value::String(t)) => f(t),
                    _ => visit_text(part.get("content"), f),
                }
            }
        }
        _ => {}
    }
}

/// Estimated tokens and characters of the text of `messages` (each with a few tokens of
/// framing), in one pass that copies nothing.
pub fn measure(messages: &[Message]) -> (u32, usize) {
    let (mut tokens, mut chars) = (0u32, 0usize);
    for m in messages {
        tokens = tokens.saturating_add(4);
        visit_text(m.content.as_ref(), &mut |t| {
            tokens = tokens.saturating_add(crate::tokens::estimate(t));
            chars += t.chars().count();
        });
    }
    (tokens, chars)
}

/// The text of a content value of either API: a string, or the `text` of its parts (blocks)
/// joined by newlines, looking inside nested `content` (Anthropic tool results).
pub fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p.get("text") {
                Some(Value::String(t)) => Some(t.clone()),
                _ => p.get("content").map(|c| content_text(Some(c))),
            })
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

impl ChatRequest {
    /// Whether the answer is to be streamed.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The output limit the caller set, under either name.
    pub fn output_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Estimated input tokens: each message's text plus a few tokens of framing, and the tool
    /// definitions.
    pub fn prompt_token_estimate(&self) -> u32 {
        let tools = self
            .extra
            .get("tools")
            .map_or(0, |t| crate::tokens::estimate(&t.to_string()));
        measure(&self.messages).0.saturating_add(tools)
    }

    /// Characters of prompt text, for the usage record (never the text itself).
    pub fn prompt_length(&self) -> usize {
        measure(&self.messages).1
    }
}

/// Token counts of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    /// Input tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
}

impl Usage {
    /// Usage from input and output counts.
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }
}

/// `GET /v1/models` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ModelEntry {
    /// The name callers use.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix seconds (0: unknown).
    pub created: i64,
    /// Who serves it.
    pub owned_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_pass_through() {
        let body = json!({
            "model": "m", "messages": [{"role": "user", "content": "hi", "name": "ann"}],
            "temperature": 0.2, "tools": [{"type": "function"}]
        });
        let req: ChatRequest = serde_json::from_value(body).unwrap();
        assert_eq!(req.extra["temperature"], json!(0.2));
        assert_eq!(req.messages[0].extra["name"], json!("ann"));
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["tools"], json!([{"type": "function"}]));
        assert_eq!(back.get("stream_options"), None);
    }

    #[test]
    fn text_of_content_parts() {
        let m: Message = serde_json::from_value(json!({"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "b"}
        ]}))
        .unwrap();
        assert_eq!(m.text(), "a\nb");
    }
}
