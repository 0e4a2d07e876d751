//! Tollgate as its users meet it: the server over HTTP and the command line, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit_api;
mod checkpoints;
mod cli;
mod devices;
mod durability;
mod firewall;
mod fixtures;
mod gateway;
mod server;
mod tls;
mod upstreams;
