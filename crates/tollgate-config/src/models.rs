use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::providers::{ProviderKind, ProviderSettings};

/// One model callers may name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// The name callers use.
    pub name: String,
    /// Which provider serves it: a name under `[providers]`.
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

/// Checks the model table: unique names, configured providers, fallbacks that exist and
/// serve the same kind of call.
pub(crate) fn check_models(
    models: &[ModelSettings],
    providers: &BTreeMap<String, ProviderSettings>,
) -> Result<(), String> {
    for (i, m) in models.iter().enumerate() {
        if m.name.is_empty() {
            return Err(format!("models[{i}]: name must not be empty"));
        }
        if models[..i].iter().any(|o| o.name == m.name) {
            return Err(format!("models[{i}]: the name `{}` is used twice", m.name));
        }
        let Some(provider) = providers.get(&m.provider) else {
            return Err(format!(
                "models[{i}] ({}): provider `{}` is not configured; add [providers.{}] or use one of: {}",
                m.name,
                m.provider,
                m.provider,
                providers.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        if m.kind == ModelKind::Embedding && provider.kind == ProviderKind::Anthropic {
            return Err(format!(
                "models[{i}] ({}): Anthropic serves no embeddings; use an OpenAI-compatible provider",
                m.name
            ));
        }
        if m.upstream_model.is_empty() {
            return Err(format!(
                "models[{i}] ({}): upstream_model must not be empty",
                m.name
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
        for fallback in &m.fallbacks {
            match models.iter().find(|o| &o.name == fallback) {
                None => {
                    return Err(format!(
                        "models[{i}] ({}): fallback `{fallback}` is not in the model table",
                        m.name
                    ))
                }
                Some(o) if o.kind != m.kind || o.name == m.name => {
                    return Err(format!(
                        "models[{i}] ({}): fallback `{fallback}` must be another model of the same kind",
                        m.name
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}
