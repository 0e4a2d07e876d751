//! The audit ledger in the database (docs/audit.md): one log per tenant and a system log, each
//! a hash chain and an RFC 9162 Merkle tree of `tollgate-ledger` entries. `audit_log` holds the
//! hashed entries, `audit_bodies` what they describe (deletable), `audit_tree` the hashes of
//! complete subtrees (written once), `audit_checkpoints` signed checkpoints.
//!
//! Entries are appended by [`crate::Change`], the only way to commit a control-plane change.

mod append;
pub(crate) use append::EdgeCache;
mod check;
mod checkpoints;
mod proofs;
mod query;
mod read;
pub(crate) mod seal;

pub use check::{AuditFailure, LogReport, TreeDamage, VerifyOptions};
pub use checkpoints::TreeHead;
pub use proofs::{ConsistencyProof, InclusionProof};
pub use query::{EntryFilter, ListedEntry, MAX_LIST};
pub use read::{LogHead, StoredCheckpoint, StoredEntry};
pub use seal::{SealFailure, SealReport, SEAL_ACTION};

use serde_json::Value;
use tollgate_domain::audit::{ActorType, Body, Outcome};
use tollgate_ledger::Hash;
use uuid::Uuid;

/// The nil id: the system log's id.
pub const SYSTEM_LOG: Uuid = Uuid::nil();

/// What the caller says about an action; the ledger adds position, time and hashes.
#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    /// The tenant whose log it goes to; `None` for the system log.
    pub tenant_id: Option<Uuid>,
    /// Who acted.
    pub actor_type: ActorType,
    /// Their pseudonymous reference (a person's `users.subject_id`, never their user id).
    pub actor_id: Option<Uuid>,
    /// What they did, e.g. `tenant.erase`.
    pub action: String,
    /// The kind of thing acted on.
    pub resource_type: String,
    /// Which one.
    pub resource_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The request it happened in, if any.
    pub request_id: Option<Uuid>,
    /// Before/after values and details: metadata only, never content or personal data.
    pub body: Body,
}

impl NewAuditEntry {
    /// A successful action by the operator or Tollgate itself (actor `system`) in the system
    /// log; [`NewAuditEntry::in_log_of`] moves it to a tenant's.
    pub fn system(
        action: &str,
        resource_type: &str,
        resource_id: Option<String>,
        details: Value,
    ) -> Self {
        Self {
            tenant_id: None,
            actor_type: ActorType::System,
            actor_id: None,
            action: action.to_string(),
            resource_type: resource_type.to_string(),
            resource_id,
            outcome: Outcome::Success,
            request_id: None,
            body: Body::details(details),
        }
    }

    /// The same entry in `tenant`'s log.
    pub fn in_log_of(mut self, tenant: Uuid) -> Self {
        self.tenant_id = Some(tenant);
        self
    }

    /// The log this entry goes to.
    pub fn log(&self) -> Uuid {
        self.tenant_id.unwrap_or(SYSTEM_LOG)
    }
}

/// An entry as appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Row id.
    pub id: Uuid,
    /// The log.
    pub log: Uuid,
    /// Its position, from 1.
    pub seq: u64,
    /// Its leaf hash.
    pub leaf: Hash,
    /// Its chain hash (`audit_log.checksum`).
    pub chain: Hash,
}
