//! The tamper-evident audit ledger, pure: no I/O, no clock, no database.
//!
//! An entry ([`entry::Entry`]) has one canonical encoding; its leaf hash goes into the log's
//! hash chain ([`hash::chain_hash`], the per-entry checksum of the seeds) and into an RFC 9162
//! Merkle tree ([`tree`]), whose root is published in signed checkpoints ([`checkpoint`],
//! [`note`]). With one checkpoint an auditor can prove that an entry is in the log
//! (inclusion proof) and that the log only grew since (consistency proof), without trusting
//! the database that holds it.

pub mod checkpoint;
pub mod entry;
pub mod hash;
pub mod note;
pub mod tree;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use entry::{Entry, EntryError};
pub use hash::Hash;
pub use note::{NoteError, Signer, Verifier};
pub use tree::{Frontier, MemoryTree, Node, Nodes, ProofError};
pub use verify::{Checked, LogCheck, VerifyError};
