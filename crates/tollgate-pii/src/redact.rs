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
            placeholders: HashMap::new(),
            next: HashMap::new(),
            longest: 0,
        }
    }

    /// Whether any placeholder was handed out (so the answer needs restoring).
    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    /// `text` with each of `findings` (sorted, disjoint, as [`crate::Scanner::scan`] gives
    /// them) replaced as `how(finding)` says; `None` leaves a finding as it is.
    pub fn apply(
        &mut self,
        text: &str,
        findings: &[Finding],
        how: impl Fn(&Finding) -> Option<Replacement>,
    ) -> String {
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
                    let p = self.placeholder(f.kind, value, text);
                    out.push_str(&p);
                }
                Replacement::Mask => mask_into(value, &mut out),
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
    /// number of the type not already present in `text` (so restoring cannot touch text the
    /// caller wrote).
    fn placeholder(&mut self, kind: EntityType, value: &str, text: &str) -> String {
        if let Some(p) = self.placeholders.get(&(kind, value.to_string())) {
            return p.clone();
        }
        let n = self.next.entry(kind).or_insert(1);
        let mut p = format!("[{}_{}]", kind.as_str(), n);
        while text.contains(&p) || self.originals.contains_key(&p) {
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
                    out.push_str(original);
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

/// `*` for all but the last four characters (all of them when there are at most four).
fn mask_into(value: &str, out: &mut String) {
    let n = value.chars().count();
    let keep = if n > 4 { 4 } else { 0 };
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
        redaction.restore(&text[..cut])
    }

    /// What is held back, at the end of the stream.
    pub fn finish(&mut self, redaction: &Redaction) -> String {
        redaction.restore(&std::mem::take(&mut self.held))
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
