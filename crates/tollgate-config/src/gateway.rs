use serde::{Deserialize, Serialize};

/// The data plane: limits, key cache and how credits are charged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// How long a looked-up key is trusted before it is read again: a revoked or topped-up key
    /// takes effect on every replica within this many seconds.
    pub key_cache_seconds: u64,
    /// `cost` (the call's price in micro-units) or `request` (a fixed amount per call).
    pub credit_rule: CreditRule,
    /// Micro-units charged per call under the `request` rule.
    pub credits_per_request: i64,
    /// How long a call may take to get an answer started, across every retry and fallback.
    pub call_deadline_seconds: u64,
    /// How many calls' worth of credits a process leases from a key at once (spent in memory,
    /// so calls do no database write for their credits).
    pub credit_lease_calls: u32,
    /// A key unused this long gets its lease back, for other processes to use.
    pub credit_lease_idle_seconds: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            key_cache_seconds: 5,
            credit_rule: CreditRule::Cost,
            credits_per_request: 1_000_000,
            call_deadline_seconds: 300,
            credit_lease_calls: 20,
            credit_lease_idle_seconds: 10,
        }
    }
}

/// How a key with credits is charged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CreditRule {
    /// The call's cost from the model's prices.
    #[default]
    Cost,
    /// `gateway.credits_per_request` per call.
    Request,
}
