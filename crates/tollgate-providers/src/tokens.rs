//! Token estimates where no tokenizer result is at hand: about four characters per token for
//! English text, and at least one token per word or symbol run. Used by the mock provider and
//! to size credit reservations, never to bill a real provider's answer.

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

#[cfg(test)]
mod tests {
    use super::estimate;

    #[test]
    fn estimates_grow_with_text() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("hi"), 1);
        assert_eq!(estimate("a b c d e"), 5);
        assert!(estimate(&"word ".repeat(100)) >= 100);
    }
}
