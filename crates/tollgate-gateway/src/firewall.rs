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
        self.settings.action_for(kind.as_str())
    }

    /// Screens `body`, each string on its own (with its object key as context: the value of
    /// `"password"` is a password). A body with nothing to act on is passed on as it came (not
    /// copied); one that does not parse is left to the body parser, which says what is wrong
    /// with it.
    pub(crate) fn screen(&self, body: Bytes) -> Result<Screened, GatewayError> {
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
        reserve(&mut pass.redaction, &json);
        pass.value(&mut json, None);
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
    /// Screens `v`, found under object key `key`.
    fn value(&mut self, v: &mut Value, key: Option<&str>) {
        match v {
            Value::String(s) => {
                if let Some(redacted) = self.text(s, key) {
                    *s = redacted;
                }
            }
            // A number can be a card or an account: it leaves as a placeholder string then.
            Value::Number(n) => {
                if let Some(redacted) = self.text(&n.to_string(), key) {
                    *v = Value::String(redacted);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i, key)),
            Value::Object(fields) => {
                let keys_found = fields
                    .keys()
                    .any(|k| !self.firewall.scanner.scan(k).is_empty());
                if keys_found {
                    // Keys with personal data in them are screened (and renamed) too.
                    let old = std::mem::take(fields);
                    for (k, mut child) in old {
                        let k = self.text(&k, None).unwrap_or(k);
                        self.value(&mut child, Some(&k));
                        fields.insert(k, child);
                    }
                } else {
                    for (k, child) in fields.iter_mut() {
                        self.value(child, Some(k));
                    }
                }
            }
            _ => {}
        }
    }

    /// The redacted `s`, if anything in it is to be redacted; records what was found. `key`
    /// is scanned with it as context (`password: hunter22`), its own findings left out.
    fn text(&mut self, s: &str, key: Option<&str>) -> Option<String> {
        // Only a key holding a context word can change what is found: scan it with the value
        // then, and only then (the value alone is always scanned).
        let prefix = key
            .filter(|k| self.firewall.scanner.gives_context(k))
            .map(|k| format!("{k}: "))
            .unwrap_or_default();
        let findings: Vec<Finding> = if prefix.is_empty() {
            self.firewall.scanner.scan(s)
        } else {
            let joined = format!("{prefix}{s}");
            let mut own = self.firewall.scanner.scan(s);
            // What only the key's context reveals, shifted back onto `s`.
            for f in self.firewall.scanner.scan(&joined) {
                if f.start >= prefix.len()
                    && !own
                        .iter()
                        .any(|o| o.start < f.end - prefix.len() && f.start - prefix.len() < o.end)
                {
                    own.push(Finding {
                        start: f.start - prefix.len(),
                        end: f.end - prefix.len(),
                        ..f
                    });
                }
            }
            own.sort_by_key(|f| f.start);
            own
        };
        if findings.is_empty() {
            return None;
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
            return None;
        }
        let replacement = match self.firewall.settings.redaction {
            PiiRedaction::Placeholder => Replacement::Placeholder,
            PiiRedaction::Mask => Replacement::Mask,
            PiiRedaction::Hash => Replacement::Hash,
        };
        let firewall = self.firewall;
        let how =
            |f: &Finding| (firewall.action(f.kind) == PiiAction::Redact).then_some(replacement);
        self.changed = true;
        Some(self.redaction.apply(s, &findings, how))
    }
}

/// Marks every placeholder-shaped piece the caller wrote anywhere in the request as taken.
fn reserve(redaction: &mut Redaction, v: &Value) {
    match v {
        Value::String(s) => redaction.reserve(s),
        Value::Array(items) => items.iter().for_each(|i| reserve(redaction, i)),
        Value::Object(fields) => fields.iter().for_each(|(k, f)| {
            redaction.reserve(k);
            reserve(redaction, f);
        }),
        _ => {}
    }
}

/// Puts the placeholders of `redaction` back in every string of a whole answer (escaped in
/// tool-call `arguments`, which are JSON documents in a string).
pub(crate) fn restore_json(redaction: &Redaction, v: &mut Value) {
    restore_value(redaction, v, false);
}

