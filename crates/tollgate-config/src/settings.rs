use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::audit::AuditSettings;
use crate::gateway::GatewaySettings;
use crate::mask::mask_url_password;
use crate::models::{check_models, default_models, ModelSettings};
use crate::pii::PiiSettings;
use crate::providers::{check_providers, default_providers, mask, ProviderSettings};
use crate::retention::RetentionSettings;
use crate::usage::UsageSettings;

/// All of Tollgate's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The HTTP server.
    pub server: ServerSettings,
    /// The database and its connection pool.
    pub database: DatabaseSettings,
    /// Logging.
    pub log: LogSettings,
    /// The data plane.
    pub gateway: GatewaySettings,
    /// Upstream providers by name (`[providers.NAME]`); `mock` is built in.
    pub providers: BTreeMap<String, ProviderSettings>,
    /// The usage journal and writer.
    pub usage: UsageSettings,
    /// The audit ledger's checkpoints.
    pub audit: AuditSettings,
    /// The PII and secrets firewall.
    pub pii: PiiSettings,
    /// Seed 001's log retention.
    pub retention: RetentionSettings,
    /// The models callers may name (a TOML array of tables, `[[models]]`).
    pub models: Vec<ModelSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            gateway: GatewaySettings::default(),
            providers: default_providers(),
            usage: UsageSettings::default(),
            audit: AuditSettings::default(),
            pii: PiiSettings::default(),
            retention: RetentionSettings::default(),
            models: default_models(),
        }
    }
}

/// The HTTP server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// The URL clients use to reach Tollgate (shown in hints; `https` makes cookies `Secure`).
    pub external_url: String,
    /// How long graceful shutdown waits for in-flight requests before it stops anyway.
    pub shutdown_grace_seconds: u64,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    /// Empty: the connecting peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Terminate TLS here instead of at a proxy.
    pub tls: TlsSettings,
    /// Threads of the async runtime; 0 is one per CPU core.
    pub worker_threads: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            external_url: "http://127.0.0.1:8080".to_string(),
            shutdown_grace_seconds: 30,
            trusted_proxies: Vec::new(),
            tls: TlsSettings::default(),
            worker_threads: 0,
        }
    }
}

impl ServerSettings {
    /// Whether cookies must carry `Secure`: whenever clients reach Tollgate over https.
    pub fn secure_cookies(&self) -> bool {
        self.external_url.starts_with("https://")
    }
}

/// TLS termination. Both files empty: plain HTTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
    /// How often the files are checked for changes; a changed pair is loaded without a restart.
    pub reload_seconds: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            cert_file: String::new(),
            key_file: String::new(),
            reload_seconds: 30,
        }
    }
}

impl TlsSettings {
    /// Whether TLS is configured.
    pub fn enabled(&self) -> bool {
        !self.cert_file.is_empty()
    }
}

/// The database. The URL scheme picks the backend: `sqlite:` or `postgres:`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://tollgate.db`, `sqlite::memory:` or `postgres://user:pass@host:5432/db`
    /// (PostgreSQL TLS: add `?sslmode=verify-full&sslrootcert=/path/ca.pem`).
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Connections the pool keeps open when idle.
    pub min_connections: u32,
    /// How long a query waits for a free connection before it fails.
    pub acquire_timeout_seconds: u64,
    /// Idle connections are closed after this long.
    pub idle_timeout_seconds: u64,
    /// Connections are replaced after this long.
    pub max_lifetime_seconds: u64,
    /// `serve` applies pending migrations before it accepts requests.
    pub migrate_on_start: bool,
    /// On SQLite, copy the database file aside before applying migrations.
    pub backup_before_migrate: bool,
    /// On SQLite, how long a writer waits for the lock before it reports "database is locked".
    pub sqlite_busy_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://tollgate.db".to_string(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout_seconds: 5,
            idle_timeout_seconds: 600,
            max_lifetime_seconds: 1800,
            migrate_on_start: true,
            backup_before_migrate: true,
            sqlite_busy_timeout_ms: 5000,
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &mask_url_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout_seconds", &self.acquire_timeout_seconds)
            .field("idle_timeout_seconds", &self.idle_timeout_seconds)
            .field("max_lifetime_seconds", &self.max_lifetime_seconds)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("backup_before_migrate", &self.backup_before_migrate)
            .field("sqlite_busy_timeout_ms", &self.sqlite_busy_timeout_ms)
            .finish()
    }
}

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `auto`, `pretty` or `json`.
    pub format: LogFormat,
    /// A filter such as `info` or `tollgate=debug,sqlx=warn`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".to_string(),
        }
    }
}

