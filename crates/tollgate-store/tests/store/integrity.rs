use tollgate_domain::builtin::ROLE_SUPER_ADMIN;
use tollgate_domain::key::{issue, KeyKind};
use tollgate_store::keys::NewKey;
use tollgate_store::people::{NewTeam, NewUser};
use tollgate_store::{Scope, Store, StoreError};
use tollgate_testkit::{backend_tests, TestDb};
use uuid::Uuid;

use crate::{count, tenant_with_app};

backend_tests!(
    hard_delete_cascades_tenant_to_apps_and_keys,
    soft_delete_keeps_rows,
    key_kinds_never_stand_in_for_each_other,
    a_role_is_held_once_per_scope,
    updated_at_is_maintained,
    seed_checks_hold,
);

fn key<'a>(
    tenant: Uuid,
    app: Option<Uuid>,
    user: Option<Uuid>,
    kind: KeyKind,
    issued: &'a tollgate_domain::key::IssuedKey,
) -> NewKey<'a> {
    NewKey {
        id: Uuid::new_v4(),
        tenant_id: tenant,
        kind,
        app_id: app,
        user_id: user,
        team_id: None,
        name: "k".into(),
        issued,
        scopes: if kind == KeyKind::Admin {
            vec!["usage:read".into()]
        } else {
            vec![]
        },
        credits: if kind == KeyKind::Gateway {
            Some(5)
        } else {
            None
        },
        allowed_models: None,
    }
}

async fn user(store: &Store, tenant: Uuid, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    tx.insert_user(&NewUser {
        id,
        tenant_id: tenant,
        subject_id: Uuid::new_v4(),
        username: email.into(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        full_name: None,
        is_superuser: false,
        must_change_password: false,
    })
    .await
    .unwrap();
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    id
}

async fn hard_delete_cascades_tenant_to_apps_and_keys(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "cascade@example.com").await;
    let issued = issue(KeyKind::Gateway, &mut rand::thread_rng());
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    tx.insert_key(&key(tenant, Some(app), None, KeyKind::Gateway, &issued))
        .await
        .unwrap();
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    assert_eq!(count(&store, "api_keys").await, 1);
    // Seed 000: with no usage rows yet, deleting the tenant cascades to apps and licences.
    store
        .execute_raw(&format!("DELETE FROM tenants WHERE id = '{tenant}'"))
        .await
        .unwrap();
    assert_eq!(count(&store, "apps").await, 0);
    assert_eq!(count(&store, "api_keys").await, 0);
}

async fn soft_delete_keeps_rows(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "soft@example.com").await;
    store.deactivate_tenant(tenant).await.unwrap();
    let active = store
        .strings_raw(&format!(
            "SELECT CAST(is_active AS TEXT) || ',' || CAST(deleted_at IS NOT NULL AS TEXT) FROM apps WHERE id = '{app}'"
        ))
        .await
        .unwrap();
    assert!(
        active[0] == "0,1" || active[0] == "false,true",
        "{active:?}"
    );
    assert_eq!(count(&store, "tenants").await, 1);
    // The partial index of active apps no longer covers it.
    assert_eq!(
        store
            .scalar_raw("SELECT count(*) FROM apps WHERE is_active")
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        store.deactivate_tenant(Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.deactivate_app(tenant, Uuid::new_v4()).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn key_kinds_never_stand_in_for_each_other(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "kinds@example.com").await;
    let owner = user(&store, tenant, "owner@example.com").await;
    let mut rng = rand::thread_rng();
    let (a, b, c) = (
        issue(KeyKind::Admin, &mut rng),
        issue(KeyKind::Gateway, &mut rng),
        issue(KeyKind::Admin, &mut rng),
    );

    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    let admin_on_app = tx
        .insert_key(&key(tenant, Some(app), Some(owner), KeyKind::Admin, &a))
        .await;
    assert!(
        matches!(admin_on_app, Err(StoreError::Refused(_))),
        "{admin_on_app:?}"
    );
    drop(tx);
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    let gateway_without_app = tx
        .insert_key(&key(tenant, None, None, KeyKind::Gateway, &b))
        .await;
    assert!(matches!(gateway_without_app, Err(StoreError::Refused(_))));
    drop(tx);
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    let admin = key(tenant, None, Some(owner), KeyKind::Admin, &c);
    tx.insert_key(&admin).await.unwrap();
    tx.insert_key(&key(tenant, Some(app), None, KeyKind::Gateway, &b))
        .await
        .unwrap();
    assert!(
        !tx.set_key_models(admin.id, Some(&["m".to_string()]))
            .await
            .unwrap(),
        "only gateway keys are limited to models"
    );
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    let admin_models = store
        .execute_raw(&format!(
            "UPDATE api_keys SET allowed_models = '[\"m\"]' WHERE id = '{}'",
            admin.id
        ))
        .await;
    assert!(admin_models.is_err(), "the database refuses it too");
    let not_a_list = store
        .execute_raw("UPDATE api_keys SET allowed_models = '{\"m\": 1}' WHERE kind = 'gateway'")
        .await;
    assert!(not_a_list.is_err(), "a model list is a JSON array");
    let negative = store
        .execute_raw("UPDATE api_keys SET credits_remaining = -1")
        .await;
    assert!(negative.is_err(), "credits never go below zero");
}

async fn a_role_is_held_once_per_scope(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "scope@example.com").await;
    let person = user(&store, tenant, "p@example.com").await;
    let (t1, t2) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    for (id, name) in [(t1, "one"), (t2, "two")] {
        tx.insert_team(&NewTeam {
            id,
            tenant_id: tenant,
            parent_team_id: None,
            name: name.into(),
            budget_micros: Some(1),
            currency: "USD".into(),
            period: "monthly".into(),
        })
        .await
        .unwrap();
    }
    assert!(tx
        .assign_role(person, ROLE_SUPER_ADMIN, tenant, Some(t1), None)
        .await
        .unwrap());
    assert!(
        tx.assign_role(person, ROLE_SUPER_ADMIN, tenant, Some(t2), None)
            .await
            .unwrap(),
        "same role, other team"
    );
    assert!(
        tx.assign_role(person, ROLE_SUPER_ADMIN, tenant, None, None)
            .await
            .unwrap(),
        "same role, tenant scope"
    );
    assert!(
        !tx.assign_role(person, ROLE_SUPER_ADMIN, tenant, Some(t1), None)
            .await
            .unwrap(),
        "duplicate ignored"
    );
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    assert_eq!(count(&store, "user_roles").await, 3);
}

