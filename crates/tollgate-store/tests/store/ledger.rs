//! The audit ledger in the database: what `audit verify` finds when someone who controls the
//! database edits, removes, inserts or reorders entries, changes stored subtree hashes,
//! rewrites history through Tollgate itself, or restores an older backup.

use tollgate_ledger::{Checkpoint, MemoryTree, Signer, Verifier, VerifyError};
use tollgate_store::audit::{
    Appended, AuditFailure, LogReport, TreeDamage, TreeHead, VerifyOptions,
};
use tollgate_store::usage::{Endpoint, UsageRecord};
use tollgate_store::{Scope, Store};
use tollgate_testkit::{backend_tests, fixture_entry, TestDb};
use uuid::Uuid;

use crate::tenant_with_app;

backend_tests!(
    an_intact_log_has_the_root_of_its_leaves,
    edits_deletes_inserts_and_reorders_are_each_found,
    changed_or_missing_subtree_hashes_are_found,
    a_history_rewritten_through_tollgate_fails_its_checkpoint,
    a_restored_backup_fails_a_newer_outside_checkpoint,
    checkpoint_signatures_are_checked,
    usage_batches_are_sealed_and_changed_rows_found,
    changed_bodies_and_unlisted_logs_are_found,
    the_pii_types_of_usage_rows_are_sealed,
);

/// A new tenant whose log has `n` entries, appended in `n` changes; returns it and them.
async fn log_with(store: &Store, n: u64) -> (Uuid, Vec<Appended>) {
    let (tenant, _) = tenant_with_app(store, &format!("{}@ledger.example", Uuid::new_v4())).await;
    let mut appended = Vec::new();
    for i in 0..n {
        let tx = store.begin_change(Scope::Tenant(tenant)).await.unwrap();
        let mut entry = fixture_entry().in_log_of(tenant);
        entry.action = format!("test.step{i}");
        entry.resource_id = Some(i.to_string());
        appended.extend(tx.commit(entry).await.unwrap());
    }
    (tenant, appended)
}

async fn report(store: &Store, log: Uuid, options: VerifyOptions) -> LogReport {
    let mut reports = store
        .verify_audit(&VerifyOptions {
            only: Some(log),
            ..options
        })
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

async fn failure(store: &Store, log: Uuid) -> Option<AuditFailure> {
    report(store, log, VerifyOptions::default()).await.failure
}

fn signer() -> Signer {
    Signer::generate("test.example", [7; 32]).unwrap().0
}

fn checkpoint(log: Uuid, size: u64, root: tollgate_ledger::Hash) -> Checkpoint {
    Checkpoint {
        origin: format!("test.example/audit/{log}"),
        size,
        root,
        extensions: Vec::new(),
    }
}

/// Removes entries after `keep` and the subtree hashes that cover them, as restoring an older
/// backup does (or an intruder who wants the log to look shorter).
async fn truncate(db: &TestDb, log: Uuid, keep: u64) {
    db.tamper(&format!(
        "DELETE FROM audit_log WHERE tenant_id = '{log}' AND seq > {keep};
         DELETE FROM audit_tree WHERE log_id = '{log}' AND (idx + 1) * (1 << level) > {keep};"
    ))
    .await;
}

async fn an_intact_log_has_the_root_of_its_leaves(db: TestDb) {
    let store = db.migrated().await;
    let (log, appended) = log_with(&store, 13).await;
    let mut tree = MemoryTree::new();
    for a in &appended {
        tree.push(a.leaf);
    }
    let r = report(&store, log, VerifyOptions::default()).await;
    assert_eq!(r.failure, None);
    assert_eq!(r.size, 13);
    assert_eq!(r.root, Some(tree.root()));
    // The system log (tenants created by the fixture) is intact too.
    let all = store.verify_audit(&VerifyOptions::default()).await.unwrap();
    assert!(all.iter().all(|r| r.failure.is_none()), "{all:?}");
    assert_eq!(all[0].log, Uuid::nil());
}

async fn edits_deletes_inserts_and_reorders_are_each_found(db: TestDb) {
    let store = db.migrated().await;

    let (log, _) = log_with(&store, 5).await;
    db.tamper(&format!(
        "UPDATE audit_log SET action = 'test.nothing' WHERE tenant_id = '{log}' AND seq = 3"
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::Log(VerifyError::Chain { seq: 3 }))
    );

    let (log, _) = log_with(&store, 5).await;
    db.tamper(&format!(
        "DELETE FROM audit_log WHERE tenant_id = '{log}' AND seq = 3"
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::Log(VerifyError::Sequence {
            expected: 3,
            found: 4
        }))
    );

    let (log, _) = log_with(&store, 5).await;
    db.tamper(&format!(
        "INSERT INTO audit_log (id, tenant_id, seq, version, created_at, actor_type, actor_id,
            action, resource_type, resource_id, outcome, request_id, body_hash, checksum)
         SELECT '{}', tenant_id, 6, version, created_at, actor_type, actor_id, 'test.forged',
            resource_type, resource_id, outcome, request_id, body_hash, checksum
         FROM audit_log WHERE tenant_id = '{log}' AND seq = 5",
        Uuid::new_v4()
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::Log(VerifyError::Chain { seq: 6 }))
    );

    let (log, _) = log_with(&store, 5).await;
    db.tamper(&format!(
        "UPDATE audit_log SET seq = 100 WHERE tenant_id = '{log}' AND seq = 2;
         UPDATE audit_log SET seq = 2 WHERE tenant_id = '{log}' AND seq = 3;
         UPDATE audit_log SET seq = 3 WHERE tenant_id = '{log}' AND seq = 100;"
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::Log(VerifyError::Chain { seq: 2 }))
    );
}

