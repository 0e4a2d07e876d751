//! Identifiers: UUIDs, v7 where time order helps (usage, audit).

use uuid::Uuid;

/// A new time-ordered id (UUID v7) for rows written in time order.
pub fn time_ordered() -> Uuid {
    Uuid::now_v7()
}

/// A new random id (UUID v4) where order would leak information.
pub fn random() -> Uuid {
    Uuid::new_v4()
}

/// The nil id, used by rollups for "no such dimension" (for example usage without a team).
pub const NONE: Uuid = Uuid::nil();
