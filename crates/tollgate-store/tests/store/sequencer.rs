//! The sequencer: concurrent changes of one tenant share transactions, each is committed or
//! rolled back on its own terms, and the log they make verifies.

use std::sync::Arc;

use tokio::sync::{oneshot, Notify};
use tollgate_store::audit::VerifyOptions;
use tollgate_store::sequencer::{ChangeFuture, Sequenced};
use tollgate_store::tenants::NewApp;
use tollgate_store::{Change, Store, StoreError};
use tollgate_testkit::{backend_tests, fixture_entry, TestDb};
use uuid::Uuid;

use crate::{count, tenant_with_app};

backend_tests!(
    concurrent_changes_share_transactions_and_the_log_verifies,
    a_failing_change_is_rolled_back_alone,
    a_change_cannot_write_another_log,
    a_panicking_change_does_not_stop_its_tenant,
    a_database_error_in_the_middle_fails_that_change_only,
    a_usage_seal_after_other_changes_takes_its_true_position,
    a_change_cannot_queue_another,
);

/// Every wait in these tests is bounded: a stuck lane fails the test instead of hanging CI.
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(60), f)
        .await
        .expect("the sequencer did not answer within 60 s")
}

/// A change that adds an app named `name` to `tenant` and records it.
fn add_app(
    tenant: Uuid,
    name: String,
) -> impl for<'c> FnOnce(&'c mut Change) -> ChangeFuture<'c, Uuid> + Send + 'static {
    move |tx: &mut Change| {
        Box::pin(async move {
            let id = Uuid::new_v4();
            tx.insert_app(&NewApp {
                id,
                tenant_id: tenant,
                name: name.clone(),
                allowed_origins: vec![],
            })
            .await?;
            let mut entry = fixture_entry().in_log_of(tenant);
            entry.action = "app.create".into();
            entry.resource_id = Some(name);
            Ok((id, entry))
        })
    }
}

async fn apps_named(store: &Store, name: &str) -> i64 {
    store
        .scalar_raw(&format!(
            "SELECT count(*) FROM apps WHERE app_name = '{name}'"
        ))
        .await
        .unwrap()
}

/// Holds `tenant`'s runner inside a change until the returned sender fires, so the changes
/// submitted meanwhile form the next batch together.
async fn hold_lane(
    store: &Store,
    tenant: Uuid,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (release, released) = oneshot::channel::<()>();
    let entered = Arc::new(Notify::new());
    let inside = entered.clone();
    let store2 = store.clone();
    let holder = tokio::spawn(async move {
        store2
            .sequenced(tenant, move |_tx: &mut Change| {
                Box::pin(async move {
                    inside.notify_one();
                    let _ = released.await;
                    Ok(((), fixture_entry().in_log_of(tenant)))
                })
            })
            .await
            .unwrap();
    });
    entered.notified().await;
    (release, holder)
}

/// Waits until `n` changes of `tenant` are queued.
async fn queued(store: &Store, tenant: Uuid, n: usize) {
    within(async {
        while store.sequencer_queue(tenant) < n {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    })
    .await
}

async fn concurrent_changes_share_transactions_and_the_log_verifies(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "seq@example.com").await;
    let apps_before = count(&store, "apps").await;
    const CHANGES: usize = 300;
    let tasks: Vec<_> = (0..CHANGES)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .sequenced(tenant, add_app(tenant, format!("a{i}")))
                    .await
            })
        })
        .collect();
    let mut seqs = Vec::new();
    let mut largest = 0;
    for t in tasks {
        let done: Sequenced<Uuid> = within(t).await.unwrap().unwrap();
        assert_eq!(done.appended.len(), 1);
        largest = largest.max(done.batch);
        seqs.push(done.appended[0].seq);
    }
    seqs.sort_unstable();
    // The fixture's entry went to the system log: the tenant's log is exactly these.
    assert_eq!(seqs, (1..=CHANGES as u64).collect::<Vec<_>>());
    assert_eq!(count(&store, "apps").await, apps_before + CHANGES as i64);
    assert!(
        largest > 1,
        "300 changes at once never shared a transaction"
    );
    let reports = store
        .verify_audit(&VerifyOptions {
            only: Some(tenant),
            ..VerifyOptions::default()
        })
        .await
        .unwrap();
    assert!(reports[0].ok(), "{reports:?}");
    assert_eq!(reports[0].size, CHANGES as u64);
}

