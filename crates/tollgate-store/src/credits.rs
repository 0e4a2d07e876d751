//! Credit leases (migration 0008): a gateway process moves credits from a key into its lease
//! in one transaction, spends them in memory, and the usage writer subtracts what each stored
//! call was charged in the same transaction as its usage row. At every commit a key's unspent
//! credits are `credits_remaining` plus its leases, so concurrent calls on any number of
//! processes never take it below zero, and a call does no database write for its credits.

use uuid::Uuid;

use crate::backend::{on_tx, Tx};
use crate::sql::{DbId, DbTime};
use crate::{Backend, Scope, Store, StoreError};

/// What a lease request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// `amount` moved into the lease; `left` stays on the key.
    Taken {
        /// Credits now held.
        amount: i64,
        /// Credits left on the key outside every lease.
        left: i64,
    },
    /// The key has fewer credits than the least that was asked for.
    Insufficient {
        /// What it has outside every lease.
        balance: i64,
    },
    /// The key has no credit limit (any more).
    Unlimited,
}

impl Store {
    /// Moves up to `want` credits, and at least `at_least`, from the key into `holder`'s lease.
    pub async fn lease_credits(
        &self,
        tenant_id: Uuid,
        key_id: Uuid,
        holder: Uuid,
        want: i64,
        at_least: i64,
    ) -> Result<Lease, StoreError> {
        let mut tx = self.begin_in(Scope::Tenant(tenant_id)).await?;
        // SQLite's BEGIN IMMEDIATE holds the write lock already; PostgreSQL locks the row.
        let lock = match tx.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT credits_remaining FROM api_keys WHERE id = $1 AND tenant_id = $2{lock}"
        );
        let balance: Option<Option<i64>> = on_tx!(&mut tx, conn => sqlx::query_scalar(&sql)
            .bind(DbId(key_id))
            .bind(DbId(tenant_id))
            .fetch_optional(&mut *conn)
            .await)?;
        let balance = match balance {
            None => {
                return Err(StoreError::NotFound {
                    what: "api key",
                    id: key_id.to_string(),
                })
            }
            Some(None) => return Ok(Lease::Unlimited),
            Some(Some(b)) => b,
        };
        let take = balance.min(want.max(at_least));
        if take < at_least || take <= 0 {
            return Ok(Lease::Insufficient { balance });
        }
        on_tx!(&mut tx, conn => sqlx::query(
            "UPDATE api_keys SET credits_remaining = credits_remaining - $2 WHERE id = $1",
        )
        .bind(DbId(key_id))
        .bind(take)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO credit_leases (api_key_id, holder, tenant_id, amount, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (api_key_id, holder)
             DO UPDATE SET amount = credit_leases.amount + excluded.amount, updated_at = excluded.updated_at",
        )
        .bind(DbId(key_id))
        .bind(DbId(holder))
        .bind(DbId(tenant_id))
        .bind(take)
        .bind(DbTime::now())
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(Lease::Taken {
            amount: take,
            left: balance - take,
        })
    }

    /// Gives `amount` of `holder`'s lease back to the key; returns what the key then has
    /// outside every lease.
    pub async fn return_lease(
        &self,
        tenant_id: Uuid,
        key_id: Uuid,
        holder: Uuid,
        amount: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_in(Scope::Tenant(tenant_id)).await?;
        let moved = on_tx!(&mut tx, conn => sqlx::query(
            "UPDATE credit_leases SET amount = amount - $3, updated_at = $4
             WHERE api_key_id = $1 AND holder = $2 AND amount >= $3",
        )
        .bind(DbId(key_id))
        .bind(DbId(holder))
        .bind(amount)
        .bind(DbTime::now())
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        if moved == 0 {
            return Ok(None);
        }
        let left: Option<Option<i64>> = on_tx!(&mut tx, conn => sqlx::query_scalar(
            "UPDATE api_keys SET credits_remaining = credits_remaining + $2
             WHERE id = $1 AND credits_remaining IS NOT NULL RETURNING credits_remaining",
        )
        .bind(DbId(key_id))
        .bind(amount)
        .fetch_optional(&mut *conn)
        .await)?;
        tx.commit().await?;
        Ok(left.flatten())
    }

    /// Gives every lease of `holder` back to its key (at shutdown, or at the start after a
    /// crash once the journal is stored). Returns the credits given back.
    pub async fn return_leases(&self, holder: Uuid) -> Result<i64, StoreError> {
        let mut tx = self.begin_in(Scope::System("return credit leases")).await?;
        let leases: Vec<(DbId, i64)> = on_tx!(&mut tx, conn => sqlx::query_as(
            "SELECT api_key_id, amount FROM credit_leases WHERE holder = $1",
        )
        .bind(DbId(holder))
        .fetch_all(&mut *conn)
        .await)?;
        let mut total = 0;
        for (key, amount) in &leases {
            on_tx!(&mut tx, conn => sqlx::query(
                "UPDATE api_keys SET credits_remaining = credits_remaining + $2
                 WHERE id = $1 AND credits_remaining IS NOT NULL",
            )
            .bind(*key)
            .bind(*amount)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
            total += amount;
        }
        on_tx!(&mut tx, conn => sqlx::query("DELETE FROM credit_leases WHERE holder = $1")
            .bind(DbId(holder))
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(total)
    }

    /// Credits in leases, by key, for `tollgate keys list`.
    pub async fn leased_credits(&self, key_id: Uuid, tenant_id: Uuid) -> Result<i64, StoreError> {
        let mut tx = self.begin_read_in(Scope::Tenant(tenant_id)).await?;
        let sum: Option<i64> = on_tx!(&mut tx, conn => sqlx::query_scalar(
            "SELECT CAST(sum(amount) AS BIGINT) FROM credit_leases WHERE api_key_id = $1",
        )
        .bind(DbId(key_id))
        .fetch_one(&mut *conn)
        .await)?;
        tx.commit().await?;
        Ok(sum.unwrap_or(0))
    }
}

impl Tx {
    /// Subtracts what stored calls were charged, by key, from `holder`'s leases. Should a lease
    /// hold less (it was given back while a call was still settling), the rest comes off the
    /// key's balance, so a charge is never lost.
    pub(crate) async fn spend_leases(
        &mut self,
        holder: Uuid,
        spent: &[(Uuid, i64)],
    ) -> Result<(), StoreError> {
        for (key, amount) in spent {
            let held: Option<i64> = on_tx!(self, conn => sqlx::query_scalar(
                "SELECT amount FROM credit_leases WHERE api_key_id = $1 AND holder = $2",
            )
            .bind(DbId(*key))
            .bind(DbId(holder))
            .fetch_optional(&mut *conn)
            .await)?;
            let from_lease = held.unwrap_or(0).min(*amount);
            if from_lease > 0 {
                on_tx!(self, conn => sqlx::query(
                    "UPDATE credit_leases SET amount = amount - $3, updated_at = $4
                     WHERE api_key_id = $1 AND holder = $2",
                )
                .bind(DbId(*key))
                .bind(DbId(holder))
                .bind(from_lease)
                .bind(DbTime::now())
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected()))?;
            }
            let rest = amount - from_lease;
            if rest > 0 {
                on_tx!(self, conn => sqlx::query(
                    "UPDATE api_keys
                     SET credits_remaining = CASE WHEN credits_remaining > $2 THEN credits_remaining - $2 ELSE 0 END
                     WHERE id = $1 AND credits_remaining IS NOT NULL",
                )
                .bind(DbId(*key))
                .bind(rest)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }
}
