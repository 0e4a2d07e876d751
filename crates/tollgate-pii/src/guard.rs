//! Scanning what comes back: an [`AnswerGuard`] takes a model's answer piece by piece as it
//! streams (or whole), finds personal data and secrets in it, values split across pieces
//! included, and lets through only what the policy allows: a finding is kept, noted,
//! replaced, or the answer is cut just before it. It holds back the end of the text it has
//! seen (the last word and at most [`TAIL`] bytes, a private key block until it ends) so that a
//! value is always judged whole, and rereads the end of what it sent, for the words before a
//! value that say what it is; the output, however the answer was split, is the same as for the
//! whole answer.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::entity::EntityType;
use crate::redact::{Redaction, Replacement};
use crate::scan::{Finding, Scanner};

/// Bytes at the end of the text held back (more when a word or a key block runs longer): every
/// value the scanner finds in spaced form (cards, IBANs, phones, addresses, names) is shorter.
pub const TAIL: usize = 128;
/// Text held back at most: past this much without a space, the text is judged as it is.
const MOST_HELD: usize = 64 * 1024;
/// Bytes of the text already sent that are scanned again with what is held: the words before
/// a value that say what it is (`password:`, `Dear`, `Tel.`) may have gone out already.
const CONTEXT: usize = 64;

/// What the policy does with a finding in an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Let it through, unrecorded.
    Keep,
    /// Let it through; record its type.
    Note,
    /// Replace it.
    Replace(Replacement),
    /// End the answer just before it.
    Cut,
}

/// The rules an answer is judged by.
pub trait AnswerPolicy {
    /// The detector.
    fn scanner(&self) -> &Scanner;
    /// What to do with a finding of `kind`.
    fn act(&self, kind: EntityType) -> Act;
}

/// One answer's text (one choice's content, one block's text) on its way to the caller.
pub struct AnswerGuard<P> {
    policy: P,
    /// The request's placeholders: values the caller sent, which the answer may repeat.
    known: Option<Arc<Redaction>>,
    redaction: Redaction,
    held: String,
    /// The last [`CONTEXT`] bytes sent.
    sent: String,
    /// The text is JSON (tool arguments): escapes are read as the spaces they stand for.
    json: bool,
    cut: bool,
    found: BTreeSet<EntityType>,
}

impl<P: AnswerPolicy> AnswerGuard<P> {
    /// A guard judging by `policy`; values in `known` (what the caller sent) are theirs and
    /// pass. `hash_key` keys the hashes of `Replace(Hash)`.
    pub fn new(policy: P, known: Option<Arc<Redaction>>, hash_key: &[u8]) -> Self {
        Self {
            policy,
            known,
            redaction: Redaction::new(hash_key),
            held: String::new(),
            sent: String::new(),
            json: false,
            cut: false,
            found: BTreeSet::new(),
        }
    }

    /// Whether the text is JSON string content (tool call arguments): then `\n`, `\"` and
    /// other escapes separate values as the characters they stand for would, and no finding
    /// starts or ends inside one, so a replacement never breaks the JSON.
    pub fn set_json(&mut self, json: bool) {
        self.json = json;
    }

    /// Starts another text of the same answer (the next string of a whole answer): what was
    /// sent before no longer gives context, so two texts are never read as one.
    pub fn next_text(&mut self) {
        self.sent.clear();
    }

    /// The text to send now, `piece` appended to what was held.
    pub fn push(&mut self, piece: &str) -> String {
        if self.cut {
            return String::new();
        }
        self.held.push_str(piece);
        self.release(false)
    }

    /// The rest, at the end of the text.
    pub fn finish(&mut self) -> String {
        if self.cut {
            return String::new();
        }
        self.release(true)
    }

    /// `text` judged whole (a whole answer).
    pub fn whole(&mut self, text: &str) -> String {
        let mut out = self.push(text);
        out.push_str(&self.finish());
        out
    }

