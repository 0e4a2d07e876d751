//! The PII firewall, between the body and the provider: every string of the request (every
//! message role, tool definitions and results, fields Tollgate passes through without
//! understanding them) is scanned; each finding is allowed, logged, redacted or blocked as
//! `[pii]` says for its type. Placeholders live in memory for the request only and are put
//! back in the answer, whole ([`restore_json`]) or streamed ([`StreamRestore`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use serde_json::Value;
use tollgate_config::{PiiAction, PiiRedaction, PiiSettings};
use tollgate_pii::{EntityType, Finding, Redaction, Replacement, Scanner, StreamRestorer};
use tollgate_providers::stream::{Outgoing, Wire};

use crate::GatewayError;

/// The scanner and the policy, built once.
pub(crate) struct Firewall {
    scanner: Scanner,
    settings: PiiSettings,
    hash_key: Vec<u8>,
}

/// What the firewall made of a request.
#[derive(Default)]
pub(crate) struct Screened {
    /// The body to parse and send: the caller's, or the redacted one.
    pub body: Bytes,
    /// The placeholders to put back in the answer, if any were handed out and restoring is on.
    pub restore: Option<Arc<Redaction>>,
    /// The types found (allowed ones excluded), for the usage record.
    pub found: BTreeSet<EntityType>,
}

impl Firewall {
    /// The firewall `settings` describe, or `None` when it is off.
    pub(crate) fn new(settings: &PiiSettings) -> Option<Self> {
        if !settings.enabled {
            return None;
        }
        let hash_key = if settings.hash_key.is_empty() {
            let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
            [a.as_bytes().as_slice(), b.as_bytes().as_slice()].concat()
        } else {
            settings.hash_key.as_bytes().to_vec()
        };
        Some(Self {
            scanner: Scanner::new(),
            settings: settings.clone(),
            hash_key,
        })
    }

    fn action(&self, kind: EntityType) -> PiiAction {
        self.settings
            .actions
            .get(kind.as_str())
            .copied()
            .unwrap_or(self.settings.action)
    }

    /// Screens `body`. A body with nothing to act on is passed on as it came (not copied);
    /// one that does not parse is left to the body parser, which says what is wrong with it.
    pub(crate) fn screen(&self, body: Bytes) -> Result<Screened, GatewayError> {
        let Ok(text) = std::str::from_utf8(&body) else {
            return Ok(Screened {
                body,
                ..Screened::default()
            });
        };
        // Fast path: JSON without escapes holds its strings verbatim, so scanning the raw
        // text finds everything a scan of each string would.
        if !text.contains('\\') && self.scanner.scan(text).is_empty() {
            return Ok(Screened {
                body,
                ..Screened::default()
            });
        }
        let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
            return Ok(Screened {
                body,
                ..Screened::default()
            });
        };
        let mut pass = Pass {
            firewall: self,
            redaction: Redaction::new(&self.hash_key),
            found: BTreeSet::new(),
            blocked: BTreeSet::new(),
            changed: false,
        };
        pass.value(&mut json);
        if !pass.blocked.is_empty() {
            let types: Vec<&str> = pass.blocked.iter().map(|t| t.as_str()).collect();
            return Err(GatewayError::SensitiveData {
                types: types.join(", "),
            });
        }
        let body = if pass.changed {
            serde_json::to_vec(&json).map(Bytes::from).unwrap_or(body)
        } else {
            body
        };
        let restore = (self.settings.restore_in_response && !pass.redaction.is_empty())
            .then(|| Arc::new(pass.redaction));
        Ok(Screened {
            body,
            restore,
            found: pass.found,
        })
    }
}

/// One walk over a request's JSON.
struct Pass<'a> {
    firewall: &'a Firewall,
    redaction: Redaction,
    found: BTreeSet<EntityType>,
    blocked: BTreeSet<EntityType>,
    changed: bool,
}

impl Pass<'_> {
    fn value(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => self.string(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            Value::Object(fields) => fields.values_mut().for_each(|f| self.value(f)),
            _ => {}
        }
    }

    fn string(&mut self, s: &mut String) {
        let findings = self.firewall.scanner.scan(s);
        if findings.is_empty() {
            return;
        }
        let mut redact = false;
        for f in &findings {
            match self.firewall.action(f.kind) {
                PiiAction::Allow => continue,
                PiiAction::Log => {}
                PiiAction::Redact => redact = true,
                PiiAction::Block => {
                    self.blocked.insert(f.kind);
                }
            }
            self.found.insert(f.kind);
        }
        if !redact {
            return;
        }
        let replacement = match self.firewall.settings.redaction {
            PiiRedaction::Placeholder => Replacement::Placeholder,
            PiiRedaction::Mask => Replacement::Mask,
            PiiRedaction::Hash => Replacement::Hash,
        };
        let firewall = self.firewall;
        let how =
            |f: &Finding| (firewall.action(f.kind) == PiiAction::Redact).then_some(replacement);
        *s = self.redaction.apply(s, &findings, how);
        self.changed = true;
    }
}

