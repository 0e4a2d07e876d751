use tollgate_store::verify;
use tollgate_testkit::{backend_tests, TestDb};

backend_tests!(
    up_down_up,
    verify_passes_after_migrating,
    verify_names_a_dropped_index,
    migrate_to_version
);

async fn up_down_up(db: TestDb) {
    let store = db.store().await;
    let applied = store.migrate_up(None, false).await.unwrap().applied;
    assert_eq!(applied, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert!(store.migrations_current().await.unwrap());

    let reverted = store.migrate_down(0, false).await.unwrap().reverted;
    assert_eq!(reverted, vec![13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let report = store.verify_schema().await.unwrap();
    for table in verify::TABLES {
        assert!(
            report.problems.contains(&format!("table {table}")),
            "{table} still there"
        );
    }

    store.migrate_up(None, false).await.unwrap();
    assert!(store.verify_schema().await.unwrap().ok());
    assert!(
        store
            .migrate_up(None, false)
            .await
            .unwrap()
            .applied
            .is_empty(),
        "second up is a no-op"
    );
}

async fn verify_passes_after_migrating(db: TestDb) {
    let store = db.migrated().await;
    let report = store.verify_schema().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.checked > 150, "checked only {}", report.checked);
}

async fn verify_names_a_dropped_index(db: TestDb) {
    let store = db.migrated().await;
    store
        .execute_raw("DROP INDEX idx_usage_logs_date")
        .await
        .unwrap();
    store
        .execute_raw("DROP VIEW cost_summary_view")
        .await
        .unwrap();
    let report = store.verify_schema().await.unwrap();
    assert!(!report.ok());
    assert!(
        report
            .problems
            .contains(&"index idx_usage_logs_date on usage_logs".to_string()),
        "{:?}",
        report.problems
    );
    assert!(report
        .problems
        .contains(&"view cost_summary_view".to_string()));
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
}

async fn migrate_to_version(db: TestDb) {
    let store = db.store().await;
    assert_eq!(
        store.migrate_up(Some(2), false).await.unwrap().applied,
        vec![1, 2]
    );
    assert!(!store.migrations_current().await.unwrap());
    let status = store.migration_status().await.unwrap();
    assert!(status[1].applied_at.is_some() && status[2].applied_at.is_none());
    assert!(matches!(
        store.migrate_up(Some(99), false).await,
        Err(tollgate_store::StoreError::UnknownVersion(99))
    ));
    assert_eq!(
        store.migrate_up(None, false).await.unwrap().applied,
        vec![3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    );
    assert_eq!(
        store.migrate_down(3, false).await.unwrap().reverted,
        vec![13, 12, 11, 10, 9, 8, 7, 6, 5, 4]
    );
    assert_eq!(store.previous_version().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once() {
    let Some(db) = TestDb::new(tollgate_testkit::Backend::Postgres).await else {
        return;
    };
    let stores = [db.store().await, db.store().await, db.store().await];
    let runs: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| tokio::spawn(async move { s.migrate_up(None, false).await }))
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.unwrap().unwrap().applied);
    }
    applied.sort();
    assert_eq!(
        applied,
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
        "each migration applied by exactly one replica"
    );
    assert!(stores[0].verify_schema().await.unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_copied_aside_before_migrating() {
    let db = TestDb::new(tollgate_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let store = db.store().await;
    let first = store.migrate_up(Some(2), true).await.unwrap();
    assert_eq!(first.backup, None, "an empty database has nothing to keep");
    let second = store.migrate_up(None, true).await.unwrap();
    let backup = second.backup.expect("a copy before applying 3..12");
    assert!(backup.ends_with("-v2"), "{backup}");
    assert!(std::path::Path::new(&backup).exists());
    let copy = tollgate_store::Store::connect(&tollgate_config::DatabaseSettings {
        url: format!("sqlite://{backup}"),
        ..Default::default()
    })
    .await
    .unwrap();
    let status = copy.migration_status().await.unwrap();
    assert!(
        status[1].applied_at.is_some() && status[2].applied_at.is_none(),
        "the copy is the old version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_sqlite_works_for_trials() {
    let store = tollgate_store::Store::connect(&tollgate_config::DatabaseSettings {
        url: "sqlite::memory:".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate_up(None, true).await.unwrap();
    store.seed_demo(&Default::default()).await.unwrap();
    assert_eq!(
        store
            .scalar_raw("SELECT count(*) FROM usage_logs")
            .await
            .unwrap(),
        10
    );
    assert!(store.verify_schema().await.unwrap().ok());
}
