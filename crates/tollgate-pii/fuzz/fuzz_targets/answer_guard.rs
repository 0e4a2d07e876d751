//! Any answer, streamed in the pieces the first bytes choose: the guard lets through what it
//! lets through of the whole answer, and nothing it replaces survives.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_pii::{Act, AnswerGuard, AnswerPolicy, EntityType, Replacement, Scanner};

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

struct ReplaceAll;

impl AnswerPolicy for ReplaceAll {
    fn scanner(&self) -> &Scanner {
        scanner()
    }
    fn act(&self, _: EntityType) -> Act {
        Act::Replace(Replacement::Mask)
    }
}

fuzz_target!(|data: &[u8]| {
    let (cuts, text) = data.split_at(data.len().min(6));
    let text = String::from_utf8_lossy(text);
    // The first byte's low bit reads the text as JSON string content (tool arguments).
    let json = cuts.first().is_some_and(|c| c & 1 == 1);
    let mut whole = AnswerGuard::new(ReplaceAll, None, b"fuzz");
    whole.set_json(json);
    let whole = whole.whole(&text);
    let mut guard = AnswerGuard::new(ReplaceAll, None, b"fuzz");
    guard.set_json(json);
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
    assert_eq!(out, whole);
});
