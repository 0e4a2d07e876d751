//! Seed 001 in the store: devices found by their token only, firewall configurations audited
//! with before and after, events stored once however often a batch is sent, and retention that
//! deletes exactly the expired events, in batches, through the audited path, idempotently.

use chrono::{Duration, Utc};
use serde_json::json;
use tollgate_store::devices::{Actor, DeviceGrant, FirewallRow, NewDevice, NewEvent};
use tollgate_store::retention::RetentionRun;
use tollgate_store::{Scope, Store, StoreError};
use tollgate_testkit::{backend_tests, TestDb};
use uuid::Uuid;

use crate::{count, tenant_with_app};

backend_tests!(
    a_device_is_found_by_its_token_and_a_new_registration_replaces_it,
    firewall_changes_are_audited_with_before_and_after,
    a_change_that_records_nothing_cannot_commit,
    a_batch_sent_twice_is_stored_once,
    retention_deletes_only_expired_events_in_audited_batches,
    a_job_is_claimed_once_per_interval,
);

async fn register(store: &Store, tenant: Uuid, device_id: &str, hash: &str) -> Uuid {
    let mut tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
    let id = tx
        .register_device(
            tenant,
            &NewDevice {
                device_id,
                device_type: "browser",
                name: Some("Jane's laptop"),
                user_id: None,
                token_hash: hash,
            },
            true,
            Actor::SYSTEM,
        )
        .await
        .unwrap();
    tx.commit_recorded().await.unwrap();
    id
}

fn hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

async fn device(store: &Store, tenant: Uuid, device_id: &str) -> DeviceGrant {
    let token = tollgate_domain::key::hash(device_id);
    register(store, tenant, device_id, &token).await;
    store.device_by_token(&token).await.unwrap().unwrap()
}

fn event(id: Option<Uuid>, days_ago: i64) -> NewEvent {
    NewEvent {
        id: id.unwrap_or_else(Uuid::new_v4),
        occurred_at: Utc::now() - Duration::days(days_ago),
        tool_name: "ChatGPT".into(),
        tool_type: "web".into(),
        domain: Some("chatgpt.com".into()),
        action: "prompt".into(),
        risk_level: "amber".into(),
        prompt_length: 42,
        detected_entity_types: vec!["EMAIL".into()],
        entity_count: 1,
        was_sanitized: true,
        metadata: json!({"browser": "Firefox 133"}),
    }
}

async fn audit_count(store: &Store, action: &str) -> i64 {
    store
        .scalar_raw(&format!(
            "SELECT count(*) FROM audit_log WHERE action = '{action}'"
        ))
        .await
        .unwrap()
}

async fn a_device_is_found_by_its_token_and_a_new_registration_replaces_it(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "dev@example.com").await;
    let first = register(&store, tenant, "ext-1", &hash(1)).await;
    let found = store.device_by_token(&hash(1)).await.unwrap().unwrap();
    assert_eq!((found.id, found.tenant_id), (first, tenant));
    assert!(found.is_active && found.tenant_active);
    assert_eq!(store.device_by_token(&hash(2)).await.unwrap(), None);

    // Without `replace` (a gateway key registering), a known id is a conflict and changes
    // nothing: such a key cannot take a device over.
    let mut tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
    let taken = tx
        .register_device(
            tenant,
            &NewDevice {
                device_id: "ext-1",
                device_type: "cli",
                name: None,
                user_id: None,
                token_hash: &hash(9),
            },
            false,
            Actor::SYSTEM,
        )
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    drop(tx);
    assert!(store.device_by_token(&hash(1)).await.unwrap().is_some());
    assert_eq!(store.device_by_token(&hash(9)).await.unwrap(), None);

    // The same client id again: the same row, the old token no longer works.
    let again = register(&store, tenant, "ext-1", &hash(2)).await;
    assert_eq!(again, first);
    assert_eq!(store.device_by_token(&hash(1)).await.unwrap(), None);
    assert!(store.device_by_token(&hash(2)).await.unwrap().is_some());
    assert_eq!(audit_count(&store, "device.register").await, 2);

    let mut tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
    assert!(tx
        .deactivate_device(tenant, first, Actor::SYSTEM)
        .await
        .unwrap());
    tx.commit_recorded().await.unwrap();
    let found = store.device_by_token(&hash(2)).await.unwrap().unwrap();
    assert!(!found.is_active);
    let listed = store.list_devices(tenant).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name.as_deref(), Some("Jane's laptop"));

    // Another tenant's device id may be the same: ids are per tenant.
    let (other, _) = tenant_with_app(&store, "other@example.com").await;
    assert_ne!(register(&store, other, "ext-1", &hash(3)).await, first);
}

