//! Scoring a detector against a labelled set: per type, precision, recall and F1, strict
//! (same type and the exact byte range) and by overlap (same type, ranges overlap); micro
//! averages; and how many prompts without personal data were flagged.

use std::collections::BTreeMap;

use super::generate::{Sample, Span};
use crate::entity::EntityType;
use crate::scan::Finding;

/// Counts of one type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Found and labelled.
    pub tp: usize,
    /// Found, not labelled.
    pub fp: usize,
    /// Labelled, not found.
    pub fn_: usize,
}

impl Counts {
    /// tp / (tp + fp); 1 when nothing was found.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn); 1 when nothing was labelled.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// The harmonic mean of both.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// The scores of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Per type, strict.
    pub strict: BTreeMap<EntityType, Counts>,
    /// Per type, by overlap.
    pub overlap: BTreeMap<EntityType, Counts>,
    /// Prompts with no label.
    pub clean: usize,
    /// Of those, the ones with a finding.
    pub flagged: usize,
}

impl Report {
    /// Adds one prompt: its labels and what the detector found.
    pub fn add(&mut self, sample: &Sample, found: &[Finding]) {
        if sample.spans.is_empty() {
            self.clean += 1;
            self.flagged += usize::from(!found.is_empty());
        }
        let same = |s: &Span, f: &Finding| s.kind == f.kind;
        let exact = |s: &Span, f: &Finding| same(s, f) && s.start == f.start && s.end == f.end;
        let overlaps = |s: &Span, f: &Finding| same(s, f) && s.start < f.end && f.start < s.end;
        tally(&mut self.strict, &sample.spans, found, exact);
        tally(&mut self.overlap, &sample.spans, found, overlaps);
    }

    /// Micro average over `types` (all when empty).
    pub fn micro(&self, strict: bool, types: &[EntityType]) -> Counts {
        let table = if strict { &self.strict } else { &self.overlap };
        let mut total = Counts::default();
        for (t, c) in table {
            if types.is_empty() || types.contains(t) {
                total.add(*c);
            }
        }
        total
    }

    /// The share of prompts without personal data that were flagged.
    pub fn false_alarm_rate(&self) -> f64 {
        if self.clean == 0 {
            0.0
        } else {
            self.flagged as f64 / self.clean as f64
        }
    }
}

fn tally(
    table: &mut BTreeMap<EntityType, Counts>,
    gold: &[Span],
    found: &[Finding],
    matches: impl Fn(&Span, &Finding) -> bool,
) {
    let mut used = vec![false; found.len()];
    for s in gold {
        let hit = found
            .iter()
            .enumerate()
            .find(|(i, f)| !used[*i] && matches(s, f))
            .map(|(i, _)| i);
        let c = table.entry(s.kind).or_default();
        match hit {
            Some(i) => {
                used[i] = true;
                c.tp += 1;
            }
            None => c.fn_ += 1,
        }
    }
    for (f, _) in found.iter().zip(&used).filter(|(_, u)| !**u) {
        table.entry(f.kind).or_default().fp += 1;
    }
}