async fn a_failing_change_is_rolled_back_alone(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "fail@example.com").await;
    let (release, holder) = hold_lane(&store, tenant).await;
    let submit =
        |work: Box<dyn for<'c> FnOnce(&'c mut Change) -> ChangeFuture<'c, Uuid> + Send>| {
            let store = store.clone();
            tokio::spawn(async move { store.sequenced(tenant, work).await })
        };
    // Queued one after the other behind the held change, so they form the next batch in order.
    let first = submit(Box::new(add_app(tenant, "kept1".into())));
    queued(&store, tenant, 1).await;
    let failing = submit(Box::new(move |tx: &mut Change| {
        Box::pin(async move {
            add_app(tenant, "dropped".into())(tx).await?;
            Err(StoreError::Refused("this change changes its mind".into()))
        })
    }));
    queued(&store, tenant, 2).await;
    let last = submit(Box::new(add_app(tenant, "kept2".into())));
    queued(&store, tenant, 3).await;
    release.send(()).unwrap();
    within(holder).await.unwrap();
    let first = within(first).await.unwrap().unwrap();
    let failed = within(failing).await.unwrap().unwrap_err();
    let last = within(last).await.unwrap().unwrap();
    assert!(failed.to_string().contains("changes its mind"), "{failed}");
    assert_eq!((first.batch, last.batch), (2, 2));
    assert_eq!(first.appended[0].seq + 1, last.appended[0].seq);
    assert_eq!(apps_named(&store, "kept1").await, 1);
    assert_eq!(apps_named(&store, "kept2").await, 1);
    assert_eq!(apps_named(&store, "dropped").await, 0);
    let reports = store
        .verify_audit(&VerifyOptions {
            only: Some(tenant),
            ..VerifyOptions::default()
        })
        .await
        .unwrap();
    assert!(reports[0].ok(), "{reports:?}");
    assert_eq!(reports[0].size, 3);
}

async fn a_change_cannot_write_another_log(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "own@example.com").await;
    let (other, _) = tenant_with_app(&store, "other@example.com").await;
    let err = store
        .sequenced(tenant, move |tx: &mut Change| {
            Box::pin(async move {
                let (_, entry) = add_app(tenant, "sneaky".into())(tx).await?;
                Ok(((), entry.in_log_of(other)))
            })
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("its tenant's log only"), "{err}");
    assert_eq!(apps_named(&store, "sneaky").await, 0);
    let fine = store
        .sequenced(tenant, add_app(tenant, "fine".into()))
        .await
        .unwrap();
    assert_eq!(fine.appended[0].seq, 1);
}

async fn a_panicking_change_does_not_stop_its_tenant(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "panic@example.com").await;
    // The panicking change runs alone and waits, so `behind` queues for the next batch; then
    // the panic kills the runner and the lane's guard must start a new one for `behind`.
    let (go, wait) = oneshot::channel::<()>();
    let entered = Arc::new(Notify::new());
    let inside = entered.clone();
    let store2 = store.clone();
    let panicking = tokio::spawn(async move {
        store2
            .sequenced(tenant, move |_tx: &mut Change| -> ChangeFuture<'_, ()> {
                Box::pin(async move {
                    inside.notify_one();
                    let _ = wait.await;
                    panic!("a bug in a change")
                })
            })
            .await
    });
    within(entered.notified()).await;
    let store3 = store.clone();
    let behind = tokio::spawn(async move {
        store3
            .sequenced(tenant, add_app(tenant, "after".into()))
            .await
    });
    queued(&store, tenant, 1).await;
    go.send(()).unwrap();
    let err = within(panicking).await.unwrap().unwrap_err();
    assert!(err.to_string().contains("safe to retry"), "{err}");
    let behind = within(behind).await.unwrap().unwrap();
    assert_eq!(
        behind.appended[0].seq, 1,
        "the panicked change left nothing"
    );
    assert_eq!(apps_named(&store, "after").await, 1);
}

