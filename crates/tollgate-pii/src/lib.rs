//! Tollgate's PII and secrets detector, pure (no I/O): [`Scanner::scan`] finds personal data
//! and credentials in a text in one pass, each finding with its type, byte range and
//! confidence; [`Thresholds::risk`] classifies the text green, amber or red. See
//! `docs/pii.md` for the types, what confirms each, and what is not found.

mod entity;
pub mod eval;
mod guard;
mod names;
mod offsets;
mod recognizers;
mod redact;
mod risk;
mod runs;
mod scan;
mod tenant;
mod text;
pub mod validate;

pub use entity::{EntityType, SecretKind};
pub use guard::{Act, AnswerGuard, AnswerPolicy, TAIL};
pub use offsets::byte_to_char_offsets;
pub use redact::{Redaction, Replacement, StreamRestorer};
pub use risk::{Risk, Thresholds};
pub use scan::{Finding, PatternError, Scanner, ScannerBuilder};
pub use tenant::{
    ConfigError, CustomPattern, FirewallConfig, MonitoredTool, DEFAULT_RETENTION_DAYS,
    RETENTION_DAYS,
};
