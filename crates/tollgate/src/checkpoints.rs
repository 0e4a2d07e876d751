//! Signing the audit ledger's checkpoints and sending a copy of each outside the database: to
//! a directory of files and to a webhook signed with HMAC-SHA256. The signing key comes from a
//! file or the environment (`audit.signing_key_file`, `audit.signing_key`), never from the
//! database, so whoever can rewrite the database still cannot sign a rewritten history.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tollgate_config::AuditSettings;
use tollgate_ledger::{Checkpoint, CheckpointError, NoteError, Signer, Verifier};
use tollgate_store::audit::TreeHead;
use tollgate_store::{Store, StoreError};
use uuid::Uuid;

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file cannot be read.
    #[error(
        "cannot read the checkpoint signing key {path}: {source}; check audit.signing_key_file"
    )]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The signing key is not a private key.
    #[error("the checkpoint signing key is not a PRIVATE+KEY+… line ({0}); `tollgate audit keygen` writes one")]
    Signing(NoteError),
    /// A trusted key is not a public key.
    #[error("audit.trusted_keys has {key:?}, which is not a public key name+id+key: {source}")]
    Trusted {
        /// The text.
        key: String,
        /// Why.
        source: NoteError,
    },
}

/// Why a round of checkpoints failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointingError {
    /// Reading heads or storing checkpoints failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing failed.
    #[error("cannot sign the checkpoint: {0}")]
    Sign(#[from] CheckpointError),
}

/// A log's checkpoint origin: `<audit.origin>/audit/<log id>`.
pub fn origin(prefix: &str, log: Uuid) -> String {
    format!("{prefix}/audit/{log}")
}

/// The log an origin of this deployment names, if it is one.
pub fn log_of_origin(prefix: &str, origin: &str) -> Option<Uuid> {
    let rest = origin.strip_prefix(prefix)?.strip_prefix("/audit/")?;
    Uuid::parse_str(rest).ok()
}

/// The configured signing key, if any.
pub fn signer(settings: &AuditSettings) -> Result<Option<Signer>, KeyError> {
    let text = if !settings.signing_key.is_empty() {
        settings.signing_key.clone()
    } else if !settings.signing_key_file.is_empty() {
        std::fs::read_to_string(&settings.signing_key_file).map_err(|source| KeyError::Read {
            path: settings.signing_key_file.clone(),
            source,
        })?
    } else {
        return Ok(None);
    };
    Signer::from_skey(&text)
        .map(Some)
        .map_err(KeyError::Signing)
}

/// Keys whose signatures are trusted: the signing key's public half and `audit.trusted_keys`.
pub fn trusted(settings: &AuditSettings) -> Result<Vec<Verifier>, KeyError> {
    let mut keys: Vec<Verifier> = signer(settings)?
        .map(|s| s.verifier())
        .into_iter()
        .collect();
    for key in &settings.trusted_keys {
        keys.push(
            Verifier::from_vkey(key).map_err(|source| KeyError::Trusted {
                key: key.clone(),
                source,
            })?,
        );
    }
    Ok(keys)
}

/// A checkpoint signed in this round.
#[derive(Clone, Debug)]
pub struct Signed {
    /// What it covers.
    pub head: TreeHead,
    /// The signed note.
    pub note: String,
    /// False when another replica had stored one of this size first.
    pub stored: bool,
}

/// A round of signing.
#[derive(Clone, Debug, Default)]
pub struct Round {
    /// Checkpoints signed.
    pub signed: Vec<Signed>,
    /// Logs not signed because they no longer extend their previous checkpoint: the log, why.
    pub refused: Vec<(Uuid, String)>,
}

/// Signs checkpoints and sends them to the sinks. It signs a log only if the log still
/// extends the newest checkpoint it knows of that log (stored, in the sink directory, or
/// signed by this process), proven by a consistency proof: so a rewritten history is never
/// signed over, even after its stored checkpoints were deleted.
pub struct Checkpointer {
    signer: Signer,
    trusted: Vec<Verifier>,
    origin: String,
    dir: Option<PathBuf>,
    webhook: Option<Webhook>,
    last: std::sync::Mutex<std::collections::HashMap<Uuid, (u64, tollgate_ledger::Hash)>>,
}

