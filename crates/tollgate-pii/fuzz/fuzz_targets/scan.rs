//! Any text: the scanner does not panic, and its findings are sorted, disjoint and on
//! character boundaries.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_pii::Scanner;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let findings = scanner().scan(&text);
    let mut end = 0;
    for f in &findings {
        assert!(f.start >= end, "findings overlap or are out of order");
        assert!(f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        end = f.end;
    }
});
