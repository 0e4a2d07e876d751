//! What the scenarios share: a tenant with an app and a key, request bodies, reading usage
//! rows and streamed events.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_domain::key::{issue, KeyKind};
use tollgate_store::keys::NewKey;
use tollgate_store::tenants::{NewApp, NewTenant};
use tollgate_store::{Scope, Store};
use uuid::Uuid;

/// A tenant, an app and a gateway key with `credits`; returns (tenant, key id, secret).
pub async fn key_with(store: &Store, credits: Option<i64>) -> (Uuid, Uuid, String) {
    let (tenant, app, key_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let issued = issue(KeyKind::Gateway, &mut rand::thread_rng());
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    tx.insert_tenant(&NewTenant {
        id: tenant,
        name: "T".into(),
        email: format!("{tenant}@example.com"),
    })
    .await
    .unwrap();
    tx.insert_app(&NewApp {
        id: app,
        tenant_id: tenant,
        name: "A".into(),
        allowed_origins: vec!["https://app.example.com".into()],
    })
    .await
    .unwrap();
    tx.insert_key(&NewKey {
        id: key_id,
        tenant_id: tenant,
        kind: KeyKind::Gateway,
        app_id: Some(app),
        user_id: None,
        team_id: None,
        name: "test key".into(),
        issued: &issued,
        scopes: vec![],
        credits,
        allowed_models: None,
    })
    .await
    .unwrap();
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    (tenant, key_id, issued.secret)
}

/// Limits the key to `models` (`None`: every model).
pub async fn limit_models(store: &Store, key_id: Uuid, models: Option<&[&str]>) {
    let models: Option<Vec<String>> = models.map(|m| m.iter().map(|s| s.to_string()).collect());
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    assert!(tx.set_key_models(key_id, models.as_deref()).await.unwrap());
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
}

pub fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// `model|prompt_tokens|completion_tokens|response_status|cost_micros` of the call `id`,
/// waiting up to 10 s for its record.
pub async fn usage_row(store: &Store, id: &str) -> Option<String> {
    usage_of(
        store,
        id,
        "model || '|' || CAST(prompt_tokens AS TEXT) || '|' || CAST(completion_tokens AS TEXT) || '|' || response_status || '|' || CAST(cost_micros AS TEXT)",
    )
    .await
}

/// The SQL expression `select` over the usage record of the call `id`, waiting up to 10 s for
/// the record.
pub async fn usage_of(store: &Store, id: &str, select: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = store
            .strings_raw(&format!(
                "SELECT {select} FROM usage_logs WHERE CAST(id AS TEXT) = '{id}'"
            ))
            .await
            .unwrap();
        if let Some(row) = rows.into_iter().next() {
            return Some(row);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The JSON events of a streamed answer (comments and `[DONE]` left out), and whether it ended
/// with `[DONE]`.
pub fn sse_events(text: &str) -> (Vec<Value>, bool) {
    let mut done = false;
    let events = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty() && !e.starts_with(':'))
        .filter_map(|e| {
            let data: String = e.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            if data == "[DONE]" {
                done = true;
                return None;
            }
            Some(serde_json::from_str(&data).expect("each event is JSON"))
        })
        .collect();
    (events, done)
}

/// The key's unspent credits: its balance plus what gateways hold of it in leases.
pub async fn unspent_credits(store: &Store, key_id: Uuid) -> i64 {
    store
        .scalar_raw(&format!(
            "SELECT credits_remaining + CAST(COALESCE((SELECT sum(amount) FROM credit_leases WHERE api_key_id = '{key_id}'), 0) AS BIGINT)
             FROM api_keys WHERE id = '{key_id}'"
        ))
        .await
        .unwrap()
}

/// An admin key of the demo admin (seed the demo first) with these scopes.
pub async fn admin_key(store: &Store, scopes: &[&str]) -> String {
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    let person = tx
        .person(tollgate_domain::demo::ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    let issued = issue(KeyKind::Admin, &mut rand::thread_rng());
    tx.insert_key(&NewKey {
        id: Uuid::new_v4(),
        tenant_id: person.tenant_id,
        kind: KeyKind::Admin,
        app_id: None,
        user_id: Some(person.id),
        team_id: None,
        name: "audit".into(),
        issued: &issued,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        credits: None,
        allowed_models: None,
    })
    .await
    .unwrap();
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    issued.secret
}
