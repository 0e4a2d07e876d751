//! A streamed answer on its way to the caller. [`Converter`] turns the upstream's bytes into
//! events of the caller's API (translating when the two differ); [`StreamMeter`] watches
//! those events: it names the model as the caller knows it, counts tokens, keeps out what the
//! caller did not ask for, and holds back the end of the stream until the gateway has settled
//! and recorded the call, then ends it well formed even when the upstream just hung up.

use serde_json::{json, Value};

use crate::openai::Usage;
use crate::sse::{self, Decoder, SseEvent};
use crate::tokens;
use crate::translate::response::{
    anthropic_usage, anthropic_usage_json, openai_counts, usage_json,
};
use crate::translate::stream::{ChatToMessages, MessagesToChat};

/// An API shape: the OpenAI chat API or Anthropic's Messages API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// `/v1/chat/completions`.
    OpenAi,
    /// `/v1/messages`.
    Anthropic,
}

/// One event of the stream the caller reads, in the caller's shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    /// A JSON event (an OpenAI chunk, or an Anthropic event named by its `type`).
    Json(Value),
    /// The end marker (`data: [DONE]` on OpenAI streams, nothing on Anthropic's).
    Done,
}

impl Outgoing {
    /// Appends the event as SSE text for a caller of `wire` to `out`.
    pub fn encode_into(&self, wire: Wire, out: &mut Vec<u8>) {
        match (self, wire) {
            (Outgoing::Json(v), Wire::OpenAi) => {
                out.extend_from_slice(b"data: ");
                sse::write_json(out, v);
            }
            (Outgoing::Json(v), Wire::Anthropic) => {
                out.extend_from_slice(b"event: ");
                let name = v.get("type").and_then(Value::as_str).unwrap_or("message");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\ndata: ");
                sse::write_json(out, v);
            }
            (Outgoing::Done, Wire::OpenAi) => out.extend_from_slice(sse::DONE.as_bytes()),
            (Outgoing::Done, Wire::Anthropic) => {}
        }
    }

    /// The event as SSE text for a caller of `wire`.
    pub fn encode(&self, wire: Wire) -> String {
        let mut out = Vec::new();
        self.encode_into(wire, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

enum Conversion {
    OpenAi,
    Anthropic,
    ChatToMessages(ChatToMessages),
    MessagesToChat(MessagesToChat),
}

/// Upstream SSE bytes in, caller events out.
pub struct Converter {
    decoder: Decoder,
    conversion: Conversion,
}

impl Converter {
    /// For an upstream speaking `upstream` to a caller speaking `caller`; `created` stamps
    /// translated OpenAI chunks.
    pub fn new(upstream: Wire, caller: Wire, created: i64) -> Self {
        let conversion = match (upstream, caller) {
            (Wire::OpenAi, Wire::OpenAi) => Conversion::OpenAi,
            (Wire::Anthropic, Wire::Anthropic) => Conversion::Anthropic,
            (Wire::OpenAi, Wire::Anthropic) => Conversion::ChatToMessages(ChatToMessages::new()),
            (Wire::Anthropic, Wire::OpenAi) => {
                Conversion::MessagesToChat(MessagesToChat::new(created))
            }
        };
        Self {
            decoder: Decoder::new(),
            conversion,
        }
    }

    /// The caller events completed by these bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Outgoing> {
        let events = self.decoder.feed(bytes);
        events.into_iter().flat_map(|e| self.event(e)).collect()
    }

    /// The events left when the upstream closed the stream.
    pub fn finish(&mut self) -> Vec<Outgoing> {
        let mut out: Vec<Outgoing> = self
            .decoder
            .finish()
            .map(|e| self.event(e))
            .unwrap_or_default();
        match &mut self.conversion {
            Conversion::ChatToMessages(t) => out.extend(t.finish().into_iter().map(Outgoing::Json)),
            Conversion::MessagesToChat(t) => out.extend(t.finish()),
            Conversion::OpenAi | Conversion::Anthropic => {}
        }
        out
    }

    fn event(&mut self, event: SseEvent) -> Vec<Outgoing> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return self.done();
        }
        let Ok(mut value) = serde_json::from_str::<Value>(data) else {
            // Keep-alives and garbage between events: nothing the caller can use.
            return Vec::new();
        };
        if let (Some(name), Some(obj)) = (event.name, value.as_object_mut()) {
            obj.entry("type").or_insert_with(|| json!(name));
        }
        self.value(value)
    }

