//! Tollgate's pure domain logic: no I/O, no clocks read behind the caller's back.
//!
//! Ids, money in integer micro-units, API key secrets, password hashing, audit entry bodies and
//! bundles, and the deterministic demo data set.

pub mod audit;
pub mod builtin;
pub mod bundle;
pub mod demo;
pub mod id;
pub mod key;
pub mod money;
pub mod password;
pub mod proxy;
pub mod scope;