async fn updated_at_is_maintained(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "touch@example.com").await;
    store
        .execute_raw(&format!(
            "UPDATE tenants SET created_at = '2020-01-01T00:00:00.000Z', updated_at = '2020-01-01T00:00:00.000Z' WHERE id = '{tenant}'"
        ))
        .await
        .unwrap();
    store
        .execute_raw(&format!(
            "UPDATE tenants SET name = 'Renamed' WHERE id = '{tenant}'"
        ))
        .await
        .unwrap();
    let newer = store
        .scalar_raw(&format!(
            "SELECT count(*) FROM tenants WHERE id = '{tenant}' AND updated_at > created_at AND created_at < '2021-01-01'"
        ))
        .await
        .unwrap();
    assert_eq!(newer, 1, "updated_at moved without the caller setting it");
}

async fn seed_checks_hold(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, _) = tenant_with_app(&store, "checks@example.com").await;
    for (sql, why) in [
        (format!("INSERT INTO firewall_configs (id, tenant_id, log_retention_days) VALUES ('{}', '{tenant}', 29)", Uuid::new_v4()), "retention below 30 days"),
        (format!("INSERT INTO firewall_configs (id, tenant_id, log_retention_days) VALUES ('{}', '{tenant}', 366)", Uuid::new_v4()), "retention above 365 days"),
        (format!("INSERT INTO ai_use_events (id, tenant_id, occurred_at, tool_name, tool_type, risk_level) VALUES ('{}', '{tenant}', '2026-01-01T00:00:00.000Z', 'ChatGPT', 'web', 'purple')", Uuid::new_v4()), "risk level outside green/amber/red"),
        (format!("INSERT INTO system_config (id, key, value, value_type) VALUES ('{}', 'max', 'ten', 'int')", Uuid::new_v4()), "int config that is not a number"),
        (format!("INSERT INTO system_config (id, key, value, value_type) VALUES ('{}', 'j', '{{nope', 'json')", Uuid::new_v4()), "json config that is not JSON"),
        (format!("INSERT INTO system_config (id, key, value, value_type) VALUES ('{}', 'big', '1234567890123456789', 'int')", Uuid::new_v4()), "int config beyond 18 digits"),
        (format!("INSERT INTO system_config (id, key, value, value_type) VALUES ('{}', 'flag', 'yes', 'bool')", Uuid::new_v4()), "bool config other than true/false"),
    ] {
        assert!(store.execute_raw(&sql).await.is_err(), "accepted: {why}");
    }
    store
        .execute_raw(&format!(
            "INSERT INTO firewall_configs (id, tenant_id) VALUES ('{}', '{tenant}')",
            Uuid::new_v4()
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .scalar_raw("SELECT CAST(log_retention_days AS BIGINT) FROM firewall_configs")
            .await
            .unwrap(),
        90
    );
    store
        .execute_raw(&format!("INSERT INTO system_config (id, key, value, value_type) VALUES ('{}', 'max_parallel', '-12', 'int')", Uuid::new_v4()))
        .await
        .unwrap();
    for (key, value, kind) in [
        ("sample_retention_enabled", "true", "bool"),
        ("allowed_web_domains", "[\"a.example\"]", "json"),
        ("ollama_host", "localhost", "string"),
    ] {
        store
            .execute_raw(&format!("INSERT INTO system_config (id, key, value, value_type) VALUES ('{}', '{key}', '{value}', '{kind}')", Uuid::new_v4()))
            .await
            .unwrap();
    }
}
