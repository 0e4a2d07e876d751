use tollgate_store::people::NewTeam;
use tollgate_store::{Scope, Store, StoreError};
use tollgate_testkit::{backend_tests, TestDb};
use uuid::Uuid;

use crate::tenant_with_app;

backend_tests!(
    team_cycles_are_refused,
    teams_deeper_than_ten_levels_are_refused,
    role_cycles_and_depth_are_refused
);

async fn chain(store: &Store, tenant: Uuid, levels: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = Vec::new();
    for i in 0..levels {
        let id = Uuid::new_v4();
        let mut tx = store
            .begin_change(Scope::System("test fixture"))
            .await
            .unwrap();
        tx.insert_team(&NewTeam {
            id,
            tenant_id: tenant,
            parent_team_id: ids.last().copied(),
            name: format!("level {i} {}", id.simple()),
            budget_micros: None,
            currency: "EUR".into(),
            period: "monthly".into(),
        })
        .await
        .unwrap();
        tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
        ids.push(id);
    }
    ids
}

async fn team_cycles_are_refused(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "h@example.com").await;
    let ids = chain(&store, tenant, 3).await;
    let cycle = format!(
        "UPDATE teams SET parent_team_id = '{}' WHERE id = '{}'",
        ids[2], ids[0]
    );
    let err = store.execute_raw(&cycle).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("cycle")),
        "{err}"
    );
    let own = format!(
        "UPDATE teams SET parent_team_id = '{}' WHERE id = '{}'",
        ids[1], ids[1]
    );
    assert!(store.execute_raw(&own).await.is_err());
}

async fn teams_deeper_than_ten_levels_are_refused(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "d@example.com").await;
    let ids = chain(&store, tenant, 10).await;
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    let err = tx
        .insert_team(&NewTeam {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            parent_team_id: Some(ids[9]),
            name: "eleventh".into(),
            budget_micros: None,
            currency: "EUR".into(),
            period: "monthly".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("deep")),
        "{err}"
    );
    drop(tx);

    // Moving a two-level subtree under level 9 would make eleven levels.
    let other = chain(&store, tenant, 2).await;
    let mv = format!(
        "UPDATE teams SET parent_team_id = '{}' WHERE id = '{}'",
        ids[8], other[0]
    );
    assert!(store.execute_raw(&mv).await.is_err());
    let ok = format!(
        "UPDATE teams SET parent_team_id = '{}' WHERE id = '{}'",
        ids[7], other[0]
    );
    store.execute_raw(&ok).await.unwrap();
}

async fn role_cycles_and_depth_are_refused(db: TestDb) {
    let store = db.migrated().await;
    // Viewer <- Developer <- Team Manager <- Admin <- Super Admin are built in.
    let cycle = "UPDATE roles SET parent_role_id = '00000000-0000-7000-8000-000000000105'
                 WHERE id = '00000000-0000-7000-8000-000000000101'";
    let err = store.execute_raw(cycle).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("cycle")),
        "{err}"
    );

    let mut parent = "00000000-0000-7000-8000-000000000105".to_string();
    for depth in 6..=10 {
        let id = Uuid::new_v4().to_string();
        store
            .execute_raw(&format!(
                "INSERT INTO roles (id, name, parent_role_id, permissions) VALUES ('{id}', 'r{depth}', '{parent}', '[]')"
            ))
            .await
            .unwrap();
        parent = id;
    }
    let too_deep = format!(
        "INSERT INTO roles (id, name, parent_role_id, permissions) VALUES ('{}', 'r11', '{parent}', '[]')",
        Uuid::new_v4()
    );
    assert!(matches!(
        store.execute_raw(&too_deep).await,
        Err(StoreError::Refused(_))
    ));
}