/// Puts the placeholders of `redaction` back in every string of a whole answer.
pub(crate) fn restore_json(redaction: &Redaction, v: &mut Value) {
    match v {
        Value::String(s) if s.contains('[') => *s = redaction.restore(s),
        Value::Array(items) => items.iter_mut().for_each(|i| restore_json(redaction, i)),
        Value::Object(fields) => fields.values_mut().for_each(|f| restore_json(redaction, f)),
        _ => {}
    }
}

/// Which text of a stream a piece belongs to: a choice's content or a tool call's arguments
/// (OpenAI), a content block (Anthropic).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Channel {
    Content(u64),
    Arguments(u64, u64),
    Block(u64),
}

/// Restores placeholders in a stream of the caller's events, holding back a piece that may be
/// the start of a placeholder and sending it with the next piece of the same text, or, when
/// that text ends (its choice finishes, its block stops), in an event of its own just before.
pub(crate) struct StreamRestore {
    redaction: Arc<Redaction>,
    wire: Wire,
    channels: HashMap<Channel, StreamRestorer>,
    /// Anthropic blocks whose pieces are tool input (`input_json_delta`), not text.
    json_blocks: BTreeSet<u64>,
}

impl StreamRestore {
    pub(crate) fn new(redaction: Arc<Redaction>, wire: Wire) -> Self {
        Self {
            redaction,
            wire,
            channels: HashMap::new(),
            json_blocks: BTreeSet::new(),
        }
    }

    /// The events to send for `event`: it, restored, after any it makes due.
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

    fn piece(&mut self, channel: Channel, text: &mut String) {
        let restorer = self.channels.entry(channel).or_default();
        *text = restorer.push(&self.redaction, text);
    }

    fn held(&mut self, channel: &Channel) -> Option<String> {
        let mut restorer = self.channels.remove(channel)?;
        let rest = restorer.finish(&self.redaction);
        (!rest.is_empty()).then_some(rest)
    }

