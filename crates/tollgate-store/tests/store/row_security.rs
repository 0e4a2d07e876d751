//! PostgreSQL row-level security: a query that names no tenant sees no tenant's rows.

use sqlx::{Connection, PgConnection, Row};
use tollgate_domain::demo;
use tollgate_store::demo::DemoOptions;
use tollgate_store::usage::UsageRecord;
use tollgate_store::{Scope, StoreError};
use tollgate_testkit::{Backend, TestDb};
use uuid::Uuid;

use crate::tenant_with_app;

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(conn).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_without_a_tenant_see_no_tenant_rows() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    let (other, _) = tenant_with_app(&store, "other@example.com").await;

    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    // No tenant named: nothing of any tenant, though the built-in roles stay visible.
    for table in [
        "tenants",
        "apps",
        "api_keys",
        "users",
        "usage_logs",
        "usage_hourly",
        "audit_log",
    ] {
        assert_eq!(
            count(&mut conn, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table} leaked"
        );
    }
    assert_eq!(count(&mut conn, "SELECT count(*) FROM roles").await, 10);
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM usage_logs WHERE tenant_id IS NOT NULL"
        )
        .await,
        0
    );

    // Naming a tenant shows that tenant only.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('tollgate.tenant_id', $1, true)")
        .bind(demo::TENANT_ID.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count(&mut tx, "SELECT count(*) FROM usage_logs").await, 10);
    assert_eq!(count(&mut tx, "SELECT count(*) FROM tenants").await, 1);
    // Writing into another tenant is refused.
    let foreign = sqlx::query("INSERT INTO apps (id, tenant_id, app_name) VALUES ($1, $2, 'x')")
        .bind(Uuid::new_v4())
        .bind(other)
        .execute(&mut *tx)
        .await;
    assert!(foreign.is_err(), "wrote into another tenant");
    drop(tx);

    // Built-in roles and policies are readable in a tenant's scope but not changeable.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('tollgate.tenant_id', $1, true)")
        .bind(demo::TENANT_ID.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        count(
            &mut tx,
            "SELECT count(*) FROM policies WHERE tenant_id IS NULL"
        )
        .await,
        4
    );
    for sql in [
        "DELETE FROM policy_assignments",
        "DELETE FROM policies WHERE tenant_id IS NULL",
        "UPDATE roles SET permissions = '[\"*\"]' WHERE tenant_id IS NULL",
    ] {
        let changed = sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        if sql.contains("policy_assignments") {
            assert_eq!(changed, 4, "the tenant's own assignments are its to change");
        } else {
            assert_eq!(changed, 0, "{sql} changed built-in rows");
        }
    }
    drop(tx);

    // The store's tenant scope sees the same.
    let rec = |tenant: Uuid| UsageRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        app_id: None,
        api_key_id: None,
        team_id: None,
        subject_id: None,
        device_id: None,
        provider: "mock".into(),
        model: "m".into(),
        endpoint: tollgate_store::usage::Endpoint::Chat,
        prompt_length: 1,
        pii_detected: false,
        pii_types: Vec::new(),
        prompt_tokens: 1,
        completion_tokens: 1,
        cost_micros: 1,
        credits_deducted: 0,
        latency_ms: None,
        upstream_latency_ms: None,
        error_type: None,
        http_status: Some(200),
        streamed: false,
        created_at: chrono::Utc::now(),
    };
    assert_eq!(
        store
            .insert_usage(&[rec(other), rec(demo::TENANT_ID)], None)
            .await
            .unwrap(),
        2
    );
    let mut tx = store.begin_change(Scope::Tenant(other)).await.unwrap();
    let err = tx
        .insert_tenant(&tollgate_store::tenants::NewTenant {
            id: Uuid::new_v4(),
            name: "sneaky".into(),
            email: "sneaky@example.com".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Database(_) | StoreError::Refused(_)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_tenant_jobs_are_recorded() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let store = db.migrated().await;
    store.seed_demo(&DemoOptions::default()).await.unwrap();
    store.erase_tenant(demo::TENANT_ID, "test").await.unwrap();
    let jobs = store
        .strings_raw("SELECT job || '|' || db_user FROM system_scope_log ORDER BY txid")
        .await
        .unwrap();
    assert!(
        jobs.contains(&"demo seed|tollgate_test_owner".to_string()),
        "{jobs:?}"
    );
    assert!(
        jobs.iter()
            .any(|j| j.starts_with(&format!("erase tenant {}", demo::TENANT_ID))),
        "{jobs:?}"
    );
    assert!(
        store
            .execute_raw("DELETE FROM system_scope_log")
            .await
            .is_err(),
        "the record is append-only"
    );
}
