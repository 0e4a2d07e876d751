//! Credits held for a call in flight. Taken atomically before the call; settled after it, when
//! the unused part goes back. If the call never reaches settlement (the client went away, the
//! handler failed), dropping the reservation gives every credit back, so nothing is lost.

use tollgate_store::Store;
use uuid::Uuid;

use crate::GatewayError;

/// Credits taken from a key for one call.
pub(crate) struct Reservation {
    store: Store,
    tenant_id: Uuid,
    key_id: Uuid,
    amount: i64,
    open: bool,
}

impl Reservation {
    /// Takes `amount` from the key, or fails with what the key has left.
    pub(crate) async fn take(
        store: &Store,
        tenant_id: Uuid,
        key_id: Uuid,
        amount: i64,
    ) -> Result<(Self, i64), GatewayError> {
        match store.take_credits(tenant_id, key_id, amount).await? {
            Ok(left) => Ok((
                Self {
                    store: store.clone(),
                    tenant_id,
                    key_id,
                    amount,
                    open: true,
                },
                left,
            )),
            Err(balance) => Err(GatewayError::InsufficientCredits {
                remaining: balance,
                needed: amount,
            }),
        }
    }

    /// Keeps `due` (at most what was taken) and gives the rest back. Returns what the key has
    /// left, when known. A failure to give back is logged, never turned into an error for a
    /// call that was answered.
    pub(crate) async fn settle(mut self, due: i64) -> (i64, Option<i64>) {
        self.open = false;
        let kept = due.clamp(0, self.amount);
        let back = self.amount - kept;
        if back == 0 {
            return (kept, None);
        }
        match self
            .store
            .return_credits(self.tenant_id, self.key_id, back)
            .await
        {
            Ok(left) => (kept, left),
            Err(err) => {
                tracing::error!(key = %self.key_id, back, %err, "credits not given back after a call");
                (kept, None)
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let (store, tenant, key, amount) =
            (self.store.clone(), self.tenant_id, self.key_id, self.amount);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.return_credits(tenant, key, amount).await {
                    tracing::error!(%key, amount, %err, "credits of an abandoned call not given back");
                }
            });
        }
    }
}

/// Credits held for a call and what the key had left after they were taken.
pub(crate) type Held = (Reservation, i64);

/// Holds credits for a call when the key has a balance: the most the call can cost under the
/// configured rule on the dearest model of its `chain` (any of them may answer). `None` for an
/// unlimited key.
pub(crate) async fn hold(
    state: &crate::GatewayState,
    grant: &tollgate_store::keys::KeyGrant,
    chain: &[std::sync::Arc<tollgate_config::ModelSettings>],
    prompt: crate::forward::Prompt,
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
    Reservation::take(&state.store, grant.tenant_id, grant.key_id, amount)
        .await
        .map(Some)
}

/// Settles a held reservation for the usage the call had: returns (charged, credits left).
pub(crate) async fn settle(
    state: &crate::GatewayState,
    held: Option<Held>,
    model: &tollgate_config::ModelSettings,
    usage: tollgate_providers::openai::Usage,
) -> (i64, Option<i64>) {
    let Some((held, left)) = held else {
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
    let (kept, after) = held.settle(due).await;
    (kept, after.or(Some(left)))
}
