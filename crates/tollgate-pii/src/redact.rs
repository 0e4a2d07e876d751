//! Redaction and restoration. A [`Redaction`] belongs to one request: it replaces findings
//! with typed placeholders (`[EMAIL_1]`; the same value gets the same placeholder), masks or
//! keyed hashes, and remembers what each placeholder stood for, in memory only, so the
//! answer can be restored before the caller sees it: whole ([`Redaction::restore`]) or as it
//! streams ([`StreamRestorer`], which holds back a piece that may be the start of a
//! placeholder until the next piece shows whether it is one).

use std::collections::HashMap;
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::entity::EntityType;
use crate::scan::Finding;

/// How a finding is replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    /// A typed placeholder such as `[EMAIL_1]`, restored in the answer.
    Placeholder,
    /// `*` for every character but the last four (`************1111`); not restorable.
    Mask,
    /// A keyed hash such as `[EMAIL_3f9a2c1d]`: the same value always gives the same text
    /// (joins across requests stay possible), the value cannot be recovered from it.
    Hash,
}

/// The placeholders of one request and what they stand for.
pub struct Redaction {
    hash_key: Vec<u8>,
    /// Placeholder → original value.
    originals: HashMap<String, String>,
    /// Placeholder-shaped text the caller wrote (`[EMAIL_1]`): never handed out.
    reserved: std::collections::HashSet<String>,
    /// (type, original value) → placeholder, so a repeated value keeps its placeholder.
    placeholders: HashMap<(EntityType, String), String>,
    /// Next number per type.
    next: HashMap<EntityType, u32>,
    /// The longest placeholder handed out, in bytes.
    longest: usize,
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values.
        f.debug_struct("Redaction")
            .field("placeholders", &self.originals.len())
            .finish()
    }
}

impl Redaction {
    /// A redaction whose keyed hashes use `hash_key`.
    pub fn new(hash_key: &[u8]) -> Self {
        Self {
            hash_key: hash_key.to_vec(),
            originals: HashMap::new(),
            reserved: std::collections::HashSet::new(),
            placeholders: HashMap::new(),
            next: HashMap::new(),
            longest: 0,
        }
    }

    /// Whether `value` of type `kind` was replaced by one of this request's placeholders (a
    /// value the caller sent, which the answer may repeat to them).
    pub fn stands_for(&self, kind: EntityType, value: &str) -> bool {
        self.placeholders.contains_key(&(kind, value.to_string()))
    }

