//! The Anthropic Messages API request (`POST /v1/messages`) as Tollgate reads it. Fields it
//! does not interpret are kept in `extra` and passed through to Anthropic upstreams.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::openai::{measure, visit_text, Message};
use crate::tokens;

/// A `POST /v1/messages` body.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MessagesRequest {
    /// The model.
    pub model: String,
    /// Output limit (required by the API).
    pub max_tokens: u32,
    /// The conversation (`user` and `assistant` turns).
    pub messages: Vec<Message>,
    /// System prompt: a string or text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Value>,
    /// Stream the answer as events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Everything else (temperature, tools, tool_choice, stop_sequences, metadata, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MessagesRequest {
    /// Whether the answer is to be streamed.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Estimated input tokens: system prompt, turns, and tool definitions.
    pub fn prompt_token_estimate(&self) -> u32 {
        let mut system = 0u32;
        visit_text(self.system.as_ref(), &mut |t| {
            system = system.saturating_add(tokens::estimate(t))
        });
        let tools = self
            .extra
            .get("tools")
            .map_or(0, |t| tokens::estimate(&t.to_string()));
        system
            .saturating_add(measure(&self.messages).0)
            .saturating_add(tools)
    }

    /// Characters of prompt text, for the usage record (never the text itself).
    pub fn prompt_length(&self) -> usize {
        let mut system = 0;
        visit_text(self.system.as_ref(), &mut |t| system += t.chars().count());
        system + measure(&self.messages).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_blocks_and_keeps_what_it_does_not_interpret() {
        let req: MessagesRequest = serde_json::from_value(json!({
            "model": "m", "max_tokens": 5, "system": "be brief", "top_k": 3,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        }))
        .unwrap();
        assert_eq!(req.messages[0].text(), "hi");
        assert_eq!(req.prompt_length(), 10);
        assert!(req.prompt_token_estimate() >= 6);
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["top_k"], 3);
        assert!(back.get("stream").is_none());
    }
}