async fn firewall_changes_are_audited_with_before_and_after(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "fw@example.com").await;
    assert_eq!(
        store
            .firewall_config(tenant)
            .await
            .unwrap()
            .log_retention_days,
        90
    );
    let config = FirewallRow {
        custom_patterns: json!([{"name": "project", "regex": "PRJ-[0-9]{4}"}]),
        log_retention_days: 30,
        ..FirewallRow::defaults()
    };
    let mut tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
    tx.set_firewall_config(tenant, &config, None, Actor::SYSTEM)
        .await
        .unwrap();
    tx.commit_recorded().await.unwrap();
    let stored = store.firewall_config(tenant).await.unwrap();
    assert_eq!(stored.log_retention_days, 30);
    assert_eq!(stored.custom_patterns, config.custom_patterns);
    assert!(stored.updated_at.is_some());
    // Before: the defaults (90 days); after: the new configuration.
    let recorded: i64 = store
        .scalar_raw(
            "SELECT count(*) FROM audit_bodies b JOIN audit_log l ON l.id = b.entry_id
             WHERE l.action = 'firewall_config.update'
               AND CAST(b.before AS TEXT) LIKE '%90%' AND CAST(b.after AS TEXT) LIKE '%PRJ-%'",
        )
        .await
        .unwrap();
    assert_eq!(recorded, 1);
}

async fn a_change_that_records_nothing_cannot_commit(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "none@example.com").await;
    let mut tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
    // Deactivating a device that does not exist records nothing.
    assert!(!tx
        .deactivate_device(tenant, Uuid::new_v4(), Actor::SYSTEM)
        .await
        .unwrap());
    assert!(matches!(
        tx.commit_recorded().await,
        Err(StoreError::Refused(_))
    ));
}

async fn a_batch_sent_twice_is_stored_once(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "ev@example.com").await;
    let d = device(&store, tenant, "agent-7").await;
    let batch = vec![
        event(Some(Uuid::new_v4()), 0),
        event(Some(Uuid::new_v4()), 1),
    ];
    assert_eq!(store.record_events(&d, None, &batch).await.unwrap(), 2);
    assert_eq!(store.record_events(&d, None, &batch).await.unwrap(), 0);
    assert_eq!(count(&store, "ai_use_events").await, 2);
    let listed = store.list_devices(tenant).await.unwrap();
    assert!(listed[0].last_seen.is_some());
    let too_many: Vec<NewEvent> = (0..501).map(|_| event(None, 0)).collect();
    assert!(matches!(
        store.record_events(&d, None, &too_many).await,
        Err(StoreError::OutOfRange(_))
    ));
    assert_eq!(count(&store, "ai_use_events").await, 2);
}

