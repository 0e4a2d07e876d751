//! Credits held for calls in flight. This process leases credits from a key in the database
//! (one transaction moves them into its lease, `tollgate-store::credits`) and spends them in
//! memory: a call holds the most it can cost from the local balance, and settling keeps what
//! it did cost and puts the rest back, without a database write. The usage writer takes each
//! stored call's charge off the lease in the usage row's transaction, so the key's unspent
//! credits are always its balance plus its leases, whatever number of processes serve it, and
//! a crash loses none (the journal is replayed, then the leases are given back).
//!
//! A hold that is never settled (the client went away, the handler failed) gives every credit
//! back when dropped. A key idle for `gateway.credit_lease_idle_seconds` gets its lease back,
//! so other processes can use it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tollgate_config::GatewaySettings;
use tollgate_store::credits::Lease;
use tollgate_store::keys::KeyGrant;
use tollgate_store::Store;
use uuid::Uuid;

use crate::forward::Prompt;
use crate::GatewayError;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One key's credits in this process.
struct Account {
    tenant_id: Uuid,
    key_id: Uuid,
    /// Leased and not held by a call.
    local: Mutex<i64>,
    /// The key's credits outside every lease, when last seen.
    outside: Mutex<i64>,
    /// One lease request at a time per key.
    refill: tokio::sync::Mutex<()>,
    last_used: Mutex<Instant>,
}

impl Account {
    /// Takes `amount` from the local balance if it is there.
    fn take(&self, amount: i64) -> bool {
        let mut local = lock(&self.local);
        if *local >= amount {
            *local -= amount;
            *lock(&self.last_used) = Instant::now();
            return true;
        }
        false
    }

    fn put_back(&self, amount: i64) {
        *lock(&self.local) += amount;
    }

    /// What this process knows the key has: outside every lease plus its own.
    fn remaining(&self) -> i64 {
        lock(&self.outside).saturating_add(*lock(&self.local))
    }
}

/// The credits this process has leased, by key.
pub(crate) struct CreditBook {
    store: Store,
    holder: Uuid,
    lease_calls: i64,
    accounts: Mutex<HashMap<Uuid, Arc<Account>>>,
}

/// Credits held for one call.
pub(crate) struct Held {
    account: Arc<Account>,
    amount: i64,
    open: bool,
}

