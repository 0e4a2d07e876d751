//! Runs of digits: one byte loop over the text finds every stretch of digits and the
//! separators people put between them (`+49 (0)30 123`, `4111-1111`, `192.168.0.1`, a NIR's
//! Corsican `2A`). The recognizers of numbers look inside these runs only, so a text costs
//! one pass for all of them, and a text without digits costs almost nothing.

/// One run and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: usize,
    pub end: usize,
    pub digits: usize,
    pub dots: usize,
}

/// Separators that may stand between the digits of one number, at most two in a row.
fn separator(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'(' | b')' | b'/' | b'-')
}

/// Every run of `text`, in order. A run starts at a digit (or a `+` or `(` right before one)
/// and ends after its last digit (and a `)` right after it).
pub(crate) fn runs(text: &str) -> Vec<Run> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(u8::is_ascii_digit))
    {
        i += p;
        let start = if i > 0 && matches!(b[i - 1], b'+' | b'(') {
            i - 1
        } else {
            i
        };
        let (mut j, mut digits, mut dots) = (i, 0, 0);
        let end = loop {
            while j < b.len()
                && (b[j].is_ascii_digit()
                    || (matches!(b[j], b'A' | b'B' | b'a' | b'b') && b[j - 1].is_ascii_digit()))
            {
                digits += usize::from(b[j].is_ascii_digit());
                j += 1;
            }
            let mut k = j;
            while k < b.len() && k - j < 2 && separator(b[k]) {
                k += 1;
            }
            if k > j && k < b.len() && b[k].is_ascii_digit() {
                dots += b[j..k].iter().filter(|&&c| c == b'.').count();
                j = k;
            } else {
                break if b.get(j) == Some(&b')') { j + 1 } else { j };
            }
        };
        out.push(Run {
            start,
            end,
            digits,
            dots,
        });
        i = end.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<&str> {
        runs(text).iter().map(|r| &text[r.start..r.end]).collect()
    }

    #[test]
    fn numbers_with_their_separators() {
        assert_eq!(
            spans("call +49 (0)30 12345678 or (415) 555-2671, card 4111-1111; ip 10.0.0.1."),
            vec![
                "+49 (0)30 12345678",
                "(415) 555-2671",
                "4111-1111",
                "10.0.0.1"
            ]
        );
        assert_eq!(
            spans("NIR 1 85 05 2A 006 084 35"),
            vec!["1 85 05 2A 006 084 35"]
        );
        assert_eq!(spans("at 14:35 on 2024"), vec!["14", "35", "2024"]);
        assert_eq!(spans("no digits here"), Vec::<&str>::new());
        let r = runs("192.168.1.20");
        assert_eq!((r[0].digits, r[0].dots), (9, 3));
    }
}
