//! Looking around a candidate: boundaries, separators, nearby words.

use std::collections::HashSet;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

/// The character before byte `i`, if any.
pub(crate) fn before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

/// The character at byte `i`, if any.
pub(crate) fn at(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `start..end` stands on its own: not glued to a letter or digit, nor to one through
/// a joining mark (`-`, `.`, `/`, `:`, `+`, `_`), so a piece of a longer number, an id, a
/// hash or a version is not taken for a whole. A sentence's full stop after it is fine.
pub(crate) fn isolated(text: &str, start: usize, end: usize) -> bool {
    let joins = |c: char| matches!(c, '-' | '.' | '/' | ':' | '+' | '_' | '@' | '#' | '=');
    let left_ok = match before(text, start) {
        None => true,
        Some(c) if word_char(c) => false,
        Some(c) if joins(c) => !before(text, start - c.len_utf8()).is_some_and(word_char),
        Some(_) => true,
    };
    let right_ok = match at(text, end) {
        None => true,
        Some(c) if word_char(c) => false,
        Some(c) if joins(c) => !at(text, end + c.len_utf8()).is_some_and(word_char),
        Some(_) => true,
    };
    left_ok && right_ok
}

/// Whether the digits at `start..end` go on past it after one space (`DE89 3704 0044 …`): then
/// the span is a piece of a longer number.
pub(crate) fn number_continues(text: &str, start: usize, end: usize) -> bool {
    let left = before(text, start) == Some(' ')
        && before(text, start - 1).is_some_and(|c| c.is_ascii_digit());
    let right = at(text, end) == Some(' ') && at(text, end + 1).is_some_and(|c| c.is_ascii_digit());
    left || right
}

/// The ASCII digits of `s`, separators dropped.
pub(crate) fn digits(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).collect()
}

/// The letters and digits of `s`, separators dropped.
pub(crate) fn alnum(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_alphanumeric).collect()
}

/// Whether `s` separates its groups with one kind of separator at most (`4111 1111-1111`
/// is not a number anyone types).
pub(crate) fn one_separator(s: &str) -> bool {
    let mut seen = None;
    for c in s.chars().filter(|c| !c.is_ascii_alphanumeric()) {
        match seen {
            None => seen = Some(c),
            Some(s) if s != c => return false,
            Some(_) => {}
        }
    }
    true
}

/// Up to `n` bytes before `start`, lowercased, cut at a character boundary.
pub(crate) fn window_before(text: &str, start: usize, n: usize) -> String {
    let mut from = start.saturating_sub(n);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    text.get(from..start).unwrap_or_default().to_lowercase()
}

/// Whether any of `words` is in the `n` bytes before `start` (lowercased).
pub(crate) fn preceded_by(text: &str, start: usize, n: usize, words: &Phrases) -> bool {
    words.in_text(&window_before(text, start, n))
}

/// A fixed list of lower-case words and phrases, found in a text in one pass (Aho-Corasick,
/// built on first use) instead of one search per phrase.
pub(crate) struct Phrases {
    list: &'static [&'static str],
    matcher: OnceLock<Option<AhoCorasick>>,
}

impl Phrases {
    pub(crate) const fn new(list: &'static [&'static str]) -> Self {
        Self {
            list,
            matcher: OnceLock::new(),
        }
    }

    /// The phrases.
    pub(crate) fn list(&self) -> &'static [&'static str] {
        self.list
    }

    /// Whether lower-case `text` holds one of the phrases.
    pub(crate) fn in_text(&self, text: &str) -> bool {
        match self
            .matcher
            .get_or_init(|| AhoCorasick::new(self.list).ok())
        {
            Some(matcher) => matcher.is_match(text),
            // A list the automaton cannot be built for is searched phrase by phrase.
            None => self.list.iter().any(|w| text.contains(w)),
        }
    }
}

/// A fixed set of words, looked up by hash (built on first use).
pub(crate) struct WordSet {
    list: &'static [&'static str],
    set: OnceLock<HashSet<&'static str>>,
}

impl WordSet {
    pub(crate) const fn new(list: &'static [&'static str]) -> Self {
        Self {
            list,
            set: OnceLock::new(),
        }
    }

    /// Whether `word` is one of the set's, as written.
    pub(crate) fn contains(&self, word: &str) -> bool {
        self.set
            .get_or_init(|| self.list.iter().copied().collect())
            .contains(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation() {
        let t = "card 4111 here, id-4111, v4111.2 and 4111.";
        let at4111 = |n: usize| t.match_indices("4111").nth(n).map(|(i, _)| i).unwrap_or(0);
        assert!(isolated(t, at4111(0), at4111(0) + 4));
        assert!(!isolated(t, at4111(1), at4111(1) + 4), "joined by a hyphen");
        assert!(!isolated(t, at4111(2), at4111(2) + 4), "glued to a letter");
        assert!(
            isolated(t, at4111(3), at4111(3) + 4),
            "a full stop ends the sentence"
        );
    }

    #[test]
    fn windows_respect_char_boundaries() {
        let t = "Téléphone : 01 23";
        let i = t.find("01").unwrap_or(0);
        static PHONE: Phrases = Phrases::new(&["phone"]);
        assert!(preceded_by(t, i, 12, &PHONE));
        assert_eq!(window_before(t, i, 100), "téléphone : ");
    }
}
