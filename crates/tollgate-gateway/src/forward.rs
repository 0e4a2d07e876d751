//! The call to the provider and what follows it, shared by every surface: ask the mock (the
//! only provider of this build), wait its latency, settle the held credits and record the
//! usage, success or failure.

use std::time::{Duration, Instant};

use tollgate_config::ModelSettings;
use tollgate_providers::mock::{self, MockAnswer};
use tollgate_providers::openai::{ChatRequest, Usage};
use tollgate_store::keys::KeyGrant;
use uuid::Uuid;

use crate::record::Outcome;
use crate::reservation::{self, Reservation};
use crate::{charge, GatewayError, GatewayState};

/// One call in flight: what its usage record will say besides the numbers.
pub(crate) struct Call<'a> {
    pub request_id: Uuid,
    pub endpoint: &'static str,
    pub grant: &'a KeyGrant,
    pub model: &'a ModelSettings,
    pub started: Instant,
}

/// An answered call.
pub(crate) struct Answered {
    /// The answer.
    pub answer: MockAnswer,
    /// Its cost in micro-units.
    pub cost: i64,
    /// Credits left on the key, when it has a balance.
    pub remaining: Option<i64>,
    /// The provider's latency, for pacing a stream.
    pub latency: Duration,
}

impl Call<'_> {
    /// Calls the provider with `request`, settles `held` and records the usage.
    pub(crate) async fn answer(
        &self,
        state: &GatewayState,
        request: &ChatRequest,
        held: Option<(Reservation, i64)>,
    ) -> Result<Answered, GatewayError> {
        let latency = Duration::from_millis(state.settings.providers.mock.latency_ms);
        let answer = match mock::answer(request, &self.model.upstream_model) {
            Ok(answer) => answer,
            Err(failure) => {
                // Dropping the reservation gives every credit back.
                drop(held);
                let err = GatewayError::Upstream {
                    provider: self.model.provider.clone(),
                    status: failure.status,
                };
                state
                    .usage
                    .record(self.outcome(request, Usage::default(), 0, 0, Some(&err)))
                    .await;
                return Err(err);
            }
        };
        if !request.is_stream() && !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let usage = answer.usage;
        let cost = charge::cost(self.model, usage.prompt_tokens, usage.completion_tokens);
        let (charged, remaining) = reservation::settle(state, held, self.model, usage).await;
        state
            .usage
            .record(self.outcome(request, usage, cost, charged, None))
            .await;
        Ok(Answered {
            answer,
            cost,
            remaining,
            latency,
        })
    }

    fn outcome(
        &self,
        request: &ChatRequest,
        usage: Usage,
        cost: i64,
        charged: i64,
        error: Option<&GatewayError>,
    ) -> Outcome<'_> {
        Outcome {
            request_id: self.request_id,
            endpoint: self.endpoint,
            grant: self.grant,
            provider: &self.model.provider,
            model: &self.model.name,
            prompt_length: request.prompt_length(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_micros: cost,
            credits_deducted: charged,
            started: self.started,
            error: error.map(GatewayError::code),
            http_status: error.map_or(200, |e| e.status().as_u16()),
            streamed: request.is_stream(),
        }
    }
}
