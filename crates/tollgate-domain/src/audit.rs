//! What an audit entry says, before the ledger numbers and hashes it: who did what to which
//! thing with what outcome, and a body (before/after values, details) that is stored apart and
//! enters the ledger only as its hash, so that erasure and retention can delete a body without
//! breaking a proof (docs/audit.md).

use serde_json::Value;
use tollgate_ledger::hash::{digest, Hash};

/// The admin-key scope that reads its tenant's audit log.
pub const SCOPE_READ: &str = "audit:read";
/// The admin-key scope that also reads the system log (superusers only).
pub const SCOPE_READ_SYSTEM: &str = "audit:read:system";

/// Who did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorType {
    /// A person (the actor is their pseudonymous subject id).
    User,
    /// An API key.
    ApiKey,
    /// A device.
    Device,
    /// Tollgate itself or its operator at the command line.
    System,
}

impl ActorType {
    /// The value stored in `audit_log.actor_type` and hashed into the entry.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ApiKey => "api_key",
            ActorType::Device => "device",
            ActorType::System => "system",
        }
    }
}

/// How the action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was attempted and failed.
    Failure,
    /// It was refused (no permission, locked out).
    Denied,
}

impl Outcome {
    /// The value stored in `audit_log.outcome` and hashed into the entry.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// The part of an entry that is stored apart from the ledger: metadata only, never content.
/// In JSON (the audit API, bundles) it is these five fields.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// State before, when something changed.
    pub before: Option<Value>,
    /// State after, when something changed.
    pub after: Option<Value>,
    /// Counts, reasons: a JSON object.
    pub details: Value,
    /// Client address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

impl Body {
    /// A body of details alone.
    pub fn details(details: Value) -> Self {
        Self {
            details,
            ..Self::default()
        }
    }

    /// Nothing to store: no values and no details.
    pub fn is_empty(&self) -> bool {
        self.before.is_none()
            && self.after.is_none()
            && self.ip_address.is_none()
            && self.user_agent.is_none()
            && match &self.details {
                Value::Null => true,
                Value::Object(map) => map.is_empty(),
                _ => false,
            }
    }

    /// The details as stored: always an object (`{}` when there are none).
    pub fn details_object(&self) -> Value {
        match &self.details {
            Value::Null => Value::Object(Default::default()),
            other => other.clone(),
        }
    }

    /// SHA-256 of the canonical JSON of the body (keys sorted at every level, no spaces), the
    /// `body_hash` of its entry. What a database returns for a stored body hashes the same.
    pub fn hash(&self) -> Hash {
        let mut out = String::with_capacity(128);
        out.push_str("{\"after\":");
        canonical(&mut out, self.after.as_ref().unwrap_or(&Value::Null));
        out.push_str(",\"before\":");
        canonical(&mut out, self.before.as_ref().unwrap_or(&Value::Null));
        out.push_str(",\"details\":");
        canonical(&mut out, &self.details_object());
        out.push_str(",\"ip_address\":");
        canonical(&mut out, &optional_text(&self.ip_address));
        out.push_str(",\"user_agent\":");
        canonical(&mut out, &optional_text(&self.user_agent));
        out.push('}');
        digest(out.as_bytes())
    }
}

fn optional_text(text: &Option<String>) -> Value {
    text.as_ref()
        .map_or(Value::Null, |t| Value::String(t.clone()))
}

/// Writes `value` as JSON with object keys in byte order, whatever order the map keeps.
fn canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(out, &map[key]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_hash_is_pinned_and_ignores_key_order() {
        let a = Body::details(json!({"usage_logs": 10, "apps": {"b": 1, "a": [2, "x"]}}));
        let b = Body::details(json!({"apps": {"a": [2, "x"], "b": 1}, "usage_logs": 10}));
        assert_eq!(a.hash(), b.hash());
        let mut text = String::new();
        canonical(&mut text, &a.details);
        assert_eq!(text, r#"{"apps":{"a":[2,"x"],"b":1},"usage_logs":10}"#);
        assert_eq!(
            a.hash(),
            digest(
                br#"{"after":null,"before":null,"details":{"apps":{"a":[2,"x"],"b":1},"usage_logs":10},"ip_address":null,"user_agent":null}"#
            )
        );
    }

    #[test]
    fn every_part_of_the_body_is_covered() {
        let base = Body::details(json!({"n": 1}));
        let variants = [
            Body::details(json!({"n": 2})),
            Body {
                before: Some(json!({"n": 0})),
                ..base.clone()
            },
            Body {
                after: Some(json!({"n": 1})),
                ..base.clone()
            },
            Body {
                ip_address: Some("192.0.2.1".into()),
                ..base.clone()
            },
            Body {
                user_agent: Some("curl".into()),
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(v.hash(), base.hash(), "{v:?}");
        }
    }

    #[test]
    fn empty_bodies_are_not_stored() {
        assert!(Body::default().is_empty());
        assert!(Body::details(json!({})).is_empty());
        assert!(!Body::details(json!({"n": 1})).is_empty());
        assert_eq!(Body::default().details_object(), json!({}));
    }
}
