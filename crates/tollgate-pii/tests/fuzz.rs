//! Fuzzing without a nightly toolchain (`cargo fuzz` needs one, which this project's machines
//! cannot fetch): random and adversarial inputs, many more with `PROPTEST_CASES=100000`. The
//! scanner and redact/restore must never panic and must keep their invariants on any input;
//! their time on adversarial input is measured in the scan benchmark, not asserted here.

use std::sync::OnceLock;

use proptest::prelude::*;
use tollgate_pii::{Redaction, Replacement, Scanner, StreamRestorer};

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

/// Text made of the pieces that drive the recognizers hardest: digits and separators, `@`,
/// brackets and placeholder pieces, key prefixes, letters, and any character.
fn adversarial() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,20}",
        "[ .()/+-]{1,3}",
        Just("@".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("[EMAIL_".to_string()),
        Just("sk-".to_string()),
        Just("-----BEGIN RSA PRIVATE KEY-----".to_string()),
        Just("password=".to_string()),
        Just("://".to_string()),
        "[A-Za-z]{1,12}",
        "\\PC{1,8}",
    ];
    proptest::collection::vec(piece, 0..64).prop_map(|p| p.concat())
}

fn check_findings(text: &str) -> Result<(), TestCaseError> {
    let mut end = 0;
    for f in scanner().scan(text) {
        prop_assert!(f.start >= end && f.start < f.end && f.end <= text.len());
        prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        prop_assert!((0.0..=1.0).contains(&f.confidence));
        end = f.end;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_bytes_scan_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_findings(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn adversarial_text_keeps_the_invariants(text in adversarial()) {
        check_findings(&text)?;
    }

    #[test]
    fn every_replacement_is_well_formed(text in adversarial()) {
        let findings = scanner().scan(&text);
        // A mask keeps the length in characters; the text around findings stays.
        let masked = Redaction::new(b"fuzz").apply(&text, &findings, |_| Some(Replacement::Mask));
        prop_assert_eq!(masked.chars().count(), text.chars().count());
        // A keyed hash names the type, and the same text gives the same output.
        let hashed = Redaction::new(b"fuzz").apply(&text, &findings, |_| Some(Replacement::Hash));
        for f in &findings {
            let marker = format!("[{}_", f.kind.as_str());
            prop_assert!(hashed.contains(&marker), "{} in {:?}", marker, hashed);
        }
        prop_assert_eq!(&hashed, &Redaction::new(b"fuzz").apply(&text, &findings, |_| Some(Replacement::Hash)));
        // Placeholders come back.
        let mut r = Redaction::new(b"fuzz");
        let placed = r.apply(&text, &findings, |_| Some(Replacement::Placeholder));
        prop_assert_eq!(r.restore(&placed), text);
    }

    #[test]
    fn a_stream_of_any_pieces_restores_like_the_whole(
        text in adversarial(),
        sizes in proptest::collection::vec(1usize..9, 1..64),
    ) {
        let findings = scanner().scan(&text);
        let mut r = Redaction::new(b"fuzz");
        let redacted = r.apply(&text, &findings, |_| Some(Replacement::Placeholder));
        let mut s = StreamRestorer::default();
        let mut out = String::new();
        let mut at = 0;
        for n in sizes.iter().cycle() {
            if at >= redacted.len() {
                break;
            }
            let mut to = (at + n).min(redacted.len());
            while !redacted.is_char_boundary(to) {
                to += 1;
            }
            out.push_str(&s.push(&r, &redacted[at..to]));
            at = to;
        }
        out.push_str(&s.finish(&r));
        prop_assert_eq!(out, r.restore(&redacted));
    }
}