async fn changed_or_missing_subtree_hashes_are_found(db: TestDb) {
    let store = db.migrated().await;

    // A proof served from a changed subtree hash would lie: verify compares every one.
    let (log, _) = log_with(&store, 6).await;
    db.tamper(&format!(
        "UPDATE audit_tree SET hash = (SELECT hash FROM audit_tree WHERE log_id = '{log}' AND level = 0 AND idx = 0)
         WHERE log_id = '{log}' AND level = 1 AND idx = 1"
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::Tree(TreeDamage {
            level: 1,
            index: 1,
            missing: false
        }))
    );

    let (log, _) = log_with(&store, 6).await;
    db.tamper(&format!(
        "DELETE FROM audit_tree WHERE log_id = '{log}' AND level = 2 AND idx = 0"
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::Tree(TreeDamage {
            level: 2,
            index: 0,
            missing: true
        }))
    );

    // Removing entries from the end without their subtree hashes leaves hashes over.
    let (log, _) = log_with(&store, 6).await;
    db.tamper(&format!(
        "DELETE FROM audit_log WHERE tenant_id = '{log}' AND seq > 4"
    ))
    .await;
    assert_eq!(
        failure(&store, log).await,
        Some(AuditFailure::ExtraNodes { size: 4, extra: 3 })
    );
}

async fn a_history_rewritten_through_tollgate_fails_its_checkpoint(db: TestDb) {
    let store = db.migrated().await;
    let (log, _) = log_with(&store, 6).await;
    let head = store.tree_heads(Some(log)).await.unwrap()[0];
    assert_eq!(head.size, 6);
    let note = checkpoint(log, head.size, head.root)
        .sign(&signer())
        .unwrap();
    assert!(store.store_checkpoint(&head, &note).await.unwrap());
    assert!(
        !store.store_checkpoint(&head, &note).await.unwrap(),
        "a second checkpoint of one size is not stored"
    );

    // Someone with the database cuts the last two entries and lets Tollgate append two
    // others: chain and tree are consistent again, but the signed checkpoint remembers.
    truncate(&db, log, 4).await;
    for i in 0..2 {
        let tx = store.begin_change(Scope::Tenant(log)).await.unwrap();
        let mut entry = fixture_entry().in_log_of(log);
        entry.action = format!("test.other{i}");
        tx.commit(entry).await.unwrap();
    }
    let trusted = VerifyOptions {
        trusted: vec![signer().verifier()],
        ..VerifyOptions::default()
    };
    let r = report(&store, log, trusted).await;
    assert_eq!(
        r.failure,
        Some(AuditFailure::Log(VerifyError::Checkpoint { size: 6 }))
    );
    assert_eq!(r.signed, 1);
}

