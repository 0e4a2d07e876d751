//! Who calls an admin route: an admin key (`tg_adm_...`) that is usable now, whose person may
//! still sign in. Each handler then names the scope it needs ([`AdminKey::require`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use tollgate_domain::audit::ActorType;
use tollgate_domain::key::{self, KeyFormatError, KeyKind};
use tollgate_store::devices::Actor;
use tollgate_store::keys::{KeyGrant, KeyRefusal};
use tollgate_store::StoreError;
use uuid::Uuid;

use super::error::ApiError;
use super::AppState;

const ADMIN_KEY: &str = "an admin key (tg_adm_...)";

/// A usable admin key and its person now.
pub(crate) struct AdminKey {
    pub grant: KeyGrant,
    /// Whether its person is a superuser now (checked per request, not when the key was made).
    pub superuser: bool,
    /// The person's pseudonymous subject id, the actor of what the key changes.
    pub subject: Uuid,
}

impl AdminKey {
    /// Whether the key holds `scope`.
    pub(crate) fn has(&self, scope: &str) -> bool {
        self.grant.scopes.iter().any(|s| s == scope)
    }

    /// Refuses the request unless the key holds `scope`.
    pub(crate) fn require(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::MissingScope(scope))
        }
    }

    /// The actor of the changes this key makes: its person, by pseudonym.
    pub(crate) fn actor(&self) -> Actor {
        Actor {
            kind: ActorType::User,
            id: Some(self.subject),
        }
    }
}

/// The secret a request presents (`Authorization: Bearer`, else `x-api-key`).
pub(crate) fn presented(parts: &Parts) -> Option<&str> {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    key::presented(header("authorization"), header("x-api-key"))
}

/// The hash of the secret a request presents, which must be a `kind` one: `missing` says what
/// to send, `wrong` what this route takes instead of another kind.
pub(crate) fn presented_hash(
    parts: &Parts,
    kind: KeyKind,
    missing: &'static str,
    wrong: &'static str,
) -> Result<String, ApiError> {
    let presented = presented(parts).ok_or(ApiError::MissingKey(missing))?;
    key::hash_presented(presented, kind).map_err(|e| match e {
        KeyFormatError::UnknownFormat => ApiError::InvalidKey,
        KeyFormatError::WrongKind { .. } => ApiError::WrongKeyKind(wrong),
    })
}

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let hash = presented_hash(
            parts,
            KeyKind::Admin,
            ADMIN_KEY,
            "this API takes an admin key (tg_adm_...); gateway keys call models and device tokens scan",
        )?;
        let grant = state
            .store
            .key_by_hash(&hash)
            .await?
            .ok_or(ApiError::InvalidKey)?;
        if grant.kind != KeyKind::Admin {
            return Err(ApiError::WrongKeyKind(
                "this API takes an admin key (tg_adm_...)",
            ));
        }
        if let Some(refusal) = grant.refusal(Utc::now()) {
            return Err(ApiError::Key(refusal));
        }
        // An admin key is its person's: it works while they may sign in.
        let person = match grant.user_id {
            Some(user) => match state.store.user(grant.tenant_id, user).await {
                Ok(person) => Some(person),
                Err(StoreError::NotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            },
            None => None,
        };
        let Some(person) = person.filter(|p| p.is_active) else {
            return Err(ApiError::Key(KeyRefusal::Inactive {
                what: "the person this API key belongs to",
            }));
        };
        Ok(AdminKey {
            superuser: person.is_superuser,
            subject: person.subject_id,
            grant,
        })
    }
}
