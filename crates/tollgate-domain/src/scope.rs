//! What an admin key may do: its scopes, each named like the role permissions of seeds 003 and
//! 004 (`resource:verb`).

use crate::audit::{SCOPE_READ, SCOPE_READ_SYSTEM};

/// Reads the tenant's firewall configuration.
pub const FIREWALL_READ: &str = "firewall:read";
/// Changes it (custom patterns, thresholds, monitored tools, retention).
pub const FIREWALL_WRITE: &str = "firewall:write";
/// Lists the tenant's devices.
pub const DEVICES_READ: &str = "devices:read";
/// Registers and deactivates devices.
pub const DEVICES_WRITE: &str = "devices:write";
/// Runs retention now.
pub const RETENTION_RUN: &str = "retention:run";

/// Every scope an admin key can hold.
pub const ADMIN_SCOPES: &[&str] = &[
    SCOPE_READ,
    SCOPE_READ_SYSTEM,
    FIREWALL_READ,
    FIREWALL_WRITE,
    DEVICES_READ,
    DEVICES_WRITE,
    RETENTION_RUN,
];
