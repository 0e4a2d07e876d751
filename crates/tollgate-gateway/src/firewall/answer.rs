//! The firewall on the way back (`pii.scan_answers`): the model's answer is scanned with the
//! request's rules before the caller sees it. Values the caller sent (the request's
//! placeholders stood for them) are theirs and pass; for anything else `allow` lets it
//! through, `log` records its type, `redact` replaces it as `pii.redaction` says, and `block`
//! cuts the answer just before it (the choice finishes with `content_filter`, an Anthropic
//! message with `refusal`).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use tollgate_config::{PiiAction, PiiRedaction};
use tollgate_pii::{Act, AnswerGuard, AnswerPolicy, EntityType, Redaction, Replacement, Scanner};
use tollgate_providers::stream::Wire;

use super::Firewall;

/// The firewall's rules, as an answer's guard reads them.
#[derive(Clone)]
pub(crate) struct AnswerRules(pub(crate) Arc<Firewall>);

impl AnswerPolicy for AnswerRules {
    fn scanner(&self) -> &Scanner {
        &self.0.scanner
    }

    fn act(&self, kind: EntityType) -> Act {
        match self.0.action(kind) {
            PiiAction::Allow => Act::Keep,
            PiiAction::Log => Act::Note,
            PiiAction::Redact => Act::Replace(replacement(self.0.settings.redaction)),
            PiiAction::Block => Act::Cut,
        }
    }
}

/// How `redact` replaces, in the detector's terms.
pub(super) fn replacement(r: PiiRedaction) -> Replacement {
    match r {
        PiiRedaction::Placeholder => Replacement::Placeholder,
        PiiRedaction::Mask => Replacement::Mask,
        PiiRedaction::Hash => Replacement::Hash,
    }
}

impl AnswerRules {
    /// A guard for one text of an answer to a request whose placeholders are `known`.
    pub(crate) fn guard(&self, known: Option<Arc<Redaction>>) -> AnswerGuard<AnswerRules> {
        AnswerGuard::new(self.clone(), known, &self.0.hash_key)
    }

    /// Judges a whole answer in place: each OpenAI choice's message, or the Anthropic
    /// content, as one text. Returns the types found.
    pub(crate) fn judge_whole(
        &self,
        wire: Wire,
        known: Option<Arc<Redaction>>,
        body: &mut Value,
    ) -> BTreeSet<EntityType> {
        let mut found = BTreeSet::new();
        match wire {
            Wire::OpenAi => {
                let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) else {
                    return found;
                };
                for choice in choices {
                    // Token log-probabilities spell the answer out again, token by token.
                    if let Some(fields) = choice.as_object_mut() {
                        fields.remove("logprobs");
                    }
                    let mut guard = self.guard(known.clone());
                    if let Some(message) = choice.get_mut("message") {
                        judge(&mut guard, message, true, false);
                    }
                    found.extend(guard.found());
                    if guard.was_cut() {
                        choice["finish_reason"] = Value::from("content_filter");
                    }
                }
            }
            Wire::Anthropic => {
                let mut guard = self.guard(known);
                if let Some(content) = body.get_mut("content") {
                    judge(&mut guard, content, true, false);
                }
                found.extend(guard.found());
                if guard.was_cut() {
                    body["stop_reason"] = Value::from("refusal");
                }
            }
        }
        found
    }
}

/// Keys of the API's own objects (messages, tool calls, content blocks) whose values are not
/// the answer: ids, roles, kinds, tool names, and a thinking block's signature, which must
/// come back unchanged.
const NOT_ANSWER: &[&str] = &["id", "role", "type", "name", "index", "signature", "data"];

/// The values that are answers the model wrote in its own format: tool input (an object) and
/// tool call arguments (JSON text). Inside them every string counts, whatever its key.
const FREE: &[&str] = &["input", "arguments"];

/// Judges every string of `v` in order, each a text of its own, with one guard: after a cut
/// the rest is emptied. `api` says `v` is one of the API's own objects, whose bookkeeping keys
/// are left alone.
fn judge(guard: &mut AnswerGuard<AnswerRules>, v: &mut Value, api: bool, json: bool) {
    match v {
        Value::String(s) => {
            guard.next_text();
            guard.set_json(json);
            *s = guard.whole(s);
        }
        Value::Array(items) => items.iter_mut().for_each(|i| judge(guard, i, api, false)),
        Value::Object(fields) => {
            for (k, f) in fields.iter_mut() {
                if api && NOT_ANSWER.contains(&k.as_str()) {
                    continue;
                }
                let free = api && FREE.contains(&k.as_str());
                judge(guard, f, api && !free, free && k == "arguments");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate_config::PiiSettings;

    fn rules() -> AnswerRules {
        let settings = PiiSettings {
            scan_answers: true,
            ..PiiSettings::default()
        };
        let firewall = Firewall::new(&settings).map(Arc::new);
        firewall
            .and_then(|f| f.answers())
            .expect("scanning answers is on")
    }

    #[test]
    fn every_string_of_a_whole_answer_is_its_own_text_and_tool_input_counts_whatever_its_keys() {
        let mut body = json!({"choices": [{"index": 0, "finish_reason": "tool_calls",
            "logprobs": {"content": [{"token": "4111"}]},
            "message": {"role": "assistant", "content": "Here you are.",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "pay",
                    "arguments": "{\"note\":\"Card:\\n4111111111111111\"}"}}]}}]});
        let found = rules().judge_whole(Wire::OpenAi, None, &mut body);
        let choice = &body["choices"][0];
        assert_eq!(
            choice.get("logprobs"),
            None,
            "log-probabilities spell the answer out"
        );
        assert_eq!(
            choice["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"note\":\"Card:\\n[CREDIT_CARD_1]\"}"
        );
        assert_eq!(choice["message"]["tool_calls"][0]["id"], "call_1");
        assert!(found.contains(&EntityType::CreditCard));

        let mut body = json!({"stop_reason": "tool_use", "content": [
            {"type": "text", "text": "Paying for you."},
            {"type": "tool_use", "id": "toolu_1", "name": "pay",
             "input": {"amount": "42", "card": "4111 1111 1111 1111", "name": "Jane Doe",
                       "id": "4012 8888 8888 1881"}}]});
        rules().judge_whole(Wire::Anthropic, None, &mut body);
        let input = &body["content"][1]["input"];
        assert_eq!(input["amount"], "42");
        assert_eq!(input["card"], "[CREDIT_CARD_1]", "not read as 424111…");
        assert_eq!(
            input["id"], "[CREDIT_CARD_2]",
            "keys inside tool input are not the API's"
        );
        assert_eq!(input["name"], "[PERSON_1]");
        assert_eq!(body["content"][1]["id"], "toolu_1");
    }
}