async fn retention_deletes_only_expired_events_in_audited_batches(db: TestDb) {
    let store = db.migrated().await;
    let (a, _) = tenant_with_app(&store, "ra@example.com").await;
    let (b, _) = tenant_with_app(&store, "rb@example.com").await;
    let (da, dbv) = (
        device(&store, a, "a-1").await,
        device(&store, b, "b-1").await,
    );
    // Tenant a keeps 30 days, tenant b the default 90.
    let mut tx = store.begin_change(Scope::Tenant(a)).await.unwrap();
    let thirty = FirewallRow {
        log_retention_days: 30,
        ..FirewallRow::defaults()
    };
    tx.set_firewall_config(a, &thirty, None, Actor::SYSTEM)
        .await
        .unwrap();
    tx.commit_recorded().await.unwrap();
    let ages = [1, 29, 31, 45, 89, 91, 400];
    let batch: Vec<NewEvent> = ages.iter().map(|d| event(None, *d)).collect();
    store.record_events(&da, None, &batch).await.unwrap();
    let batch: Vec<NewEvent> = ages.iter().map(|d| event(None, *d)).collect();
    store.record_events(&dbv, None, &batch).await.unwrap();

    let run = |dry_run| RetentionRun {
        now: Utc::now(),
        batch: 2,
        dry_run,
        requested_by: "test",
        actor: Actor::SYSTEM,
    };
    let dry = store.run_retention_all(run(true)).await.unwrap();
    type Outcomes = [(
        Uuid,
        Result<tollgate_store::retention::RetentionReport, StoreError>,
    )];
    let by_tenant = |outcomes: &Outcomes, t| {
        outcomes
            .iter()
            .find(|(tenant, _)| *tenant == t)
            .map(|(_, r)| r.as_ref().map(|r| (r.removed, r.batches)).unwrap())
            .unwrap()
    };
    assert_eq!(by_tenant(&dry, a), (5, 0));
    assert_eq!(by_tenant(&dry, b), (2, 0));
    assert_eq!(count(&store, "ai_use_events").await, 14);
    assert_eq!(audit_count(&store, "retention.run").await, 0);

    let done = store.run_retention_all(run(false)).await.unwrap();
    // Five expired rows of a in batches of two: 2 + 2 + 1.
    assert_eq!(by_tenant(&done, a), (5, 3));
    assert_eq!(by_tenant(&done, b), (2, 1));
    assert_eq!(count(&store, "ai_use_events").await, 7);
    assert_eq!(audit_count(&store, "retention.run").await, 4);
    let kept: i64 = store
        .scalar_raw(&format!(
            "SELECT count(*) FROM ai_use_events WHERE tenant_id = '{a}'"
        ))
        .await
        .unwrap();
    assert_eq!(kept, 2);

    // Again: nothing left to delete, nothing recorded.
    let again = store.run_retention_all(run(false)).await.unwrap();
    assert!(again
        .iter()
        .all(|(_, r)| matches!(r, Ok(r) if r.removed == 0 && r.batches == 0)));
    assert_eq!(audit_count(&store, "retention.run").await, 4);
    // The triggers still refuse a plain delete.
    assert!(store
        .execute_raw("DELETE FROM ai_use_events")
        .await
        .is_err());
    let verified = store
        .verify_audit(&tollgate_store::audit::VerifyOptions::default())
        .await
        .unwrap();
    assert!(verified.iter().all(|r| r.ok()), "{verified:?}");
}

async fn a_job_is_claimed_once_per_interval(db: TestDb) {
    let store = db.migrated().await;
    let hour = std::time::Duration::from_secs(3600);
    assert!(store
        .claim_job("retention", "replica-a", hour)
        .await
        .unwrap());
    assert!(!store
        .claim_job("retention", "replica-b", hour)
        .await
        .unwrap());
    store
        .finish_job("retention", "replica-a", "{\"removed\":0}")
        .await
        .unwrap();
    let last = store.last_job_run("retention").await.unwrap().unwrap();
    assert_eq!(last.claimed_by, "replica-a");
    assert_eq!(last.outcome.as_deref(), Some("{\"removed\":0}"));
    // Once the interval has passed, the next replica to ask runs it.
    assert!(store
        .claim_job("retention", "replica-b", std::time::Duration::ZERO)
        .await
        .unwrap());
    let last = store.last_job_run("retention").await.unwrap().unwrap();
    assert_eq!(
        (last.claimed_by.as_str(), last.finished_at),
        ("replica-b", None)
    );
    // Claims of one interval race: exactly one wins.
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        claims.spawn(async move { store.claim_job("race", &format!("r{i}"), hour).await });
    }
    let won = claims
        .join_all()
        .await
        .into_iter()
        .filter(|c| *c.as_ref().unwrap())
        .count();
    assert_eq!(won, 1);
}
