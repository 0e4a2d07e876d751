//! When to try again: exponential backoff with full jitter, and the provider's own
//! `Retry-After` (seconds, an HTTP date, or OpenAI's `retry-after-ms`). Pure.

use std::time::{Duration, SystemTime};

/// The wait before retry number `retry` (0 for the first retry): a uniform draw (`unit` in
/// `[0, 1)`) below `base * 2^retry`, capped at `max`. Full jitter spreads the retries of many
/// callers hit by one outage instead of sending them back together.
pub fn backoff(retry: u32, base: Duration, max: Duration, unit: f64) -> Duration {
    let ceiling = base
        .checked_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// The wait a provider asked for: `retry-after-ms` (milliseconds), else `retry-after` as
/// seconds or as an HTTP date relative to `now`. A value that is no duration (negative, not a
/// number, absurdly large) is not honoured.
pub fn retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (base, max) = (100 * MS, 1000 * MS);
        assert_eq!(backoff(0, base, max, 0.999_999), base.mul_f64(0.999_999));
        assert_eq!(backoff(2, base, max, 0.5), 200 * MS);
        assert_eq!(backoff(10, base, max, 0.5), 500 * MS);
        assert_eq!(backoff(u32::MAX, base, max, 1.0), max);
        assert_eq!(backoff(3, base, max, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_in_every_form() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after(Some("250"), Some("9"), now), Some(250 * MS));
        assert_eq!(
            retry_after(None, Some("2"), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after(None, Some("0.5"), now), Some(500 * MS));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(None, Some(&later), now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(None, Some(&earlier), now), Some(Duration::ZERO));
        assert_eq!(retry_after(None, Some("soon"), now), None);
        assert_eq!(retry_after(None, Some("-1"), now), None);
        assert_eq!(retry_after(None, Some("1e30"), now), None);
        assert_eq!(retry_after(Some("NaN"), None, now), None);
        assert_eq!(retry_after(None, None, now), None);
    }

    proptest! {
        #[test]
        fn backoff_stays_within_its_bounds(retry in 0u32..64, base in 1u64..10_000, extra in 0u64..100_000, unit in 0.0f64..1.0) {
            let (base, max) = (Duration::from_millis(base), Duration::from_millis(base + extra));
            let wait = backoff(retry, base, max, unit);
            prop_assert!(wait <= max);
            prop_assert!(wait <= base * 2u32.saturating_pow(retry.min(31)));
        }
    }
}
