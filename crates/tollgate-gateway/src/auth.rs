//! Who is calling: the key from `Authorization: Bearer` or `x-api-key`, looked up by its hash
//! through a short-lived cache, so the hot path reads the database once per key per
//! `gateway.key_cache_seconds` (which bounds how long a revocation takes on every replica).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use tollgate_domain::key::{self, KeyFormatError, KeyKind};
use tollgate_store::keys::KeyGrant;

use crate::{GatewayError, GatewayState};

/// Entries kept before the cache starts over: bounds memory under a flood of random keys.
const MAX_ENTRIES: usize = 100_000;

/// A lookup and when it was made; `None` remembers that no key has the hash.
type Cached = (Instant, Option<Arc<KeyGrant>>);

/// Grants by key hash, each trusted for `ttl`. Unknown keys are remembered too, so a flood of
/// bad keys does not become a flood of queries.
pub(crate) struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Cached>>,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    async fn grant(
        &self,
        store: &tollgate_store::Store,
        hash: &str,
    ) -> Result<Option<Arc<KeyGrant>>, GatewayError> {
        let mut stale = None;
        if let Ok(entries) = self.entries.read() {
            if let Some((at, grant)) = entries.get(hash) {
                if at.elapsed() < self.ttl {
                    return Ok(grant.clone());
                }
                stale = Some(grant.clone());
            }
        }
        let grant = match store.key_by_hash(hash).await {
            Ok(grant) => grant.map(Arc::new),
            // The database is away: a key known a moment ago stays known, so the gateway keeps
            // serving while it is down (revocations wait for it to come back).
            Err(err) => match stale {
                Some(grant) => {
                    tracing::warn!(%err, "key lookup failed; serving the cached grant");
                    // Trusted for another period, so calls do not each wait on a database
                    // that is away.
                    if let Ok(mut entries) = self.entries.write() {
                        entries.insert(hash.to_string(), (Instant::now(), grant.clone()));
                    }
                    return Ok(grant);
                }
                None => return Err(GatewayError::StoreUnavailable(err.to_string())),
            },
        };
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(hash.to_string(), (Instant::now(), grant.clone()));
        }
        Ok(grant)
    }
}

/// An authenticated caller with a usable gateway key.
pub(crate) struct Caller(pub Arc<KeyGrant>);

impl FromRequestParts<GatewayState> for Caller {
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &GatewayState,
    ) -> Result<Self, Self::Rejection> {
        let presented = presented_key(parts).ok_or(GatewayError::MissingKey)?;
        let hash = key::hash_presented(presented, KeyKind::Gateway).map_err(|e| match e {
            KeyFormatError::UnknownFormat => GatewayError::InvalidKey,
            KeyFormatError::WrongKind { .. } => GatewayError::WrongKeyKind,
        })?;
        let grant = state
            .keys
            .grant(&state.store, &hash)
            .await?
            .ok_or(GatewayError::InvalidKey)?;
        let grant = usable(grant)?;
        if let Some(origin) = parts.headers.get("origin").and_then(|v| v.to_str().ok()) {
            if !crate::cors::allowed(origin, &grant.allowed_origins) {
                return Err(GatewayError::OriginNotAllowed {
                    origin: origin.to_string(),
                });
            }
        }
        Ok(Caller(grant))
    }
}

fn presented_key(parts: &Parts) -> Option<&str> {
    key::presented(
        parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
    )
}

/// Refuses a key that is not a gateway key, or is revoked, expired, or whose app or tenant is
/// retired.
fn usable(grant: Arc<KeyGrant>) -> Result<Arc<KeyGrant>, GatewayError> {
    if grant.kind != KeyKind::Gateway {
        return Err(GatewayError::WrongKeyKind);
    }
    match grant.refusal(Utc::now()) {
        Some(refusal) => Err(GatewayError::Key(refusal)),
        None => Ok(grant),
    }
}
