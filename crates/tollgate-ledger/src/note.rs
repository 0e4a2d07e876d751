//! C2SP signed notes with Ed25519 (the format of Go's checksum database and of transparency
//! logs): a text ending in a newline, a blank line, then one line per signature,
//! `— <key name> <base64(key id || signature)>`. The key id is the first four bytes of
//! `SHA-256(name || "\n" || 0x01 || public key)`, so a signature names the exact key it needs.
//! Keys are written as `<name>+<hex key id>+<base64(0x01 || key)>`, private ones with a
//! `PRIVATE+KEY+` prefix and the 32-byte seed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// What starts a private key.
const PRIVATE: &str = "PRIVATE+KEY+";
/// Signature lines a note may carry (as Go's `note.Open`): bounds the work of opening one.
const MAX_SIGNATURES: usize = 100;
/// What starts a signature line.
const DASH: &str = "\u{2014} ";

/// Why a key or a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The key text is not `name+id+key`.
    #[error("not a signed-note key: {0}")]
    BadKey(&'static str),
    /// The key's id does not match its name and key.
    #[error("the key id {given} does not match the key (it should be {computed})")]
    KeyIdMismatch {
        /// The id written in the key.
        given: String,
        /// The id its name and key give.
        computed: String,
    },
    /// The note is not well formed.
    #[error("not a signed note: {0}")]
    Malformed(&'static str),
    /// A known key's signature does not verify: the text was changed.
    #[error("the signature of `{0}` does not match the text: the note was altered")]
    BadSignature(String),
    /// No signature by a trusted key.
    #[error("the note is not signed by any trusted key")]
    Unverified,
}

/// A key name: non-empty, no spaces, no `+`.
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(NoteError::BadKey(
            "a key name is non-empty, without spaces or '+'",
        ));
    }
    Ok(())
}

/// The key id of an Ed25519 key under `name`.
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(key.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Splits `name+hexid+base64` and checks the type byte and the id.
fn parse_key(text: &str) -> Result<(String, u32, Vec<u8>), NoteError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected name+keyid+key"));
    };
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::BadKey("the key id is 8 lower-case hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::BadKey("bad key id"))?;
    let bytes = B64
        .decode(key)
        .map_err(|_| NoteError::BadKey("the key is not base64"))?;
    match bytes.split_first() {
        Some((&ED25519, rest)) if rest.len() == 32 => Ok((name.to_string(), id, rest.to_vec())),
        Some((&ED25519, _)) => Err(NoteError::BadKey("an Ed25519 key is 32 bytes")),
        _ => Err(NoteError::BadKey(
            "only Ed25519 keys (type 0x01) are supported",
        )),
    }
}

/// Checks that `id` is the id of `key` under `name`.
fn check_id(name: &str, id: u32, key: &VerifyingKey) -> Result<(), NoteError> {
    let computed = key_id(name, key);
    if computed != id {
        return Err(NoteError::KeyIdMismatch {
            given: format!("{id:08x}"),
            computed: format!("{computed:08x}"),
        });
    }
    Ok(())
}

/// Who signs: a name and an Ed25519 private key.
pub struct Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}+{:08x}, key hidden)", self.name, self.id)
    }
}

impl Signer {
    /// Reads a private key written as `PRIVATE+KEY+name+id+base64(0x01 || seed)`.
    pub fn from_skey(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE)
            .ok_or(NoteError::BadKey("a private key starts with PRIVATE+KEY+"))?;
        let (name, id, seed) = parse_key(rest)?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::BadKey("an Ed25519 private key is 32 bytes"))?;
        let key = SigningKey::from_bytes(&seed);
        check_id(&name, id, &key.verifying_key())?;
        Ok(Self { name, id, key })
    }

    /// A new key under `name` from 32 random bytes; returns it and its private key text.
    pub fn generate(name: &str, seed: [u8; 32]) -> Result<(Self, String), NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, &key.verifying_key());
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(&seed);
        let skey = format!("{PRIVATE}{name}+{id:08x}+{}", B64.encode(bytes));
        Ok((
            Self {
                name: name.to_string(),
                id,
                key,
            },
            skey,
        ))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to publish.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline and hold no blank line at its end).
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{DASH}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }
}

