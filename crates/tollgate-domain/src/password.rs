//! Local passwords: argon2id hashes (PHC strings), strength rules, one-time passwords.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::{Rng, RngCore};

/// Fewest characters a password may have.
pub const MIN_LENGTH: usize = 12;

/// Why a password was refused or could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_LENGTH`].
    #[error("the password is too short: use at least {MIN_LENGTH} characters")]
    TooShort,
    /// Only one kind of character.
    #[error("the password is too simple: mix letters with digits or symbols")]
    TooSimple,
    /// The stored hash cannot be read (corrupt row).
    #[error("the stored password hash is unreadable; reset the password")]
    BadHash,
    /// Hashing failed.
    #[error("the password could not be hashed")]
    Hashing,
}

/// Refuses passwords that are too short or made of one kind of character.
pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    let letters = password.chars().any(char::is_alphabetic);
    let others = password.chars().any(|c| !c.is_alphabetic());
    if !(letters && others) {
        return Err(PasswordError::TooSimple);
    }
    Ok(())
}

/// Hashes with argon2id and a random salt, returning a PHC string.
pub fn hash(password: &str, rng: &mut impl RngCore) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hashing)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Whether `password` matches the stored PHC string.
pub fn verify(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::BadHash)?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A one-time password such as `k7Qm-x2Rt-9vWp-HcN4-bd3Z`: 20 characters from an alphabet
/// without look-alikes, in groups of four; meets [`check_strength`].
pub fn one_time(rng: &mut impl RngCore) -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    loop {
        let chars: Vec<char> = (0..20)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let candidate = chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-");
        if check_strength(&candidate).is_ok() {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let mut rng = rand::thread_rng();
        let phc = hash("correct horse 42", &mut rng).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse 42", &phc).unwrap());
        assert!(!verify("correct horse 43", &phc).unwrap());
        assert_eq!(verify("x", "not a hash"), Err(PasswordError::BadHash));
    }

    #[test]
    fn strength_rules() {
        assert_eq!(check_strength("short1"), Err(PasswordError::TooShort));
        assert_eq!(
            check_strength("onlylettershere"),
            Err(PasswordError::TooSimple)
        );
        assert!(check_strength("letters and 1 digit").is_ok());
    }

    #[test]
    fn one_time_passwords_are_strong_and_differ() {
        let mut rng = rand::thread_rng();
        let a = one_time(&mut rng);
        assert_eq!(a.len(), 24);
        assert!(check_strength(&a).is_ok());
        assert_ne!(a, one_time(&mut rng));
    }
}
