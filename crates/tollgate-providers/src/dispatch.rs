//! A call over its candidates: the model asked for, then its fallbacks, each tried up to its
//! provider's retries with backoff (or the provider's `Retry-After`), skipped at once while
//! its provider's breaker is open, all within one deadline. Once an answer has started, it is
//! the answer: nothing here retries a stream the caller has begun to read.

use std::time::{Duration, Instant};

use tollgate_config::{ProviderKind, ProviderSettings};

use crate::breaker::Breaker;
use crate::http::{HttpProvider, SetupError};
use crate::mock::MockProvider;
use crate::retry::backoff;
use crate::upstream::{Answer, Call, CallBody, UpstreamError};

enum Provider {
    Mock(MockProvider),
    Http(HttpProvider),
}

/// Outcome labels of `tollgate_upstream_attempts_total`.
const OUTCOMES: [&str; 9] = [
    "ok",
    "connect",
    "timeout",
    "rate_limited",
    "status_5xx",
    "status_4xx",
    "credentials",
    "bad_answer",
    "circuit_open",
];

/// A configured provider with its breaker and retry policy.
pub struct Upstream {
    name: String,
    provider: Provider,
    breaker: Breaker,
    /// `tollgate_upstream_attempts_total` by outcome, looked up once.
    attempts: Vec<(&'static str, metrics::Counter)>,
    retries: u32,
    retry_base: Duration,
    retry_max: Duration,
}

impl Upstream {
    /// The provider `name` as configured; its key from the settings or from `env`.
    pub fn new(
        name: &str,
        settings: &ProviderSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SetupError> {
        let provider =
            match settings.kind {
                ProviderKind::Mock => Provider::Mock(MockProvider::new(Duration::from_millis(
                    settings.latency_ms,
                ))),
                ProviderKind::Openai | ProviderKind::Anthropic => Provider::Http(
                    HttpProvider::new(name, settings, settings.resolve_key(env))?,
                ),
            };
        let attempts = OUTCOMES
            .iter()
            .chain(std::iter::once(&"translate"))
            .map(|outcome| {
                let counter = metrics::counter!("tollgate_upstream_attempts_total", "provider" => name.to_string(), "outcome" => *outcome);
                (*outcome, counter)
            })
            .collect();
        Ok(Self {
            name: name.to_string(),
            attempts,
            provider,
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_millis(settings.breaker_open_ms),
            ),
            retries: settings.max_retries,
            retry_base: Duration::from_millis(settings.retry_base_ms),
            retry_max: Duration::from_millis(settings.retry_max_ms),
        })
    }

