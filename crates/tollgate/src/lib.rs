//! Tollgate: the CLI and the wiring that turns settings into a running server.
//!
//! [`Application::build`] opens the store, applies migrations and binds the listener; tests
//! start it on port 0 through the test kit exactly as `tollgate serve` does.

mod app;
pub mod checkpoints;
pub mod cli;
mod http;
pub mod mock_server;
pub mod retention;
mod shutdown;
pub mod telemetry;
mod tls;

pub use app::{Application, StartError};
pub use shutdown::shutdown_signal;
