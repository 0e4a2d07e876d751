//! Token counts. Providers report their own, and those are what calls are charged; when one
//! reports none (a server without usage reporting, a stream cut short, a caller that left),
//! the text is counted with a real tokenizer, OpenAI's `o200k_base`. It takes about 45 MB and
//! 0.3 s to load, so it is loaded only the first time a count is needed, on a thread of its
//! own; until it is there, counts are estimates. Estimates also size credit holds before a
//! call: about four characters per token, at least one per word.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

static TOKENIZER: OnceLock<CoreBPE> = OnceLock::new();
static LOADING: AtomicBool = AtomicBool::new(false);

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

/// Tokens in `text` by the tokenizer, or the estimate while it is loading.
pub fn count(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    match TOKENIZER.get() {
        Some(bpe) => u32::try_from(bpe.count_ordinary(text)).unwrap_or(u32::MAX),
        None => {
            load_in_background();
            estimate(text)
        }
    }
}

/// Loads the tokenizer now, on this thread (tests; a deployment may warm it up).
pub fn load() -> bool {
    if TOKENIZER.get().is_none() {
        if let Ok(bpe) = tiktoken_rs::o200k_base() {
            let _ = TOKENIZER.set(bpe);
        }
    }
    TOKENIZER.get().is_some()
}

fn load_in_background() {
    if LOADING.swap(true, Ordering::AcqRel) {
        return;
    }
    let started = std::thread::Builder::new()
        .name("tokenizer-load".into())
        .spawn(|| {
            if !load() {
                tracing::warn!("the tokenizer could not be loaded; token counts stay estimates");
            }
        });
    if started.is_err() {
        LOADING.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_grow_with_text() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("hi"), 1);
        assert_eq!(estimate("a b c d e"), 5);
        assert!(estimate(&"word ".repeat(100)) >= 100);
    }

    #[test]
    fn counts_are_the_tokenizers_once_loaded() {
        assert!(load());
        // o200k_base: "Hello, world!" is 4 tokens, and 50 "tokenization " 101, well below
        // the character estimate (163).
        assert_eq!(count("Hello, world!"), 4);
        assert_eq!(count(""), 0);
        let text = "tokenization ".repeat(50);
        assert_eq!(count(&text), 101);
        assert!(count(&text) < estimate(&text));
    }
}