/// A trusted public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Reads a public key written as `name+id+base64(0x01 || key)`.
    pub fn from_vkey(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = parse_key(text.trim())?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::BadKey("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::BadKey("not an Ed25519 public key"))?;
        check_id(&name, id, &key)?;
        Ok(Self { name, id, key })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id, as 8 hex digits.
    pub fn id_hex(&self) -> String {
        format!("{:08x}", self.id)
    }

    /// The text form, to publish.
    pub fn to_vkey(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }
}

/// A note whose signatures were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The signed text, final newline included.
    pub text: String,
    /// Names of the trusted keys whose signatures verified.
    pub signed_by: Vec<String>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text must end in a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed(
            "control characters other than newline are not allowed",
        ));
    }
    Ok(())
}

/// Checks `note` against `trusted`: signatures of unknown keys are ignored, a failing
/// signature of a trusted key is an error, and at least one trusted key must have signed.
pub fn open(note: &str, trusted: &[Verifier]) -> Result<Opened, NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let text = &note[..=split];
    check_text(text)?;
    let signatures = &note[split + 2..];
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::Malformed("no signature lines"));
    }
    if signatures.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed(
            "control characters other than newline are not allowed",
        ));
    }
    let mut signed_by = Vec::new();
    if signatures.lines().count() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("more than 100 signature lines"));
    }
    for line in signatures.lines() {
        let rest = line.strip_prefix(DASH).ok_or(NoteError::Malformed(
            "a signature line starts with an em dash",
        ))?;
        let (name, blob) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "a signature line is `— name signature`",
        ))?;
        let blob = B64
            .decode(blob)
            .map_err(|_| NoteError::Malformed("a signature is base64"))?;
        if blob.len() < 5 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        let Some(verifier) = trusted.iter().find(|v| v.name == name && v.id == id) else {
            continue;
        };
        if signed_by.iter().any(|n| n == name) {
            continue;
        }
        let signature = Signature::from_slice(&blob[4..])
            .map_err(|_| NoteError::BadSignature(name.to_string()))?;
        verifier
            .key
            .verify(text.as_bytes(), &signature)
            .map_err(|_| NoteError::BadSignature(name.to_string()))?;
        signed_by.push(name.to_string());
    }
    if signed_by.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok(Opened {
        text: text.to_string(),
        signed_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The published example of golang.org/x/mod/sumdb/note, which every implementation of
    // signed notes reproduces: an independent check of key ids, encoding and signatures.
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const SIGNED: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn reproduces_the_published_go_example() {
        let signer = Signer::from_skey(SKEY).unwrap();
        assert_eq!(signer.verifier().to_vkey(), VKEY);
        assert_eq!(signer.sign(TEXT).unwrap(), SIGNED);
        let v = Verifier::from_vkey(VKEY).unwrap();
        let opened = open(SIGNED, &[v]).unwrap();
        assert_eq!(opened.text, TEXT);
        assert_eq!(opened.signed_by, ["PeterNeumann"]);
    }

    #[test]
    fn an_altered_note_or_an_unknown_key_is_refused() {
        let v = Verifier::from_vkey(VKEY).unwrap();
        let altered = SIGNED.replacen("problem,", "problem;", 1);
        assert_eq!(
            open(&altered, std::slice::from_ref(&v)),
            Err(NoteError::BadSignature("PeterNeumann".into()))
        );
        let (other, _) = Signer::generate("Other", [7; 32]).unwrap();
        assert_eq!(
            open(SIGNED, &[other.verifier()]),
            Err(NoteError::Unverified)
        );
        assert!(
            open(TEXT, std::slice::from_ref(&v)).is_err(),
            "no signatures"
        );
        assert!(open(&SIGNED.replace('\u{2014}', "-"), &[v]).is_err());
    }

    #[test]
    fn keys_with_a_wrong_id_or_shape_are_refused() {
        assert!(matches!(
            Verifier::from_vkey(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        for bad in [
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+c74f20a3+!!!!",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(Verifier::from_vkey(bad).is_err(), "{bad}");
        }
        assert!(
            Signer::from_skey(VKEY).is_err(),
            "a public key is not a private one"
        );
    }

    #[test]
    fn a_generated_key_signs_what_its_verifier_accepts() {
        let (signer, skey) = Signer::generate("audit.example/tenant", [42; 32]).unwrap();
        let again = Signer::from_skey(&skey).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let note = signer.sign("hello\n").unwrap();
        let v = Verifier::from_vkey(&signer.verifier().to_vkey()).unwrap();
        assert_eq!(open(&note, &[v]).unwrap().text, "hello\n");
        assert!(signer.sign("no newline").is_err());
        assert!(
            !format!("{signer:?}").contains(&skey[12..]),
            "the key never prints"
        );
    }
}
