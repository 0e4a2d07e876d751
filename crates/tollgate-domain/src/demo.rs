//! The demo data set of seed 000 and seed 003, generated from a fixed seed so that
//! `tollgate seed --demo` writes the same rows every time and stays idempotent.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::money::Micros;

/// The demo tenant.
pub const TENANT_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0001);
/// Its name.
pub const TENANT_NAME: &str = "Demo Tenant";
/// Its contact address.
pub const TENANT_EMAIL: &str = "demo@llmgovernance.local";
/// Seed 000's demo app.
pub const APP_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0010);
/// Its name.
pub const APP_NAME: &str = "Demo App - AGB Generator";
/// Seed 000's allowed origins for the demo app.
pub const ALLOWED_ORIGINS: [&str; 3] = [
    "http://localhost:3000",
    "http://localhost:8000",
    "https://demo.example.com",
];
/// The root team of seed 003.
pub const ROOT_TEAM_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0020);
/// Its name.
pub const ROOT_TEAM_NAME: &str = "Organization";
/// Its budget: 100,000 units of the configured currency.
pub const ROOT_TEAM_BUDGET_UNITS: i64 = 100_000;
/// The demo administrator (seed 003); the password is generated, never fixed.
pub const ADMIN_EMAIL: &str = "admin@llmgovernance.local";
/// Their user name.
pub const ADMIN_USERNAME: &str = "admin";
/// How many demo keys seed 000 has.
pub const KEY_COUNT: usize = 5;
/// How many demo usage rows seed 000 has.
pub const USAGE_ROW_COUNT: usize = 10;
/// Demo request ids are `00000000-0000-7000-8000-0000d0000001` and up.
const DEMO_REQUEST_BASE: u128 = 0x0000_0000_0000_7000_8000_0000_d000_0000;
/// The fixed seed the demo usage rows come from.
pub const USAGE_SEED: u64 = 0x7011_6a7e;

/// One demo usage row (seed 000: providers anthropic and scaleway, prompt lengths 50-250,
/// tokens 50-200, 95% success, 20% with PII).
#[derive(Clone, Debug, PartialEq)]
pub struct DemoUsage {
    /// Stable request id, so a second run inserts nothing.
    pub request_id: Uuid,
    /// Which of the demo keys made the call (0-based).
    pub key_index: usize,
    /// `anthropic` or `scaleway`.
    pub provider: &'static str,
    /// The model used.
    pub model: &'static str,
    /// Characters in the prompt.
    pub prompt_length: i32,
    /// Input tokens.
    pub prompt_tokens: i32,
    /// Output tokens.
    pub completion_tokens: i32,
    /// Whether the call succeeded.
    pub success: bool,
    /// PII was found in the prompt.
    pub pii_detected: bool,
    /// Cost at the demo prices.
    pub cost: Micros,
    /// How long before seeding the call happened, in minutes.
    pub minutes_ago: i64,
}

/// Demo price per million tokens (input, output), in micro-units.
fn price(provider: &str) -> (i64, i64) {
    match provider {
        "anthropic" => (3_000_000, 15_000_000),
        _ => (900_000, 900_000),
    }
}

/// `count` demo usage rows from `seed`.
pub fn usage_rows(count: usize, seed: u64) -> Vec<DemoUsage> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let (provider, model) = if rng.gen_bool(0.5) {
                ("anthropic", "claude-3-5-sonnet")
            } else {
                ("scaleway", "llama-3.1-70b")
            };
            let tokens: i32 = rng.gen_range(50..=200);
            let prompt_tokens = tokens * 2 / 5;
            let completion_tokens = tokens - prompt_tokens;
            let (p_in, p_out) = price(provider);
            let cost = (i64::from(prompt_tokens) * p_in + i64::from(completion_tokens) * p_out)
                / 1_000_000;
            DemoUsage {
                request_id: Uuid::from_u128(DEMO_REQUEST_BASE + i as u128 + 1),
                key_index: i % KEY_COUNT,
                provider,
                model,
                prompt_length: rng.gen_range(50..=250),
                prompt_tokens,
                completion_tokens,
                success: !rng.gen_bool(0.05),
                pii_detected: rng.gen_bool(0.2),
                cost: Micros(cost),
                minutes_ago: rng.gen_range(5..=7 * 24 * 60),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows() {
        assert_eq!(usage_rows(10, USAGE_SEED), usage_rows(10, USAGE_SEED));
        assert_ne!(usage_rows(10, USAGE_SEED), usage_rows(10, USAGE_SEED + 1));
    }

    #[test]
    fn rows_follow_the_seed_spread() {
        let rows = usage_rows(20_000, 1);
        assert!(rows.iter().all(|r| (50..=250).contains(&r.prompt_length)));
        assert!(rows
            .iter()
            .all(|r| (50..=200).contains(&(r.prompt_tokens + r.completion_tokens))));
        let share = |f: &dyn Fn(&DemoUsage) -> bool| {
            rows.iter().filter(|r| f(r)).count() as f64 / rows.len() as f64
        };
        assert!((share(&|r| r.success) - 0.95).abs() < 0.01);
        assert!((share(&|r| r.pii_detected) - 0.2).abs() < 0.01);
        assert!((share(&|r| r.provider == "anthropic") - 0.5).abs() < 0.02);
    }

    #[test]
    fn demo_rows_have_both_providers_and_some_pii() {
        let rows = usage_rows(USAGE_ROW_COUNT, USAGE_SEED);
        assert!(rows.iter().any(|r| r.provider == "anthropic"));
        assert!(rows.iter().any(|r| r.provider == "scaleway"));
        assert!(rows.iter().any(|r| r.pii_detected));
        assert!(rows.iter().all(|r| r.cost.0 > 0));
    }
}