    /// `chat.completion.chunk`: `choices[].delta.content` and
    /// `choices[].delta.tool_calls[].function.arguments`.
    fn openai(&mut self, v: &mut Value, out: &mut Vec<Outgoing>) {
        let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) else {
            return;
        };
        let mut flushes = Vec::new();
        for choice in choices.iter_mut() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            if let Some(Value::String(text)) = choice.pointer_mut("/delta/content") {
                self.piece(Channel::Content(index), text);
            }
            if let Some(calls) = choice
                .pointer_mut("/delta/tool_calls")
                .and_then(Value::as_array_mut)
            {
                for call in calls {
                    let i = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                    if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                        self.piece(Channel::Arguments(index, i), args);
                    }
                }
            }
            if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                flushes.push(index);
            }
        }
        for index in flushes {
            self.flush_choice(v, index, out);
        }
    }

    /// Held text of a finishing choice goes out in a chunk of its own before the finishing one.
    fn flush_choice(&mut self, chunk: &Value, index: u64, out: &mut Vec<Outgoing>) {
        let mut delta = serde_json::Map::new();
        if let Some(text) = self.held(&Channel::Content(index)) {
            delta.insert("content".into(), Value::String(text));
        }
        let mut calls: Vec<&Channel> = self
            .channels
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

    /// `content_block_delta`: `delta.text` or `delta.partial_json` of block `index`; at the
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
            }
            Some("content_block_stop") => {
                if let Some(text) = self.held(&Channel::Block(index)) {
                    out.push(Outgoing::Json(self.block_delta(index, text)));
                }
            }
            _ => {}
        }
    }

    fn block_delta(&self, index: u64, text: String) -> Value {
        let delta = if self.json_blocks.contains(&index) {
            serde_json::json!({"type": "input_json_delta", "partial_json": text})
        } else {
            serde_json::json!({"type": "text_delta", "text": text})
        };
        serde_json::json!({"type": "content_block_delta", "index": index, "delta": delta})
    }

    /// Whatever is still held, at the end of the stream, as plain content events.
    fn flush_all(&mut self) -> Vec<Outgoing> {
        let channels: Vec<Channel> = self.channels.keys().cloned().collect();
        let mut out = Vec::new();
        for c in channels {
            let Some(text) = self.held(&c) else { continue };
            out.push(Outgoing::Json(match (self.wire, c) {
                (Wire::OpenAi, Channel::Arguments(i, n)) => serde_json::json!({
                    "object": "chat.completion.chunk",
                    "choices": [{"index": i, "delta": {"tool_calls": [{"index": n, "function": {"arguments": text}}]}, "finish_reason": null}]
                }),
                (Wire::OpenAi, Channel::Content(i) | Channel::Block(i)) => serde_json::json!({
                    "object": "chat.completion.chunk",
                    "choices": [{"index": i, "delta": {"content": text}, "finish_reason": null}]
                }),
                (Wire::Anthropic, Channel::Content(i) | Channel::Block(i) | Channel::Arguments(i, _)) => {
                    self.block_delta(i, text)
                }
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redaction() -> Arc<Redaction> {
        let text = "mail a@example.com";
        let mut r = Redaction::new(b"k");
        let findings = Scanner::new().scan(text);
        assert_eq!(
            r.apply(text, &findings, |_| Some(Replacement::Placeholder)),
            "mail [EMAIL_1]"
        );
        Arc::new(r)
    }

    fn chunk(content: Option<&str>, finish: Option<&str>) -> Outgoing {
        let delta = content.map_or(json!({}), |c| json!({"content": c}));
        Outgoing::Json(
            json!({"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    }

    fn contents(events: &[Outgoing]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Outgoing::Json(v) => v
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                Outgoing::Done => None,
            })
            .collect()
    }

    #[test]
    fn openai_pieces_are_restored_across_chunks_and_flushed_before_the_finish() {
        let mut s = StreamRestore::new(redaction(), Wire::OpenAi);
        let mut out = Vec::new();
        for e in [
            chunk(Some("write [EM"), None),
            chunk(Some("AIL_1] and ["), None),
            chunk(None, Some("stop")),
        ] {
            out.extend(s.pass(e));
        }
        out.extend(s.pass(Outgoing::Done));
        assert_eq!(contents(&out), vec!["write ", "a@example.com and ", "["]);
        // The held "[" went out in its own chunk before the finishing one, which is unchanged.
        let Outgoing::Json(last) = &out[out.len() - 2] else {
            panic!("a chunk")
        };
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert!(matches!(out.last(), Some(Outgoing::Done)));
    }

    #[test]
    fn anthropic_blocks_flush_at_their_stop_in_their_own_delta_kind() {
        let mut s = StreamRestore::new(redaction(), Wire::Anthropic);
        let delta = |i: u64, d: Value| {
            Outgoing::Json(json!({"type": "content_block_delta", "index": i, "delta": d}))
        };
        let mut out = Vec::new();
        out.extend(s.pass(delta(
            0,
            json!({"type": "text_delta", "text": "to [EMAIL_"}),
        )));
        out.extend(s.pass(delta(
            0,
            json!({"type": "text_delta", "text": "1]. see [EMA"}),
        )));
        out.extend(s.pass(Outgoing::Json(
            json!({"type": "content_block_stop", "index": 0}),
        )));
        out.extend(s.pass(delta(
            1,
            json!({"type": "input_json_delta", "partial_json": "{\"to\": \"[EMAIL_1"}),
        )));
        out.extend(s.pass(Outgoing::Json(
            json!({"type": "content_block_stop", "index": 1}),
        )));
        let texts: Vec<Value> = out
            .iter()
            .filter_map(|e| match e {
                Outgoing::Json(v) if v["type"] == "content_block_delta" => Some(v["delta"].clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                json!({"type": "text_delta", "text": "to "}),
                json!({"type": "text_delta", "text": "a@example.com. see "}),
                json!({"type": "text_delta", "text": "[EMA"}),
                json!({"type": "input_json_delta", "partial_json": "{\"to\": \""}),
                json!({"type": "input_json_delta", "partial_json": "[EMAIL_1"}),
            ]
        );
    }

    #[test]
    fn whole_answers_are_restored_everywhere() {
        let r = redaction();
        let mut v = json!({"choices": [{"message": {"content": "hi [EMAIL_1]", "tool_calls": [{"function": {"arguments": "{\"to\":\"[EMAIL_1]\"}"}}]}}]});
        restore_json(&r, &mut v);
        assert_eq!(v["choices"][0]["message"]["content"], "hi a@example.com");
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"to\":\"a@example.com\"}"
        );
    }
}
