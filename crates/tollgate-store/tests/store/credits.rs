//! Credit leases: concurrent leases never take a key below zero, stored calls are charged to
//! the lease exactly once (replays included), and returned leases give back exactly what is
//! unspent.

use tollgate_domain::key::{issue, KeyKind};
use tollgate_store::credits::Lease;
use tollgate_store::keys::NewKey;
use tollgate_store::usage::{Endpoint, UsageRecord};
use tollgate_store::{Scope, Store};
use tollgate_testkit::{backend_tests, TestDb};
use uuid::Uuid;

use crate::tenant_with_app;

backend_tests!(
    concurrent_leases_never_overdraw,
    stored_calls_are_charged_to_the_lease_once,
);

async fn key(store: &Store, credits: i64) -> (Uuid, Uuid) {
    let (tenant, app) =
        tenant_with_app(store, &format!("{}@credits.example", Uuid::new_v4())).await;
    let id = Uuid::new_v4();
    let issued = issue(KeyKind::Gateway, &mut rand::thread_rng());
    let mut tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
    tx.insert_key(&NewKey {
        id,
        tenant_id: tenant,
        kind: KeyKind::Gateway,
        app_id: Some(app),
        user_id: None,
        team_id: None,
        name: "k".into(),
        issued: &issued,
        scopes: vec![],
        credits: Some(credits),
        allowed_models: None,
    })
    .await
    .unwrap();
    tx.commit(tollgate_testkit::fixture_entry().in_log_of(tenant))
        .await
        .unwrap();
    (tenant, id)
}

async fn balance(store: &Store, key: Uuid) -> (i64, i64) {
    let outside = store
        .scalar_raw(&format!(
            "SELECT credits_remaining FROM api_keys WHERE id = '{key}'"
        ))
        .await
        .unwrap();
    let leased = store
        .scalar_raw(&format!("SELECT CAST(COALESCE(sum(amount), 0) AS BIGINT) FROM credit_leases WHERE api_key_id = '{key}'"))
        .await
        .unwrap();
    (outside, leased)
}

async fn concurrent_leases_never_overdraw(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, key_id) = key(&store, 1_000).await;
    // Three "processes" asking for 300 at a time, at least 100.
    let holders = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let asks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            let holder = holders[i % 3];
            tokio::spawn(async move {
                store
                    .lease_credits(tenant, key_id, holder, 300, 100)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for ask in asks {
        match ask.await.unwrap() {
            Lease::Taken { amount, left } => {
                assert!((100..=300).contains(&amount) && left >= 0);
                taken += amount;
            }
            Lease::Insufficient { balance } => assert!(balance < 100),
            Lease::Unlimited => panic!("the key has a limit"),
        }
    }
    let (outside, leased) = balance(&store, key_id).await;
    assert_eq!(taken, leased);
    assert_eq!(outside + leased, 1_000, "credits moved, none made or lost");
    assert!(
        outside < 100,
        "leased until less than the least ask was left"
    );

    // Giving a lease back moves it home; more than the lease holds moves nothing. (Which
    // holders got leases depends on scheduling: take one that did.)
    let holder: Uuid = store
        .strings_raw(&format!(
            "SELECT CAST(holder AS TEXT) FROM credit_leases WHERE api_key_id = '{key_id}' ORDER BY holder"
        ))
        .await
        .unwrap()[0]
        .parse()
        .unwrap();
    assert!(holders.contains(&holder));
    let held: i64 = store
        .scalar_raw(&format!(
            "SELECT amount FROM credit_leases WHERE holder = '{holder}'"
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .return_lease(tenant, key_id, holder, held + 1)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .return_lease(tenant, key_id, holder, held)
            .await
            .unwrap(),
        Some(outside + held)
    );
    assert_eq!(
        balance(&store, key_id).await,
        (outside + held, leased - held)
    );
}

fn call(tenant: Uuid, key: Uuid, charged: i64) -> UsageRecord {
    UsageRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        app_id: None,
        api_key_id: Some(key),
        team_id: None,
        subject_id: None,
        device_id: None,
        provider: "mock".into(),
        model: "mock-small".into(),
        endpoint: Endpoint::Chat,
        prompt_length: 1,
        pii_detected: false,
        pii_types: Vec::new(),
        prompt_tokens: 1,
        completion_tokens: 1,
        cost_micros: charged,
        credits_deducted: charged,
        latency_ms: Some(1),
        upstream_latency_ms: None,
        error_type: None,
        http_status: Some(200),
        streamed: false,
        created_at: chrono::Utc::now(),
    }
}

async fn stored_calls_are_charged_to_the_lease_once(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, key_id) = key(&store, 10_000).await;
    let holder = Uuid::new_v4();
    assert_eq!(
        store
            .lease_credits(tenant, key_id, holder, 4_000, 1)
            .await
            .unwrap(),
        Lease::Taken {
            amount: 4_000,
            left: 6_000
        }
    );
    let calls: Vec<UsageRecord> = (1..=10).map(|i| call(tenant, key_id, i * 10)).collect();
    assert_eq!(store.insert_usage(&calls, Some(holder)).await.unwrap(), 10);
    assert_eq!(balance(&store, key_id).await, (6_000, 4_000 - 550));
    // A replay (the journal read again after a crash) charges nothing twice.
    assert_eq!(store.insert_usage(&calls, Some(holder)).await.unwrap(), 0);
    assert_eq!(balance(&store, key_id).await, (6_000, 4_000 - 550));
    // The holder's unspent lease goes home, and the key has lost exactly what was charged.
    assert_eq!(store.return_leases(holder).await.unwrap(), 4_000 - 550);
    assert_eq!(balance(&store, key_id).await, (10_000 - 550, 0));
    assert_eq!(store.return_leases(holder).await.unwrap(), 0);
    // A call that settles after its lease went back is charged to the key itself.
    let late = call(tenant, key_id, 70);
    assert_eq!(
        store
            .insert_usage(&[late.clone(), late], Some(holder))
            .await
            .unwrap(),
        1
    );
    assert_eq!(balance(&store, key_id).await, (10_000 - 550 - 70, 0));
}
