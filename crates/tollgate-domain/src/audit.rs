//! Audit entries and their checksums (seed 003 `generate_audit_checksum`): SHA-256 over a
//! canonical JSON encoding of every field, so that a changed row no longer matches its checksum.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Who did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorType {
    /// A person (`actor_id` is their pseudonymous subject id).
    User,
    /// An API key.
    ApiKey,
    /// A device.
    Device,
    /// Tollgate itself or its operator at the command line.
    System,
}

impl ActorType {
    /// The value stored in `audit_log.actor_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ApiKey => "api_key",
            ActorType::Device => "device",
            ActorType::System => "system",
        }
    }
}

/// One audit entry as written. `tenant_id` `None` is the system log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Row id (UUID v7).
    pub id: Uuid,
    /// The tenant whose log this is; `None` for the system log.
    pub tenant_id: Option<Uuid>,
    /// Position in that log, from 1.
    pub seq: i64,
    /// Who acted.
    pub actor_type: ActorType,
    /// Their id (pseudonymous for people).
    pub actor_id: Option<Uuid>,
    /// What they did, e.g. `tenant.erase`.
    pub action: String,
    /// The kind of thing acted on.
    pub resource_type: String,
    /// Which one.
    pub resource_id: Option<String>,
    /// State before, when it changed.
    pub before: Option<Value>,
    /// State after, when it changed.
    pub after: Option<Value>,
    /// Anything else worth keeping (counts, reasons); never personal data or content.
    pub details: Value,
    /// Client address.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The request id it happened in.
    pub correlation_id: Option<String>,
    /// When, to the millisecond (what both backends store exactly).
    pub created_at: DateTime<Utc>,
}

impl AuditEntry {
    /// Hex SHA-256 of the canonical encoding of every field.
    pub fn checksum(&self) -> String {
        let canonical = json!({
            "id": self.id.to_string(),
            "tenant_id": self.tenant_id.map(|t| t.to_string()),
            "seq": self.seq,
            "actor_type": self.actor_type.as_str(),
            "actor_id": self.actor_id.map(|a| a.to_string()),
            "action": self.action,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "before": self.before,
            "after": self.after,
            "details": self.details,
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "correlation_id": self.correlation_id,
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        // serde_json's map is ordered by key, so the encoding is canonical.
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry() -> AuditEntry {
        AuditEntry {
            id: Uuid::nil(),
            tenant_id: None,
            seq: 1,
            actor_type: ActorType::System,
            actor_id: None,
            action: "tenant.erase".into(),
            resource_type: "tenant".into(),
            resource_id: Some("t1".into()),
            before: None,
            after: None,
            details: json!({"usage_logs": 10, "apps": 1}),
            ip_address: None,
            user_agent: None,
            correlation_id: None,
            created_at: Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn checksum_is_stable_and_covers_every_field() {
        let a = entry();
        assert_eq!(a.checksum(), entry().checksum());
        assert_eq!(a.checksum().len(), 64);
        let mut b = entry();
        b.details = json!({"usage_logs": 11, "apps": 1});
        assert_ne!(a.checksum(), b.checksum());
        let mut c = entry();
        c.seq = 2;
        assert_ne!(a.checksum(), c.checksum());
    }

    #[test]
    fn key_order_of_details_does_not_matter() {
        let mut b = entry();
        b.details = json!({"apps": 1, "usage_logs": 10});
        assert_eq!(entry().checksum(), b.checksum());
    }
}