    /// Its name in the settings.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether its breaker refuses calls now.
    pub fn is_open(&self) -> bool {
        self.breaker.is_open(Instant::now())
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, UpstreamError> {
        match &self.provider {
            Provider::Http(p) => p.call(call).await,
            Provider::Mock(p) => p.call(call).await.map_err(|e| match e.status {
                401 | 403 => UpstreamError::Credentials(e.status),
                status => UpstreamError::Status {
                    status,
                    message: e.message,
                    retry_after: e.retry_after,
                },
            }),
        }
    }
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One model that may answer, in order of preference.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// Its provider.
    pub upstream: &'a Upstream,
    /// The provider's name for the model.
    pub upstream_model: &'a str,
}

/// An answer, and who gave it.
#[derive(Debug)]
pub struct Dispatched {
    /// Index of the candidate that answered.
    pub chosen: usize,
    /// The answer (or its start).
    pub answer: Answer,
    /// Attempts made, this one included.
    pub attempts: u32,
}

/// No candidate answered.
#[derive(Debug)]
pub struct Failure {
    /// The last failure.
    pub error: UpstreamError,
    /// The provider of the last attempt.
    pub provider: String,
    /// Attempts made.
    pub attempts: u32,
}

/// What one call sends to whichever candidate answers.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The caller's request.
    pub body: CallBody<'a>,
    /// The call's id.
    pub id: &'a str,
    /// Unix seconds.
    pub created: i64,
    /// Vector length of the model (embedding models), for providers that need telling.
    pub dimensions: u32,
}

/// Tries the candidates in order until one answers or `deadline` passes.
pub async fn dispatch(
    candidates: &[Candidate<'_>],
    request: Request<'_>,
    deadline: Instant,
) -> Result<Dispatched, Failure> {
    let mut attempts = 0;
    let mut last = Failure {
        error: UpstreamError::Timeout(Duration::ZERO),
        provider: candidates
            .first()
            .map(|c| c.upstream.name.clone())
            .unwrap_or_default(),
        attempts: 0,
    };
    'candidates: for (chosen, candidate) in candidates.iter().enumerate() {
        let upstream = candidate.upstream;
        let call = Call {
            body: request.body,
            upstream_model: candidate.upstream_model,
            id: request.id,
            created: request.created,
            dimensions: request.dimensions,
        };
        for retry in 0..=upstream.retries {
            if Instant::now() >= deadline {
                break 'candidates;
            }
            if let Err(wait) = upstream.breaker.admit(Instant::now()) {
                observe(upstream, "circuit_open");
                last.error = UpstreamError::CircuitOpen(wait);
                last.provider = upstream.name.clone();
                continue 'candidates;
            }
            attempts += 1;
            let outcome = tokio::time::timeout_at(deadline.into(), upstream.attempt(&call)).await;
            let error = match outcome {
                Ok(Ok(answer)) => {
                    upstream.breaker.record(false, Instant::now());
                    observe(upstream, "ok");
                    return Ok(Dispatched {
                        chosen,
                        answer,
                        attempts,
                    });
                }
                Ok(Err(error)) => {
                    // Any answer at all (a refusal, a rate limit) shows the provider is up.
                    upstream.breaker.record(error.is_outage(), Instant::now());
                    error
                }
                // The call's own deadline, not the provider's fault: no mark on its breaker.
                Err(_) => {
                    UpstreamError::Timeout(deadline.saturating_duration_since(Instant::now()))
                }
            };
            observe(upstream, label(&error));
            tracing::warn!(provider = %upstream.name, model = candidate.upstream_model, attempt = retry + 1, %error, "provider attempt failed");
            let retryable = error.retryable();
            // Refused credentials and a request this provider's API cannot carry are about
            // this provider: another may answer. A refused request would be refused anywhere.
            let for_this_provider = matches!(
                error,
                UpstreamError::Credentials(_) | UpstreamError::Translate(_)
            );
            let asked = error.retry_after();
            last = Failure {
                error,
                provider: upstream.name.clone(),
                attempts,
            };
            if for_this_provider {
                continue 'candidates;
            }
            if !retryable {
                break 'candidates;
            }
            if retry == upstream.retries {
                continue 'candidates;
            }
            let wait = match asked {
                // Longer than this provider's patience: let a fallback answer instead.
                Some(asked) if asked > upstream.retry_max => continue 'candidates,
                Some(asked) => asked,
                None => backoff(
                    retry,
                    upstream.retry_base,
                    upstream.retry_max,
                    rand::random(),
                ),
            };
            if Instant::now() + wait >= deadline {
                break 'candidates;
            }
            tokio::time::sleep(wait).await;
        }
    }
    last.attempts = attempts;
    Err(last)
}

fn observe(upstream: &Upstream, outcome: &'static str) {
    if let Some((_, counter)) = upstream.attempts.iter().find(|(o, _)| *o == outcome) {
        counter.increment(1);
    }
}

fn label(error: &UpstreamError) -> &'static str {
    match error {
        UpstreamError::Connect(_) => "connect",
        UpstreamError::Timeout(_) => "timeout",
        UpstreamError::Status { status: 429, .. } => "rate_limited",
        UpstreamError::Status { status, .. } if *status >= 500 => "status_5xx",
        UpstreamError::Status { .. } => "status_4xx",
        UpstreamError::Credentials(_) => "credentials",
        UpstreamError::BadAnswer(_) => "bad_answer",
        UpstreamError::CircuitOpen(_) => "circuit_open",
        UpstreamError::Translate(_) => "translate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::ChatRequest;
    use serde_json::json;

    fn upstream(name: &str, retries: u32, breaker: u32) -> Upstream {
        let settings = ProviderSettings {
            max_retries: retries,
            retry_base_ms: 1,
            retry_max_ms: 20,
            breaker_failures: breaker,
            ..ProviderSettings::mock()
        };
        Upstream::new(name, &settings, |_| None).unwrap()
    }

    fn chat(text: &str) -> ChatRequest {
        serde_json::from_value(
            json!({"model": "m", "messages": [{"role": "user", "content": text}]}),
        )
        .unwrap()
    }

    fn request(req: &ChatRequest) -> Request<'_> {
        Request {
            body: CallBody::Chat(req),
            id: "1",
            created: 0,
            dimensions: 0,
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn retries_a_flaky_provider_until_it_answers() {
        let a = upstream("a", 2, 0);
        let req = chat("hi [mock:flaky 2]");
        let done = dispatch(
            &[Candidate {
                upstream: &a,
                upstream_model: "m",
            }],
            request(&req),
            soon(),
        )
        .await
        .unwrap();
        assert_eq!((done.chosen, done.attempts), (0, 3));
    }

    #[tokio::test]
    async fn falls_back_when_retries_are_spent() {
        let (a, b) = (upstream("a", 1, 0), upstream("b", 2, 0));
        let req = chat("hi [mock:flaky 2]");
        let c = [
            Candidate {
                upstream: &a,
                upstream_model: "m",
            },
            Candidate {
                upstream: &b,
                upstream_model: "n",
            },
        ];
        let done = dispatch(&c, request(&req), soon()).await.unwrap();
        // a fails twice (its try and its one retry); b fails twice too, then answers.
        assert_eq!((done.chosen, done.attempts), (1, 5));
    }

    #[tokio::test]
    async fn client_errors_are_not_retried_and_rate_limits_are() {
        let a = upstream("a", 3, 0);
        let req = chat("[mock:status 400]");
        let failed = dispatch(
            &[Candidate {
                upstream: &a,
                upstream_model: "m",
            }],
            request(&req),
            soon(),
        )
        .await
        .unwrap_err();
        assert_eq!(failed.attempts, 1);
        assert!(matches!(
            failed.error,
            UpstreamError::Status { status: 400, .. }
        ));
        let req = chat("[mock:status 429]");
        let failed = dispatch(
            &[Candidate {
                upstream: &a,
                upstream_model: "m",
            }],
            request(&req),
            soon(),
        )
        .await
        .unwrap_err();
        assert_eq!(failed.attempts, 4);
        let req = chat("[mock:status 401]");
        let failed = dispatch(
            &[Candidate {
                upstream: &a,
                upstream_model: "m",
            }],
            request(&req),
            soon(),
        )
        .await
        .unwrap_err();
        assert_eq!(failed.error, UpstreamError::Credentials(401));
    }

    #[tokio::test]
    async fn a_retry_after_beyond_patience_goes_to_the_fallback() {
        let (a, b) = (upstream("a", 3, 0), upstream("b", 0, 0));
        let req = chat("[mock:status 503] [mock:retry-after 60]");
        let c = [
            Candidate {
                upstream: &a,
                upstream_model: "m",
            },
            Candidate {
                upstream: &b,
                upstream_model: "n",
            },
        ];
        let started = Instant::now();
        let failed = dispatch(&c, request(&req), soon()).await.unwrap_err();
        assert_eq!(failed.attempts, 2, "one attempt each, no 60 s wait");
        assert_eq!(failed.provider, "b");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn refused_credentials_fall_back_and_a_spent_deadline_blames_no_one() {
        let (a, b) = (upstream("a", 2, 1), upstream("b", 0, 1));
        // a refuses Tollgate's key: b may still answer (a different provider, a different key).
        let req = chat("[mock:status 401]");
        let c = [
            Candidate {
                upstream: &a,
                upstream_model: "m",
            },
            Candidate {
                upstream: &b,
                upstream_model: "n",
            },
        ];
        let failed = dispatch(&c, request(&req), soon()).await.unwrap_err();
        assert_eq!(
            (failed.attempts, failed.provider.as_str()),
            (2, "b"),
            "one try each, no retry"
        );
        assert!(!a.is_open() && !b.is_open(), "a refusal is no outage");
        // A deadline already spent tries nobody and marks no breaker.
        let good = chat("hello");
        let failed = dispatch(&c, request(&good), Instant::now())
            .await
            .unwrap_err();
        assert_eq!(failed.attempts, 0);
        assert!(!a.is_open() && !b.is_open());
    }

    #[tokio::test]
    async fn an_open_breaker_skips_its_provider() {
        let (a, b) = (upstream("a", 0, 2), upstream("b", 0, 0));
        let bad = chat("[mock:status 500]");
        for _ in 0..2 {
            let _ = dispatch(
                &[Candidate {
                    upstream: &a,
                    upstream_model: "m",
                }],
                request(&bad),
                soon(),
            )
            .await;
        }
        assert!(a.is_open());
        let good = chat("hello");
        let c = [
            Candidate {
                upstream: &a,
                upstream_model: "m",
            },
            Candidate {
                upstream: &b,
                upstream_model: "n",
            },
        ];
        let done = dispatch(&c, request(&good), soon()).await.unwrap();
        assert_eq!((done.chosen, done.attempts), (1, 1), "a was not even tried");
    }
}
