//! The hashed part of an audit entry and its canonical encoding (version 1): a magic and
//! version, then every field in a fixed order, integers big-endian and fixed-width, strings
//! length-prefixed, optional fields behind a presence byte. One entry has exactly one encoding
//! and decoding is strict, so the leaf hash of an entry is a function of its meaning.
//!
//! Before/after values and other metadata are not here: their SHA-256 (`body_hash`) is, so
//! retention can delete a body without breaking a proof.

use uuid::Uuid;

use crate::hash::{leaf_hash, Hash};

/// What every encoded entry starts with: "TGAE" and the version.
const MAGIC: &[u8; 4] = b"TGAE";
/// The encoding version this code writes.
pub const VERSION: u8 = 1;
/// Longest string field, in bytes.
pub const MAX_TEXT: usize = 4096;

/// One ledger entry, as hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The log: a tenant's id, or the nil id for the system log.
    pub log: Uuid,
    /// Position in the log, from 1 without gaps.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// Who acted: `user`, `api_key`, `device` or `system`.
    pub actor_type: String,
    /// Their pseudonymous reference (never a name or a user id).
    pub actor: Option<Uuid>,
    /// What was done, e.g. `key.revoke`.
    pub action: String,
    /// The kind of thing acted on.
    pub target_type: String,
    /// Which one.
    pub target_id: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The request that caused it, when there was one.
    pub request_id: Option<Uuid>,
    /// SHA-256 of the entry's body (before/after values, details), when it has one.
    pub body_hash: Option<Hash>,
}

