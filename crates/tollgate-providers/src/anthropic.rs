//! The Anthropic Messages API wire format (`POST /v1/messages`): the request as Tollgate reads
//! it, and the message and stream events it writes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::openai::{ChatRequest, Message};

/// A `POST /v1/messages` body.
#[derive(Clone, Debug, Deserialize)]
pub struct MessagesRequest {
    /// The model.
    pub model: String,
    /// Output limit (required by the API).
    pub max_tokens: u32,
    /// The conversation (`user` and `assistant` turns).
    pub messages: Vec<Message>,
    /// System prompt: a string or text blocks.
    #[serde(default)]
    pub system: Option<Value>,
    /// Stream the answer as events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Everything else, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MessagesRequest {
    /// Whether the answer is to be streamed.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The same conversation as an OpenAI chat request (the system prompt first).
    pub fn to_chat(&self) -> ChatRequest {
        let mut messages = Vec::with_capacity(self.messages.len() + 1);
        if let Some(system) = &self.system {
            messages.push(Message {
                role: "system".to_string(),
                content: Some(system.clone()),
                extra: Map::new(),
            });
        }
        messages.extend(self.messages.iter().cloned());
        ChatRequest {
            model: self.model.clone(),
            messages,
            stream: self.stream,
            stream_options: None,
            max_tokens: Some(self.max_tokens),
            max_completion_tokens: None,
            extra: Map::new(),
        }
    }
}

/// Anthropic's name for why generation stopped, from OpenAI's.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        _ => "end_turn",
    }
}

/// A whole message.
pub fn message(
    id: &str,
    model: &str,
    text: &str,
    stop: &str,
    input_tokens: u32,
    output_tokens: u32,
) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}
    })
}

/// One named server-sent event.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// The `event:` name.
    pub name: &'static str,
    /// The `data:` payload.
    pub data: Value,
}

impl Event {
    /// As SSE text.
    pub fn to_sse(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.name, self.data)
    }
}

/// The stream of a message: start, one text block with a delta per piece, the stop reason
/// with the output tokens, stop.
pub fn stream_events(
    id: &str,
    model: &str,
    pieces: &[String],
    stop: &str,
    input_tokens: u32,
    output_tokens: u32,
) -> Vec<Event> {
    let mut start = message(id, model, "", "", input_tokens, 0);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    let mut events = vec![
        Event {
            name: "message_start",
            data: json!({"type": "message_start", "message": start}),
        },
        Event {
            name: "content_block_start",
            data: json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        },
        Event {
            name: "ping",
            data: json!({"type": "ping"}),
        },
    ];
    events.extend(pieces.iter().map(|p| Event {
        name: "content_block_delta",
        data: json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}),
    }));
    events.push(Event {
        name: "content_block_stop",
        data: json!({"type": "content_block_stop", "index": 0}),
    });
    events.push(Event {
        name: "message_delta",
        data: json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output_tokens}}),
    });
    events.push(Event {
        name: "message_stop",
        data: json!({"type": "message_stop"}),
    });
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompt_leads_the_chat_form() {
        let req: MessagesRequest = serde_json::from_value(json!({
            "model": "m", "max_tokens": 5, "system": "be brief",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        }))
        .unwrap();
        let chat = req.to_chat();
        assert_eq!(chat.messages[0].role, "system");
        assert_eq!(chat.messages[1].text(), "hi");
        assert_eq!(chat.output_limit(), Some(5));
    }

    #[test]
    fn stream_has_the_event_sequence_of_the_api() {
        let events = stream_events("msg_1", "m", &["a ".into(), "b".into()], "end_turn", 3, 2);
        let names: Vec<&str> = events.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[0].data["message"]["usage"]["input_tokens"], 3);
        assert_eq!(events[6].data["usage"]["output_tokens"], 2);
        assert!(events[3]
            .to_sse()
            .starts_with("event: content_block_delta\ndata: {"));
    }
}
