//! The scanner: one pass of a combined pattern set tells which recognizers can match; only
//! those run (the recognizers of numbers run inside the runs of digits `runs` finds, not on the
//! whole text), their checks confirm candidates, and overlaps go to the more specific finding.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Serialize;

use crate::entity::{EntityType, SecretKind};
use crate::recognizers::{self, Check, Confirmed, Numeric, Window};
use crate::runs::{runs, Run};

/// Compiled patterns are capped at this size (a tenant's pattern cannot take the memory).
const PATTERN_SIZE_LIMIT: usize = 4 << 20;

/// One thing found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// What it is.
    #[serde(rename = "type")]
    pub kind: EntityType,
    /// For a secret, which kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretKind>,
    /// For a custom pattern or keyword list, its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Byte offset where it starts.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// How sure the detector is, 0 to 1.
    #[serde(serialize_with = "two_places")]
    pub confidence: f32,
}

/// A confidence as JSON: to two places (`0.99`, not the `0.9900000095367432` an `f32` widens
/// to).
fn two_places<S: serde::Serializer>(c: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((f64::from(*c) * 100.0).round() / 100.0)
}

/// A tenant's pattern or keyword list that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// The regular expression does not compile.
    #[error("custom pattern {name:?} is not a valid regular expression: {reason}")]
    Invalid {
        /// The pattern's name.
        name: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// The pattern matches the empty string, so it would flag every text.
    #[error("custom pattern {name:?} matches empty text; make it match at least one character")]
    MatchesEmpty {
        /// The pattern's name.
        name: String,
    },
    /// A keyword list with nothing in it.
    #[error("keyword list {name:?} has no keywords")]
    NoKeywords {
        /// The list's name.
        name: String,
    },
}

struct Compiled {
    /// For an identifier around digits: the runs it looks at.
    numeric: Option<Numeric>,
    kind: EntityType,
    secret: Option<SecretKind>,
    label: Option<String>,
    regex: Regex,
    group: usize,
    check: Check,
}

/// The detector: build once (patterns compile once), scan any number of texts, from any
/// number of threads.
pub struct Scanner {
    /// The recognizers that run on the whole text, and their combined set (the first pass).
    compiled: Vec<Compiled>,
    set: RegexSet,
    /// The recognizers that run on their own on the whole text.
    alone: Vec<Compiled>,
    /// The recognizers of numbers, which run inside runs of digits only.
    numbers: Vec<Compiled>,
}

/// Runs with fewer digits hold nothing any recognizer looks for (an IBAN's check digits).
const FEWEST_DIGITS: usize = 2;

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("recognizers", &self.compiled.len())
            .finish()
    }
}

/// Builds a [`Scanner`] with a tenant's own patterns and keyword lists.
#[derive(Default)]
pub struct ScannerBuilder {
    custom: Vec<(String, String, usize)>,
    only: Option<Vec<EntityType>>,
}