async fn a_restored_backup_fails_a_newer_outside_checkpoint(db: TestDb) {
    let store = db.migrated().await;
    let (log, _) = log_with(&store, 6).await;
    let head: TreeHead = store.tree_heads(Some(log)).await.unwrap()[0];
    // The checkpoint went to a sink outside the database; the database is then restored
    // from a backup taken at 4 entries (checkpoints table included).
    let outside = checkpoint(log, head.size, head.root);
    truncate(&db, log, 4).await;
    assert_eq!(
        failure(&store, log).await,
        None,
        "alone, a shorter log is consistent"
    );
    let with_outside = VerifyOptions {
        external: vec![(log, outside)],
        ..VerifyOptions::default()
    };
    assert_eq!(
        report(&store, log, with_outside).await.failure,
        Some(AuditFailure::Log(VerifyError::Truncated {
            size: 6,
            have: 4
        }))
    );
}

async fn checkpoint_signatures_are_checked(db: TestDb) {
    let store = db.migrated().await;
    let (log, _) = log_with(&store, 3).await;
    let head = store.tree_heads(Some(log)).await.unwrap()[0];
    let stranger = Signer::generate("stranger.example", [9; 32]).unwrap().0;
    let note = checkpoint(log, head.size, head.root)
        .sign(&stranger)
        .unwrap();
    store.store_checkpoint(&head, &note).await.unwrap();
    let trusting = |keys: Vec<Verifier>| VerifyOptions {
        trusted: keys,
        ..VerifyOptions::default()
    };
    let r = report(&store, log, trusting(vec![stranger.verifier()])).await;
    assert_eq!((r.failure, r.signed, r.checkpoints), (None, 1, 1));
    let r = report(&store, log, trusting(vec![signer().verifier()])).await;
    assert!(
        matches!(r.failure, Some(AuditFailure::Checkpoint { size: 3, .. })),
        "{r:?}"
    );
    // Without keys the text is still compared with its row.
    db.tamper(&format!(
        "UPDATE audit_checkpoints SET tree_size = 2 WHERE log_id = '{log}'"
    ))
    .await;
    assert!(matches!(
        failure(&store, log).await,
        Some(AuditFailure::Checkpoint { size: 2, .. })
    ));
}

pub(crate) fn usage(tenant: Uuid, app: Uuid, i: i64) -> UsageRecord {
    UsageRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        app_id: Some(app),
        api_key_id: None,
        team_id: None,
        subject_id: Some(Uuid::from_u128(i as u128 + 1)),
        device_id: None,
        provider: "mock".into(),
        model: "mock-small".into(),
        endpoint: Endpoint::Chat,
        prompt_length: 10,
        pii_detected: false,
        pii_types: Vec::new(),
        prompt_tokens: 5,
        completion_tokens: 7,
        cost_micros: 100 + i,
        credits_deducted: 0,
        latency_ms: Some(3),
        upstream_latency_ms: None,
        error_type: (i % 4 == 0).then(|| "upstream_error".to_string()),
        http_status: Some(200),
        streamed: false,
        created_at: chrono::Utc::now(),
    }
}

