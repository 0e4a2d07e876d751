//! Typed settings for Tollgate.
//!
//! Every value has a working default. A TOML file overrides the defaults and `TOLLGATE_*`
//! environment variables override the file (`__` separates nesting levels, so `database.url`
//! is `TOLLGATE_DATABASE__URL`). Unknown keys and bad values are errors that name the key path
//! and where it came from.

mod audit;
mod error;
mod gateway;
mod load;
mod mask;
mod models;
mod pii;
mod providers;
mod retention;
mod settings;
mod usage;

pub use audit::AuditSettings;
pub use error::ConfigError;
pub use gateway::{CreditRule, GatewaySettings};
pub use load::{load, ConfigSource, ENV_PREFIX};
pub use mask::mask_url_password;
pub use models::{default_models, ModelKind, ModelSettings};
pub use pii::{PiiAction, PiiRedaction, PiiSettings, PII_TYPES};
pub use providers::{default_providers, ProviderKind, ProviderSettings};
pub use retention::RetentionSettings;
pub use settings::{
    DatabaseSettings, LogFormat, LogSettings, ServerSettings, Settings, TlsSettings,
};
pub use usage::{JournalSync, UsageSettings};
