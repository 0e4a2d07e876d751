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
                    let mut guard = self.guard(known.clone());
                    if let Some(message) = choice.get_mut("message") {
                        judge(&mut guard, message);
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
                    judge(&mut guard, content);
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

/// Keys whose values are the API's own (ids, roles, kinds, tool names), not the answer.
const NOT_ANSWER: &[&str] = &["id", "role", "type", "name", "index"];

/// Judges every string of `v` in order, as one text; after a cut the rest is emptied.
fn judge(guard: &mut AnswerGuard<AnswerRules>, v: &mut Value) {
    match v {
        Value::String(s) => *s = guard.whole(s),
        Value::Array(items) => items.iter_mut().for_each(|i| judge(guard, i)),
        Value::Object(fields) => fields
            .iter_mut()
            .filter(|(k, _)| !NOT_ANSWER.contains(&k.as_str()))
            .for_each(|(_, f)| judge(guard, f)),
        _ => {}
    }
}