    /// Announces `input` tokens at the start of a translated Anthropic stream, as Anthropic
    /// itself does (for an in-process provider that knows them up front).
    pub fn with_input_tokens(mut self, input: u32) -> Self {
        if let Conversion::ChatToMessages(_) = self.conversion {
            self.conversion = Conversion::ChatToMessages(ChatToMessages::with_input_tokens(input));
        }
        self
    }

    /// The upstream's end marker (`[DONE]`).
    pub fn done(&mut self) -> Vec<Outgoing> {
        match &mut self.conversion {
            Conversion::ChatToMessages(t) => t.finish().into_iter().map(Outgoing::Json).collect(),
            _ => vec![Outgoing::Done],
        }
    }

    /// The caller events for one upstream event already parsed (an in-process provider).
    pub fn value(&mut self, value: Value) -> Vec<Outgoing> {
        match &mut self.conversion {
            Conversion::OpenAi | Conversion::Anthropic => vec![Outgoing::Json(value)],
            Conversion::ChatToMessages(t) => {
                if let Some(err) = value.get("error") {
                    return vec![Outgoing::Json(json!({"type": "error", "error": {
                        "type": err.get("type").cloned().unwrap_or(json!("api_error")),
                        "message": err.get("message").cloned().unwrap_or(json!("the provider failed mid-stream")),
                    }}))];
                }
                t.chunk(&value).into_iter().map(Outgoing::Json).collect()
            }
            Conversion::MessagesToChat(t) => t.event(&value),
        }
    }
}

/// What the caller's stream needs besides the events.
#[derive(Clone, Debug)]
pub struct StreamContext {
    /// The caller's API.
    pub wire: Wire,
    /// The model name the caller used.
    pub model: String,
    /// The id to use when the upstream sent none.
    pub id: String,
    /// Unix seconds, for chunks without `created`.
    pub created: i64,
    /// Whether an OpenAI caller asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// Watches and shapes the caller's events; see the module documentation.
pub struct StreamMeter {
    ctx: StreamContext,
    started: bool,
    open_blocks: Vec<u64>,
    finished: bool,
    ended: bool,
    held_delta: Option<Value>,
    upstream_input: Option<u32>,
    upstream_output: Option<u32>,
    /// The answer's text, for counting when the provider reports no output tokens.
    output_text: String,
    error: Option<String>,
}

impl StreamMeter {
    /// A meter at the start of a caller's stream.
    pub fn new(ctx: StreamContext) -> Self {
        Self {
            ctx,
            started: false,
            open_blocks: Vec::new(),
            finished: false,
            ended: false,
            held_delta: None,
            upstream_input: None,
            upstream_output: None,
            output_text: String::new(),
            error: None,
        }
    }

    /// What to send the caller now for one event; the end is held back (see [`Self::ended`]).
    pub fn pass(&mut self, event: Outgoing) -> Vec<Outgoing> {
        let Outgoing::Json(mut v) = event else {
            self.ended = true;
            return Vec::new();
        };
        if self.ended {
            return Vec::new();
        }
        if let Some(err) = v
            .get("error")
            .filter(|_| v.get("type").is_none_or(|t| t == "error"))
        {
            self.error = Some(
                err.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the provider failed mid-stream")
                    .to_string(),
            );
            return vec![Outgoing::Json(v)];
        }
        match self.ctx.wire {
            Wire::OpenAi => self
                .openai(&mut v)
                .then_some(Outgoing::Json(v))
                .into_iter()
                .collect(),
            Wire::Anthropic => self.anthropic(v),
        }
    }

