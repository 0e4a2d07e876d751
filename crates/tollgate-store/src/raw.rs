//! Plain SQL without binds, for tests and operators' checks: the same text runs on whichever
//! backend the store holds, in the system scope (recorded as the job "raw sql"). Application
//! code uses the typed functions of the other modules.

use crate::backend::on_tx;
use crate::{Scope, Store, StoreError};

const JOB: Scope<'static> = Scope::System("raw sql");

impl Store {
    /// Runs one statement and returns the rows it changed.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_in(JOB).await?;
        let n = on_tx!(&mut tx, conn => sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(n)
    }

    /// Runs a query whose first column is an integer and returns the first row's value.
    pub async fn scalar_raw(&self, sql: &str) -> Result<i64, StoreError> {
        let mut tx = self.begin_read_in(JOB).await?;
        let n = on_tx!(&mut tx, conn => sqlx::query_scalar(sql).fetch_one(&mut *conn).await)?;
        tx.commit().await?;
        Ok(n)
    }

    /// Runs a query whose first column is text and returns that column of every row.
    pub async fn strings_raw(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin_read_in(JOB).await?;
        let rows = on_tx!(&mut tx, conn => sqlx::query_scalar(sql).fetch_all(&mut *conn).await)?;
        tx.commit().await?;
        Ok(rows)
    }
}