async fn a_database_error_in_the_middle_fails_that_change_only(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "dberr@example.com").await;
    let postgres = db.backend == tollgate_store::Backend::Postgres;
    let (release, holder) = hold_lane(&store, tenant).await;
    let submit =
        |work: Box<dyn for<'c> FnOnce(&'c mut Change) -> ChangeFuture<'c, Uuid> + Send>| {
            let store = store.clone();
            tokio::spawn(async move { store.sequenced(tenant, work).await })
        };
    let first = submit(Box::new(add_app(tenant, "before-error".into())));
    queued(&store, tenant, 1).await;
    // The database refuses this one (an app of no tenant) and it returns the error.
    let failing = submit(Box::new(move |tx: &mut Change| {
        Box::pin(async move {
            tx.insert_app(&NewApp {
                id: Uuid::new_v4(),
                tenant_id: Uuid::new_v4(), // no such tenant: a foreign-key error
                name: "orphan".into(),
                allowed_origins: vec![],
            })
            .await?;
            Ok((Uuid::nil(), fixture_entry().in_log_of(tenant)))
        })
    }));
    queued(&store, tenant, 2).await;
    // This one hides the database's error and says it succeeded: on PostgreSQL the transaction
    // is then failed, and the change must be rolled back alone, not take the batch with it.
    let hiding = submit(Box::new(move |tx: &mut Change| {
        Box::pin(async move {
            let _ = tx
                .insert_app(&NewApp {
                    id: Uuid::new_v4(),
                    tenant_id: Uuid::new_v4(),
                    name: "hidden-orphan".into(),
                    allowed_origins: vec![],
                })
                .await;
            Ok((Uuid::nil(), fixture_entry().in_log_of(tenant)))
        })
    }));
    queued(&store, tenant, 3).await;
    let last = submit(Box::new(add_app(tenant, "after-error".into())));
    queued(&store, tenant, 4).await;
    release.send(()).unwrap();
    within(holder).await.unwrap();
    let first = within(first).await.unwrap().unwrap();
    assert!(within(failing).await.unwrap().is_err());
    let hiding = within(hiding).await.unwrap();
    let last = within(last).await.unwrap().unwrap();
    assert_eq!(apps_named(&store, "before-error").await, 1);
    assert_eq!(apps_named(&store, "after-error").await, 1);
    assert_eq!(apps_named(&store, "orphan").await, 0);
    assert_eq!(apps_named(&store, "hidden-orphan").await, 0);
    if postgres {
        let err = hiding.unwrap_err();
        assert!(err.to_string().contains("rolled back"), "{err}");
        assert_eq!(last.appended[0].seq, first.appended[0].seq + 1);
    } else {
        // SQLite fails the statement, not the transaction: the rest of the change stands.
        assert!(hiding.is_ok());
        assert_eq!(last.appended[0].seq, first.appended[0].seq + 2);
    }
    let reports = store
        .verify_audit(&VerifyOptions {
            only: Some(tenant),
            ..VerifyOptions::default()
        })
        .await
        .unwrap();
    assert!(reports[0].ok(), "{reports:?}");
}

async fn a_usage_seal_after_other_changes_takes_its_true_position(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "sealpos@example.com").await;
    let (release, holder) = hold_lane(&store, tenant).await;
    let store2 = store.clone();
    let plain = tokio::spawn(async move {
        store2
            .sequenced(tenant, add_app(tenant, "plain".into()))
            .await
    });
    queued(&store, tenant, 1).await;
    let store3 = store.clone();
    let sealing = tokio::spawn(async move {
        store3
            .sequenced(tenant, move |tx: &mut Change| {
                Box::pin(async move {
                    let records: Vec<_> = (0..3)
                        .map(|i| crate::ledger::usage(tenant, app, i))
                        .collect();
                    let refs: Vec<_> = records.iter().collect();
                    let n = tx.insert_usage(tenant, &refs).await?;
                    Ok((n, fixture_entry().in_log_of(tenant)))
                })
            })
            .await
    });
    queued(&store, tenant, 2).await;
    release.send(()).unwrap();
    within(holder).await.unwrap();
    within(plain).await.unwrap().unwrap();
    let sealed = within(sealing).await.unwrap().unwrap();
    assert_eq!((sealed.value, sealed.batch), (3, 2));
    let reports = store
        .verify_audit(&VerifyOptions {
            only: Some(tenant),
            ..VerifyOptions::default()
        })
        .await
        .unwrap();
    assert!(reports[0].ok(), "{reports:?}");
    assert_eq!((reports[0].usage.seals, reports[0].usage.rows), (1, 3));
}

async fn a_change_cannot_queue_another(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "reenter@example.com").await;
    let inner = store.clone();
    let err = within(store.sequenced(tenant, move |_tx: &mut Change| {
        Box::pin(async move {
            inner
                .sequenced(tenant, add_app(tenant, "inner".into()))
                .await?;
            Ok(((), fixture_entry().in_log_of(tenant)))
        })
    }))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("wait for itself"), "{err}");
    let err = store
        .sequenced(Uuid::nil(), add_app(Uuid::nil(), "system".into()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only tenants"), "{err}");
}
