//! A circuit breaker per provider: after `threshold` consecutive outage failures it opens and
//! refuses calls for `open_for` (they go to a fallback model at once instead of waiting on a
//! provider that is down); then one probe call is let through, and its outcome closes the
//! breaker or opens it again. The state machine is pure; `now` comes from the caller.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is out since `since`; if it never reports, another may go after `open_for`.
    Probing {
        since: Instant,
    },
}

/// One provider's breaker.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker; `threshold` 0 never opens.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Whether a call may go now; `Err` holds how long until one may.
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now < until => Err(until - now),
            State::Probing { since } if now < since + self.open_for => {
                Err(since + self.open_for - now)
            }
            State::Open { .. } | State::Probing { .. } => {
                *state = State::Probing { since: now };
                Ok(())
            }
        }
    }

    /// Records an attempt's outcome: `outage` when it failed in a way that says the provider
    /// is unwell.
    pub fn record(&self, outage: bool, now: Instant) {
        if self.threshold == 0 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = match (*state, outage) {
            (_, false) => State::Closed { failures: 0 },
            (State::Closed { failures }, true) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (_, true) => State::Open {
                until: now + self.open_for,
            },
        };
    }

    /// Whether the breaker refuses calls now (for `/readyz`-style reports and metrics).
    pub fn is_open(&self, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        matches!(*state, State::Open { until } if now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_probes_once() {
        let t0 = Instant::now();
        let open_for = Duration::from_secs(10);
        let b = Breaker::new(3, open_for);
        for _ in 0..2 {
            b.record(true, t0);
            assert_eq!(b.admit(t0), Ok(()));
        }
        b.record(true, t0);
        assert_eq!(
            b.admit(t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert!(b.is_open(t0));
        let t1 = t0 + open_for;
        assert_eq!(b.admit(t1), Ok(()), "the probe");
        assert!(b.admit(t1).is_err(), "only one probe at a time");
        b.record(true, t1);
        assert!(
            b.admit(t1 + Duration::from_secs(1)).is_err(),
            "a failed probe opens it again"
        );
        let t2 = t1 + open_for;
        assert_eq!(b.admit(t2), Ok(()));
        b.record(false, t2);
        assert_eq!(b.admit(t2), Ok(()));
        assert_eq!(b.admit(t2), Ok(()), "closed again: everything goes");
    }

    #[test]
    fn a_success_resets_the_count_and_a_lost_probe_is_replaced() {
        let t0 = Instant::now();
        let b = Breaker::new(2, Duration::from_secs(5));
        b.record(true, t0);
        b.record(false, t0);
        b.record(true, t0);
        assert_eq!(b.admit(t0), Ok(()), "failures were not consecutive");
        b.record(true, t0);
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.admit(t1), Ok(()));
        // The probe never reports (its caller went away): another goes after open_for.
        assert_eq!(b.admit(t1 + Duration::from_secs(5)), Ok(()));
        let never = Breaker::new(0, Duration::from_secs(5));
        for _ in 0..10 {
            never.record(true, t0);
        }
        assert_eq!(never.admit(t0), Ok(()));
    }
}
