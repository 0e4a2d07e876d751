use tollgate_store::demo::DemoOptions;
use tollgate_store::StoreError;
use tollgate_testkit::{backend_tests, TestDb};

use crate::count;

backend_tests!(
    usage_and_audit_refuse_update_and_delete,
    erasure_mark_from_another_transaction_does_not_unlock
);

async fn usage_and_audit_refuse_update_and_delete(db: TestDb) {
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let usage = count(&store, "usage_logs").await;
    let audit = count(&store, "audit_log").await;
    assert_eq!(usage, 10);
    assert!(audit >= 1);

    for sql in [
        "UPDATE usage_logs SET tokens_used = 999",
        "DELETE FROM usage_logs",
        "UPDATE audit_bodies SET details = '{}'",
    ] {
        let err = store.execute_raw(sql).await.unwrap_err();
        assert!(matches!(err, StoreError::Refused(_)), "{sql}: {err}");
        let message = err.to_string();
        assert!(
            message.contains("append-only") || message.contains("permission denied"),
            "{sql}: {err}"
        );
    }
    // The ledger refuses even the role that owns it: on PostgreSQL that role gave up the
    // rights (the triggers stand behind that), on SQLite the triggers refuse.
    for (table, set) in [
        ("audit_log", "action = 'nothing happened'"),
        ("audit_tree", "hash = hash"),
    ] {
        for sql in [
            format!("UPDATE {table} SET {set}"),
            format!("DELETE FROM {table}"),
        ] {
            let err = store.execute_raw(&sql).await.unwrap_err();
            assert!(matches!(err, StoreError::Refused(_)), "{sql}: {err}");
            let message = err.to_string();
            assert!(
                message.contains("audit ledger") || message.contains("permission denied"),
                "{sql}: {err}"
            );
        }
    }
    // Statements that remove rows without a row-level DELETE are refused too.
    let sneaky: &[&str] = match db.backend {
        tollgate_testkit::Backend::Sqlite => &[
            "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log",
            "INSERT OR REPLACE INTO audit_tree SELECT * FROM audit_tree",
            "REPLACE INTO ai_use_events SELECT * FROM ai_use_events",
        ],
        tollgate_testkit::Backend::Postgres => &[
            "TRUNCATE usage_logs",
            "TRUNCATE audit_log CASCADE",
            "TRUNCATE audit_tree",
            "TRUNCATE ai_use_events",
        ],
    };
    for sql in sneaky {
        if !sql.contains("ai_use_events") || db.backend == tollgate_testkit::Backend::Postgres {
            assert!(store.execute_raw(sql).await.is_err(), "{sql} was accepted");
        }
    }
    if db.backend == tollgate_testkit::Backend::Sqlite {
        // A replayed usage row is skipped, never replaces the original.
        store
            .execute_raw(
                "INSERT OR REPLACE INTO usage_logs (id, tenant_id, provider, model, response_status, created_at)
                 SELECT id, tenant_id, 'forged', model, 'success', created_at FROM usage_logs",
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .scalar_raw("SELECT count(*) FROM usage_logs WHERE provider = 'forged'")
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(count(&store, "usage_logs").await, usage);
    assert_eq!(count(&store, "audit_log").await, audit);
    assert_eq!(
        store
            .scalar_raw("SELECT count(*) FROM usage_logs WHERE CAST(id AS TEXT) LIKE '00000000-0000-7000-8000-0000d%'")
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        store
            .scalar_raw("SELECT count(*) FROM usage_logs WHERE tokens_used = 999")
            .await
            .unwrap(),
        0
    );
}

async fn erasure_mark_from_another_transaction_does_not_unlock(db: TestDb) {
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    // A committed mark (which the erasure path never leaves) is reported by verify. On
    // PostgreSQL it also does not unlock anything, since it names another transaction.
    store
        .execute_raw(
            "INSERT INTO erasure_context (reason, requested_by) VALUES ('erasure', 'mallory')",
        )
        .await
        .unwrap();
    let report = store.verify_schema().await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("erasure_context")),
        "{:?}",
        report.problems
    );
    if db.backend == tollgate_testkit::Backend::Postgres {
        assert!(store.execute_raw("DELETE FROM usage_logs").await.is_err());
        assert_eq!(count(&store, "usage_logs").await, 10);
    }
}
