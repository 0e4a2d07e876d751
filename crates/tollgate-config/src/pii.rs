use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the PII firewall does with what it finds in a request (docs/pii.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiAction {
    /// Send it unchanged and record nothing about it.
    Allow,
    /// Send it unchanged; the usage record keeps the types found.
    Log,
    /// Replace it (see `pii.redaction`) before the request leaves.
    Redact,
    /// Refuse the request with a 400 naming the types found (never the values).
    Block,
}

/// How `redact` replaces a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiRedaction {
    /// A typed placeholder (`[EMAIL_1]`), put back in the answer when `restore_in_response`.
    Placeholder,
    /// `*` for all but the last four characters.
    Mask,
    /// A keyed hash (`[EMAIL_3f9a2c1d]`, keyed with `pii.hash_key`).
    Hash,
}

/// The PII and secrets firewall on the request path.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiiSettings {
    /// Scan every string of every request before it leaves for the provider.
    pub enabled: bool,
    /// What to do with a finding of a type not named in `actions`.
    pub action: PiiAction,
    /// Per type (`EMAIL`, `SECRET`, …): its own action.
    pub actions: BTreeMap<String, PiiAction>,
    /// How `redact` replaces findings.
    pub redaction: PiiRedaction,
    /// Put the original values back where the answer repeats a placeholder, streamed or not.
    pub restore_in_response: bool,
    /// Scan the model's answer too, with the same actions (`block` cuts it before the value).
    pub scan_answers: bool,
    /// Key of the keyed hashes; masked in `config show`. Empty: a random key per process.
    pub hash_key: String,
}

impl Default for PiiSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            action: PiiAction::Redact,
            actions: BTreeMap::new(),
            redaction: PiiRedaction::Placeholder,
            restore_in_response: true,
            scan_answers: false,
            hash_key: String::new(),
        }
    }
}

/// The hash key never reaches a log line.
impl std::fmt::Debug for PiiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiSettings")
            .field("enabled", &self.enabled)
            .field("action", &self.action)
            .field("actions", &self.actions)
            .field("redaction", &self.redaction)
            .field("restore_in_response", &self.restore_in_response)
            .field("scan_answers", &self.scan_answers)
            .field("hash_key", &crate::providers::mask(&self.hash_key))
            .finish()
    }
}

/// The type names `pii.actions` accepts.
pub const PII_TYPES: &[&str] = &[
    "PERSON",
    "EMAIL",
    "PHONE",
    "ADDRESS",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "UK_NINO",
    "DE_TAX_ID",
    "FR_NIR",
    "IP_ADDRESS",
    "SECRET",
    "CUSTOM",
];

impl PiiSettings {
    /// Checks the type names of `actions`.
    /// The action for a finding of type `name` (`EMAIL`, ...): its own, else `action`.
    pub fn action_for(&self, name: &str) -> PiiAction {
        self.actions.get(name).copied().unwrap_or(self.action)
    }

    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        match self
            .actions
            .keys()
            .find(|k| !PII_TYPES.contains(&k.as_str()))
        {
            Some(bad) => Err((
                "pii.actions",
                format!("{bad:?} is not a type; use one of {}", PII_TYPES.join(", ")),
            )),
            None => Ok(()),
        }
    }
}
