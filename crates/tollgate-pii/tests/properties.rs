//! Properties of the scanner on any text: it never panics, its spans are sorted, disjoint and on
//! character boundaries, and valid identifiers put into filler text are found where they are.

use std::sync::OnceLock;

use proptest::prelude::*;
use tollgate_pii::validate::{iban_is_valid, iso7064_mod11_10, luhn_is_valid};
use tollgate_pii::{EntityType, Scanner};

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

/// A Visa number: 15 random digits after a 4, completed with its Luhn digit.
fn visa(body: &[u8]) -> String {
    let mut digits: Vec<u8> = std::iter::once(b'4')
        .chain(body.iter().map(|d| b'0' + d % 10))
        .take(15)
        .collect();
    for check in b'0'..=b'9' {
        digits.push(check);
        if luhn_is_valid(&digits) {
            break;
        }
        digits.pop();
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// A German IBAN for an 18-digit account part, with the check digits that make it valid.
fn de_iban(bban: &[u8]) -> String {
    let bban: String = bban
        .iter()
        .map(|d| char::from(b'0' + d % 10))
        .take(18)
        .collect();
    (2..=98)
        .map(|check| format!("DE{check:02}{bban}"))
        .find(|iban| iban_is_valid(iban.as_bytes()))
        .unwrap_or_default()
}

/// A Steuer-ID: ten digits of 0–9 with one of them doubled (the 10th repeats the 1st), and
/// the check digit.
fn steuer_id(perm: &[usize]) -> String {
    let mut pool: Vec<u8> = (b'0'..=b'9').collect();
    let mut out = Vec::new();
    for &p in perm.iter().take(9) {
        let i = p % pool.len();
        out.push(pool.remove(i));
    }
    if out[0] == b'0' {
        out.swap(0, 1);
    }
    let first = out[0];
    out.insert(5, first);
    if out[..10].windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return String::new();
    }
    out.push(b'0' + iso7064_mod11_10(&out));
    String::from_utf8(out).unwrap_or_default()
}

const BEFORE: &[&str] = &[
    "Please look at this: ",
    "Bitte prüfe den Vertrag, ",
    "Merci de vérifier ",
    "for the customer ",
    "",
    "\n",
];

const AFTER: &[&str] = &[
    " — thanks!",
    ", bitte.",
    ".",
    "",
    "\nNext line",
    " et merci",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn spans_are_sorted_disjoint_and_on_boundaries(text in "\\PC{0,400}") {
        let found = scanner().scan(&text);
        let mut last_end = 0;
        for f in &found {
            prop_assert!(f.start < f.end && f.end <= text.len());
            prop_assert!(f.start >= last_end);
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            last_end = f.end;
        }
    }

    #[test]
    fn digits_and_separators_never_break_it(text in "[0-9 .:/+()-]{0,300}") {
        let found = scanner().scan(&text);
        for f in &found {
            prop_assert!(f.end <= text.len());
        }
    }

    #[test]
    fn valid_identifiers_are_found_in_filler(
        body in proptest::collection::vec(0u8..10, 18),
        perm in proptest::collection::vec(0usize..10, 9),
        pre in 0usize..BEFORE.len(),
        post in 0usize..AFTER.len(),
        which in 0usize..3,
    ) {
        let (value, kind) = match which {
            0 => (visa(&body), EntityType::CreditCard),
            1 => (de_iban(&body), EntityType::Iban),
            _ => (steuer_id(&perm), EntityType::DeTaxId),
        };
        prop_assume!(!value.is_empty());
        let text = format!("{}{value}{}", BEFORE[pre], AFTER[post]);
        let found = scanner().scan(&text);
        let start = BEFORE[pre].len();
        prop_assert!(
            found.iter().any(|f| f.kind == kind && f.start == start && f.end == start + value.len()),
            "{text:?}: {found:?}"
        );
    }
}

/// Text with personal data and secrets among arbitrary text, including brackets and
/// placeholder look-alikes.
fn mixed() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "\\PC{0,30}",
        Just("jane.doe@example.com".to_string()),
        Just("4111 1111 1111 1111".to_string()),
        Just("DE89 3704 0044 0532 0130 00".to_string()),
        Just("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD".to_string()),
        Just("[EMAIL_1]".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(" ".to_string()),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn restore_undoes_redact(text in mixed()) {
        let mut r = tollgate_pii::Redaction::new(b"key");
        let findings = scanner().scan(&text);
        let redacted = r.apply(&text, &findings, |_| Some(tollgate_pii::Replacement::Placeholder));
        prop_assert_eq!(r.restore(&redacted), text);
    }

    #[test]
    fn streamed_restore_matches_whole_restore(
        text in mixed(),
        cuts in proptest::collection::vec(0usize..400, 0..12),
    ) {
        let mut r = tollgate_pii::Redaction::new(b"key");
        let findings = scanner().scan(&text);
        let redacted = r.apply(&text, &findings, |_| Some(tollgate_pii::Replacement::Placeholder));
        // Cut the redacted text into pieces at char boundaries, as a stream would.
        let mut s = tollgate_pii::StreamRestorer::default();
        let mut out = String::new();
        for piece in pieces(&redacted, cuts) {
            out.push_str(&s.push(&r, piece));
        }
        out.push_str(&s.finish(&r));
        prop_assert_eq!(out, r.restore(&redacted));
    }
}

/// `text` cut at `cuts` (those on character boundaries), as a stream would deliver it.
fn pieces(text: &str, cuts: Vec<usize>) -> Vec<&str> {
    let mut points: Vec<usize> = cuts
        .into_iter()
        .map(|c| c.min(text.len()))
        .filter(|&c| text.is_char_boundary(c))
        .chain([text.len()])
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut at = 0;
    points
        .into_iter()
        .map(|p| {
            let piece = &text[at..p];
            at = p;
            piece
        })
        .collect()
}

/// Replaces every finding with a placeholder: the policy of the property below.
struct ReplaceAll;

impl tollgate_pii::AnswerPolicy for ReplaceAll {
    fn scanner(&self) -> &Scanner {
        scanner()
    }
    fn act(&self, _: EntityType) -> tollgate_pii::Act {
        tollgate_pii::Act::Replace(tollgate_pii::Replacement::Placeholder)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// However an answer is split into streamed pieces, the guard lets through exactly what it
    /// lets through of the whole answer: no value slips out because it was split.
    #[test]
    fn a_streamed_answer_is_judged_as_the_whole_answer(
        text in mixed(),
        cuts in proptest::collection::vec(0usize..400, 0..12),
    ) {
        let whole = tollgate_pii::AnswerGuard::new(ReplaceAll, None, b"k").whole(&text);
        let mut guard = tollgate_pii::AnswerGuard::new(ReplaceAll, None, b"k");
        let mut out = String::new();
        for piece in pieces(&text, cuts) {
            out.push_str(&guard.push(piece));
        }
        out.push_str(&guard.finish());
        // Placeholder numbers may differ (the whole answer reserves numbers its later text
        // uses); what is replaced may not.
        prop_assert_eq!(unnumbered(&out), unnumbered(&whole));
    }
}

/// `text` with the numbers of placeholders (`[EMAIL_2]`) dropped.
fn unnumbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let body = tail[1..]
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .map_or(tail.len() - 1, |i| i);
        let token = &tail[1..1 + body];
        if tail[1 + body..].starts_with(']') {
            if let Some((kind, n)) = token.rsplit_once('_') {
                if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                    out.push('[');
                    out.push_str(kind);
                    out.push_str("_#]");
                    rest = &tail[2 + body..];
                    continue;
                }
            }
        }
        out.push('[');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}
