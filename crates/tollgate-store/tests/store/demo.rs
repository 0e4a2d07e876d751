use tollgate_domain::demo;
use tollgate_store::demo::DemoOptions;
use tollgate_store::Store;
use tollgate_testkit::{backend_tests, TestDb};

use crate::count;

backend_tests!(seeding_twice_changes_nothing, demo_data_matches_the_seeds);

/// Row counts of every table but `system_scope_log`, which records each cross-tenant job that
/// ran (this snapshot's own `db check` included) rather than data.
async fn snapshot(store: &Store) -> Vec<(String, i64)> {
    let mut tables = store.check().await.unwrap().tables;
    tables.retain(|(name, _)| name != "system_scope_log");
    tables
}

async fn seeding_twice_changes_nothing(db: TestDb) {
    let store = db.migrated().await;
    let first = store.seed_demo(&DemoOptions::default()).await.unwrap();
    assert!(first.changed_anything());
    assert_eq!(first.keys.len(), demo::KEY_COUNT);
    assert!(first.admin_password.is_some());
    assert_eq!(first.usage_rows, demo::USAGE_ROW_COUNT as u64);
    let before = snapshot(&store).await;
    let keys_before = store
        .strings_raw("SELECT key_hash FROM api_keys ORDER BY key_hash")
        .await
        .unwrap();

    let second = store.seed_demo(&DemoOptions::default()).await.unwrap();
    assert!(!second.changed_anything(), "{second:?}");
    assert_eq!(snapshot(&store).await, before);
    assert_eq!(
        store
            .strings_raw("SELECT key_hash FROM api_keys ORDER BY key_hash")
            .await
            .unwrap(),
        keys_before
    );
}

async fn demo_data_matches_the_seeds(db: TestDb) {
    let store = db.migrated().await;
    let report = store
        .seed_demo(&DemoOptions {
            currency: "EUR".into(),
            budget_period: "monthly".into(),
        })
        .await
        .unwrap();

    let app = store
        .strings_raw(&format!(
            "SELECT app_name || '|' || CAST(allowed_origins AS TEXT) FROM apps WHERE id = '{}'",
            demo::APP_ID
        ))
        .await
        .unwrap();
    assert!(app[0].starts_with("Demo App - AGB Generator|"), "{app:?}");
    for origin in demo::ALLOWED_ORIGINS {
        assert!(app[0].contains(origin));
    }
    // Only hashes are stored: no secret appears anywhere in the keys table.
    let stored = store
        .strings_raw("SELECT key_prefix || '|' || key_hash FROM api_keys")
        .await
        .unwrap()
        .join("\n");
    for (_, secret) in &report.keys {
        assert!(!stored.contains(secret.as_str()));
        assert!(stored.contains(&secret[..14]), "prefix kept");
    }
    let team = store
        .strings_raw("SELECT name || '|' || CAST(budget_micros AS TEXT) || '|' || budget_currency || '|' || budget_period FROM teams WHERE parent_team_id IS NULL")
        .await
        .unwrap();
    assert_eq!(
        team,
        vec!["Organization|100000000000|EUR|monthly".to_string()]
    );

    // The admin must change the generated password, which is not stored in clear.
    let admin = store
        .strings_raw(&format!("SELECT password_hash FROM users WHERE email = '{}' AND must_change_password AND is_superuser", demo::ADMIN_EMAIL))
        .await
        .unwrap();
    assert_eq!(admin.len(), 1);
    let password = report.admin_password.unwrap();
    assert!(admin[0].starts_with("$argon2id$") && !admin[0].contains(&password));
    assert!(tollgate_domain::password::verify(&password, &admin[0]).unwrap());

    assert_eq!(
        count(&store, "policy_assignments").await,
        4,
        "the four default policies apply to the demo tenant"
    );
    assert_eq!(
        store
            .scalar_raw("SELECT count(DISTINCT provider) FROM usage_logs")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.scalar_raw("SELECT count(*) FROM usage_logs WHERE prompt_length BETWEEN 50 AND 250 AND tokens_used BETWEEN 0 AND 200").await.unwrap(),
        10
    );
    assert_eq!(
        store
            .scalar_raw("SELECT CAST(sum(request_count) AS BIGINT) FROM usage_hourly")
            .await
            .unwrap(),
        10,
        "rollups cover every demo row"
    );

    let admin_id = store
        .strings_raw("SELECT CAST(id AS TEXT) FROM users")
        .await
        .unwrap();
    let admin_id = uuid::Uuid::parse_str(&admin_id[0]).unwrap();
    let permissions = store
        .permissions_of(demo::TENANT_ID, admin_id)
        .await
        .unwrap();
    assert!(
        permissions.contains(&"*".to_string()) && permissions.contains(&"usage:read".to_string()),
        "{permissions:?}"
    );
    assert!(
        store
            .permissions_of(uuid::Uuid::new_v4(), admin_id)
            .await
            .unwrap()
            .is_empty(),
        "no permissions in another tenant"
    );
    let user = store.user(demo::TENANT_ID, admin_id).await.unwrap();
    assert!(user.must_change_password && user.email == demo::ADMIN_EMAIL);
    let tree = store.team_tree(demo::TENANT_ID).await.unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(
        (tree[0].name.as_str(), tree[0].depth, tree[0].member_count),
        ("Organization", 1, 1)
    );
}