    /// Whether the answer was cut before a finding the policy blocks.
    pub fn was_cut(&self) -> bool {
        self.cut
    }

    /// The types found and not kept silently.
    pub fn found(&self) -> &BTreeSet<EntityType> {
        &self.found
    }

    /// Sends what can be judged now: all of it at the end, else everything before the held
    /// tail.
    fn release(&mut self, end: bool) -> String {
        let mut upto = if end {
            self.held.len()
        } else if self.held.len() > MOST_HELD {
            // Long enough without a space: judged as it is, but for the last bytes, which
            // may be the start of a value.
            floor_boundary(&self.held, self.held.len() - TAIL)
        } else {
            self.safe_end()
        };
        if upto == 0 {
            // Nothing can go out yet: no need to scan (text without a space stays cheap).
            return String::new();
        }
        // Scanned with the end of what was sent before it, for the words that give context;
        // findings are then placed on the held text (one that began in what was sent keeps
        // only its held part). Values the caller sent pass, but they too are judged whole: a
        // cut point in one would leave its end to be read as something else.
        let offset = self.sent.len();
        let mut joined = format!("{}{}", self.sent, self.held);
        if self.json {
            joined = unescaped_shape(&joined);
        }
        let findings: Vec<Finding> = self
            .policy
            .scanner()
            .scan(&joined)
            .into_iter()
            .filter(|f| f.end > offset)
            .map(|f| Finding {
                start: f.start.max(offset) - offset,
                end: f.end - offset,
                ..f
            })
            .collect();
        // A value the cut point falls in waits whole.
        if let Some(f) = findings.iter().find(|f| f.start < upto && upto < f.end) {
            upto = f.start;
        }
        let mut judged = Vec::new();
        for f in findings.iter().filter(|f| f.end <= upto) {
            if self.is_known(f) {
                continue;
            }
            match self.policy.act(f.kind) {
                Act::Keep => {}
                Act::Note => {
                    self.found.insert(f.kind);
                }
                Act::Replace(how) => {
                    self.found.insert(f.kind);
                    judged.push((f.clone(), how));
                }
                Act::Cut => {
                    self.found.insert(f.kind);
                    self.cut = true;
                    upto = f.start;
                    break;
                }
            }
        }
        let text: String = self.held.drain(..upto).collect();
        if self.cut {
            self.held.clear();
        }
        let kept: Vec<Finding> = judged
            .iter()
            .filter(|(f, _)| f.end <= upto)
            .map(|(f, _)| f.clone())
            .collect();
        let out = self.redaction.apply(&text, &kept, |f| {
            judged
                .iter()
                .find(|(j, _)| j.start == f.start)
                .map(|(_, how)| *how)
        });
        self.sent.push_str(&text);
        let mut from = self.sent.len().saturating_sub(CONTEXT);
        while !self.sent.is_char_boundary(from) {
            from += 1;
        }
        self.sent.drain(..from);
        out
    }

    /// Where the text can be judged up to without the rest: before the word that holds the
    /// last [`TAIL`] bytes, and before a private key block that has not ended.
    fn safe_end(&self) -> usize {
        let held = &self.held;
        let limit = floor_boundary(held, held.len().saturating_sub(TAIL));
        let mut upto = held[..limit].rfind(char::is_whitespace).map_or(0, |i| {
            i + held[i..].chars().next().map_or(1, char::len_utf8)
        });
        if let Some(begin) = held[..upto].rfind("-----BEGIN") {
            if !held[begin..].contains("-----END") {
                upto = begin;
            }
        }
        upto
    }

    /// A value the caller sent (the request's placeholder stood for it).
    fn is_known(&self, f: &Finding) -> bool {
        self.known.as_ref().is_some_and(|known| {
            self.held
                .get(f.start..f.end)
                .is_some_and(|v| known.stands_for(f.kind, v))
        })
    }
}

