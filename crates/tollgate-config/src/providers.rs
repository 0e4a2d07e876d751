use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How Tollgate talks to a provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The OpenAI API and every server that speaks it: OpenAI, Mistral, Scaleway, vLLM,
    /// Ollama, LiteLLM, ... (`base_url` ends in `/v1`).
    #[default]
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
    /// The built-in mock: deterministic answers in-process, no network.
    Mock,
}

impl ProviderKind {
    /// The lowercase name used in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Mock => "mock",
        }
    }
}

/// One upstream provider (`[providers.NAME]`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// `openai` (any OpenAI-compatible server, the default), `anthropic` or `mock`.
    pub kind: ProviderKind,
    /// Where the API lives: `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama),
    /// `https://api.anthropic.com`. Empty: the vendor's public endpoint for `openai` and
    /// `anthropic`.
    pub base_url: String,
    /// The provider key. Prefer `api_key_env` or `TOLLGATE_PROVIDERS__NAME__API_KEY`; it is
    /// masked in `config show` and never logged.
    pub api_key: String,
    /// Name of an environment variable holding the key (e.g. `OPENAI_API_KEY`), read at start.
    pub api_key_env: String,
    /// Extra headers sent on every call (e.g. `OpenAI-Organization`).
    pub headers: BTreeMap<String, String>,
    /// How long connecting may take, in milliseconds.
    pub connect_timeout_ms: u64,
    /// How long one attempt may wait for the provider to start answering (the whole answer
    /// when not streamed), in milliseconds.
    pub attempt_timeout_ms: u64,
    /// How long a streamed answer may pause between two events, in milliseconds.
    pub stream_idle_timeout_ms: u64,
    /// Retries after the first attempt, on connect errors, timeouts, 429 and 5xx.
    pub max_retries: u32,
    /// First backoff, in milliseconds; doubled per retry, with full jitter.
    pub retry_base_ms: u64,
    /// Longest backoff (and longest `Retry-After` honoured), in milliseconds.
    pub retry_max_ms: u64,
    /// Consecutive failed attempts that open the circuit breaker (0: never).
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before it lets one try, in milliseconds.
    pub breaker_open_ms: u64,
    /// Ask OpenAI-compatible servers for the usage chunk on streams
    /// (`stream_options.include_usage`); turn off for servers that refuse it.
    pub stream_usage: bool,
    /// `anthropic-version` header (`anthropic` only).
    pub anthropic_version: String,
    /// Output limit sent to Anthropic when an OpenAI-shaped call sets none (the API needs one).
    pub default_max_tokens: u32,
    /// The mock's delay before an answer and between streamed events, in milliseconds
    /// (`mock` only).
    pub latency_ms: u64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            kind: ProviderKind::Openai,
            base_url: String::new(),
            api_key: String::new(),
            api_key_env: String::new(),
            headers: BTreeMap::new(),
            connect_timeout_ms: 3_000,
            attempt_timeout_ms: 120_000,
            stream_idle_timeout_ms: 60_000,
            max_retries: 2,
            retry_base_ms: 250,
            retry_max_ms: 8_000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            stream_usage: true,
            anthropic_version: "2023-06-01".to_string(),
            default_max_tokens: 4_096,
            latency_ms: 0,
        }
    }
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &mask(&self.api_key))
            .field("api_key_env", &self.api_key_env)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// `****` for a set secret, empty for none.
pub(crate) fn mask(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        "****"
    }
}

impl ProviderSettings {
    /// The built-in mock provider.
    pub fn mock() -> Self {
        Self {
            kind: ProviderKind::Mock,
            ..Self::default()
        }
    }

    /// The base URL, or the vendor's public endpoint when none is set.
    pub fn endpoint(&self) -> &str {
        match (self.base_url.is_empty(), self.kind) {
            (false, _) => self.base_url.trim_end_matches('/'),
            (true, ProviderKind::Openai) => "https://api.openai.com/v1",
            (true, ProviderKind::Anthropic) => "https://api.anthropic.com",
            (true, ProviderKind::Mock) => "",
        }
    }

    /// The key: `api_key`, else the variable named by `api_key_env` in `env`.
    pub fn resolve_key(&self, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        if !self.api_key.is_empty() {
            return Some(self.api_key.clone());
        }
        if self.api_key_env.is_empty() {
            return None;
        }
        env(&self.api_key_env).filter(|k| !k.is_empty())
    }
}

/// The providers of a fresh installation: the mock alone.
pub fn default_providers() -> BTreeMap<String, ProviderSettings> {
    BTreeMap::from([("mock".to_string(), ProviderSettings::mock())])
}

/// Checks each provider: a name callers can read, a usable URL, sane limits.
pub(crate) fn check_providers(
    providers: &BTreeMap<String, ProviderSettings>,
) -> Result<(), (String, String)> {
    for (name, p) in providers {
        let key = |field: &str| format!("providers.{name}.{field}");
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err((
                format!("providers.{name}"),
                "a provider name may hold only letters, digits, - and _".to_string(),
            ));
        }
        let url = p.endpoint();
        if p.kind != ProviderKind::Mock
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err((
                key("base_url"),
                format!("expected an http:// or https:// URL, got `{url}`"),
            ));
        }
        for (field, value) in [
            ("connect_timeout_ms", p.connect_timeout_ms),
            ("attempt_timeout_ms", p.attempt_timeout_ms),
            ("stream_idle_timeout_ms", p.stream_idle_timeout_ms),
            ("retry_max_ms", p.retry_max_ms),
            ("breaker_open_ms", p.breaker_open_ms),
        ] {
            if value == 0 {
                return Err((key(field), "must be at least 1".to_string()));
            }
        }
        if p.retry_base_ms > p.retry_max_ms {
            return Err((
                key("retry_base_ms"),
                format!("must not exceed retry_max_ms ({})", p.retry_max_ms),
            ));
        }
        if p.default_max_tokens == 0 {
            return Err((key("default_max_tokens"), "must be at least 1".to_string()));
        }
        if let Some(bad) = p.headers.keys().find(|h| {
            h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }) {
            return Err((
                key("headers"),
                format!("`{bad}` is not a valid header name"),
            ));
        }
    }
    Ok(())
}
