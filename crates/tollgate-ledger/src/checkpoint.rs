//! Checkpoints in the C2SP tlog-checkpoint format: the log's origin, its size in decimal and
//! its root hash in base64, each on its own line, then optional extension lines; signed as a
//! note ([`crate::note`]). An auditor holding one checkpoint can later demand a consistency
//! proof from it to any newer one, which catches a rewritten, truncated or forked log.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::hash::Hash;
use crate::note::{self, NoteError, Signer, Verifier};

/// A log's size and root, named by its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Which log: unique, e.g. `tollgate.example.com/audit/<tenant id>`.
    pub origin: String,
    /// Entries in the log.
    pub size: u64,
    /// The Merkle root of those entries.
    pub root: Hash,
    /// Further lines (none written today).
    pub extensions: Vec<String>,
}

/// Why a text is not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not origin, size and root lines.
    #[error("not a checkpoint: {0}")]
    Malformed(&'static str),
    /// The signature layer refused it.
    #[error(transparent)]
    Note(#[from] NoteError),
}

impl Checkpoint {
    /// The text that is signed.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Reads the text form, strictly.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("it must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::Malformed("the first line names the log"))?;
        let size = lines
            .next()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .filter(|s| *s == "0" || !s.starts_with('0'))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(CheckpointError::Malformed(
                "the second line is the size in decimal",
            ))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or(CheckpointError::Malformed(
                "the third line is a 32-byte root hash in base64",
            ))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Malformed("an empty extension line"));
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root: Hash(root),
            extensions,
        })
    }

    /// The signed note of this checkpoint.
    /// Refuses a checkpoint whose text would not read back as itself (an empty origin, a
    /// newline inside a line, an empty extension).
    pub fn sign(&self, signer: &Signer) -> Result<String, CheckpointError> {
        let text = self.to_text();
        if Self::parse(&text)? != *self {
            return Err(CheckpointError::Malformed(
                "its lines would not read back as the same checkpoint",
            ));
        }
        Ok(signer.sign(&text)?)
    }

    /// Checks a signed checkpoint against trusted keys and reads it.
    pub fn open(signed: &str, trusted: &[Verifier]) -> Result<Self, CheckpointError> {
        let opened = note::open(signed, trusted)?;
        Self::parse(&opened.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_opens_and_refuses_changes() {
        let (signer, _) = Signer::generate("tollgate.test/audit", [3; 32]).unwrap();
        let cp = Checkpoint {
            origin: "tollgate.test/audit/system".into(),
            size: 42,
            root: crate::hash::digest(b"root"),
            extensions: vec![],
        };
        let note = cp.sign(&signer).unwrap();
        assert!(note.starts_with("tollgate.test/audit/system\n42\n"));
        assert_eq!(Checkpoint::open(&note, &[signer.verifier()]).unwrap(), cp);
        let mut forged = cp.clone();
        forged.origin = "a\n1\nAAAA".into();
        assert!(forged.sign(&signer).is_err());
        forged.origin = String::new();
        assert!(forged.sign(&signer).is_err());
        let grown = note.replacen("\n42\n", "\n43\n", 1);
        assert!(Checkpoint::open(&grown, &[signer.verifier()]).is_err());
    }

    #[test]
    fn only_the_canonical_text_parses() {
        let root = B64.encode([0u8; 32]);
        assert!(Checkpoint::parse(&format!("o\n5\n{root}\n")).is_ok());
        for bad in [
            format!("o\n05\n{root}\n"),
            format!("o\n-5\n{root}\n"),
            format!("\n5\n{root}\n"),
            format!("o\n5\n{root}"),
            "o\n5\nAAAA\n".to_string(),
            format!("o\n5\n{root}\n\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