    /// Whether any placeholder was handed out (so the answer needs restoring).
    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    /// Marks the placeholder-shaped pieces of `text` (`[WORD_DIGITS]`) as taken, so none is
    /// handed out: call it on every string of a request before redacting any, and restoring
    /// the answer cannot turn the caller's own text into a value. One pass over the text.
    pub fn reserve(&mut self, text: &str) {
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(open) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'[')) {
            let from = i + open;
            let body = b[from + 1..]
                .iter()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
                .count();
            let close = from + 1 + body;
            if body > 0 && b.get(close) == Some(&b']') {
                if let Some(token) = text.get(from..=close) {
                    self.reserved.insert(token.to_string());
                }
            }
            i = from + 1;
        }
    }

    /// `text` with each of `findings` (sorted, disjoint, as [`crate::Scanner::scan`] gives
    /// them) replaced as `how(finding)` says; `None` leaves a finding as it is.
    pub fn apply(
        &mut self,
        text: &str,
        findings: &[Finding],
        how: impl Fn(&Finding) -> Option<Replacement>,
    ) -> String {
        self.reserve(text);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in findings {
            let (Some(before), Some(value)) = (text.get(at..f.start), text.get(f.start..f.end))
            else {
                continue;
            };
            let Some(replacement) = how(f) else {
                continue;
            };
            out.push_str(before);
            match replacement {
                Replacement::Placeholder => {
                    let p = self.placeholder(f.kind, value);
                    out.push_str(&p);
                }
                Replacement::Mask => mask_into(value, keeps_tail(f.kind), &mut out),
                Replacement::Hash => {
                    let _ = write!(out, "[{}_{}]", f.kind.as_str(), self.hash(value));
                }
            }
            at = f.end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        out
    }

    /// The placeholder for `value` of type `kind`: its own if it had one, else the next
    /// number of the type that is not reserved (so restoring cannot touch text the caller
    /// wrote).
    fn placeholder(&mut self, kind: EntityType, value: &str) -> String {
        if let Some(p) = self.placeholders.get(&(kind, value.to_string())) {
            return p.clone();
        }
        let n = self.next.entry(kind).or_insert(1);
        let mut p = format!("[{}_{}]", kind.as_str(), n);
        while self.reserved.contains(&p) || self.originals.contains_key(&p) {
            *n += 1;
            p = format!("[{}_{}]", kind.as_str(), n);
        }
        *n += 1;
        self.longest = self.longest.max(p.len());
        self.originals.insert(p.clone(), value.to_string());
        self.placeholders
            .insert((kind, value.to_string()), p.clone());
        p
    }

    fn hash(&self, value: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.hash_key) {
            Ok(mac) => mac,
            // HMAC takes keys of any length; this cannot happen.
            Err(_) => return "0".repeat(8),
        };
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..4]
            .iter()
            .fold(String::with_capacity(8), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// `text` with every placeholder of this request put back; other text, placeholders the
    /// model invented included, stays as it is.
    pub fn restore(&self, text: &str) -> String {
        self.restore_as(text, false)
    }

    /// Like [`Redaction::restore`] for text that is itself JSON (tool-call arguments): each
    /// value goes back escaped as a JSON string's content, so a quote, backslash or newline
    /// in it cannot break or extend the document.
    pub fn restore_in_json(&self, text: &str) -> String {
        self.restore_as(text, true)
    }

    fn restore_as(&self, text: &str, json: bool) -> String {
        if self.originals.is_empty() || !text.contains('[') {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('[') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            // A placeholder is at most `longest` bytes: look no further for its `]`.
            let window = &tail.as_bytes()[..tail.len().min(self.longest)];
            match window.iter().position(|&b| b == b']').and_then(|close| {
                let candidate = &tail[..=close];
                self.originals.get(candidate).map(|v| (v, close))
            }) {
                Some((original, close)) => {
                    if json {
                        escape_json_into(original, &mut out);
                    } else {
                        out.push_str(original);
                    }
                    rest = &tail[close + 1..];
                }
                None => {
                    out.push('[');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Whether `piece` could be the beginning of one of this request's placeholders.
    fn could_start(&self, piece: &str) -> bool {
        piece.len() < self.longest && self.originals.keys().any(|p| p.starts_with(piece))
    }
}

/// `value` as the content of a JSON string.
fn escape_json_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Whether a mask keeps the last four characters, as receipts do for cards and accounts; for
/// names, passwords and keys it keeps nothing.
fn keeps_tail(kind: EntityType) -> bool {
    matches!(
        kind,
        EntityType::CreditCard | EntityType::Iban | EntityType::Phone
    )
}

/// `*` for every character, or for all but the last four (`keep_tail`, when there are more).
fn mask_into(value: &str, keep_tail: bool, out: &mut String) {
    let n = value.chars().count();
    let keep = if keep_tail && n > 4 { 4 } else { 0 };
    for (i, c) in value.chars().enumerate() {
        if i + keep < n {
            out.push('*');
        } else {
            out.push(c);
        }
    }
}

/// Restores one stream of text arriving in pieces (one field of one choice or content
/// block): what could be the start of a placeholder is held back until it is complete or
/// shown not to be one.
#[derive(Debug, Default)]
pub struct StreamRestorer {
    held: String,
}

impl StreamRestorer {
    /// The restored text to send for `piece`.
    pub fn push(&mut self, redaction: &Redaction, piece: &str) -> String {
        self.push_as(redaction, piece, false)
    }

    /// Like [`StreamRestorer::push`] for pieces of a JSON document (streamed tool arguments).
    pub fn push_in_json(&mut self, redaction: &Redaction, piece: &str) -> String {
        self.push_as(redaction, piece, true)
    }

    fn push_as(&mut self, redaction: &Redaction, piece: &str, json: bool) -> String {
        if redaction.is_empty() {
            return piece.to_string();
        }
        self.held.push_str(piece);
        let text = std::mem::take(&mut self.held);
        // Hold back from the last `[` on if it may still become a placeholder.
        let cut = match text.rfind('[') {
            Some(i) if !text[i..].contains(']') && redaction.could_start(&text[i..]) => i,
            _ => text.len(),
        };
        self.held = text[cut..].to_string();
        redaction.restore_as(&text[..cut], json)
    }

    /// What is held back, at the end of the stream.
    pub fn finish(&mut self, redaction: &Redaction) -> String {
        redaction.restore(&std::mem::take(&mut self.held))
    }

    /// What is held back, at the end of a streamed JSON document.
    pub fn finish_in_json(&mut self, redaction: &Redaction) -> String {
        redaction.restore_in_json(&std::mem::take(&mut self.held))
    }

    /// Whether text is held back.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scanner;

    fn redacted(text: &str) -> (Redaction, String) {
        let mut r = Redaction::new(b"k");
        let findings = Scanner::new().scan(text);
        let out = r.apply(text, &findings, |_| Some(Replacement::Placeholder));
        (r, out)
    }

    #[test]
    fn placeholders_are_typed_numbered_and_reused() {
        let (r, out) = redacted("a@example.com, b@example.com, a@example.com");
        assert_eq!(out, "[EMAIL_1], [EMAIL_2], [EMAIL_1]");
        assert_eq!(
            r.restore("write to [EMAIL_2] and [EMAIL_9]"),
            "write to b@example.com and [EMAIL_9]"
        );
    }

    #[test]
    fn a_placeholder_the_caller_wrote_is_not_reused() {
        let (r, out) = redacted("[EMAIL_1] is a@example.com");
        assert_eq!(out, "[EMAIL_1] is [EMAIL_2]");
        assert_eq!(r.restore(&out), "[EMAIL_1] is a@example.com");
    }

    #[test]
    fn masks_and_hashes() {
        let text = "card 4111 1111 1111 1111 mail a@example.com";
        let findings = Scanner::new().scan(text);
        let mut r = Redaction::new(b"key");
        let out = r.apply(text, &findings, |f| {
            Some(if f.kind == EntityType::CreditCard {
                Replacement::Mask
            } else {
                Replacement::Hash
            })
        });
        assert!(
            out.starts_with("card ***************1111 mail [EMAIL_"),
            "{out}"
        );
        let again = Redaction::new(b"key").apply(text, &findings, |_| Some(Replacement::Hash));
        let other = Redaction::new(b"other").apply(text, &findings, |_| Some(Replacement::Hash));
        assert_eq!(
            again,
            Redaction::new(b"key").apply(text, &findings, |_| Some(Replacement::Hash))
        );
        assert_ne!(again, other);
        assert!(r.is_empty(), "masks and hashes keep nothing");
    }

    #[test]
    fn placeholders_the_caller_wrote_anywhere_are_not_handed_out() {
        let mut r = Redaction::new(b"k");
        r.reserve("an earlier message quoting [EMAIL_1] and [EMAIL_2]");
        let text = "mail a@example.com";
        let out = r.apply(text, &Scanner::new().scan(text), |_| {
            Some(Replacement::Placeholder)
        });
        assert_eq!(out, "mail [EMAIL_3]");
        assert_eq!(r.restore("[EMAIL_1] [EMAIL_3]"), "[EMAIL_1] a@example.com");
    }

    #[test]
    fn json_restores_escape_the_value() {
        let text = "pw postgres://u:p\"w@db/x";
        let mut r = Redaction::new(b"k");
        let out = r.apply(text, &Scanner::new().scan(text), |_| {
            Some(Replacement::Placeholder)
        });
        assert!(out.contains("[SECRET_1]"), "{out}");
        assert_eq!(
            r.restore_in_json("{\"p\": \"[SECRET_1]\"}"),
            "{\"p\": \"p\\\"w\"}"
        );
    }

    #[test]
    fn a_placeholder_split_across_pieces_is_restored() {
        let (r, _) = redacted("mail a@example.com");
        let mut s = StreamRestorer::default();
        let pieces = [
            "Write to [EM",
            "AIL",
            "_1] now [",
            "not one] [EMAIL_1",
            "].",
        ];
        let out: String = pieces.iter().map(|p| s.push(&r, p)).collect::<String>() + &s.finish(&r);
        assert_eq!(out, "Write to a@example.com now [not one] a@example.com.");
    }
}
