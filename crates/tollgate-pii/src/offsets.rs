//! Byte offsets to character offsets, for callers that count in characters (JavaScript,
//! Python).

/// Converts sorted byte offsets of `text` (each at a character boundary) to character offsets.
pub fn byte_to_char_offsets(text: &str, bytes: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..bytes.len()).collect();
    order.sort_by_key(|&i| bytes[i]);
    let mut result = vec![0; bytes.len()];
    let mut chars = 0;
    let mut pos = 0;
    for i in order {
        let target = bytes[i].min(text.len());
        if let Some(slice) = text.get(pos..target) {
            chars += slice.chars().count();
            pos = target;
        }
        result[i] = chars;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_text() {
        let t = "héllo wörld";
        let w = t.find("wörld").unwrap_or(0);
        assert_eq!(byte_to_char_offsets(t, &[w, 0, t.len()]), vec![6, 0, 11]);
    }
}
