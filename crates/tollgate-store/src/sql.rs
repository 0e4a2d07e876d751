//! Column types that read and write the same way on both backends: ids are `uuid` on
//! PostgreSQL and hyphenated text on SQLite; times are `timestamptz` on PostgreSQL and
//! `YYYY-MM-DDTHH:MM:SS.mmmZ` text on SQLite, which sorts and compares correctly as text.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use uuid::Uuid;

/// The text form of a time on SQLite, identical to `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`.
pub const SQLITE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// An id column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DbId(pub Uuid);

/// A time column, kept to the millisecond so that both backends store it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DbTime(pub DateTime<Utc>);

/// A calendar day column (`date` on PostgreSQL, `YYYY-MM-DD` on SQLite).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DbDate(pub NaiveDate);

impl DbTime {
    /// Now, to the millisecond.
    pub fn now() -> Self {
        Self(Utc::now().trunc_subsecs(3))
    }

    /// `t` cut to the millisecond.
    pub fn of(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3))
    }
}

impl From<Uuid> for DbId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

fn text_type() -> SqliteTypeInfo {
    <String as Type<Sqlite>>::type_info()
}

fn push_text(buf: &mut Vec<SqliteArgumentValue<'_>>, text: String) -> Result<IsNull, BoxDynError> {
    <String as Encode<'_, Sqlite>>::encode(text, buf)
}

impl Type<Sqlite> for DbId {
    fn type_info() -> SqliteTypeInfo {
        text_type()
    }
}

impl<'q> Encode<'q, Sqlite> for DbId {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        push_text(buf, self.0.hyphenated().to_string())
    }
}

impl<'r> Decode<'r, Sqlite> for DbId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(Uuid::parse_str(text)?))
    }
}

impl Type<Postgres> for DbId {
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for DbId {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Uuid as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<Uuid as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        text_type()
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        push_text(buf, self.0.format(SQLITE_TIME_FORMAT).to_string())
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        parse_sqlite_time(text).map(Self)
    }
}

/// Reads our own format, RFC 3339, and SQLite's `CURRENT_TIMESTAMP` form (`YYYY-MM-DD HH:MM:SS`).
fn parse_sqlite_time(text: &str) -> Result<DateTime<Utc>, BoxDynError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")?;
    Ok(naive.and_utc())
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // Both backends keep milliseconds, so a value reads back as it was written.
        <DateTime<Utc> as Encode<'_, Postgres>>::encode_by_ref(&self.0.trunc_subsecs(3), buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for DbDate {
    fn type_info() -> SqliteTypeInfo {
        text_type()
    }
}

impl<'q> Encode<'q, Sqlite> for DbDate {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        push_text(buf, self.0.format("%Y-%m-%d").to_string())
    }
}

impl<'r> Decode<'r, Sqlite> for DbDate {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(NaiveDate::parse_from_str(text, "%Y-%m-%d")?))
    }
}

impl Type<Postgres> for DbDate {
    fn type_info() -> PgTypeInfo {
        <NaiveDate as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for DbDate {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <NaiveDate as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbDate {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<NaiveDate as Decode<Postgres>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_time_text_parses_in_every_form_sqlite_writes() {
        let ours = parse_sqlite_time("2026-12-02T01:02:03.456Z").unwrap();
        assert_eq!(ours.timestamp_millis() % 1000, 456);
        assert!(parse_sqlite_time("2026-12-02 01:02:03").is_ok());
        assert!(parse_sqlite_time("2026-12-02T01:02:03+00:00").is_ok());
        assert!(parse_sqlite_time("yesterday").is_err());
    }

    #[test]
    fn sqlite_time_text_sorts_like_time() {
        let a = DbTime::of(DateTime::from_timestamp_millis(1_000).unwrap());
        let b = DbTime::of(DateTime::from_timestamp_millis(1_001).unwrap());
        let (ta, tb) = (
            a.0.format(SQLITE_TIME_FORMAT).to_string(),
            b.0.format(SQLITE_TIME_FORMAT).to_string(),
        );
        assert!(ta < tb, "{ta} < {tb}");
        assert_eq!(ta.len(), tb.len());
    }
}
