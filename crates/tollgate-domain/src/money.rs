//! Money as `i64` micro-units of a currency: 1.00 is 1,000,000. Never floats.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Micro-units per whole unit of currency.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount in micro-units of some currency.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(pub i64);

/// Why a decimal amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a decimal number with at most six places.
    #[error("`{0}` is not an amount: write a decimal number with at most six places, e.g. 12.50")]
    Malformed(String),
    /// Too large to hold in micro-units.
    #[error("`{0}` is too large: amounts go up to 9,223,372,036,854.775807")]
    Overflow(String),
}

impl Micros {
    /// A whole number of currency units.
    pub fn from_units(units: i64) -> Option<Self> {
        units.checked_mul(MICROS_PER_UNIT).map(Self)
    }

    /// Parses a decimal amount such as `100000`, `12.5` or `-0.000001`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let well_formed = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 6
            && frac.bytes().all(|b| b.is_ascii_digit())
            && !(digits.ends_with('.'));
        if !well_formed {
            return Err(MoneyError::Malformed(text.to_string()));
        }
        let overflow = || MoneyError::Overflow(text.to_string());
        let whole: i64 = whole.parse().map_err(|_| overflow())?;
        let frac_micros: i64 = format!("{frac:0<6}").parse().map_err(|_| overflow())?;
        let value = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|w| w.checked_add(frac_micros))
            .ok_or_else(overflow)?;
        Ok(Self(if negative { -value } else { value }))
    }

    /// Adds, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }
}

impl fmt::Display for Micros {
    /// Shows the amount with two to six decimal places, as few as keep it exact.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let unit = MICROS_PER_UNIT.unsigned_abs();
        let frac = format!("{:06}", abs % unit);
        let trimmed = frac.trim_end_matches('0');
        let places = if trimmed.len() < 2 {
            &frac[..2]
        } else {
            trimmed
        };
        write!(f, "{sign}{}.{places}", abs / unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_shows_amounts() {
        assert_eq!(Micros::parse("100000").unwrap(), Micros(100_000_000_000));
        assert_eq!(Micros::parse("12.5").unwrap(), Micros(12_500_000));
        assert_eq!(Micros::parse("-0.000001").unwrap(), Micros(-1));
        assert_eq!(Micros(12_500_000).to_string(), "12.50");
        assert_eq!(Micros(1).to_string(), "0.000001");
        assert_eq!(Micros(-1_230_000).to_string(), "-1.23");
    }

    #[test]
    fn rejects_malformed_and_huge_amounts() {
        for bad in ["", "1.", ".5", "1.2345678", "1e3", "12,50", "--1", "abc"] {
            assert!(
                matches!(Micros::parse(bad), Err(MoneyError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Micros::parse("99999999999999"),
            Err(MoneyError::Overflow(_))
        ));
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(v in -9_000_000_000_000_000_000i64..9_000_000_000_000_000_000i64) {
            let shown = Micros(v).to_string();
            prop_assert_eq!(Micros::parse(&shown).unwrap(), Micros(v));
        }
    }
}