struct Webhook {
    url: String,
    secret: String,
    client: reqwest::Client,
}

impl Checkpointer {
    /// A checkpointer for the settings; `None` when no signing key is configured.
    pub fn from_settings(settings: &AuditSettings) -> Result<Option<Self>, KeyError> {
        let Some(signer) = signer(settings)? else {
            return Ok(None);
        };
        let webhook = (!settings.checkpoint_webhook_url.is_empty()).then(|| Webhook {
            url: settings.checkpoint_webhook_url.clone(),
            secret: settings.checkpoint_webhook_secret.clone(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        });
        Ok(Some(Self {
            signer,
            trusted: trusted(settings)?,
            last: Default::default(),
            origin: settings.origin.clone(),
            dir: (!settings.checkpoint_dir.is_empty())
                .then(|| PathBuf::from(&settings.checkpoint_dir)),
            webhook,
        }))
    }

    /// The public key to publish.
    pub fn public_key(&self) -> String {
        self.signer.verifier().to_vkey()
    }

    /// Signs a checkpoint of every log that grew since its last one (or of `only`, grown or
    /// not), stores it, and sends the new ones to the sinks; refuses, and logs an error for,
    /// any log that does not extend its previous checkpoint.
    pub async fn sign(
        &self,
        store: &Store,
        only: Option<Uuid>,
    ) -> Result<Round, CheckpointingError> {
        let mut round = Round::default();
        for head in store.tree_heads(only).await? {
            if let Some(reason) = self.not_extending(store, &head).await? {
                tracing::error!(log = %head.log, %reason, "refusing to sign an audit checkpoint: the log was rewritten; run `tollgate audit verify`");
                round.refused.push((head.log, reason));
                continue;
            }
            let checkpoint = Checkpoint {
                origin: origin(&self.origin, head.log),
                size: head.size,
                root: head.root,
                extensions: Vec::new(),
            };
            let note = checkpoint.sign(&self.signer)?;
            let stored = store.store_checkpoint(&head, &note).await?;
            if stored {
                self.send(&head, &checkpoint.origin, &note).await;
            }
            if let Ok(mut last) = self.last.lock() {
                last.insert(head.log, (head.size, head.root));
            }
            round.signed.push(Signed { head, note, stored });
        }
        Ok(round)
    }

    /// Why `head` does not extend the newest checkpoint known of its log, if it does not.
    async fn not_extending(
        &self,
        store: &Store,
        head: &TreeHead,
    ) -> Result<Option<String>, CheckpointingError> {
        let mut known: Vec<(u64, tollgate_ledger::Hash)> = Vec::new();
        if let Some(c) = store.latest_checkpoint(head.log).await? {
            known.push((c.size, c.root));
        }
        if let Some(last) = self
            .last
            .lock()
            .ok()
            .and_then(|l| l.get(&head.log).copied())
        {
            known.push(last);
        }
        if let Some(dir) = &self.dir {
            let file = dir.join(head.log.to_string()).join("latest.checkpoint");
            if let Ok(text) = tokio::fs::read_to_string(&file).await {
                if let Ok(c) = Checkpoint::open(&text, &self.trusted) {
                    known.push((c.size, c.root));
                }
            }
        }
        let Some((size, root)) = known.into_iter().max_by_key(|(size, _)| *size) else {
            return Ok(None);
        };
        if size > head.size {
            return Ok(Some(format!(
                "a checkpoint covers {size} entries but the log has {}",
                head.size
            )));
        }
        if size == head.size {
            return Ok((root != head.root).then(|| {
                format!("the log's first {size} entries no longer have their checkpoint's root")
            }));
        }
        let proof = store
            .consistency_proof(head.log, size, Some(head.size))
            .await?;
        Ok(tollgate_ledger::tree::verify_consistency(
            size,
            head.size,
            &root,
            &head.root,
            &proof.proof,
        )
        .err()
        .map(|_| format!("the log no longer extends its checkpoint of {size} entries")))
    }

    /// Signs every `interval` until `stop` completes.
    pub async fn run_every(
        &self,
        store: Store,
        interval: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tracing::info!(
            key = %self.public_key(),
            interval_seconds = interval.as_secs(),
            "signing audit checkpoints"
        );
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => {
                    match self.sign(&store, None).await {
                        Ok(round) => for s in round.signed.iter().filter(|s| s.stored) {
                            tracing::debug!(log = %s.head.log, size = s.head.size, "signed an audit checkpoint");
                        },
                        Err(err) => tracing::warn!(%err, "cannot sign audit checkpoints now; trying again next round"),
                    }
                }
            }
        }
    }

    async fn send(&self, head: &TreeHead, origin: &str, note: &str) {
        if let Some(dir) = &self.dir {
            if let Err(err) = write_to_dir(dir, head, note).await {
                tracing::error!(dir = %dir.display(), %err, "cannot write the audit checkpoint to audit.checkpoint_dir");
            }
        }
        if let Some(hook) = &self.webhook {
            let body = serde_json::json!({
                "origin": origin,
                "log": head.log,
                "size": head.size,
                "root": head.root.to_hex(),
                "checkpoint": note,
            })
            .to_string();
            if let Err(err) = hook.post(&body).await {
                tracing::error!(url = %tollgate_config::mask_url_password(&hook.url), %err, "the audit checkpoint webhook did not take the checkpoint");
            }
        }
    }
}

