use tollgate_domain::demo;
use tollgate_store::demo::DemoOptions;
use tollgate_store::StoreError;
use tollgate_testkit::{backend_tests, TestDb};
use uuid::Uuid;

use crate::{count, tenant_with_app};

backend_tests!(
    erase_tenant_removes_everything_and_records_counts,
    erase_app_keeps_the_tenant,
    erase_unknown_is_not_found,
    erasing_a_person_keeps_the_ledger_provable
);

async fn erase_tenant_removes_everything_and_records_counts(db: TestDb) {
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let (other, _) = tenant_with_app(&store, "other@example.com").await;

    // A raw hard delete is refused: the tenant's usage rows are append-only.
    let raw = format!("DELETE FROM tenants WHERE id = '{}'", demo::TENANT_ID);
    assert!(matches!(
        store.execute_raw(&raw).await,
        Err(StoreError::Refused(_))
    ));

    let report = store.erase_tenant(demo::TENANT_ID, "test").await.unwrap();
    let removed = |t: &str| {
        report
            .removed
            .iter()
            .find(|(n, _)| *n == t)
            .map(|(_, n)| *n)
            .unwrap()
    };
    assert_eq!(removed("tenants"), 1);
    assert_eq!(removed("usage_logs"), 10);
    assert_eq!(removed("api_keys"), 5);
    for table in [
        "apps",
        "api_keys",
        "users",
        "teams",
        "usage_logs",
        "usage_hourly",
        "usage_daily",
        "policy_assignments",
        "firewall_configs",
        "audit_bodies",
    ] {
        let n = store
            .scalar_raw(&format!(
                "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
                demo::TENANT_ID
            ))
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} still holds rows of the erased tenant");
    }
    assert_eq!(
        count(&store, "erasure_context").await,
        0,
        "the unlock is withdrawn"
    );
    assert_eq!(
        store
            .scalar_raw(&format!(
                "SELECT count(*) FROM tenants WHERE id = '{other}'"
            ))
            .await
            .unwrap(),
        1,
        "other tenants are untouched"
    );

    // The system log records counts, never content.
    let details = store
        .strings_raw("SELECT CAST(b.details AS TEXT) FROM audit_log e JOIN audit_bodies b ON b.entry_id = e.id WHERE e.tenant_id IS NULL AND e.action = 'tenant.erase'")
        .await
        .unwrap();
    assert_eq!(details.len(), 1);
    let compact = details[0].replace(' ', "");
    assert!(compact.contains("\"usage_logs\":10"), "{}", details[0]);
    assert!(!details[0].contains(demo::ADMIN_EMAIL));
    // The tenant's log is closed, not removed: its size and root are in the erasure's entry.
    assert!(compact.contains("\"log\":{\"root\":"), "{}", details[0]);

    // After erasure the protection is back.
    assert!(store.execute_raw("DELETE FROM audit_log").await.is_err());
}

async fn erase_app_keeps_the_tenant(db: TestDb) {
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let report = store.erase_app(demo::APP_ID, "test").await.unwrap();
    assert_eq!(report.removed[0], ("apps", 1));
    assert_eq!(count(&store, "usage_logs").await, 0);
    assert_eq!(count(&store, "api_keys").await, 0);
    assert_eq!(
        store
            .scalar_raw(&format!(
                "SELECT count(*) FROM usage_hourly WHERE app_id = '{}'",
                demo::APP_ID
            ))
            .await
            .unwrap(),
        0
    );
    assert_eq!(count(&store, "tenants").await, 1);
    assert_eq!(count(&store, "users").await, 1);
    // The usage batch that lost the app's rows was re-sealed: the ledger still verifies.
    let reports = store
        .verify_audit(&tollgate_store::audit::VerifyOptions::default())
        .await
        .unwrap();
    assert!(reports.iter().all(|r| r.ok()), "{reports:?}");
    let tenant_log = reports.iter().find(|r| r.log == demo::TENANT_ID).unwrap();
    assert_eq!((tenant_log.usage.seals, tenant_log.usage.rows), (1, 0));
}

async fn erase_unknown_is_not_found(db: TestDb) {
    let store = db.migrated().await;
    let err = store
        .erase_tenant(Uuid::new_v4(), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "tenant", .. }),
        "{err}"
    );
    assert_eq!(
        count(&store, "audit_log").await,
        0,
        "nothing recorded for nothing done"
    );
}

async fn erasing_a_person_keeps_the_ledger_provable(db: TestDb) {
    use tollgate_domain::audit::ActorType;
    use tollgate_store::audit::VerifyOptions;
    use tollgate_store::Scope;

    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let mut tx = store.begin_change(Scope::System("test")).await.unwrap();
    let admin = tx.person(demo::ADMIN_EMAIL).await.unwrap().unwrap();
    // Something the person did, whose body names them.
    let mut entry = tollgate_testkit::fixture_entry().in_log_of(admin.tenant_id);
    entry.actor_type = ActorType::User;
    entry.actor_id = Some(admin.subject_id);
    entry.action = "user.sign_in".into();
    entry.body.details = serde_json::json!({ "email": demo::ADMIN_EMAIL });
    tx.commit(entry).await.unwrap();

    let report = store.erase_user(admin.id, "test").await.unwrap();
    assert_eq!(report.removed[0], ("users", 1));
    assert!(
        report.removed.contains(&("audit_bodies", 1)),
        "{:?}",
        report.removed
    );
    assert_eq!(count(&store, "users").await, 0);
    let left = store
        .strings_raw("SELECT CAST(details AS TEXT) FROM audit_bodies")
        .await
        .unwrap();
    assert!(
        left.iter().all(|d| !d.contains(demo::ADMIN_EMAIL)),
        "{left:?}"
    );
    // The entry stays, under the pseudonym that now leads nowhere, and every log verifies.
    let actors = store
        .strings_raw(&format!(
            "SELECT action FROM audit_log WHERE CAST(actor_id AS TEXT) = '{}'",
            admin.subject_id
        ))
        .await
        .unwrap();
    assert_eq!(actors, ["user.sign_in"]);
    let reports = store.verify_audit(&VerifyOptions::default()).await.unwrap();
    assert!(reports.iter().all(|r| r.ok()), "{reports:?}");
    let erased = store
        .strings_raw(
            "SELECT action FROM audit_log WHERE tenant_id IS NULL AND action = 'user.erase'",
        )
        .await
        .unwrap();
    assert_eq!(erased.len(), 1, "the erasure is itself an entry");
}