    fn openai(&mut self, chunk: &mut Value) -> bool {
        let (input, output) = openai_counts(chunk.get("usage"));
        self.upstream_input = input.or(self.upstream_input);
        self.upstream_output = output.or(self.upstream_output);
        let Some(obj) = chunk.as_object_mut() else {
            return false;
        };
        let choices = obj.get_mut("choices").and_then(Value::as_array_mut);
        let has_choices = choices.as_ref().is_some_and(|c| !c.is_empty());
        if let Some(choices) = choices {
            for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
                choice.entry("index").or_insert(json!(0));
                let delta = choice.entry("delta").or_insert_with(|| json!({}));
                delta_text(delta, &mut self.output_text);
                if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                    self.finished = true;
                }
            }
        }
        if !has_choices {
            // The usage-only chunk: the caller gets one, last, if it asked (see `closing`).
            return false;
        }
        obj.entry("id").or_insert_with(|| json!(self.ctx.id));
        obj.insert("object".into(), json!("chat.completion.chunk"));
        obj.entry("created")
            .or_insert_with(|| json!(self.ctx.created));
        obj.insert("model".into(), json!(self.ctx.model));
        if self.ctx.include_usage {
            obj.insert("usage".into(), Value::Null);
        } else {
            obj.remove("usage");
        }
        self.started = true;
        true
    }

    fn anthropic(&mut self, mut v: Value) -> Vec<Outgoing> {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut out = Vec::new();
        if !self.started && kind != "message_start" {
            out.push(Outgoing::Json(self.message_start(Value::Null)));
        }
        match kind.as_str() {
            "message_start" => {
                let msg = v.get("message").cloned().unwrap_or(Value::Null);
                if self.started {
                    return out;
                }
                let (input, _) = anthropic_usage(msg.get("usage"));
                self.upstream_input = input;
                v = self.message_start(msg);
            }
            "content_block_start" => {
                self.open_blocks
                    .push(v.get("index").and_then(Value::as_u64).unwrap_or(0));
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                let text = ["text", "partial_json", "thinking"]
                    .iter()
                    .find_map(|k| delta.get(*k).and_then(Value::as_str))
                    .unwrap_or_default();
                self.output_text.push_str(text);
            }
            "content_block_stop" => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                self.open_blocks.retain(|i| *i != index);
            }
            "message_delta" => {
                let (input, output) = anthropic_usage(v.get("usage"));
                self.upstream_input = input.or(self.upstream_input);
                self.upstream_output = output.or(self.upstream_output);
                self.finished = true;
                self.held_delta = Some(v);
                return out;
            }
            "message_stop" => {
                self.ended = true;
                return out;
            }
            _ => {}
        }
        out.push(Outgoing::Json(v));
        out
    }

    fn message_start(&mut self, msg: Value) -> Value {
        self.started = true;
        let mut msg = if msg.is_object() {
            msg
        } else {
            json!({"type": "message", "role": "assistant", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0}})
        };
        if msg.get("id").is_none_or(Value::is_null) {
            msg["id"] = json!(self.ctx.id);
        }
        msg["model"] = json!(self.ctx.model);
        json!({"type": "message_start", "message": msg})
    }

    /// Whether the upstream's end arrived (`[DONE]`, `message_stop`), as opposed to a stream
    /// still going or cut off.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The error the upstream reported mid-stream, if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The call's tokens: the upstream's counts where it gave them, else `prompt()` (the
    /// gateway's count of the request, asked for only then) and the output counted from the
    /// events as `how` says.
    pub fn usage(&self, prompt: impl FnOnce() -> u32, how: tokens::Counting) -> Usage {
        let input = match self.upstream_input.filter(|n| *n > 0) {
            Some(n) => n,
            None => prompt(),
        };
        let output = match self.upstream_output {
            Some(n) => n,
            None => tokens::count_with(&self.output_text, how),
        };
        Usage::new(input, output)
    }

    /// The events that end the caller's stream, carrying `usage`.
    pub fn closing(&mut self, usage: Usage) -> Vec<Outgoing> {
        if self.error.is_some() {
            return match self.ctx.wire {
                Wire::OpenAi => vec![Outgoing::Done],
                Wire::Anthropic => Vec::new(),
            };
        }
        match self.ctx.wire {
            Wire::OpenAi => {
                let mut out = Vec::new();
                let base = json!({"id": self.ctx.id, "object": "chat.completion.chunk", "created": self.ctx.created, "model": self.ctx.model});
                if !self.finished {
                    let mut c = base.clone();
                    c["choices"] = json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]);
                    if self.ctx.include_usage {
                        c["usage"] = Value::Null;
                    }
                    out.push(Outgoing::Json(c));
                }
                if self.ctx.include_usage {
                    let mut c = base;
                    c["choices"] = json!([]);
                    c["usage"] = usage_json(usage);
                    out.push(Outgoing::Json(c));
                }
                out.push(Outgoing::Done);
                out
            }
            Wire::Anthropic => {
                let mut out = Vec::new();
                if !self.started {
                    out.push(Outgoing::Json(self.message_start(Value::Null)));
                }
                out.extend(
                    self.open_blocks
                        .drain(..)
                        .map(|i| Outgoing::Json(json!({"type": "content_block_stop", "index": i}))),
                );
                let mut delta = self.held_delta.take().unwrap_or_else(|| {
                    json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}})
                });
                delta["usage"] = anthropic_usage_json(usage);
                out.push(Outgoing::Json(delta));
                out.push(Outgoing::Json(json!({"type": "message_stop"})));
                out
            }
        }
    }
}