/// Why bytes are not an entry, or an entry cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not an encoded entry at all.
    #[error("not a ledger entry (bad magic)")]
    Magic,
    /// Written by a version this code does not read.
    #[error("ledger entry version {0} is not known to this version of Tollgate")]
    Version(u8),
    /// Ends early.
    #[error("the entry ends early, in field `{0}`")]
    Truncated(&'static str),
    /// Bytes after the last field.
    #[error("{0} bytes after the end of the entry")]
    Trailing(usize),
    /// A presence byte other than 0 or 1.
    #[error("field `{0}` has a bad presence byte")]
    Presence(&'static str),
    /// Text that is not UTF-8.
    #[error("field `{0}` is not UTF-8")]
    Utf8(&'static str),
    /// Text over [`MAX_TEXT`] bytes.
    #[error("field `{0}` is longer than {MAX_TEXT} bytes")]
    TooLong(&'static str),
}

impl Entry {
    /// The canonical bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(self.log.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        text(&mut out, "actor_type", &self.actor_type)?;
        optional(&mut out, self.actor.as_ref(), |o, id| {
            o.extend_from_slice(id.as_bytes());
            Ok(())
        })?;
        text(&mut out, "action", &self.action)?;
        text(&mut out, "target_type", &self.target_type)?;
        optional(&mut out, self.target_id.as_ref(), |o, t| {
            text(o, "target_id", t)
        })?;
        text(&mut out, "outcome", &self.outcome)?;
        optional(&mut out, self.request_id.as_ref(), |o, id| {
            o.extend_from_slice(id.as_bytes());
            Ok(())
        })?;
        optional(&mut out, self.body_hash.as_ref(), |o, h| {
            o.extend_from_slice(&h.0);
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads canonical bytes; anything else is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4, "magic")? != MAGIC {
            return Err(EntryError::Magic);
        }
        let version = r.take(1, "version")?[0];
        if version != VERSION {
            return Err(EntryError::Version(version));
        }
        let entry = Entry {
            log: r.uuid("log")?,
            seq: u64::from_be_bytes(r.array("seq")?),
            time_ms: i64::from_be_bytes(r.array("time_ms")?),
            actor_type: r.text("actor_type")?,
            actor: r.optional("actor", |r| r.uuid("actor"))?,
            action: r.text("action")?,
            target_type: r.text("target_type")?,
            target_id: r.optional("target_id", |r| r.text("target_id"))?,
            outcome: r.text("outcome")?,
            request_id: r.optional("request_id", |r| r.uuid("request_id"))?,
            body_hash: r.optional("body_hash", |r| Ok(Hash(r.array("body_hash")?)))?,
        };
        match bytes.len() - r.at {
            0 => Ok(entry),
            n => Err(EntryError::Trailing(n)),
        }
    }

    /// The leaf hash of the canonical bytes.
    pub fn leaf_hash(&self) -> Result<Hash, EntryError> {
        Ok(leaf_hash(&self.encode()?))
    }
}

fn text(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), EntryError> {
    if s.len() > MAX_TEXT {
        return Err(EntryError::TooLong(field));
    }
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn optional<T>(
    out: &mut Vec<u8>,
    value: Option<&T>,
    write: impl FnOnce(&mut Vec<u8>, &T) -> Result<(), EntryError>,
) -> Result<(), EntryError> {
    match value {
        None => {
            out.push(0);
            Ok(())
        }
        Some(v) => {
            out.push(1);
            write(out, v)
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], EntryError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(EntryError::Truncated(field))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], EntryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn uuid(&mut self, field: &'static str) -> Result<Uuid, EntryError> {
        Ok(Uuid::from_bytes(self.array(field)?))
    }

    fn text(&mut self, field: &'static str) -> Result<String, EntryError> {
        let len = u32::from_be_bytes(self.array(field)?) as usize;
        if len > MAX_TEXT {
            return Err(EntryError::TooLong(field));
        }
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| EntryError::Utf8(field))
    }

    fn optional<T>(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, EntryError>,
    ) -> Result<Option<T>, EntryError> {
        match self.take(1, field)?[0] {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(EntryError::Presence(field)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Entry {
        Entry {
            log: Uuid::from_u128(1),
            seq: 7,
            time_ms: 1_764_000_000_000,
            actor_type: "user".into(),
            actor: Some(Uuid::from_u128(2)),
            action: "key.revoke".into(),
            target_type: "api_key".into(),
            target_id: Some("k-1".into()),
            outcome: "success".into(),
            request_id: None,
            body_hash: Some(crate::hash::digest(b"{}")),
        }
    }

    fn entries() -> impl Strategy<Value = Entry> {
        (
            any::<u128>(),
            any::<u64>(),
            any::<i64>(),
            "[a-z_]{0,12}",
            proptest::option::of(any::<u128>()),
            ".{0,40}",
            "[a-z_]{1,12}",
            proptest::option::of(".{0,40}"),
            "(success|failure|denied)",
            proptest::option::of(any::<u128>()),
            proptest::option::of(any::<[u8; 32]>()),
        )
            .prop_map(
                |(
                    log,
                    seq,
                    time_ms,
                    actor_type,
                    actor,
                    action,
                    target_type,
                    target_id,
                    outcome,
                    request_id,
                    body,
                )| Entry {
                    log: Uuid::from_u128(log),
                    seq,
                    time_ms,
                    actor_type,
                    actor: actor.map(Uuid::from_u128),
                    action,
                    target_type,
                    target_id,
                    outcome,
                    request_id: request_id.map(Uuid::from_u128),
                    body_hash: body.map(Hash),
                },
            )
    }

    proptest! {
        #[test]
        fn decoding_an_encoding_gives_the_entry_back(e in entries()) {
            let bytes = e.encode().unwrap();
            prop_assert_eq!(Entry::decode(&bytes).unwrap(), e);
        }

        #[test]
        fn different_entries_have_different_leaf_hashes(a in entries(), b in entries()) {
            prop_assume!(a != b);
            prop_assert_ne!(a.leaf_hash().unwrap(), b.leaf_hash().unwrap());
        }

        #[test]
        fn no_prefix_or_extension_of_an_encoding_decodes(e in entries(), cut in 1usize..20, extra in any::<u8>()) {
            let bytes = e.encode().unwrap();
            let short = &bytes[..bytes.len().saturating_sub(cut)];
            prop_assert!(Entry::decode(short).is_err());
            let mut long = bytes.clone();
            long.push(extra);
            prop_assert_eq!(Entry::decode(&long), Err(EntryError::Trailing(1)));
        }
    }

    #[test]
    fn the_encoding_is_pinned() {
        // A change to the encoding changes every leaf hash ever published: it needs a new
        // version, never an edit of version 1.
        assert_eq!(sample().leaf_hash().unwrap().to_hex(), PINNED_SAMPLE_LEAF,);
    }

    const PINNED_SAMPLE_LEAF: &str =
        "fe105b9f3b43ec425a79d6d58cf6f33818435ac7a95e82c2461b8ebe3fec924c";

    #[test]
    fn strict_decoding_refuses_what_is_not_canonical() {
        let bytes = sample().encode().unwrap();
        let mut wrong_magic = bytes.clone();
        wrong_magic[0] = b'X';
        assert_eq!(Entry::decode(&wrong_magic), Err(EntryError::Magic));
        let mut future = bytes.clone();
        future[4] = 2;
        assert_eq!(Entry::decode(&future), Err(EntryError::Version(2)));
        let mut presence = bytes.clone();
        // The actor's presence byte follows magic, version, log, seq, time and "user".
        let at = 4 + 1 + 16 + 8 + 8 + 4 + 4;
        assert_eq!(presence[at], 1);
        presence[at] = 2;
        assert_eq!(Entry::decode(&presence), Err(EntryError::Presence("actor")));
        let mut long = sample();
        long.action = "x".repeat(MAX_TEXT + 1);
        assert_eq!(long.encode(), Err(EntryError::TooLong("action")));
    }
}