impl Settings {
    /// The settings as TOML with every secret masked, for `tollgate config show`.
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = mask_url_password(&self.database.url);
        for provider in shown.providers.values_mut() {
            provider.api_key = mask(&provider.api_key).to_string();
        }
        shown.audit.signing_key = mask(&self.audit.signing_key).to_string();
        shown.audit.checkpoint_webhook_secret =
            mask(&self.audit.checkpoint_webhook_secret).to_string();
        shown.pii.hash_key = mask(&self.pii.hash_key).to_string();
        toml::to_string_pretty(&shown)
            .unwrap_or_else(|e| format!("# cannot render settings: {e}\n"))
    }

    /// Checks what types alone cannot: ranges, the database URL scheme, providers and models.
    /// Returns the offending key path and what it should be.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        self.check_fixed_keys()
            .map_err(|(key, message)| (key.to_string(), message))?;
        check_providers(&self.providers)?;
        check_models(&self.models, &self.providers).map_err(|m| ("models".to_string(), m))
    }

    fn check_fixed_keys(&self) -> Result<(), (&'static str, String)> {
        let db = &self.database;
        let url = db.url.as_str();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err((
                "database.url",
                "expected a URL starting with sqlite: or postgres://, e.g. sqlite://tollgate.db"
                    .to_string(),
            ));
        }
        if db.max_connections == 0 {
            return Err(("database.max_connections", "must be at least 1".to_string()));
        }
        if db.min_connections > db.max_connections {
            return Err((
                "database.min_connections",
                format!(
                    "must not exceed database.max_connections ({})",
                    db.max_connections
                ),
            ));
        }
        for (key, value) in [
            (
                "database.acquire_timeout_seconds",
                db.acquire_timeout_seconds,
            ),
            ("database.idle_timeout_seconds", db.idle_timeout_seconds),
            ("database.max_lifetime_seconds", db.max_lifetime_seconds),
        ] {
            if value == 0 {
                return Err((key, "must be at least 1".to_string()));
            }
        }
        for proxy in &self.server.trusted_proxies {
            if let Err(err) = proxy.parse::<tollgate_domain::proxy::IpRange>() {
                return Err(("server.trusted_proxies", err.to_string()));
            }
        }
        let tls = &self.server.tls;
        if tls.cert_file.is_empty() != tls.key_file.is_empty() {
            return Err((
                "server.tls",
                "set both cert_file and key_file, or neither".to_string(),
            ));
        }
        if tls.enabled() && tls.reload_seconds == 0 {
            return Err((
                "server.tls.reload_seconds",
                "must be at least 1".to_string(),
            ));
        }
        if self.gateway.max_body_bytes == 0 {
            return Err(("gateway.max_body_bytes", "must be at least 1".to_string()));
        }
        if self.gateway.credits_per_request < 0 {
            return Err((
                "gateway.credits_per_request",
                "must not be negative".to_string(),
            ));
        }
        if self.gateway.credit_lease_calls == 0 {
            return Err((
                "gateway.credit_lease_calls",
                "must be at least 1".to_string(),
            ));
        }
        if self.gateway.call_deadline_seconds == 0 {
            return Err((
                "gateway.call_deadline_seconds",
                "must be at least 1".to_string(),
            ));
        }
        self.usage.check()?;
        self.audit.check()?;
        self.pii.check()?;
        self.retention.check()?;
        let ext = self.server.external_url.as_str();
        if !(ext.starts_with("http://") || ext.starts_with("https://")) {
            return Err((
                "server.external_url",
                "expected an http:// or https:// URL".to_string(),
            ));
        }
        Ok(())
    }
}
