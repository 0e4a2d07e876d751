//! The audit API as an auditor uses it: fetch the public keys and a signed checkpoint, list
//! entries, and check inclusion and consistency proofs offline against the checkpoint.

use reqwest::StatusCode;
use serde_json::Value;
use tollgate::checkpoints::Checkpointer;
use tollgate_domain::audit::{SCOPE_READ, SCOPE_READ_SYSTEM};
use tollgate_domain::demo;
use tollgate_domain::key::{issue, KeyKind};
use tollgate_ledger::tree::{verify_consistency, verify_inclusion};
use tollgate_ledger::{Checkpoint, Hash, Signer, Verifier};
use tollgate_store::demo::DemoOptions;
use tollgate_store::{Scope, Store};
use tollgate_testkit::{backend_tests, fixture_entry, TestApp, TestDb};
use uuid::Uuid;

use crate::fixtures::admin_key;

backend_tests!(an_auditor_checks_proofs_against_a_signed_checkpoint);

async fn append(store: &Store, n: usize) {
    for i in 0..n {
        let tx = store
            .begin_change(Scope::Tenant(demo::TENANT_ID))
            .await
            .unwrap();
        let mut entry = fixture_entry().in_log_of(demo::TENANT_ID);
        entry.action = format!("test.step{i}");
        tx.commit(entry).await.unwrap();
    }
}

async fn get(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn hash(v: &Value) -> Hash {
    v.as_str().unwrap().parse().unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

async fn an_auditor_checks_proofs_against_a_signed_checkpoint(db: TestDb) {
    let (signer, skey) = Signer::generate("api.example", [5; 32]).unwrap();
    let mut settings = db.settings();
    settings.audit.origin = "api.example".into();
    settings.audit.signing_key = skey;
    settings.audit.checkpoint_interval_seconds = 0;
    let checkpointer = Checkpointer::from_settings(&settings.audit)
        .unwrap()
        .unwrap();
    let app = TestApp::spawn_with(settings).await;
    app.store.seed_demo(&DemoOptions::default()).await.unwrap();
    let key = admin_key(&app.store, &[SCOPE_READ]).await;
    let log = demo::TENANT_ID;
    append(&app.store, 5).await;
    checkpointer.sign(&app.store, None).await.unwrap();

    // The public key is published; the checkpoint opens with it.
    let keys = app
        .client
        .get(app.url("/v1/audit/keys"))
        .send()
        .await
        .unwrap();
    let keys: Value = keys.json().await.unwrap();
    assert_eq!(keys["keys"][0], signer.verifier().to_vkey());
    let verifier = Verifier::from_vkey(keys["keys"][0].as_str().unwrap()).unwrap();
    let (status, cp) = get(&app, &key, &format!("/v1/audit/logs/{log}/checkpoint")).await;
    assert_eq!(status, StatusCode::OK, "{cp}");
    let old = Checkpoint::open(
        cp["checkpoint"].as_str().unwrap(),
        std::slice::from_ref(&verifier),
    )
    .unwrap();
    assert_eq!(old.origin, format!("api.example/audit/{log}"));
    let old_size = old.size;
    assert!(old_size >= 5, "{cp}");

    // Every entry listed is in the signed tree.
    let (status, page) = get(&app, &key, &format!("/v1/audit/logs/{log}/entries?limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_after"], 2);
    let (_, rest) = get(
        &app,
        &key,
        &format!("/v1/audit/logs/{log}/entries?after=2&limit=1000"),
    )
    .await;
    let all: Vec<Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["entries"].as_array().unwrap())
        .cloned()
        .collect();
    assert_eq!(all.len() as u64, old_size);
    assert_eq!(rest["next_after"], Value::Null);
    for e in &all {
        let seq = e["seq"].as_u64().unwrap();
        let (status, p) = get(
            &app,
            &key,
            &format!("/v1/audit/logs/{log}/entries/{seq}/proof?size={old_size}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["leaf_hash"], e["leaf_hash"]);
        verify_inclusion(
            seq - 1,
            old_size,
            &hash(&e["leaf_hash"]),
            &hashes(&p["proof"]),
            &old.root,
        )
        .unwrap();
    }
    let (_, found) = get(
        &app,
        &key,
        &format!("/v1/audit/logs/{log}/entries?action=test.step3"),
    )
    .await;
    assert_eq!(found["entries"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(
        found["entries"][0]["body"],
        Value::Null,
        "fixture entries carry no body"
    );

    // The log grows; the new checkpoint is consistent with the one held.
    append(&app.store, 3).await;
    checkpointer.sign(&app.store, None).await.unwrap();
    let (_, cp) = get(&app, &key, &format!("/v1/audit/logs/{log}/checkpoint")).await;
    let new = Checkpoint::open(cp["checkpoint"].as_str().unwrap(), &[verifier]).unwrap();
    assert_eq!(new.size, old_size + 3);
    let (status, c) = get(
        &app,
        &key,
        &format!(
            "/v1/audit/logs/{log}/consistency?from={old_size}&to={}",
            new.size
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    verify_consistency(
        old_size,
        new.size,
        &old.root,
        &new.root,
        &hashes(&c["proof"]),
    )
    .unwrap();

    // What a key may not read, and what is not there.
    let other = Uuid::new_v4();
    for (path, want, code) in [
        (
            format!("/v1/audit/logs/{other}/checkpoint"),
            StatusCode::NOT_FOUND,
            "unknown_log",
        ),
        (
            "/v1/audit/logs/system/checkpoint".to_string(),
            StatusCode::FORBIDDEN,
            "missing_scope",
        ),
        (
            format!("/v1/audit/logs/{log}/entries/0/proof"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/v1/audit/logs/{log}/entries/1/proof?size=999999"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/v1/audit/logs/{log}/entries?colour=red"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!("/v1/audit/logs/{log}/consistency?from=9&to=3"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (status, body) = get(&app, &key, &path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (want, Some(code)),
            "{path}: {body}"
        );
    }
    let gateway_key = issue(KeyKind::Gateway, &mut rand::thread_rng()).secret;
    let (status, body) = get(
        &app,
        &gateway_key,
        &format!("/v1/audit/logs/{log}/checkpoint"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("wrong_key_kind"))
    );
    let r = app
        .client
        .get(app.url(&format!("/v1/audit/logs/{log}/checkpoint")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // With audit:read:system the system log reads too.
    let system_key = admin_key(&app.store, &[SCOPE_READ, SCOPE_READ_SYSTEM]).await;
    checkpointer.sign(&app.store, None).await.unwrap();
    let (status, cp) = get(&app, &system_key, "/v1/audit/logs/system/checkpoint").await;
    assert_eq!(status, StatusCode::OK, "{cp}");
    assert_eq!(cp["log"], "system");

    // The key is its person's: a person no longer a superuser loses the system log, a
    // deactivated person loses the key.
    let admin = demo::ADMIN_EMAIL;
    app.store
        .execute_raw(&format!(
            "UPDATE users SET is_superuser = false WHERE email = '{admin}'"
        ))
        .await
        .unwrap();
    let (status, body) = get(&app, &system_key, "/v1/audit/logs/system/checkpoint").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_superuser"))
    );
    app.store
        .execute_raw(&format!(
            "UPDATE users SET is_active = false WHERE email = '{admin}'"
        ))
        .await
        .unwrap();
    let (status, body) = get(&app, &key, &format!("/v1/audit/logs/{log}/checkpoint")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("key_inactive"))
    );
    app.stop().await.unwrap();
}
