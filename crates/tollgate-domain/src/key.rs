//! API key secrets. A key is shown once when issued; only its prefix (for people to recognise
//! it) and its SHA-256 hash (to look it up) are stored. Keys carry ~238 random bits, so a fast
//! hash is safe here, unlike passwords.

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 40;
/// Random characters kept in the displayed prefix.
const PREFIX_RANDOM_LEN: usize = 8;

/// What a key may be used for. The database enforces that gateway and admin keys never stand in
/// for each other; device tokens live apart, in `devices.token_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Data plane: calls models through `/v1` (a seed 000 licence, with credits).
    Gateway,
    /// Control plane: calls the admin API under `/api/v1` with scopes (seed 003 api key).
    Admin,
    /// A registered device (browser extension, desktop agent, CLI): scans text, fetches its
    /// tenant's firewall config and reports AI-tool use under `/v1` (seed 001).
    Device,
}

impl KeyKind {
    /// The value stored in `api_keys.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Gateway => "gateway",
            KeyKind::Admin => "admin",
            KeyKind::Device => "device",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            KeyKind::Gateway => "tg_gw_",
            KeyKind::Admin => "tg_adm_",
            KeyKind::Device => "tg_dev_",
        }
    }

    /// Reads the stored value back.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "gateway" => Some(KeyKind::Gateway),
            "admin" => Some(KeyKind::Admin),
            "device" => Some(KeyKind::Device),
            _ => None,
        }
    }
}

/// A freshly issued key: the secret goes to the caller once, the rest to the database.
#[derive(Clone, Debug)]
pub struct IssuedKey {
    /// The whole key, e.g. `tg_gw_3f9K...`; never stored.
    pub secret: String,
    /// The first characters, e.g. `tg_gw_3f9K2mQa`, shown in listings.
    pub prefix: String,
    /// Hex SHA-256 of the secret.
    pub hash: String,
}

/// Why a presented key was rejected before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Not a Tollgate key at all.
    #[error("this is not a Tollgate API key: keys start with tg_gw_ (gateway), tg_adm_ (admin) or tg_dev_ (device)")]
    UnknownFormat,
    /// A Tollgate key of the other kind.
    #[error("a {presented} key cannot be used here; use a {expected} key")]
    WrongKind {
        /// The kind presented.
        presented: &'static str,
        /// The kind this surface needs.
        expected: &'static str,
    },
}

/// Issues a new key of `kind`.
pub fn issue(kind: KeyKind, rng: &mut impl RngCore) -> IssuedKey {
    let random: String = (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    let secret = format!("{}{random}", kind.tag());
    IssuedKey {
        prefix: secret[..kind.tag().len() + PREFIX_RANDOM_LEN].to_string(),
        hash: hash(&secret),
        secret,
    }
}

/// Hex SHA-256 of a secret: what the database stores and looks up.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The key a request presents: `Authorization: Bearer <key>`, else `x-api-key: <key>`.
pub fn presented<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    let bearer = authorization.and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    bearer
        .or(x_api_key)
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Checks that `presented` looks like a key of `expected` kind and returns its hash.
pub fn hash_presented(presented: &str, expected: KeyKind) -> Result<String, KeyFormatError> {
    let kind = [KeyKind::Gateway, KeyKind::Admin, KeyKind::Device]
        .into_iter()
        .find(|k| presented.starts_with(k.tag()))
        .ok_or(KeyFormatError::UnknownFormat)?;
    let random = &presented[kind.tag().len()..];
    if random.len() != RANDOM_LEN || !random.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(KeyFormatError::UnknownFormat);
    }
    if kind != expected {
        return Err(KeyFormatError::WrongKind {
            presented: kind.as_str(),
            expected: expected.as_str(),
        });
    }
    Ok(hash(presented))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn issued_key_verifies_and_prefix_is_its_start() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let key = issue(KeyKind::Gateway, &mut rng);
        assert!(key.secret.starts_with(&key.prefix));
        assert_eq!(key.prefix.len(), 14);
        assert_eq!(
            hash_presented(&key.secret, KeyKind::Gateway).unwrap(),
            key.hash
        );
        assert_ne!(key.hash, key.secret);
    }

    #[test]
    fn kinds_never_stand_in_for_each_other() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let admin = issue(KeyKind::Admin, &mut rng);
        assert_eq!(
            hash_presented(&admin.secret, KeyKind::Gateway),
            Err(KeyFormatError::WrongKind {
                presented: "admin",
                expected: "gateway"
            })
        );
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in [
            "",
            "sk-abc",
            "tg_gw_short",
            "tg_gw_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(
                hash_presented(bad, KeyKind::Gateway),
                Err(KeyFormatError::UnknownFormat)
            );
        }
    }

    #[test]
    fn two_keys_differ() {
        let mut rng = rand::thread_rng();
        assert_ne!(
            issue(KeyKind::Gateway, &mut rng).secret,
            issue(KeyKind::Gateway, &mut rng).secret
        );
    }
}