/// `i`, or the nearest character boundary of `text` before it.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// JSON string content with every escape (`\n`, `\"`, `\\`, `\u00e9`) turned into as many
/// spaces as it has bytes: the same length, so offsets carry over, and what an escape stands
/// for separates words as it would in the decoded text.
fn unescaped_shape(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let len = match b.get(i + 1) {
                Some(b'u') => 6,
                Some(_) => 2,
                None => 1,
            };
            let len = len.min(b.len() - i);
            out.extend(std::iter::repeat_n(' ', len));
            i += len;
            // The escape may have run into a multi-byte character (a malformed `\u`): pad
            // to the next boundary so the copy stays the same length and valid.
            while i < b.len() && !text.is_char_boundary(i) {
                out.push(' ');
                i += 1;
            }
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Policy(Scanner, Act);

    impl AnswerPolicy for &Policy {
        fn scanner(&self) -> &Scanner {
            &self.0
        }
        fn act(&self, kind: EntityType) -> Act {
            if kind == EntityType::Secret {
                self.1
            } else {
                Act::Replace(Replacement::Placeholder)
            }
        }
    }

    const ANSWER: &str = "Sure. Write to jane.doe@example.com and use the key \
        sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD for the test; the rest of the answer \
        goes on for a while so that the guard has to release text before the end arrives.";

    fn streamed(policy: &Policy, pieces: &[&str]) -> (String, bool) {
        let mut guard = AnswerGuard::new(policy, None, b"k");
        let mut out: String = pieces.iter().map(|p| guard.push(p)).collect();
        out.push_str(&guard.finish());
        (out, guard.was_cut())
    }

    #[test]
    fn values_split_across_pieces_are_replaced_as_if_whole() {
        let policy = Policy(Scanner::new(), Act::Replace(Replacement::Placeholder));
        let whole = AnswerGuard::new(&policy, None, b"k").whole(ANSWER);
        assert!(
            whole.contains("Write to [EMAIL_1] and use the key [SECRET_1] for"),
            "{whole}"
        );
        for size in [1, 3, 7, 16, 50] {
            let pieces: Vec<&str> = ANSWER
                .as_bytes()
                .chunks(size)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            assert_eq!(streamed(&policy, &pieces).0, whole, "pieces of {size}");
        }
    }

    #[test]
    fn a_blocked_value_cuts_the_answer_just_before_it() {
        let policy = Policy(Scanner::new(), Act::Cut);
        let (out, cut) = streamed(&policy, &[ANSWER]);
        assert!(cut);
        assert_eq!(out, "Sure. Write to [EMAIL_1] and use the key ");
    }

    #[test]
    fn text_is_released_before_the_end_and_the_callers_values_pass() {
        let policy = Policy(Scanner::new(), Act::Keep);
        let mut guard = AnswerGuard::new(&policy, None, b"k");
        let long = "word ".repeat(100);
        assert!(!guard.push(&long).is_empty(), "most of it goes out at once");
        let mut known = Redaction::new(b"k");
        let email = "jane.doe@example.com";
        let found = Scanner::new().scan(email);
        known.apply(email, &found, |_| Some(Replacement::Placeholder));
        let mut guard = AnswerGuard::new(&policy, Some(Arc::new(known)), b"k");
        assert_eq!(
            guard.whole("Mail jane.doe@example.com."),
            "Mail jane.doe@example.com."
        );
        assert!(guard.found().is_empty());
    }

    #[test]
    fn a_value_of_the_caller_split_by_the_hold_is_not_misread() {
        let policy = Policy(Scanner::new(), Act::Replace(Replacement::Placeholder));
        let iban = "DE89 3704 0044 0532 0130 00";
        let mut known = Redaction::new(b"k");
        known.apply(iban, &Scanner::new().scan(iban), |_| {
            Some(Replacement::Placeholder)
        });
        let known = Arc::new(known);
        let text = format!(
            "{}pay to IBAN {iban} today, {}",
            "ok ".repeat(50),
            "fine ".repeat(40)
        );
        for size in [1, 4, 9, 30] {
            let mut guard = AnswerGuard::new(&policy, Some(known.clone()), b"k");
            let mut out = String::new();
            for piece in text.as_bytes().chunks(size) {
                out.push_str(&guard.push(std::str::from_utf8(piece).unwrap()));
            }
            out.push_str(&guard.finish());
            assert_eq!(out, text, "pieces of {size}");
        }
    }

    #[test]
    fn the_words_before_a_value_count_after_they_were_sent() {
        // Found by the fuzz target: `Mdp :` (French for password) went out before the value
        // after it was judged, and without it the value was no longer a password.
        let policy = Policy(Scanner::new(), Act::Replace(Replacement::Mask));
        let text = format!(
            "{}Mdp\t:{}\tend",
            "ok ".repeat(40),
            "Zq8-wXk2-Lm9p-Rt4v-Yb7n"
        );
        let whole = AnswerGuard::new(&policy, None, b"k").whole(&text);
        assert!(!whole.contains("Zq8"), "{whole}");
        let pieces = [&text[..122], &text[122..]];
        assert_eq!(streamed(&policy, &pieces).0, whole);
        // The fuzz case itself.
        let data: &[u8] = b"\x01\x00\x00\x82\x42\x00\x00\x4d\x64\x70\x09\x3a\xff\xff\x32\x2a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x70\x09\x3a\xff\xff\x2a\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\x8e\x8e\x8e\x8e\x8e\x8e\x8e\x8e\x8e\x8e\x8e\xff\xff\xff\xff\x07\x00\xff\xff\xff\x85\x2a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x31\xff\xff\xff\x3a\x3a\x34\x78";
        let (cuts, rest) = data.split_at(6);
        let text = String::from_utf8_lossy(rest);
        let mut guard = AnswerGuard::new(&policy, None, b"k");
        let mut out = String::new();
        let mut at = 0;
        for c in cuts {
            let mut p = (at + usize::from(*c)).min(text.len());
            while !text.is_char_boundary(p) {
                p += 1;
            }
            out.push_str(&guard.push(&text[at..p]));
            at = p;
        }
        out.push_str(&guard.push(&text[at..]));
        out.push_str(&guard.finish());
        assert_eq!(out, AnswerGuard::new(&policy, None, b"k").whole(&text));
    }

    #[test]
    fn json_text_is_read_through_its_escapes_and_stays_json() {
        let policy = Policy(Scanner::new(), Act::Replace(Replacement::Placeholder));
        let args = r#"{"body":"Card:\n4111111111111111","to":"jane.doe@example.com"}"#;
        let mut guard = AnswerGuard::new(&policy, None, b"k");
        guard.set_json(true);
        let out = guard.whole(args);
        assert_eq!(out, r#"{"body":"Card:\n[CREDIT_CARD_1]","to":"[EMAIL_1]"}"#);
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }

    #[test]
    fn a_value_at_the_most_held_mark_is_not_split() {
        let policy = Policy(Scanner::new(), Act::Replace(Replacement::Placeholder));
        let text = format!(
            "{},jane.doe@example.com,{}",
            "x".repeat(MOST_HELD - 8),
            "y".repeat(40)
        );
        let pieces: Vec<&str> = text
            .as_bytes()
            .chunks(4096)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let (out, _) = streamed(&policy, &pieces);
        assert!(out.contains(",[EMAIL_1],"), "{}", &out[MOST_HELD - 20..]);
        assert!(!out.contains("jane"));
    }

    #[test]
    fn a_private_key_block_is_held_until_it_ends() {
        let policy = Policy(Scanner::new(), Act::Cut);
        let key = "-----BEGIN RSA PRIVATE KEY-----\n".to_string()
            + &"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n".repeat(8)
            + "-----END RSA PRIVATE KEY-----\n";
        let text = format!("Here it is:\n{key}Keep it safe.");
        let pieces: Vec<&str> = text
            .as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let (out, cut) = streamed(&policy, &pieces);
        assert!(cut);
        assert_eq!(out, "Here it is:\n");
    }
}
