//! Token counts. Providers report their own, and those are what calls are charged; when one
//! reports none (a server without usage reporting, a stream cut short, a caller that left),
//! the text is counted with a real tokenizer, OpenAI's `o200k_base`. Estimates size credit
//! holds before a call: about four characters per token, at least one per word.
//!
//! Counting needs only the ranks of the vocabulary and the split pattern, not the encoder and
//! decoder tables `tiktoken-rs` keeps (about 45 MB resident). So the counter reads the
//! vocabulary out of `tiktoken-rs` once, keeps it as one block of bytes and a table of slices
//! into it, and lets the rest go: about 25 MB stay resident (the table, the split pattern's
//! automata). It is built the first time a count is needed, on a thread of its own (about
//! 0.6 s); until it is there, counts are estimates. Results equal `tiktoken-rs`'s (tested).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Ranks are below this in `o200k_base` (199,998 ordinary tokens; the specials sit above).
const VOCABULARY_END: u32 = 199_998;
/// Longer pieces (no space for kilobytes) are merged in runs of this many bytes, so one
/// pathological string cannot take quadratic time; real text never has pieces this long.
const LONGEST_PIECE: usize = 1024;

static COUNTER: OnceLock<Counter> = OnceLock::new();
static BUILDING: AtomicBool = AtomicBool::new(false);

/// Estimated tokens in `text`.
pub fn estimate(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    let chars = text.chars().count();
    let words = text.split_whitespace().count();
    let by_chars = chars.div_ceil(4);
    u32::try_from(by_chars.max(words)).unwrap_or(u32::MAX)
}

/// How much a count is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counting {
    /// The provider reported nothing: count with the tokenizer, building it if need be.
    Exact,
    /// A partial answer its caller abandoned: the tokenizer if it is built, else the estimate
    /// (not worth 25 MB in a process whose providers report their counts).
    IfReady,
}

/// Tokens in `text` by `o200k_base`, or the estimate while the counter is being built.
pub fn count(text: &str) -> u32 {
    count_with(text, Counting::Exact)
}

/// Tokens in `text`, counted as `how` says.
pub fn count_with(text: &str, how: Counting) -> u32 {
    if text.is_empty() {
        return 0;
    }
    match COUNTER.get() {
        Some(counter) => u32::try_from(counter.count(text)).unwrap_or(u32::MAX),
        None => {
            if how == Counting::Exact {
                build_in_background();
            }
            estimate(text)
        }
    }
}

/// Builds the counter now, on this thread (tests; a deployment may warm it up). `false` if it
/// cannot be built.
pub fn load() -> bool {
    if COUNTER.get().is_none() {
        match Counter::build() {
            Some(counter) => {
                let _ = COUNTER.set(counter);
            }
            None => tracing::warn!("the tokenizer could not be built; token counts stay estimates"),
        }
    }
    COUNTER.get().is_some()
}

fn build_in_background() {
    if BUILDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let started = std::thread::Builder::new()
        .name("tokenizer-build".into())
        .spawn(|| {
            load();
        });
    if started.is_err() {
        BUILDING.store(false, Ordering::Release);
    }
}

/// Counts `o200k_base` tokens: the text split as the tokenizer splits it, each piece merged
/// pair by pair, lowest rank first, as byte-pair encoding does.
struct Counter {
    ranks: HashMap<&'static [u8], u32>,
    split: fancy_regex::Regex,
}

