//! Streams from one API's shape to the other's, event by event, as they arrive: OpenAI chunks
//! into Anthropic's message events, and Anthropic's events into OpenAI chunks. Each translator
//! keeps only what it must to stay well formed (the open content block, the tool indexes,
//! the stop reason and token counts that arrive before the end).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::response::{anthropic_usage, finish_reason, openai_usage, stop_reason, usage_json};
use crate::openai::Usage;
use crate::stream::Outgoing;

/// The content block an Anthropic stream has open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Text(u32),
    Tool(u32),
}

impl Block {
    fn index(self) -> u32 {
        match self {
            Block::Text(i) | Block::Tool(i) => i,
        }
    }
}

/// OpenAI chunks in, Anthropic message events out.
#[derive(Debug, Default)]
pub struct ChatToMessages {
    started: bool,
    open: Option<Block>,
    next_block: u32,
    /// OpenAI tool-call index to Anthropic block index.
    tool_blocks: HashMap<u64, u32>,
    finish: Option<String>,
    usage: Option<Usage>,
    /// Input tokens to announce in `message_start`, when known before the stream.
    input: Option<u32>,
    ended: bool,
}

impl ChatToMessages {
    /// A translator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A translator that announces `input` tokens in `message_start`, as Anthropic does.
    pub fn with_input_tokens(input: u32) -> Self {
        Self {
            input: Some(input),
            ..Self::default()
        }
    }

    /// The events for one chunk.
    pub fn chunk(&mut self, chunk: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        self.start(chunk, &mut out);
        if let Some(usage) = openai_usage(chunk.get("usage")) {
            self.usage = Some(usage);
        }
        let choice = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
            });
        let Some(choice) = choice else {
            return out;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = match self.open {
                Some(Block::Text(i)) => i,
                _ => {
                    self.close(&mut out);
                    let i = self.open_block(Block::Text);
                    out.push(json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}));
                    i
                }
            };
            out.push(json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let tool = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let index = match self.tool_blocks.get(&tool) {
                Some(i) => *i,
                None => {
                    self.close(&mut out);
                    let i = self.open_block(Block::Tool);
                    self.tool_blocks.insert(tool, i);
                    out.push(json!({"type": "content_block_start", "index": i, "content_block": {
                        "type": "tool_use",
                        "id": call.get("id").cloned().unwrap_or_else(|| json!(format!("toolu_{i}"))),
                        "name": call.pointer("/function/name").cloned().unwrap_or(json!("")),
                        "input": {}
                    }}));
                    i
                }
            };
            if let Some(args) = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                out.push(json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": args}}));
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(reason.to_string());
        }
        out
    }

    /// The events that end the message: the open block closed, the stop reason with the
    /// output tokens (when the upstream gave them), the stop.
    pub fn finish(&mut self) -> Vec<Value> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let mut out = Vec::new();
        self.start(&Value::Null, &mut out);
        self.close(&mut out);
        let stop = stop_reason(self.finish.as_deref().unwrap_or("stop"));
        let mut delta =
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}});
        if let Some(u) = self.usage {
            delta["usage"] =
                json!({"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens});
        }
        out.push(delta);
        out.push(json!({"type": "message_stop"}));
        out
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<Value>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = chunk
            .get("id")
            .and_then(Value::as_str)
            .map(|id| format!("msg_{}", id.trim_start_matches("chatcmpl-")));
        out.push(json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant",
            "model": chunk.get("model").cloned().unwrap_or(Value::Null),
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": self.input.unwrap_or(0), "output_tokens": 0}
        }}));
    }

    fn open_block(&mut self, kind: fn(u32) -> Block) -> u32 {
        let i = self.next_block;
        self.next_block += 1;
        self.open = Some(kind(i));
        i
    }

    fn close(&mut self, out: &mut Vec<Value>) {
        if let Some(block) = self.open.take() {
            out.push(json!({"type": "content_block_stop", "index": block.index()}));
        }
    }
}

