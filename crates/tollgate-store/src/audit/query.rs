//! Reading entries for people and auditors: a range of positions, or a filtered listing (by
//! actor, action, target and time), each entry with its hashes and its body when the body is
//! still there.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;
use tollgate_domain::audit::Body;
use uuid::Uuid;

use super::proofs::read_scope;
use super::read::StoredEntry;
use crate::backend::on_tx;
use crate::sql::{DbId, DbTime};
use crate::{Store, StoreError};

/// Most entries one listing returns.
pub const MAX_LIST: u32 = 1_000;

/// Which entries of a log to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// Only after this position (a cursor: the last `seq` of the previous page).
    pub after: Option<u64>,
    /// Only up to this position.
    pub until_seq: Option<u64>,
    /// Only by this actor (pseudonymous id).
    pub actor: Option<Uuid>,
    /// Only this action, e.g. `key.revoke`.
    pub action: Option<String>,
    /// Only on this kind of target.
    pub target_type: Option<String>,
    /// Only on this target.
    pub target_id: Option<String>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many (capped at [`MAX_LIST`]).
    pub limit: u32,
}

/// An entry as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedEntry {
    /// The entry and its stored hashes.
    pub stored: StoredEntry,
    /// Its body, unless it had none or it was erased.
    pub body: Option<Body>,
}

/// The body columns of a row (`details` NULL: no body row).
macro_rules! body_of_row {
    ($row:expr) => {{
        let row = $row;
        let details: Option<Json<Value>> = row.try_get("details")?;
        match details {
            None => None,
            Some(Json(details)) => Some(Body {
                before: row
                    .try_get::<Option<Json<Value>>, _>("before")?
                    .map(|j| j.0),
                after: row.try_get::<Option<Json<Value>>, _>("after")?.map(|j| j.0),
                details,
                ip_address: row.try_get("ip_address")?,
                user_agent: row.try_get("user_agent")?,
            }),
        }
    }};
}

enum Bind {
    Int(i64),
    Id(DbId),
    Text(String),
    Time(DbTime),
}

impl Store {
    /// Entries of `log` that pass `filter`, in order of position.
    pub async fn list_audit(
        &self,
        log: Uuid,
        filter: &EntryFilter,
    ) -> Result<Vec<ListedEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT e.id, e.seq, e.version, e.created_at, e.actor_type, e.actor_id, e.action,
                    e.resource_type, e.resource_id, e.outcome, e.request_id, e.body_hash,
                    e.checksum, b.before, b.after, b.details, b.ip_address, b.user_agent
             FROM audit_log e LEFT JOIN audit_bodies b ON b.entry_id = e.id
             WHERE e.log_id = $1",
        );
        let mut binds = vec![Bind::Id(DbId(log))];
        let mut and = |column: &str, op: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&format!(" AND e.{column} {op} ${}", binds.len()));
        };
        let position = |n: u64| Bind::Int(i64::try_from(n).unwrap_or(i64::MAX));
        if let Some(n) = filter.after {
            and("seq", ">", position(n));
        }
        if let Some(n) = filter.until_seq {
            and("seq", "<=", position(n));
        }
        if let Some(a) = filter.actor {
            and("actor_id", "=", Bind::Id(DbId(a)));
        }
        if let Some(a) = &filter.action {
            and("action", "=", Bind::Text(a.clone()));
        }
        if let Some(t) = &filter.target_type {
            and("resource_type", "=", Bind::Text(t.clone()));
        }
        if let Some(t) = &filter.target_id {
            and("resource_id", "=", Bind::Text(t.clone()));
        }
        if let Some(t) = filter.since {
            and("created_at", ">=", Bind::Time(DbTime::of(t)));
        }
        if let Some(t) = filter.until {
            and("created_at", "<", Bind::Time(DbTime::of(t)));
        }
        binds.push(Bind::Int(i64::from(filter.limit.clamp(1, MAX_LIST))));
        sql.push_str(&format!(" ORDER BY e.seq LIMIT ${}", binds.len()));

        let mut tx = self.begin_read_in(read_scope(log)).await?;
        let listed = on_tx!(&mut tx, conn => {
            let mut q = sqlx::query(&sql);
            for b in &binds {
                q = match b {
                    Bind::Int(n) => q.bind(*n),
                    Bind::Id(id) => q.bind(*id),
                    Bind::Text(t) => q.bind(t.as_str()),
                    Bind::Time(t) => q.bind(*t),
                };
            }
            let rows = q.fetch_all(&mut *conn).await?;
            rows.iter()
                .map(|row| -> Result<ListedEntry, sqlx::Error> {
                    Ok(ListedEntry {
                        stored: super::read::stored_entry(row, log)?,
                        body: body_of_row!(row),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        tx.commit().await?;
        Ok(listed)
    }
}

impl crate::backend::Tx {
    /// The bodies of `log`'s entries `after + 1 ..= last`, by entry id.
    pub(crate) async fn bodies_between(
        &mut self,
        log: Uuid,
        after: u64,
        last: u64,
    ) -> Result<std::collections::HashMap<Uuid, Body>, StoreError> {
        let position = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let bodies = on_tx!(self, conn => {
            let rows = sqlx::query(
                "SELECT b.entry_id, b.before, b.after, b.details, b.ip_address, b.user_agent
                 FROM audit_bodies b JOIN audit_log e ON e.id = b.entry_id
                 WHERE e.log_id = $1 AND e.seq > $2 AND e.seq <= $3",
            )
            .bind(DbId(log))
            .bind(position(after))
            .bind(position(last))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|row| -> Result<Option<(Uuid, Body)>, sqlx::Error> {
                    let id: DbId = row.try_get("entry_id")?;
                    Ok(body_of_row!(row).map(|b| (id.0, b)))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(bodies.into_iter().flatten().collect())
    }
}