/// Appends the text and tool arguments of an OpenAI delta to `out`.
fn delta_text(delta: &Value, out: &mut String) {
    for key in ["content", "reasoning_content"] {
        if let Some(t) = delta.get(key).and_then(Value::as_str) {
            out.push_str(t);
        }
    }
    if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
        for args in calls
            .iter()
            .filter_map(|c| c.pointer("/function/arguments").and_then(Value::as_str))
        {
            out.push_str(args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(wire: Wire, include_usage: bool) -> StreamContext {
        StreamContext {
            wire,
            model: "public".into(),
            id: "chatcmpl-ours".into(),
            created: 7,
            include_usage,
        }
    }

    fn run(meter: &mut StreamMeter, conv: &mut Converter, bytes: &[&[u8]]) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for b in bytes {
            for e in conv.feed(b) {
                out.extend(meter.pass(e));
            }
        }
        for e in conv.finish() {
            out.extend(meter.pass(e));
        }
        out
    }

    fn json_of(out: &[Outgoing]) -> Vec<&Value> {
        out.iter()
            .filter_map(|o| match o {
                Outgoing::Json(v) => Some(v),
                Outgoing::Done => None,
            })
            .collect()
    }

    #[test]
    fn a_lenient_openai_stream_is_completed_and_renamed() {
        // No id, no model, no finish_reason, no [DONE]: the connection just closes.
        let mut conv = Converter::new(Wire::OpenAi, Wire::OpenAi, 7);
        let mut meter = StreamMeter::new(ctx(Wire::OpenAi, true));
        let out = run(
            &mut meter,
            &mut conv,
            &[
                b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel",
                b"lo there\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"!\"}}]}",
            ],
        );
        assert!(!meter.ended());
        let chunks = json_of(&out);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0]["model"], "public");
        assert_eq!(chunks[0]["id"], "chatcmpl-ours");
        assert_eq!(chunks[0]["object"], "chat.completion.chunk");
        assert_eq!(chunks[0]["choices"][0]["index"], 0);
        let usage = meter.usage(|| 11, tokens::Counting::Exact);
        assert_eq!(usage.prompt_tokens, 11);
        assert!(usage.completion_tokens >= 2);
        let closing = meter.closing(usage);
        let closing_json = json_of(&closing);
        assert_eq!(closing_json[0]["choices"][0]["finish_reason"], "stop");
        assert_eq!(closing_json[1]["usage"]["prompt_tokens"], 11);
        assert_eq!(closing.last(), Some(&Outgoing::Done));
    }

    #[test]
    fn the_usage_chunk_asked_by_tollgate_is_not_forwarded() {
        let mut conv = Converter::new(Wire::OpenAi, Wire::OpenAi, 7);
        let mut meter = StreamMeter::new(ctx(Wire::OpenAi, false));
        let out = run(&mut meter, &mut conv, &[
            b"data: {\"id\":\"x\",\"model\":\"up\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n",
            b"data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n",
        ]);
        assert!(meter.ended());
        assert_eq!(json_of(&out).len(), 1, "{out:?}");
        assert_eq!(json_of(&out)[0]["id"], "x");
        assert!(json_of(&out)[0].get("usage").is_none());
        assert_eq!(
            meter.usage(|| 99, tokens::Counting::Exact),
            Usage::new(3, 1)
        );
        assert_eq!(meter.closing(Usage::new(3, 1)), vec![Outgoing::Done]);
    }

    #[test]
    fn an_openai_upstream_serves_an_anthropic_caller() {
        let mut conv = Converter::new(Wire::OpenAi, Wire::Anthropic, 7);
        let mut meter = StreamMeter::new(ctx(Wire::Anthropic, false));
        let mut out = run(&mut meter, &mut conv, &[
            b"data: {\"id\":\"chatcmpl-1\",\"model\":\"up\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\n",
            b"data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
            b"data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\ndata: [DONE]\n\n",
        ]);
        assert!(meter.ended());
        let usage = meter.usage(|| 0, tokens::Counting::Exact);
        assert_eq!(usage, Usage::new(4, 2));
        out.extend(meter.closing(usage));
        let events = json_of(&out);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[0]["message"]["model"], "public");
        assert_eq!(events[4]["delta"]["stop_reason"], "max_tokens");
        assert_eq!(events[4]["usage"]["output_tokens"], 2);
        assert!(out[0]
            .encode(Wire::Anthropic)
            .starts_with("event: message_start\ndata: "));
    }

    #[test]
    fn an_anthropic_stream_cut_mid_block_is_closed() {
        let mut conv = Converter::new(Wire::Anthropic, Wire::Anthropic, 7);
        let mut meter = StreamMeter::new(ctx(Wire::Anthropic, false));
        let mut out = run(&mut meter, &mut conv, &[
            b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":8,\"output_tokens\":1}}}\n\n",
            b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            b"event: content_block_delta\ndata: {\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"some words here\"}}\n\n",
        ]);
        assert!(!meter.ended());
        let usage = meter.usage(|| 0, tokens::Counting::Exact);
        assert_eq!(usage.prompt_tokens, 8);
        assert!(usage.completion_tokens >= 3);
        out.extend(meter.closing(usage));
        let events = json_of(&out);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[4]["usage"]["input_tokens"], 8);
    }

    #[test]
    fn a_mid_stream_error_ends_the_stream_with_it() {
        let mut conv = Converter::new(Wire::Anthropic, Wire::OpenAi, 7);
        let mut meter = StreamMeter::new(ctx(Wire::OpenAi, true));
        let out = run(&mut meter, &mut conv, &[b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"]);
        assert_eq!(meter.error(), Some("Overloaded"));
        assert!(json_of(&out)[0]["error"].is_object());
        assert_eq!(meter.closing(Usage::default()), vec![Outgoing::Done]);
    }
}
