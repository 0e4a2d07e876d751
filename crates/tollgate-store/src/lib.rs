//! Tollgate's storage: one data model on SQLite and PostgreSQL.
//!
//! [`Store`] is one concrete type over either backend (the URL scheme picks it), so callers
//! compile once. SQL text is shared where the dialects agree and split per backend, inside this
//! crate, where they do not. Migrations live in `migrations/{sqlite,postgres}` with the same
//! version numbers.

pub mod audit;
mod backend;
mod change;
pub mod check;
pub mod credits;
pub mod demo;
pub mod devices;
pub mod erasure;
mod error;
pub mod jobs;
pub mod keys;
pub mod migrate;
pub mod people;
mod raw;
pub mod retention;
pub mod rollup;
pub mod sequencer;
pub mod sql;
pub mod tenants;
pub mod usage;
pub mod verify;

pub use backend::{Backend, Scope, Store, Tx};
pub use change::Change;
pub use error::StoreError;
