//! The firewall on a streamed answer: the request's placeholders put back (a piece that may
//! be the start of one is held until the next piece of the same text shows), and, with
//! `pii.scan_answers`, the answer scanned as it streams (values split across events
//! included), each choice's content, tool call arguments and content block on its own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;
use tollgate_pii::{AnswerGuard, EntityType, Redaction, StreamRestorer};
use tollgate_providers::stream::{Outgoing, Wire};

use super::answer::AnswerRules;

/// Which text of a stream a piece belongs to: a choice's content or a tool call's arguments
/// (OpenAI), a content block (Anthropic).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Channel {
    /// A text field of a choice's delta: `content`, `refusal` or `reasoning_content`.
    Content(u64, &'static str),
    Arguments(u64, u64),
    Block(u64),
}

/// The arguments text of each tool call in an OpenAI choice's delta, with the call's index.
fn arguments_of(choice: &mut Value) -> impl Iterator<Item = (u64, &mut String)> {
    choice
        .pointer_mut("/delta/tool_calls")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|call| {
            let i = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            match call.pointer_mut("/function/arguments") {
                Some(Value::String(args)) => Some((i, args)),
                _ => None,
            }
        })
}

/// The text fields of an OpenAI delta that carry what the model wrote.
const TEXT_FIELDS: [&str; 3] = ["content", "refusal", "reasoning_content"];

impl Channel {
    /// The choice (OpenAI) or block (Anthropic) the text belongs to.
    fn owner(&self) -> u64 {
        match self {
            Channel::Content(i, _) | Channel::Arguments(i, _) | Channel::Block(i) => *i,
        }
    }
}

/// One text of the stream on its way: the placeholders it may hold back, and the answer's
/// guard when answers are scanned.
#[derive(Default)]
struct Text {
    restorer: StreamRestorer,
    guard: Option<AnswerGuard<AnswerRules>>,
}

/// The firewall on a stream of the caller's events. Restoring holds back a piece that may be
/// the start of a placeholder and sends it with the next piece of the same text, or, when that
/// text ends (its choice finishes, its block stops), in an event of its own just before;
/// scanning holds back the end of the text until a value in it can be judged whole, and cuts
/// a text before a value the policy blocks (the choice then finishes with `content_filter`,
/// the message with `refusal`).
pub(crate) struct StreamFirewall {
    /// The request's placeholders, when it has any to put back.
    redaction: Option<Arc<Redaction>>,
    /// The rules answers are judged by, when they are scanned.
    answers: Option<AnswerRules>,
    wire: Wire,
    texts: HashMap<Channel, Text>,
    /// Anthropic blocks whose pieces are tool input (`input_json_delta`), not text.
    json_blocks: BTreeSet<u64>,
    /// Anthropic blocks whose pieces are thinking (`thinking_delta`).
    thinking_blocks: BTreeSet<u64>,
    /// Choices (OpenAI) or blocks (Anthropic) cut before a blocked value.
    cut: BTreeSet<u64>,
    /// Types found in the answer.
    found: BTreeSet<EntityType>,
}

impl StreamFirewall {
    /// Restores with `redaction`, scans with `answers`; `None` when there is nothing to do.
    pub(crate) fn new(
        redaction: Option<Arc<Redaction>>,
        answers: Option<AnswerRules>,
        wire: Wire,
    ) -> Option<Self> {
        (redaction.is_some() || answers.is_some()).then(|| Self {
            redaction,
            answers,
            wire,
            texts: HashMap::new(),
            json_blocks: BTreeSet::new(),
            thinking_blocks: BTreeSet::new(),
            cut: BTreeSet::new(),
            found: BTreeSet::new(),
        })
    }

    /// The types found in the answer so far (for the usage record).
    pub(crate) fn answer_types(&self) -> &BTreeSet<EntityType> {
        &self.found
    }

    /// The events to send for `event`: it, restored and judged, after any it makes due.
    pub(crate) fn pass(&mut self, event: Outgoing) -> Vec<Outgoing> {
        let Outgoing::Json(mut v) = event else {
            let mut out = self.flush_all();
            out.push(event);
            return out;
        };
        let mut out = Vec::new();
        match self.wire {
            Wire::OpenAi => self.openai(&mut v, &mut out),
            Wire::Anthropic => self.anthropic(&mut v, &mut out),
        }
        out.push(Outgoing::Json(v));
        out
    }

