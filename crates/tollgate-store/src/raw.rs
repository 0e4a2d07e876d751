//! Plain SQL without binds, for tests and operators' checks: the same text runs on whichever
//! backend the store holds. Application code uses the typed functions of the other modules.

use crate::backend::on_pool;
use crate::{Store, StoreError};

impl Store {
    /// Runs one statement and returns the rows it changed.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::raw_sql(sql).execute(pool).await.map(|r| r.rows_affected()))?,
        )
    }

    /// Runs a query whose first column is an integer and returns the first row's value.
    pub async fn scalar_raw(&self, sql: &str) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
    }

    /// Runs a query whose first column is text and returns that column of every row.
    pub async fn strings_raw(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await)?)
    }
}
