//! Any text: redacting every finding to a placeholder and restoring gives the text back,
//! whole and streamed in the pieces the first bytes choose.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_pii::{Redaction, Replacement, Scanner, StreamRestorer};

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

fuzz_target!(|data: &[u8]| {
    let (cuts, text) = data.split_at(data.len().min(4));
    let text = String::from_utf8_lossy(text);
    let mut redaction = Redaction::new(b"fuzz");
    let findings = scanner().scan(&text);
    let redacted = redaction.apply(&text, &findings, |_| Some(Replacement::Placeholder));
    assert_eq!(redaction.restore(&redacted), text);
    let mut restorer = StreamRestorer::default();
    let mut out = String::new();
    let mut at = 0;
    for c in cuts {
        let mut p = (at + usize::from(*c)).min(redacted.len());
        while !redacted.is_char_boundary(p) {
            p += 1;
        }
        out.push_str(&restorer.push(&redaction, &redacted[at..p]));
        at = p;
    }
    out.push_str(&restorer.push(&redaction, &redacted[at..]));
    out.push_str(&restorer.finish(&redaction));
    assert_eq!(out, text);
});