    /// Whether the channel's text is a JSON document (tool arguments or input).
    fn is_json(&self, channel: &Channel) -> bool {
        match channel {
            Channel::Arguments(..) => true,
            Channel::Block(i) => self.json_blocks.contains(i),
            Channel::Content(..) => false,
        }
    }

    /// Whether `owner`'s text was cut: the rest of its choice (OpenAI) or of the message
    /// (Anthropic) is dropped.
    fn is_cut(&self, owner: u64) -> bool {
        match self.wire {
            Wire::OpenAi => self.cut.contains(&owner),
            Wire::Anthropic => !self.cut.is_empty(),
        }
    }

    fn piece(&mut self, channel: Channel, text: &mut String) {
        let json = self.is_json(&channel);
        let key = channel.owner();
        if self.is_cut(key) {
            text.clear();
            return;
        }
        let slot = self.texts.entry(channel).or_default();
        let restored = match &self.redaction {
            Some(r) if json => slot.restorer.push_in_json(r, text),
            Some(r) => slot.restorer.push(r, text),
            None => std::mem::take(text),
        };
        *text = match &self.answers {
            Some(rules) => {
                let guard = slot.guard.get_or_insert_with(|| {
                    let mut guard = rules.guard(self.redaction.clone());
                    guard.set_json(json);
                    guard
                });
                let out = guard.push(&restored);
                self.found.extend(guard.found());
                if guard.was_cut() {
                    self.cut.insert(key);
                }
                out
            }
            None => restored,
        };
    }

    fn held(&mut self, channel: &Channel) -> Option<String> {
        let json = self.is_json(channel);
        let key = channel.owner();
        let mut slot = self.texts.remove(channel)?;
        if self.is_cut(key) {
            return None;
        }
        let mut rest = match &self.redaction {
            Some(r) if json => slot.restorer.finish_in_json(r),
            Some(r) => slot.restorer.finish(r),
            None => String::new(),
        };
        if let Some(guard) = &mut slot.guard {
            rest = guard.push(&rest);
            rest.push_str(&guard.finish());
            self.found.extend(guard.found());
            if guard.was_cut() {
                self.cut.insert(key);
            }
        }
        (!rest.is_empty()).then_some(rest)
    }

