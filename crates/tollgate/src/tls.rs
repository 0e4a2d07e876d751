//! TLS termination: the certificate and key are loaded at start and again whenever either
//! file changes, so a renewed certificate takes effect without a restart.

use std::path::Path;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use tollgate_config::TlsSettings;

fn modified(path: &str) -> Option<SystemTime> {
    std::fs::metadata(Path::new(path))
        .and_then(|m| m.modified())
        .ok()
}

/// Polls the files every `reload_seconds`; a changed pair replaces the served certificate. A
/// pair that fails to load (half-written, mismatched) is reported and the old one kept.
pub(crate) async fn reload_on_change(config: RustlsConfig, settings: TlsSettings) {
    let stamp = || (modified(&settings.cert_file), modified(&settings.key_file));
    let mut seen = stamp();
    let mut tick = tokio::time::interval(Duration::from_secs(settings.reload_seconds));
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = stamp();
        if now == seen {
            continue;
        }
        match config
            .reload_from_pem_file(&settings.cert_file, &settings.key_file)
            .await
        {
            Ok(()) => {
                tracing::info!(cert = %settings.cert_file, "reloaded the TLS certificate");
                seen = now;
            }
            Err(err) => {
                tracing::warn!(%err, cert = %settings.cert_file, "the new TLS certificate does not load; still serving the previous one");
            }
        }
    }
}