impl CreditBook {
    /// The book of `holder` (this process's lease holder id) over `store`.
    pub(crate) fn new(store: Store, holder: Uuid, settings: &GatewaySettings) -> Self {
        Self {
            store,
            holder,
            lease_calls: i64::from(settings.credit_lease_calls.max(1)),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    /// Holds `amount` for a call of the key of `grant`; `None` for a key without limit.
    pub(crate) async fn hold(
        &self,
        grant: &KeyGrant,
        amount: i64,
    ) -> Result<Option<Held>, GatewayError> {
        if grant.credits_remaining.is_none() || amount <= 0 {
            return Ok(None);
        }
        let account = self.account(grant);
        loop {
            if account.take(amount) {
                return Ok(Some(Held {
                    account,
                    amount,
                    open: true,
                }));
            }
            let _one = account.refill.lock().await;
            // Someone else's lease may have arrived while this call waited.
            if account.take(amount) {
                return Ok(Some(Held {
                    account: account.clone(),
                    amount,
                    open: true,
                }));
            }
            let local = *lock(&account.local);
            // Its own task: should this call be dropped (its client left) while the lease
            // commits, the credits still reach the local balance instead of being stranded.
            let refill = {
                let (store, account, holder) = (self.store.clone(), account.clone(), self.holder);
                let want = amount.saturating_mul(self.lease_calls);
                tokio::spawn(async move {
                    let lease = store
                        .lease_credits(
                            account.tenant_id,
                            account.key_id,
                            holder,
                            want,
                            amount - local,
                        )
                        .await;
                    if let Ok(Lease::Taken { amount: got, left }) = lease {
                        *lock(&account.outside) = left;
                        account.put_back(got);
                    }
                    lease
                })
            };
            let lease = refill
                .await
                .map_err(|e| GatewayError::Internal(format!("credit lease task failed: {e}")))??;
            match lease {
                Lease::Taken { .. } => {}
                Lease::Insufficient { balance } => {
                    *lock(&account.outside) = balance;
                    return Err(GatewayError::InsufficientCredits {
                        remaining: account.remaining(),
                        needed: amount,
                    });
                }
                Lease::Unlimited => return Ok(None),
            }
        }
    }

    fn account(&self, grant: &KeyGrant) -> Arc<Account> {
        lock(&self.accounts)
            .entry(grant.key_id)
            .or_insert_with(|| {
                Arc::new(Account {
                    tenant_id: grant.tenant_id,
                    key_id: grant.key_id,
                    local: Mutex::new(0),
                    outside: Mutex::new(0),
                    refill: tokio::sync::Mutex::new(()),
                    last_used: Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// Gives back the leases of keys unused for `idle`, so other processes can use them.
    pub(crate) async fn return_idle(&self, idle: Duration) {
        let quiet: Vec<Arc<Account>> = lock(&self.accounts)
            .values()
            .filter(|a| lock(&a.last_used).elapsed() >= idle)
            .cloned()
            .collect();
        for account in quiet {
            let amount = std::mem::take(&mut *lock(&account.local));
            if amount == 0 {
                continue;
            }
            match self
                .store
                .return_lease(account.tenant_id, account.key_id, self.holder, amount)
                .await
            {
                Ok(Some(outside)) => *lock(&account.outside) = outside,
                // The lease holds less than this (calls settled meanwhile are not stored
                // yet): keep it for later.
                Ok(None) => account.put_back(amount),
                Err(err) => {
                    tracing::warn!(key = %account.key_id, amount, %err, "cannot give an idle credit lease back yet");
                    account.put_back(amount);
                }
            }
        }
    }
}

impl Held {
    /// Keeps `due` (at most what was held) and puts the rest back; returns what was kept and
    /// what the key has left as far as this process knows.
    pub(crate) fn settle(mut self, due: i64) -> (i64, i64) {
        self.open = false;
        let kept = due.clamp(0, self.amount);
        self.account.put_back(self.amount - kept);
        (kept, self.account.remaining())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.open {
            self.account.put_back(self.amount);
        }
    }
}

/// Holds credits for a call when the key has a balance: the most the call can cost under the
/// configured rule on the dearest model of its `chain` (any of them may answer).
pub(crate) async fn hold(
    state: &crate::GatewayState,
    grant: &KeyGrant,
    chain: &[Arc<tollgate_config::ModelSettings>],
    prompt: Prompt,
) -> Result<Option<Held>, GatewayError> {
    if grant.credits_remaining.is_none() {
        return Ok(None);
    }
    let gateway = &state.settings.gateway;
    let amount = chain
        .iter()
        .map(|model| {
            crate::charge::reservation(
                gateway.credit_rule,
                gateway.credits_per_request,
                model,
                prompt.estimate,
                prompt.output_limit,
            )
        })
        .max()
        .unwrap_or(0);
    state.credits.hold(grant, amount).await
}

/// Settles a held reservation for the usage the call had: returns (charged, credits left).
pub(crate) fn settle(
    state: &crate::GatewayState,
    held: Option<Held>,
    model: &tollgate_config::ModelSettings,
    usage: tollgate_providers::openai::Usage,
) -> (i64, Option<i64>) {
    let Some(held) = held else {
        return (0, None);
    };
    let gateway = &state.settings.gateway;
    let due = crate::charge::charge(
        gateway.credit_rule,
        gateway.credits_per_request,
        model,
        usage.prompt_tokens,
        usage.completion_tokens,
    );
    let (kept, left) = held.settle(due);
    (kept, Some(left))
}