    /// `chat.completion.chunk`: `choices[].delta.content` (and `refusal`,
    /// `reasoning_content`) and `choices[].delta.tool_calls[].function.arguments`.
    fn openai(&mut self, v: &mut Value, out: &mut Vec<Outgoing>) {
        let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) else {
            return;
        };
        let mut flushes = Vec::new();
        for choice in choices.iter_mut() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            if self.answers.is_some() {
                // Token log-probabilities spell the answer out again, token by token.
                if let Some(fields) = choice.as_object_mut() {
                    fields.remove("logprobs");
                }
            }
            for field in TEXT_FIELDS {
                if let Some(Value::String(text)) =
                    choice.get_mut("delta").and_then(|d| d.get_mut(field))
                {
                    self.piece(Channel::Content(index, field), text);
                }
            }
            for (i, args) in arguments_of(choice) {
                self.piece(Channel::Arguments(index, i), args);
            }
            if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                // Held text ends this choice's texts: it goes last in this very chunk, after
                // the chunk's own piece of the same text.
                // (A chunk whose delta is not an object gets it in a chunk of its own before.)
                if let Some(delta) = choice.as_object_mut().and_then(|c| {
                    let d = c
                        .entry("delta")
                        .or_insert_with(|| Value::Object(Default::default()));
                    if d.is_null() {
                        *d = Value::Object(Default::default());
                    }
                    d.as_object_mut()
                }) {
                    for field in TEXT_FIELDS {
                        if let Some(held) = self.held(&Channel::Content(index, field)) {
                            match delta.get_mut(field) {
                                Some(Value::String(text)) => text.push_str(&held),
                                _ => {
                                    delta.insert(field.into(), Value::String(held));
                                }
                            }
                        }
                    }
                }
                for (i, args) in arguments_of(choice) {
                    if let Some(held) = self.held(&Channel::Arguments(index, i)) {
                        args.push_str(&held);
                    }
                }
                flushes.push(index);
            }
        }
        for index in flushes {
            self.flush_choice(v, index, out);
        }
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices {
                let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
                let finishing = choice.get("finish_reason").is_some_and(|f| !f.is_null());
                if finishing && self.cut.contains(&index) {
                    choice["finish_reason"] = Value::from("content_filter");
                }
            }
        }
    }

    /// Held text of a finishing choice goes out in a chunk of its own before the finishing one.
    fn flush_choice(&mut self, chunk: &Value, index: u64, out: &mut Vec<Outgoing>) {
        let mut delta = serde_json::Map::new();
        for field in TEXT_FIELDS {
            if let Some(text) = self.held(&Channel::Content(index, field)) {
                delta.insert(field.into(), Value::String(text));
            }
        }
        let mut calls: Vec<&Channel> = self
            .texts
            .keys()
            .filter(|c| matches!(c, Channel::Arguments(i, _) if *i == index))
            .collect();
        calls.sort_by_key(|c| match c {
            Channel::Arguments(_, n) => *n,
            _ => 0,
        });
        let calls: Vec<Channel> = calls.into_iter().cloned().collect();
        let mut tool_calls = Vec::new();
        for c in calls {
            if let (Channel::Arguments(_, n), Some(args)) = (&c, self.held(&c)) {
                tool_calls.push(serde_json::json!({"index": n, "function": {"arguments": args}}));
            }
        }
        if !tool_calls.is_empty() {
            delta.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        if delta.is_empty() {
            return;
        }
        let mut extra = chunk.clone();
        extra["choices"] =
            serde_json::json!([{"index": index, "delta": delta, "finish_reason": null}]);
        if let Some(fields) = extra.as_object_mut() {
            fields.remove("usage");
        }
        out.push(Outgoing::Json(extra));
    }

    /// `content_block_delta`: `delta.text`, `delta.partial_json` or `delta.thinking` of block
    /// `index`; at the
    /// block's `content_block_stop`, what is held goes out as one more delta.
    fn anthropic(&mut self, v: &mut Value, out: &mut Vec<Outgoing>) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match v.get("type").and_then(Value::as_str) {
            Some("content_block_delta") => {
                if let Some(Value::String(text)) = v.pointer_mut("/delta/text") {
                    self.piece(Channel::Block(index), text);
                }
                if let Some(Value::String(json)) = v.pointer_mut("/delta/partial_json") {
                    self.json_blocks.insert(index);
                    self.piece(Channel::Block(index), json);
                }
                if let Some(Value::String(thinking)) = v.pointer_mut("/delta/thinking") {
                    self.thinking_blocks.insert(index);
                    self.piece(Channel::Block(index), thinking);
                }
            }
            Some("content_block_stop") => {
                if let Some(text) = self.held(&Channel::Block(index)) {
                    out.push(Outgoing::Json(self.block_delta(index, text)));
                }
            }
            Some("message_delta") if !self.cut.is_empty() => {
                if let Some(delta) = v.get_mut("delta").and_then(Value::as_object_mut) {
                    delta.insert("stop_reason".into(), Value::from("refusal"));
                }
            }
            _ => {}
        }
    }

    fn block_delta(&self, index: u64, text: String) -> Value {
        let delta = if self.json_blocks.contains(&index) {
            serde_json::json!({"type": "input_json_delta", "partial_json": text})
        } else if self.thinking_blocks.contains(&index) {
            serde_json::json!({"type": "thinking_delta", "thinking": text})
        } else {
            serde_json::json!({"type": "text_delta", "text": text})
        };
        serde_json::json!({"type": "content_block_delta", "index": index, "delta": delta})
    }

    /// Whatever is still held, at the end of the stream, as plain content events.
    fn flush_all(&mut self) -> Vec<Outgoing> {
        let channels: Vec<Channel> = self.texts.keys().cloned().collect();
        let mut out = Vec::new();
        for c in channels {
            let Some(text) = self.held(&c) else { continue };
            out.push(Outgoing::Json(match (self.wire, c) {
                (Wire::OpenAi, Channel::Arguments(i, n)) => serde_json::json!({
                    "object": "chat.completion.chunk",
                    "choices": [{"index": i, "delta": {"tool_calls": [{"index": n, "function": {"arguments": text}}]}, "finish_reason": null}]
                }),
                (Wire::OpenAi, Channel::Content(i, field)) => serde_json::json!({
                    "object": "chat.completion.chunk",
                    "choices": [{"index": i, "delta": {field: text}, "finish_reason": null}]
                }),
                (Wire::OpenAi, Channel::Block(i)) => serde_json::json!({
                    "object": "chat.completion.chunk",
                    "choices": [{"index": i, "delta": {"content": text}, "finish_reason": null}]
                }),
                (Wire::Anthropic, Channel::Content(i, _) | Channel::Block(i) | Channel::Arguments(i, _)) => {
                    self.block_delta(i, text)
                }
            }));
        }
        out
    }
}
