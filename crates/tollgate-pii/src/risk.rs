//! Risk of a text from its findings: seed 001's green / amber / red, against the tenant's
//! `sensitivity_thresholds`.

use serde::{Deserialize, Serialize};

use crate::entity::EntityType;
use crate::scan::Finding;

/// How risky a text is to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Nothing sensitive found.
    Green,
    /// Some sensitive data.
    Amber,
    /// Much of it, or a type that is red on its own (credentials by default).
    Red,
}

impl Risk {
    /// `green`, `amber` or `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Green => "green",
            Risk::Amber => "amber",
            Risk::Red => "red",
        }
    }
}

/// A tenant's `sensitivity_thresholds`: findings from `amber` on make a text amber, from `red`
/// on red, and one finding of a `red_types` type makes it red by itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Findings that make a text amber (default 1).
    pub amber: usize,
    /// Findings that make a text red (default 3).
    pub red: usize,
    /// Types that make a text red on their own (default: `SECRET`).
    pub red_types: Vec<EntityType>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            amber: 1,
            red: 3,
            red_types: vec![EntityType::Secret],
        }
    }
}

impl Thresholds {
    /// The risk of a text with these findings.
    pub fn risk(&self, findings: &[Finding]) -> Risk {
        let n = findings.len();
        if findings.iter().any(|f| self.red_types.contains(&f.kind))
            || (self.red > 0 && n >= self.red)
        {
            Risk::Red
        } else if n > 0 && n >= self.amber.max(1) {
            Risk::Amber
        } else {
            Risk::Green
        }
    }
}
