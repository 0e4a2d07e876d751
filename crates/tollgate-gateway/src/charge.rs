//! Credits: what a call may cost before it runs (reserved atomically, so concurrent calls
//! can never overspend a key) and what it did cost (settled after). Pure maths here; the
//! atomic update is the store's.

use tollgate_config::{CreditRule, ModelSettings};

/// Price of `prompt` input and `completion` output tokens, in micro-units, rounded up.
pub(crate) fn cost(model: &ModelSettings, prompt: u32, completion: u32) -> i64 {
    let micros = i128::from(prompt) * i128::from(model.input_micros_per_mtok)
        + i128::from(completion) * i128::from(model.output_micros_per_mtok);
    let rounded_up = (micros + 999_999) / 1_000_000;
    i64::try_from(rounded_up).unwrap_or(i64::MAX)
}

/// The most a call may be charged, reserved before it runs: the prompt estimate plus the whole
/// output allowance (the caller's limit, else what the context leaves).
pub(crate) fn reservation(
    rule: CreditRule,
    per_request: i64,
    model: &ModelSettings,
    prompt_estimate: u32,
    output_limit: Option<u32>,
) -> i64 {
    match rule {
        CreditRule::Request => per_request,
        CreditRule::Cost => {
            let room = model.context_tokens.saturating_sub(prompt_estimate).max(1);
            let output = output_limit.map_or(room, |l| l.min(room));
            cost(model, prompt_estimate, output)
        }
    }
}

/// What the call is charged once its usage is known.
pub(crate) fn charge(
    rule: CreditRule,
    per_request: i64,
    model: &ModelSettings,
    prompt: u32,
    completion: u32,
) -> i64 {
    match rule {
        CreditRule::Request => per_request,
        CreditRule::Cost => cost(model, prompt, completion),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelSettings {
        tollgate_config::default_models()[1].clone()
    }

    #[test]
    fn cost_is_price_per_million_rounded_up() {
        let m = model(); // 3.00 in, 15.00 out per million
        assert_eq!(cost(&m, 1_000_000, 0), 3_000_000);
        assert_eq!(cost(&m, 0, 1), 15);
        assert_eq!(cost(&m, 1, 0), 3);
        assert_eq!(cost(&m, 0, 0), 0);
        assert_eq!(cost(&m, u32::MAX, u32::MAX), 77_309_411_310);
    }

    #[test]
    fn reservation_covers_any_answer_within_the_limit() {
        let m = model();
        for limit in [1u32, 10, 1000] {
            let reserved = reservation(CreditRule::Cost, 0, &m, 50, Some(limit));
            for out in 0..=limit {
                assert!(charge(CreditRule::Cost, 0, &m, 50, out) <= reserved);
            }
        }
        assert_eq!(reservation(CreditRule::Request, 7, &m, 50, None), 7);
    }
}