async fn usage_batches_are_sealed_and_changed_rows_found(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "seal@ledger.example").await;
    let records: Vec<UsageRecord> = (0..30).map(|i| usage(tenant, app, i)).collect();
    for batch in records.chunks(12) {
        store.insert_usage(batch, None).await.unwrap();
    }
    // A replayed batch stores nothing and seals nothing.
    assert_eq!(store.insert_usage(&records[..5], None).await.unwrap(), 0);
    let r = report(&store, tenant, VerifyOptions::default()).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!((r.usage.seals, r.usage.rows), (3, 30));
    assert_eq!(r.size, 3, "one ledger entry per batch, not per record");

    let seal_failure = |problem: &str| {
        let problem = problem.to_string();
        move |r: LogReport| {
            let failure = r.usage.failure.expect("a seal failure");
            assert!(failure.problem.contains(&problem), "{failure}");
        }
    };
    let victim = records[3].id;
    db.tamper(&format!(
        "UPDATE usage_logs SET cost_micros = 0 WHERE id = '{victim}'"
    ))
    .await;
    seal_failure("a row was changed")(report(&store, tenant, VerifyOptions::default()).await);
    db.tamper(&format!("DELETE FROM usage_logs WHERE id = '{victim}'"))
        .await;
    seal_failure("it covers 12 rows, 11 are there")(
        report(&store, tenant, VerifyOptions::default()).await,
    );

    let (tenant, app) = tenant_with_app(&store, "stray@ledger.example").await;
    store
        .insert_usage(&[usage(tenant, app, 1)], None)
        .await
        .unwrap();
    let forged = usage(tenant, app, 2);
    db.tamper(&format!(
        "INSERT INTO usage_logs (id, tenant_id, provider, model, response_status, created_at, sealed_by)
         VALUES ('{}', '{tenant}', 'mock', 'mock-small', 'success', '2026-12-01T00:00:00.000Z', 7)",
        forged.id
    ))
    .await;
    seal_failure("not a usage seal")(report(&store, tenant, VerifyOptions::default()).await);
}

async fn changed_bodies_and_unlisted_logs_are_found(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "body@ledger.example").await;
    store
        .insert_usage(&[usage(tenant, app, 1), usage(tenant, app, 2)], None)
        .await
        .unwrap();
    // The seal's body (its count and root) is covered by its entry's body hash.
    db.tamper(&format!(
        "UPDATE audit_bodies SET details = '{{\"count\": 1}}' WHERE tenant_id = '{tenant}'"
    ))
    .await;
    assert_eq!(
        failure(&store, tenant).await,
        Some(AuditFailure::Body { seq: 1 })
    );
    // Removing a seal's body while its rows remain is caught by the seal check.
    db.tamper(&format!(
        "DELETE FROM audit_bodies WHERE tenant_id = '{tenant}'"
    ))
    .await;
    let r = report(&store, tenant, VerifyOptions::default()).await;
    assert!(
        r.usage
            .failure
            .as_ref()
            .is_some_and(|f| f.problem.contains("body is gone")),
        "{r:?}"
    );

    // A log taken off the list (so the signer would stop signing it) is still verified.
    let (log, _) = log_with(&store, 2).await;
    db.tamper(&format!(
        "DELETE FROM audit_log_list WHERE log_id = '{log}'"
    ))
    .await;
    let all = store.verify_audit(&VerifyOptions::default()).await.unwrap();
    let found = all
        .iter()
        .find(|r| r.log == log)
        .expect("the unlisted log is verified");
    assert_eq!(found.failure, Some(AuditFailure::Unlisted));
}

async fn the_pii_types_of_usage_rows_are_sealed(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "piitypes@ledger.example").await;
    let mut records: Vec<UsageRecord> = (0..4).map(|i| usage(tenant, app, i)).collect();
    records[1].pii_detected = true;
    records[1].pii_types = vec!["EMAIL".into(), "SECRET".into()];
    store.insert_usage(&records, None).await.unwrap();
    let stored = store
        .strings_raw(&format!(
            "SELECT pii_types FROM usage_logs WHERE CAST(id AS TEXT) = '{}'",
            records[1].id
        ))
        .await
        .unwrap();
    assert_eq!(stored, vec!["EMAIL,SECRET".to_string()]);
    let r = report(&store, tenant, VerifyOptions::default()).await;
    assert!(r.ok(), "{r:?}");
    db.tamper(&format!(
        "UPDATE usage_logs SET pii_types = NULL WHERE id = '{}'",
        records[1].id
    ))
    .await;
    let r = report(&store, tenant, VerifyOptions::default()).await;
    let failure = r.usage.failure.expect("the removed types are found");
    assert!(failure.problem.contains("a row was changed"), "{failure}");
}