impl ScannerBuilder {
    /// Adds a regular expression whose matches are findings of type `CUSTOM` named `name`.
    pub fn pattern(mut self, name: &str, regex: &str) -> Result<Self, PatternError> {
        let compiled = compile(regex).map_err(|e| PatternError::Invalid {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        if compiled.is_match("") {
            return Err(PatternError::MatchesEmpty {
                name: name.to_string(),
            });
        }
        self.custom.push((name.to_string(), regex.to_string(), 0));
        Ok(self)
    }

    /// Adds keywords (whole words, any case) whose occurrences are findings of type `CUSTOM`
    /// named `name`.
    pub fn keywords(mut self, name: &str, words: &[&str]) -> Result<Self, PatternError> {
        let words: Vec<String> = words
            .iter()
            .map(|w| w.trim())
            .filter(|w| !w.is_empty())
            .map(regex::escape)
            .collect();
        if words.is_empty() {
            return Err(PatternError::NoKeywords {
                name: name.to_string(),
            });
        }
        let regex = format!(r"(?i)(?:^|[^\w])({})(?:$|[^\w])", words.join("|"));
        self.custom.push((name.to_string(), regex, 1));
        Ok(self)
    }

    /// Looks for these built-in types only (custom ones are always on).
    pub fn only(mut self, types: &[EntityType]) -> Self {
        self.only = Some(types.to_vec());
        self
    }

    /// Compiles everything into one scanner.
    pub fn build(self) -> Result<Scanner, PatternError> {
        let mut compiled = Vec::new();
        let mut numbers = Vec::new();
        let mut alone = Vec::new();
        for r in recognizers::builtin() {
            if self
                .only
                .as_ref()
                .is_some_and(|only| !only.contains(&r.kind))
            {
                continue;
            }
            let regex = compile(r.pattern).map_err(|e| PatternError::Invalid {
                name: r.kind.as_str().to_string(),
                reason: e.to_string(),
            })?;
            let c = Compiled {
                numeric: r.numeric,
                kind: r.kind,
                secret: r.secret,
                label: None,
                regex,
                group: r.group,
                check: r.check,
            };
            if c.numeric.is_some() {
                numbers.push(c);
            } else if r.own_pass {
                alone.push(c);
            } else {
                compiled.push(c);
            }
        }
        for (name, pattern, group) in self.custom {
            let regex = compile(&pattern).map_err(|e| PatternError::Invalid {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            compiled.push(Compiled {
                numeric: None,
                kind: EntityType::Custom,
                secret: None,
                label: Some(name),
                regex,
                group,
                check: custom_check,
            });
        }
        let set = RegexSetBuilder::new(compiled.iter().map(|c| c.regex.as_str()))
            .size_limit(PATTERN_SIZE_LIMIT * 8)
            .build()
            .map_err(|e| PatternError::Invalid {
                name: "the combined set".into(),
                reason: e.to_string(),
            })?;
        Ok(Scanner {
            compiled,
            set,
            alone,
            numbers,
        })
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

fn custom_check(_text: &str, start: usize, end: usize) -> Option<Confirmed> {
    (end > start).then_some(Confirmed {
        start,
        end,
        confidence: 0.9,
    })
}

impl Scanner {
    /// Every built-in type, no custom patterns.
    pub fn new() -> Self {
        // The built-in patterns are tested to compile; a failure would be a bug in this crate.
        Self::builder().build().unwrap_or_else(|_| Scanner {
            compiled: Vec::new(),
            set: RegexSet::empty(),
            alone: Vec::new(),
            numbers: Vec::new(),
        })
    }

    /// A builder for custom patterns and type selection.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// Whether `text` (an object key, a label) written before a value can change what is
    /// found in the value: whether it holds a word the recognizers read as context.
    pub fn gives_context(&self, text: &str) -> bool {
        recognizers::gives_context(text)
    }

    /// The findings in `text`, in order, none overlapping.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut candidates = Vec::new();
        for i in self.set.matches(text).iter() {
            find(&self.compiled[i], text, 0, text, &mut candidates);
        }
        for c in &self.alone {
            find(c, text, 0, text, &mut candidates);
        }
        if !self.numbers.is_empty() {
            for run in runs(text).into_iter().filter(|r| r.digits >= FEWEST_DIGITS) {
                for c in &self.numbers {
                    let Some((from, to)) = c.numeric.and_then(|n| window(text, &run, n)) else {
                        continue;
                    };
                    if let Some(part) = text.get(from..to) {
                        find(c, text, from, part, &mut candidates);
                    }
                }
            }
        }
        resolve(candidates)
    }
}

/// The stretch of `text` a recognizer looks at for `run`, if the run is one it looks at.
fn window(text: &str, run: &Run, n: Numeric) -> Option<(usize, usize)> {
    if run.digits < n.digits || run.dots < n.dots {
        return None;
    }
    match n.window {
        Window::Run => Some((run.start, run.end)),
        Window::Lead {
            letters,
            space,
            len,
        } => {
            let b = text.as_bytes();
            let gap = usize::from(space && run.start > 0 && b[run.start - 1] == b' ');
            let from = run.start.checked_sub(letters + gap)?;
            if !b[from..from + letters].iter().all(u8::is_ascii_alphabetic) {
                return None;
            }
            let mut to = (from + len).min(text.len());
            while !text.is_char_boundary(to) {
                to -= 1;
            }
            Some((from, to))
        }
    }
}

/// Runs `c` over `part` (the text from byte `offset` on) and confirms each match against the
/// whole text.
fn find(c: &Compiled, text: &str, offset: usize, part: &str, out: &mut Vec<Finding>) {
    let mut confirm = |start: usize, end: usize| {
        if let Some(ok) = (c.check)(text, offset + start, offset + end) {
            out.push(finding(c, ok));
        }
    };
    if c.group == 0 {
        for m in c.regex.find_iter(part) {
            confirm(m.start(), m.end());
        }
    } else {
        for caps in c.regex.captures_iter(part) {
            if let Some(m) = caps.get(c.group) {
                confirm(m.start(), m.end());
            }
        }
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

fn finding(c: &Compiled, ok: Confirmed) -> Finding {
    Finding {
        kind: c.kind,
        secret: c.secret,
        label: c.label.clone(),
        start: ok.start,
        end: ok.end,
        confidence: ok.confidence,
    }
}

/// Keeps, of overlapping findings, the more specific type, then the longer, then the first.
fn resolve(mut candidates: Vec<Finding>) -> Vec<Finding> {
    candidates.sort_by(|a, b| {
        b.kind
            .precedence()
            .cmp(&a.kind.precedence())
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    let mut taken: BTreeMap<usize, Finding> = BTreeMap::new();
    for f in candidates {
        let before_overlaps = taken
            .range(..=f.start)
            .next_back()
            .is_some_and(|(_, t)| t.end > f.start);
        let after_overlaps = taken.range(f.start..f.end).next().is_some();
        if !before_overlaps && !after_overlaps {
            taken.insert(f.start, f);
        }
    }
    taken.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::Scanner;

    #[test]
    fn keys_that_give_context_and_keys_that_do_not() {
        let s = Scanner::new();
        for key in [
            "password",
            "API_KEY",
            "order_id",
            "ssn",
            "phone",
            "name",
            "Steuer-ID",
        ] {
            assert!(s.gives_context(key), "{key}");
        }
        for key in [
            "content",
            "text",
            "role",
            "model",
            "type",
            "messages",
            "arguments",
            "input",
        ] {
            assert!(!s.gives_context(key), "{key}");
        }
    }
}