/// `<dir>/<log>/<size>.checkpoint` and `<dir>/<log>/latest.checkpoint`, each written to a
/// temporary file and renamed, so a reader never sees half a checkpoint.
async fn write_to_dir(dir: &Path, head: &TreeHead, note: &str) -> std::io::Result<()> {
    let log_dir = dir.join(head.log.to_string());
    tokio::fs::create_dir_all(&log_dir).await?;
    for name in [
        format!("{}.checkpoint", head.size),
        "latest.checkpoint".to_string(),
    ] {
        let tmp = log_dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, note).await?;
        tokio::fs::rename(&tmp, log_dir.join(name)).await?;
    }
    Ok(())
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the receiver recomputes it
/// and refuses old timestamps, so a captured delivery cannot be replayed later.
pub fn webhook_signature(secret: &str, unix_seconds: i64, body: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of every length: not reached.
        return format!("t={unix_seconds},v1=");
    };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = hex::encode(mac.finalize().into_bytes());
    format!("t={unix_seconds},v1={digest}")
}

impl Webhook {
    /// Posts `body`, retrying three times with doubling waits on failure or a non-2xx answer.
    async fn post(&self, body: &str) -> Result<(), String> {
        let mut wait = Duration::from_millis(250);
        let mut last = String::new();
        for attempt in 0..4 {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            let signature = webhook_signature(&self.secret, chrono::Utc::now().timestamp(), body);
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-tollgate-signature", signature)
                .body(body.to_string())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("answered {}", r.status()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_name_their_log() {
        let log = Uuid::from_u128(7);
        let o = origin("tollgate.example.com", log);
        assert_eq!(o, format!("tollgate.example.com/audit/{log}"));
        assert_eq!(log_of_origin("tollgate.example.com", &o), Some(log));
        assert_eq!(log_of_origin("other.example.com", &o), None);
        assert_eq!(
            log_of_origin("tollgate.example.com", "tollgate.example.com/audit/x"),
            None
        );
    }

    #[test]
    fn webhook_signatures_are_hmac_sha256_of_time_and_body() {
        // The same as `printf '1700000000.{}' | openssl dgst -sha256 -hmac 0123456789abcdef`.
        let sig = webhook_signature("0123456789abcdef", 1_700_000_000, "{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
        assert!(sig.starts_with("t=1700000000,v1="));
        assert_eq!(sig.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(
            sig,
            webhook_signature("0123456789abcdeX", 1_700_000_000, "{}")
        );
        assert_ne!(
            sig,
            webhook_signature("0123456789abcdef", 1_700_000_001, "{}")
        );
    }
}
