//! `tollgate serve` signs audit checkpoints on its own and sends each outside the database:
//! to a directory and to a webhook that checks the signature, retried when it fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tollgate::checkpoints::webhook_signature;
use tollgate_ledger::{Checkpoint, Signer};
use tollgate_store::demo::DemoOptions;
use tollgate_testkit::{backend_tests, TestApp, TestDb};

backend_tests!(
    serve_signs_checkpoints_and_delivers_them_outside,
    a_rewritten_log_is_not_signed_over
);

const SECRET: &str = "a webhook secret of some length";

#[derive(Default)]
struct Receiver {
    attempts: usize,
    /// Signature, body, and attempts made until then.
    delivered: Vec<(String, String, usize)>,
}

/// A webhook that fails its first two attempts, then takes deliveries.
async fn receiver() -> (String, Arc<Mutex<Receiver>>) {
    let seen = Arc::new(Mutex::new(Receiver::default()));
    let state = seen.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let mut r = state.lock().unwrap();
                r.attempts += 1;
                if r.attempts <= 2 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let signature = headers["x-tollgate-signature"]
                    .to_str()
                    .unwrap()
                    .to_string();
                let attempts = r.attempts;
                r.delivered.push((signature, body, attempts));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn serve_signs_checkpoints_and_delivers_them_outside(db: TestDb) {
    let (signer, skey) = Signer::generate("serve.example", [3; 32]).unwrap();
    let (url, seen) = receiver().await;
    let sinks = db.dir().join("checkpoints");
    let mut settings = db.settings();
    settings.audit.origin = "serve.example".into();
    settings.audit.signing_key = skey;
    settings.audit.checkpoint_interval_seconds = 1;
    settings.audit.checkpoint_dir = sinks.to_str().unwrap().into();
    settings.audit.checkpoint_webhook_url = url;
    settings.audit.checkpoint_webhook_secret = SECRET.into();
    let app = TestApp::spawn_with(settings).await;
    // The demo writes the system log and (sealing its usage rows) the demo tenant's log.
    app.store.seed_demo(&DemoOptions::default()).await.unwrap();

    let mut waited = Duration::ZERO;
    while seen.lock().unwrap().delivered.is_empty() {
        assert!(
            waited < Duration::from_secs(20),
            "no checkpoint reached the webhook"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    let (signature, body, attempts) = seen.lock().unwrap().delivered[0].clone();
    let t: i64 = signature
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(signature, webhook_signature(SECRET, t, &body));
    assert_eq!(attempts, 3, "two failures, then delivered");

    let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
    let log = uuid::Uuid::nil();
    assert_eq!(sent["size"], 1);
    assert_eq!(sent["origin"], format!("serve.example/audit/{log}"));
    let note = sent["checkpoint"].as_str().unwrap();
    let opened = Checkpoint::open(note, &[signer.verifier()]).unwrap();
    assert_eq!(
        (opened.size, opened.root.to_hex()),
        (1, sent["root"].as_str().unwrap().to_string())
    );
    let file = sinks.join(log.to_string()).join("1.checkpoint");
    assert_eq!(std::fs::read_to_string(file).unwrap(), note);
    assert_eq!(
        app.store
            .latest_checkpoint(log)
            .await
            .unwrap()
            .map(|c| c.note),
        Some(note.to_string())
    );
    app.stop().await.unwrap();
}

async fn a_rewritten_log_is_not_signed_over(db: TestDb) {
    let (_, skey) = Signer::generate("serve.example", [8; 32]).unwrap();
    let mut settings = db.settings();
    settings.audit.signing_key = skey;
    settings.audit.checkpoint_dir = db.dir().join("sink").to_str().unwrap().into();
    let checkpointer = tollgate::checkpoints::Checkpointer::from_settings(&settings.audit)
        .unwrap()
        .unwrap();
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let round = checkpointer.sign(&store, None).await.unwrap();
    assert!(round.refused.is_empty() && !round.signed.is_empty());
    // Someone with the database rewrites the system log's only entry, rebuilds its leaf and
    // removes the stored checkpoints; the copy in the sink directory remembers.
    db.tamper(
        "UPDATE audit_log SET action = 'demo.other' WHERE tenant_id IS NULL;
         DELETE FROM audit_checkpoints WHERE log_id = '00000000-0000-0000-0000-000000000000';",
    )
    .await;
    let entries = store.verify_audit(&Default::default()).await.unwrap();
    assert!(entries[0].failure.is_some(), "the chain is broken now");
    db.tamper(
        "DELETE FROM audit_tree WHERE log_id = '00000000-0000-0000-0000-000000000000';
         INSERT INTO audit_tree (log_id, level, idx, hash) VALUES ('00000000-0000-0000-0000-000000000000', 0, 0,
             (SELECT hash FROM audit_tree WHERE level = 0 AND idx = 0 AND log_id <> '00000000-0000-0000-0000-000000000000' LIMIT 1));",
    )
    .await;
    // With the size equal and the root different, the signer refuses.
    let round = checkpointer
        .sign(&store, Some(uuid::Uuid::nil()))
        .await
        .unwrap();
    assert!(round.signed.is_empty(), "{round:?}");
    assert_eq!(round.refused.len(), 1, "{round:?}");
}