fn restore_value(redaction: &Redaction, v: &mut Value, json_text: bool) {
    match v {
        Value::String(s) if s.contains('[') => {
            *s = if json_text {
                redaction.restore_in_json(s)
            } else {
                redaction.restore(s)
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| restore_value(redaction, i, false)),
        Value::Object(fields) => fields
            .iter_mut()
            .for_each(|(k, f)| restore_value(redaction, f, k == "arguments")),
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

    /// Whether the channel's text is a JSON document (tool arguments or input).
    fn is_json(&self, channel: &Channel) -> bool {
        match channel {
            Channel::Arguments(..) => true,
            Channel::Block(i) => self.json_blocks.contains(i),
            Channel::Content(_) => false,
        }
    }

    fn piece(&mut self, channel: Channel, text: &mut String) {
        let json = self.is_json(&channel);
        let restorer = self.channels.entry(channel).or_default();
        *text = if json {
            restorer.push_in_json(&self.redaction, text)
        } else {
            restorer.push(&self.redaction, text)
        };
    }

    fn held(&mut self, channel: &Channel) -> Option<String> {
        let json = self.is_json(channel);
        let mut restorer = self.channels.remove(channel)?;
        let rest = if json {
            restorer.finish_in_json(&self.redaction)
        } else {
            restorer.finish(&self.redaction)
        };
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
                // Held content ends this choice's text: it goes last in this very chunk.
                if let Some(held) = self.held(&Channel::Content(index)) {
                    let delta = &mut choice["delta"];
                    match delta.get_mut("content") {
                        Some(Value::String(text)) => text.push_str(&held),
                        _ => delta["content"] = Value::String(held),
                    }
                }
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
    use tollgate_config::PiiSettings;

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
    fn openai_pieces_are_restored_across_chunks_and_flushed_in_the_finish() {
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
        // The held "[" ends the text: it went out in the finishing chunk itself.
        let Outgoing::Json(last) = &out[out.len() - 2] else {
            panic!("a chunk")
        };
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(last["choices"][0]["delta"]["content"], "[");
        assert!(matches!(out.last(), Some(Outgoing::Done)));
    }

    #[test]
    fn a_finishing_chunk_with_text_keeps_the_order() {
        let mut s = StreamRestore::new(redaction(), Wire::OpenAi);
        let mut out = s.pass(chunk(Some("Hi [EM"), None));
        out.extend(s.pass(chunk(Some("AIL_1] bye ["), Some("stop"))));
        assert_eq!(contents(&out).concat(), "Hi a@example.com bye [");
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
    fn values_go_back_into_tool_arguments_escaped() {
        let text = "pw postgres://u:p\"w@db/x";
        let mut r = Redaction::new(b"k");
        let redacted = r.apply(text, &Scanner::new().scan(text), |_| {
            Some(Replacement::Placeholder)
        });
        assert!(redacted.contains("[SECRET_1]"));
        let r = Arc::new(r);
        let mut v = json!({"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{\"pw\":\"[SECRET_1]\"}"}}]}}]});
        restore_json(&r, &mut v);
        let args = v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap_or_default();
        let parsed: Value = serde_json::from_str(args).unwrap_or_default();
        assert_eq!(parsed["pw"], "p\"w", "{args}");
        let mut s = StreamRestore::new(r, Wire::Anthropic);
        let delta = |d: Value| {
            Outgoing::Json(json!({"type": "content_block_delta", "index": 0, "delta": d}))
        };
        let mut out = s.pass(delta(
            json!({"type": "input_json_delta", "partial_json": "{\"pw\": \"[SECR"}),
        ));
        out.extend(s.pass(delta(
            json!({"type": "input_json_delta", "partial_json": "ET_1]\"}"}),
        )));
        let joined: String = out
            .iter()
            .filter_map(|e| match e {
                Outgoing::Json(v) => v["delta"]["partial_json"].as_str().map(str::to_string),
                Outgoing::Done => None,
            })
            .collect();
        let parsed: Value = serde_json::from_str(&joined).unwrap_or_default();
        assert_eq!(parsed["pw"], "p\"w", "{joined}");
    }

    #[test]
    fn every_string_key_and_number_is_screened_with_its_key_as_context() {
        let Some(firewall) = Firewall::new(&PiiSettings::default()) else {
            panic!("on by default")
        };
        let body = json!({
            "messages": [
                {"role": "user", "name": "order_desk", "content": "call (415) 555-2671"},
                {"role": "user", "content": "quoting [PHONE_1] from before"}
            ],
            "metadata": {"password": "hunter22xyz", "jane@example.com": true},
            "card": 4111111111111111u64
        });
        let screened = firewall
            .screen(Bytes::from(body.to_string()))
            .unwrap_or_default();
        let sent: Value = serde_json::from_slice(&screened.body).unwrap_or_default();
        let text = sent.to_string();
        for value in [
            "555-2671",
            "hunter22xyz",
            "jane@example.com",
            "4111111111111111",
        ] {
            assert!(!text.contains(value), "{value} left in {text}");
        }
        // The caller's own "[PHONE_1]" is not reused, so restoring cannot rewrite it.
        assert_eq!(sent["messages"][0]["content"], "call [PHONE_2]");
        assert_eq!(
            sent["messages"][1]["content"],
            "quoting [PHONE_1] from before"
        );
        assert_eq!(sent["card"], "[CREDIT_CARD_1]");
        assert!(screened.found.contains(&EntityType::Secret));
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
