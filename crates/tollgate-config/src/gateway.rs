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
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            key_cache_seconds: 5,
            credit_rule: CreditRule::Cost,
            credits_per_request: 1_000_000,
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

/// One model callers may name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// The name callers use.
    pub name: String,
    /// Which provider serves it: `mock` in this build.
    pub provider: String,
    /// The provider's own name for it.
    pub upstream_model: String,
    /// Price per million input tokens, in micro-units.
    pub input_micros_per_mtok: i64,
    /// Price per million output tokens, in micro-units.
    pub output_micros_per_mtok: i64,
    /// Context window in tokens.
    pub context_tokens: u32,
    /// Models to try, in order, when this one fails.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// `chat` (the default) or `embedding`.
    #[serde(default)]
    pub kind: ModelKind,
    /// Length of the vectors an embedding model returns.
    #[serde(default)]
    pub dimensions: u32,
}

/// What a model does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Chat completions and messages.
    #[default]
    Chat,
    /// Embeddings.
    Embedding,
}

/// The built-in mock provider: deterministic answers for demos, tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockSettings {
    /// Delay before the answer (or before each streamed chunk), in milliseconds.
    pub latency_ms: u64,
}

/// Upstream providers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// The mock provider.
    pub mock: MockSettings,
}

/// Providers this build can call.
pub const KNOWN_PROVIDERS: &[&str] = &["mock"];

/// The model table of a fresh installation: two mock models.
pub fn default_models() -> Vec<ModelSettings> {
    vec![
        ModelSettings {
            name: "mock-small".into(),
            provider: "mock".into(),
            upstream_model: "mock-small".into(),
            input_micros_per_mtok: 150_000,
            output_micros_per_mtok: 600_000,
            context_tokens: 16_384,
            fallbacks: Vec::new(),
            kind: ModelKind::Chat,
            dimensions: 0,
        },
        ModelSettings {
            name: "mock-large".into(),
            provider: "mock".into(),
            upstream_model: "mock-large".into(),
            input_micros_per_mtok: 3_000_000,
            output_micros_per_mtok: 15_000_000,
            context_tokens: 200_000,
            fallbacks: vec!["mock-small".into()],
            kind: ModelKind::Chat,
            dimensions: 0,
        },
        ModelSettings {
            name: "mock-embed".into(),
            provider: "mock".into(),
            upstream_model: "mock-embed".into(),
            input_micros_per_mtok: 20_000,
            output_micros_per_mtok: 0,
            context_tokens: 8_192,
            fallbacks: Vec::new(),
            kind: ModelKind::Embedding,
            dimensions: 256,
        },
    ]
}

/// Checks the model table: unique names, known providers, fallbacks that exist.
pub(crate) fn check_models(models: &[ModelSettings]) -> Result<(), String> {
    for (i, m) in models.iter().enumerate() {
        if m.name.is_empty() {
            return Err(format!("models[{i}]: name must not be empty"));
        }
        if models[..i].iter().any(|o| o.name == m.name) {
            return Err(format!("models[{i}]: the name `{}` is used twice", m.name));
        }
        if !KNOWN_PROVIDERS.contains(&m.provider.as_str()) {
            return Err(format!(
                "models[{i}] ({}): provider `{}` is not available in this build; available: {}",
                m.name,
                m.provider,
                KNOWN_PROVIDERS.join(", ")
            ));
        }
        if m.input_micros_per_mtok < 0 || m.output_micros_per_mtok < 0 {
            return Err(format!(
                "models[{i}] ({}): prices must not be negative",
                m.name
            ));
        }
        if m.kind == ModelKind::Embedding && !(1..=16_384).contains(&m.dimensions) {
            return Err(format!(
                "models[{i}] ({}): an embedding model needs dimensions between 1 and 16384",
                m.name
            ));
        }
        if let Some(missing) = m
            .fallbacks
            .iter()
            .find(|f| !models.iter().any(|o| &o.name == *f))
        {
            return Err(format!(
                "models[{i}] ({}): fallback `{missing}` is not in the model table",
                m.name
            ));
        }
    }
    Ok(())
}
