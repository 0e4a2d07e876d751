//! The PII firewall, between the body and the provider: every string of the request (every
//! message role, tool definitions and results, fields Tollgate passes through without
//! understanding them) is scanned; each finding is allowed, logged, redacted or blocked as
//! `[pii]` says for its type. Placeholders live in memory for the request only and are put
//! back in the answer, whole ([`restore_json`]) or streamed ([`StreamFirewall`]), and with `pii.scan_answers` the answer is scanned too ([`AnswerRules`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use serde_json::Value;
use tollgate_config::{PiiAction, PiiSettings};
use tollgate_pii::{EntityType, Finding, Redaction, Scanner};

use crate::GatewayError;

mod answer;
mod stream;

pub(crate) use answer::AnswerRules;
pub(crate) use stream::StreamFirewall;

/// The scanner and the policy, built once.
pub(crate) struct Firewall {
    scanner: Scanner,
    settings: PiiSettings,
    hash_key: Vec<u8>,
}

/// Type names sorted as text, so equal sets always read the same (the usage record's
/// `pii_types`).
pub(crate) fn sorted_names(types: &BTreeSet<EntityType>) -> Vec<String> {
    let mut names: Vec<String> = types.iter().map(|t| t.as_str().to_string()).collect();
    names.sort();
    names
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

    /// The rules answers are judged by, when `pii.scan_answers` is on.
    pub(crate) fn answers(self: &Arc<Self>) -> Option<AnswerRules> {
        self.settings
            .scan_answers
            .then(|| AnswerRules(self.clone()))
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
                found: sorted_names(&pass.found),
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
        let replacement = answer::replacement(self.firewall.settings.redaction);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate_config::{PiiAction, PiiSettings};
    use tollgate_pii::{Replacement, StreamRestorer};
    use tollgate_providers::stream::{Outgoing, Wire};

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

    fn call_chunk(args: &str, finish: Option<&str>) -> Outgoing {
        Outgoing::Json(
            json!({"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args}}]},
                         "finish_reason": finish}]}),
        )
    }

    fn arguments(events: &[Outgoing]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                Outgoing::Json(v) => v
                    .pointer("/choices/0/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                Outgoing::Done => None,
            })
            .collect()
    }

    fn scanning(actions: &[(&str, PiiAction)]) -> StreamFirewall {
        let settings = PiiSettings {
            scan_answers: true,
            actions: actions.iter().map(|(t, a)| (t.to_string(), *a)).collect(),
            ..PiiSettings::default()
        };
        let rules = Firewall::new(&settings)
            .map(Arc::new)
            .and_then(|f| f.answers());
        StreamFirewall::new(None, rules, Wire::OpenAi).unwrap()
    }

    #[test]
    fn a_cut_ends_the_whole_choice_and_held_arguments_keep_their_order() {
        // Arguments longer than the guard holds, sent whole in the finishing chunk: what the
        // guard held goes after the chunk's own part, in the same chunk.
        let mut s = scanning(&[]);
        let args = format!("{{\"text\": \"{}\"}}", "a few plain words ".repeat(12));
        let mut out = s.pass(call_chunk(&args, Some("tool_calls")));
        out.extend(s.pass(Outgoing::Done));
        assert_eq!(arguments(&out), args);

        // A blocked key in the content: the content stops before it, the same choice's tool
        // call sends nothing more, and the choice finishes with content_filter.
        let mut s = scanning(&[("SECRET", PiiAction::Block)]);
        let mut out = s.pass(chunk(
            Some("Use sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD now"),
            None,
        ));
        out.extend(s.pass(call_chunk("{\"to\": \"x\"}", None)));
        out.extend(s.pass(chunk(None, Some("stop"))));
        assert_eq!(contents(&out).concat(), "Use ");
        assert_eq!(arguments(&out), "");
        let finish = out.iter().rev().find_map(|e| match e {
            Outgoing::Json(v) => v
                .pointer("/choices/0/finish_reason")
                .and_then(Value::as_str),
            Outgoing::Done => None,
        });
        assert_eq!(finish, Some("content_filter"));
    }

    #[test]
    fn reasoning_and_thinking_text_is_judged_like_the_content() {
        let mut s = scanning(&[]);
        let chunk = |field: &str, text: &str, finish: Option<&str>| {
            Outgoing::Json(json!({"object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {field: text}, "finish_reason": finish}]}))
        };
        let mut out = s.pass(chunk(
            "reasoning_content",
            "the key is sk-proj-abcdefghij",
            None,
        ));
        out.extend(s.pass(chunk(
            "reasoning_content",
            "klmnopqrstuvwxyz0123456789ABCD ok",
            Some("stop"),
        )));
        let reasoning: String = out
            .iter()
            .filter_map(|e| match e {
                Outgoing::Json(v) => v.pointer("/choices/0/delta/reasoning_content")?.as_str(),
                Outgoing::Done => None,
            })
            .collect();
        assert_eq!(reasoning, "the key is [SECRET_1] ok");

        let settings = PiiSettings {
            scan_answers: true,
            ..PiiSettings::default()
        };
        let rules = Firewall::new(&settings)
            .map(Arc::new)
            .and_then(|f| f.answers());
        let mut s = StreamFirewall::new(None, rules, Wire::Anthropic).unwrap();
        let mut out = s.pass(Outgoing::Json(
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "mail jane.doe@example.com"}}),
        ));
        out.extend(s.pass(Outgoing::Json(
            json!({"type": "content_block_stop", "index": 0}),
        )));
        let thinking: String = out
            .iter()
            .filter_map(|e| match e {
                Outgoing::Json(v) => v.pointer("/delta/thinking")?.as_str(),
                Outgoing::Done => None,
            })
            .collect();
        assert_eq!(thinking, "mail [EMAIL_1]");
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
        let mut s = StreamFirewall::new(Some(redaction()), None, Wire::OpenAi).unwrap();
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
        let mut s = StreamFirewall::new(Some(redaction()), None, Wire::OpenAi).unwrap();
        let mut out = s.pass(chunk(Some("Hi [EM"), None));
        out.extend(s.pass(chunk(Some("AIL_1] bye ["), Some("stop"))));
        assert_eq!(contents(&out).concat(), "Hi a@example.com bye [");
    }

    #[test]
    fn anthropic_blocks_flush_at_their_stop_in_their_own_delta_kind() {
        let mut s = StreamFirewall::new(Some(redaction()), None, Wire::Anthropic).unwrap();
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
        let mut s = StreamFirewall::new(Some(r), None, Wire::Anthropic).unwrap();
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