/// Anthropic message events in, OpenAI chunks out.
#[derive(Debug)]
pub struct MessagesToChat {
    id: String,
    model: Value,
    created: i64,
    /// Anthropic block index to OpenAI tool-call index.
    tools: HashMap<u64, u32>,
    input: Option<u32>,
    output: Option<u32>,
    finished: bool,
    ended: bool,
}

impl MessagesToChat {
    /// A translator at the start of a stream; chunks carry `created`.
    pub fn new(created: i64) -> Self {
        Self {
            id: String::new(),
            model: Value::Null,
            created,
            tools: HashMap::new(),
            input: None,
            output: None,
            finished: false,
            ended: false,
        }
    }

    /// The chunks for one event (`ping` and block ends have none).
    pub fn event(&mut self, event: &Value) -> Vec<Outgoing> {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let msg = event.get("message").unwrap_or(&Value::Null);
                if let Some(id) = msg.get("id").and_then(Value::as_str) {
                    self.id = format!("chatcmpl-{}", id.trim_start_matches("msg_"));
                }
                self.model = msg.get("model").cloned().unwrap_or(Value::Null);
                // message_start's output count is a placeholder (often 1); the real one
                // comes with message_delta.
                self.input = anthropic_usage(msg.get("usage")).0;
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" => {
                let block = event.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let tool = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                        self.tools.insert(index, tool);
                        vec![self.chunk(json!({"tool_calls": [{
                            "index": tool, "id": block.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {"name": block.get("name").cloned().unwrap_or(Value::Null), "arguments": ""}
                        }]}), None)]
                    }
                    Some("text") => match block.get("text").and_then(Value::as_str) {
                        Some(t) if !t.is_empty() => vec![self.chunk(json!({"content": t}), None)],
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                }
            }
            "content_block_delta" => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        vec![self.chunk(
                            json!({"content": delta.get("text").cloned().unwrap_or(json!(""))}),
                            None,
                        )]
                    }
                    Some("input_json_delta") => {
                        let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                        let tool = self.tools.get(&index).copied().unwrap_or(0);
                        vec![self.chunk(
                            json!({"tool_calls": [{"index": tool, "function": {
                                "arguments": delta.get("partial_json").cloned().unwrap_or(json!(""))
                            }}]}),
                            None,
                        )]
                    }
                    // Thinking and signatures have no place in an OpenAI chunk.
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                let (input, output) = anthropic_usage(event.get("usage"));
                self.input = input.or(self.input);
                self.output = output.or(self.output);
                let stop = event
                    .pointer("/delta/stop_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                self.finished = true;
                vec![self.chunk(json!({}), Some(finish_reason(stop)))]
            }
            "message_stop" => self.finish(),
            "error" => {
                self.ended = true;
                vec![
                    Outgoing::Json(json!({"error": {
                        "message": event.pointer("/error/message").cloned().unwrap_or(json!("the provider failed mid-stream")),
                        "type": event.pointer("/error/type").cloned().unwrap_or(json!("api_error")),
                        "param": null, "code": null
                    }})),
                    Outgoing::Done,
                ]
            }
            _ => Vec::new(),
        }
    }

    /// The chunks that end the stream: the finish reason if none came, the usage chunk when
    /// the upstream gave counts, then `[DONE]`.
    pub fn finish(&mut self) -> Vec<Outgoing> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let mut out = Vec::new();
        if !self.finished {
            out.push(self.chunk(json!({}), Some("stop")));
        }
        // Only the counts Anthropic gave: a stream cut before `message_delta` has no output
        // count, and the meter counts the output itself.
        let usage = match (self.input, self.output) {
            (None, None) => None,
            (Some(i), Some(o)) => Some(usage_json(Usage::new(i, o))),
            (Some(i), None) => Some(json!({"prompt_tokens": i})),
            (None, Some(o)) => Some(json!({"completion_tokens": o})),
        };
        if let Some(usage) = usage {
            let mut last = self.base();
            last["choices"] = json!([]);
            last["usage"] = usage;
            out.push(Outgoing::Json(last));
        }
        out.push(Outgoing::Done);
        out
    }

    fn base(&self) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model})
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Outgoing {
        let mut c = self.base();
        c["choices"] = json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
        Outgoing::Json(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn chunk(delta: Value, finish: Option<&str>) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    #[test]
    fn openai_text_then_tool_call_becomes_two_blocks() {
        let mut t = ChatToMessages::new();
        let mut out = Vec::new();
        out.extend(t.chunk(&chunk(json!({"role": "assistant", "content": ""}), None)));
        out.extend(t.chunk(&chunk(json!({"content": "Hi "}), None)));
        out.extend(t.chunk(&chunk(json!({"content": "there"}), None)));
        out.extend(t.chunk(&chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}), None)));
        out.extend(t.chunk(&chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}),
            None,
        )));
        out.extend(t.chunk(&chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            None,
        )));
        out.extend(t.chunk(&chunk(json!({}), Some("tool_calls"))));
        out.extend(t.chunk(&json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}})));
        out.extend(t.finish());
        assert!(t.finish().is_empty(), "the end comes once");
        assert_eq!(
            types(&out),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(out[0]["message"]["id"], "msg_1");
        assert_eq!(out[5]["content_block"]["name"], "f");
        assert_eq!(out[5]["index"], 1);
        assert_eq!(out[9]["delta"]["stop_reason"], "tool_use");
        assert_eq!(out[9]["usage"]["output_tokens"], 6);
    }

    #[test]
    fn an_empty_openai_stream_is_still_a_whole_message() {
        let mut t = ChatToMessages::new();
        let out = t.finish();
        assert_eq!(
            types(&out),
            ["message_start", "message_delta", "message_stop"]
        );
        assert!(out[1].get("usage").is_none(), "no invented counts");
    }

    fn anthropic_stream() -> Vec<Value> {
        vec![
            json!({"type": "message_start", "message": {"id": "msg_7", "model": "claude", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\": 1}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}}),
            json!({"type": "message_stop"}),
        ]
    }

    #[test]
    fn anthropic_events_become_openai_chunks_with_usage_last() {
        let mut t = MessagesToChat::new(5);
        let out: Vec<Outgoing> = anthropic_stream().iter().flat_map(|e| t.event(e)).collect();
        assert!(t.finish().is_empty());
        let json: Vec<&Value> = out
            .iter()
            .filter_map(|o| match o {
                Outgoing::Json(v) => Some(v),
                Outgoing::Done => None,
            })
            .collect();
        assert_eq!(out.last(), Some(&Outgoing::Done));
        assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(json[0]["id"], "chatcmpl-7");
        assert_eq!(json[1]["choices"][0]["delta"]["content"], "Hello");
        assert_eq!(
            json[2]["choices"][0]["delta"]["tool_calls"][0]["id"],
            "toolu_1"
        );
        assert_eq!(
            json[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\": 1}"
        );
        assert_eq!(json[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(json[5]["choices"], json!([]));
        assert_eq!(json[5]["usage"]["prompt_tokens"], 9);
        assert_eq!(json[5]["usage"]["completion_tokens"], 12);
    }

    #[test]
    fn an_anthropic_stream_cut_short_still_ends_well_formed() {
        let mut t = MessagesToChat::new(5);
        let events = anthropic_stream();
        let mut out: Vec<Outgoing> = events[..4].iter().flat_map(|e| t.event(e)).collect();
        out.extend(t.finish());
        let finish: Vec<&Value> = out
            .iter()
            .filter_map(|o| match o {
                Outgoing::Json(v) => v
                    .pointer("/choices/0/finish_reason")
                    .filter(|f| !f.is_null()),
                Outgoing::Done => None,
            })
            .collect();
        assert_eq!(finish, [&json!("stop")]);
        assert_eq!(out.last(), Some(&Outgoing::Done));
    }

    #[test]
    fn an_anthropic_error_event_becomes_an_openai_error_then_done() {
        let mut t = MessagesToChat::new(5);
        let out = t.event(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
        assert!(matches!(&out[0], Outgoing::Json(v) if v["error"]["type"] == "overloaded_error"));
        assert_eq!(out[1], Outgoing::Done);
        assert!(t.finish().is_empty());
    }
}