impl Counter {
    fn build() -> Option<Counter> {
        // Both buffers are allocated up front, in one piece each, before the full tokenizer
        // is dropped: nothing of ours sits among its many small allocations, so the allocator
        // can give all of those back.
        let mut bytes = Vec::with_capacity(2 * 1024 * 1024);
        let mut spans: Vec<(u32, u32)> = Vec::with_capacity(VOCABULARY_END as usize);
        {
            let full = tiktoken_rs::o200k_base().ok()?;
            for rank in 0..VOCABULARY_END {
                let token = full.decode_bytes(&[rank]).unwrap_or_default();
                let start = u32::try_from(bytes.len()).ok()?;
                spans.push((start, u32::try_from(token.len()).ok()?));
                bytes.extend_from_slice(&token);
            }
        }
        // One block for the life of the process: the table borrows from it.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let ranks = spans
            .into_iter()
            .zip(0..)
            .filter(|((_, len), _)| *len > 0)
            .map(|((start, len), rank)| (&bytes[start as usize..(start + len) as usize], rank))
            .collect();
        let split = fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).ok()?;
        Some(Counter { ranks, split })
    }

    fn count(&self, text: &str) -> usize {
        let mut n = 0;
        for piece in self.split.find_iter(text) {
            let Ok(piece) = piece else {
                // The pattern gave up on this input (backtracking limit): estimate the rest.
                return n + estimate(text) as usize;
            };
            let piece = piece.as_str().as_bytes();
            n += piece
                .chunks(LONGEST_PIECE)
                .map(|run| self.merged_len(run))
                .sum::<usize>();
        }
        n
    }

    /// How many tokens `piece` becomes.
    fn merged_len(&self, piece: &[u8]) -> usize {
        if piece.len() < 2 || self.ranks.contains_key(piece) {
            return piece.len().min(1);
        }
        // Token boundaries, and the rank of the token that merging each with the next makes.
        let mut starts: Vec<usize> = (0..=piece.len()).collect();
        let rank_at = |starts: &[usize], i: usize| -> u32 {
            match starts.get(i + 2) {
                Some(end) => self
                    .ranks
                    .get(&piece[starts[i]..*end])
                    .copied()
                    .unwrap_or(u32::MAX),
                None => u32::MAX,
            }
        };
        let mut pair: Vec<u32> = (0..starts.len() - 1).map(|i| rank_at(&starts, i)).collect();
        // The leftmost lowest-ranked pair merges first, until no pair makes a token.
        while let Some((i, _)) = pair
            .iter()
            .enumerate()
            .filter(|(_, r)| **r != u32::MAX)
            .min_by_key(|(_, r)| **r)
        {
            starts.remove(i + 1);
            pair.remove(i + 1);
            pair[i] = rank_at(&starts, i);
            if i > 0 {
                pair[i - 1] = rank_at(&starts, i - 1);
            }
        }
        starts.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn estimates_grow_with_text() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("hi"), 1);
        assert_eq!(estimate("a b c d e"), 5);
        assert!(estimate(&"word ".repeat(100)) >= 100);
    }

    fn reference() -> &'static tiktoken_rs::CoreBPE {
        tiktoken_rs::o200k_base_singleton()
    }

    #[test]
    fn counts_what_tiktoken_counts() {
        assert!(load());
        let texts = [
            "Hello, world!",
            "This is the mock-small mock model of Tollgate. You said: Say hello",
            "Grüße aus Köln: «Straße» — 12.500,00 € am 03.11.2026, Tel. +49 30 1234567",
            "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\n\n",
            "日本語のテキストと中文文本以及한국어",
            "emoji 🎉🎉 and tabs\t\tand   spaces   ",
            "tokenization tokenization tokenization",
            "SELECT * FROM usage_logs WHERE id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';",
        ];
        for text in texts {
            assert_eq!(
                count(text) as usize,
                reference().count_ordinary(text),
                "{text:?}"
            );
        }
        assert_eq!(count("Hello, world!"), 4);
        assert_eq!(count(""), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn any_text_counts_as_tiktoken_counts(text in "\\PC{0,80}") {
            prop_assume!(load());
            prop_assert_eq!(count(&text) as usize, reference().count_ordinary(&text));
        }

        #[test]
        fn prose_counts_as_tiktoken_counts(words in proptest::collection::vec("[a-zA-Z]{1,12}|[0-9]{1,6}|[.,;:!?'\"()-]|\\n", 0..60)) {
            prop_assume!(load());
            let text = words.join(" ");
            prop_assert_eq!(count(&text) as usize, reference().count_ordinary(&text));
        }
    }
}
