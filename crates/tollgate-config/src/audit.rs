use serde::{Deserialize, Serialize};

/// The audit ledger's checkpoints: who signs them, how often, and where copies go outside the
/// database (docs/audit.md).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Names this deployment's logs in checkpoints: a log's origin is
    /// `<origin>/audit/<log id>`. Make it unique, e.g. the host name.
    pub origin: String,
    /// File holding the checkpoint signing key (a `PRIVATE+KEY+…` line, as written by
    /// `tollgate audit keygen`). Never stored in the database.
    pub signing_key_file: String,
    /// The signing key itself, for `TOLLGATE_AUDIT__SIGNING_KEY`; masked in `config show`.
    pub signing_key: String,
    /// Further public keys (`name+id+key`) whose signatures are trusted: the keys used before
    /// a rotation, so old checkpoints stay verifiable.
    pub trusted_keys: Vec<String>,
    /// How often `serve` signs a checkpoint of every log that grew; 0 turns it off.
    pub checkpoint_interval_seconds: u64,
    /// Directory that receives a copy of every checkpoint (`<log id>/<size>.checkpoint`);
    /// empty for none.
    pub checkpoint_dir: String,
    /// URL every checkpoint is POSTed to, with an HMAC-SHA256 signature; empty for none.
    pub checkpoint_webhook_url: String,
    /// Secret for the webhook's `x-tollgate-signature`; masked in `config show`.
    pub checkpoint_webhook_secret: String,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            origin: "tollgate".to_string(),
            signing_key_file: String::new(),
            signing_key: String::new(),
            trusted_keys: Vec::new(),
            checkpoint_interval_seconds: 60,
            checkpoint_dir: String::new(),
            checkpoint_webhook_url: String::new(),
            checkpoint_webhook_secret: String::new(),
        }
    }
}

/// Secrets never reach a log line.
impl std::fmt::Debug for AuditSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSettings")
            .field("origin", &self.origin)
            .field("signing_key_file", &self.signing_key_file)
            .field("signing_key", &crate::providers::mask(&self.signing_key))
            .field("trusted_keys", &self.trusted_keys)
            .field(
                "checkpoint_interval_seconds",
                &self.checkpoint_interval_seconds,
            )
            .field("checkpoint_dir", &self.checkpoint_dir)
            .field("checkpoint_webhook_url", &self.checkpoint_webhook_url)
            .field(
                "checkpoint_webhook_secret",
                &crate::providers::mask(&self.checkpoint_webhook_secret),
            )
            .finish()
    }
}

impl AuditSettings {
    /// Checks what types alone cannot.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        let origin_ok = !self.origin.is_empty()
            && self.origin.len() <= 200
            && self
                .origin
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '+');
        if !origin_ok {
            return Err((
                "audit.origin",
                "must be 1 to 200 printable ASCII characters without spaces or '+', e.g. tollgate.example.com".to_string(),
            ));
        }
        if !self.signing_key_file.is_empty() && !self.signing_key.is_empty() {
            return Err((
                "audit.signing_key",
                "set either audit.signing_key or audit.signing_key_file, not both".to_string(),
            ));
        }
        if !self.checkpoint_webhook_url.is_empty() {
            if !(self.checkpoint_webhook_url.starts_with("http://")
                || self.checkpoint_webhook_url.starts_with("https://"))
            {
                return Err((
                    "audit.checkpoint_webhook_url",
                    "must be an http:// or https:// URL".to_string(),
                ));
            }
            if self.checkpoint_webhook_secret.len() < 16 {
                return Err((
                    "audit.checkpoint_webhook_secret",
                    "must be at least 16 characters when a webhook is set, so receivers can check the signature".to_string(),
                ));
            }
        }
        Ok(())
    }
}
