//! Rows every installation has, created by migration `0005_builtin_rows`: the system roles of
//! seeds 003 and 004 in one hierarchy, and the four default policies of seed 003.

use uuid::Uuid;

const fn builtin(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0000 | n)
}

/// Full access everywhere.
pub const ROLE_SUPER_ADMIN: Uuid = builtin(0x105);

/// The system roles: id, name, parent (a role inherits its parent's permissions).
pub const SYSTEM_ROLES: [(Uuid, &str, Option<Uuid>); 10] = [
    (builtin(0x101), "Viewer", None),
    (builtin(0x102), "Developer", Some(builtin(0x101))),
    (builtin(0x103), "Team Manager", Some(builtin(0x102))),
    (builtin(0x104), "Admin", Some(builtin(0x103))),
    (ROLE_SUPER_ADMIN, "Super Admin", Some(builtin(0x104))),
    (builtin(0x106), "Security Officer", Some(builtin(0x101))),
    (builtin(0x107), "Finance Manager", Some(builtin(0x101))),
    (builtin(0x108), "Requestor", Some(builtin(0x101))),
    (builtin(0x109), "Approver", Some(builtin(0x108))),
    (builtin(0x110), "Knowledge Manager", Some(builtin(0x101))),
];

/// The default policies: id, name, type.
pub const DEFAULT_POLICIES: [(Uuid, &str, &str); 4] = [
    (builtin(0x201), "Default Cost Limit", "cost_limit"),
    (builtin(0x202), "Default Rate Limit", "rate_limit"),
    (builtin(0x203), "PII Detection", "pii_detection"),
    (builtin(0x204), "Security Best Practices", "security"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_migration_text() {
        assert_eq!(
            ROLE_SUPER_ADMIN.to_string(),
            "00000000-0000-7000-8000-000000000105"
        );
        assert_eq!(
            DEFAULT_POLICIES[3].0.to_string(),
            "00000000-0000-7000-8000-000000000204"
        );
    }

    #[test]
    fn every_parent_is_a_system_role_listed_before_its_children() {
        for (i, (_, _, parent)) in SYSTEM_ROLES.iter().enumerate() {
            if let Some(p) = parent {
                assert!(SYSTEM_ROLES[..i].iter().any(|(id, _, _)| id == p));
            }
        }
    }
}
