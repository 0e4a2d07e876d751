//! Storage tests. Each scenario is written once and runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod append_only;
mod credits;
mod demo;
mod devices;
mod erasure;
mod hierarchy;
mod integrity;
mod ledger;
mod migrations;
mod row_security;
mod sequencer;
mod usage;
mod views;

use tollgate_store::tenants::{NewApp, NewTenant};
use tollgate_store::{Scope, Store};
use uuid::Uuid;

/// A tenant with one app, created in one transaction; returns (tenant, app).
pub async fn tenant_with_app(store: &Store, email: &str) -> (Uuid, Uuid) {
    let (tenant, app) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = store
        .begin_change(Scope::System("test fixture"))
        .await
        .unwrap();
    tx.insert_tenant(&NewTenant {
        id: tenant,
        name: "T".into(),
        email: email.into(),
    })
    .await
    .unwrap();
    tx.insert_app(&NewApp {
        id: app,
        tenant_id: tenant,
        name: "App".into(),
        allowed_origins: vec!["https://a.example".into()],
    })
    .await
    .unwrap();
    tx.commit(tollgate_testkit::fixture_entry()).await.unwrap();
    (tenant, app)
}

/// Row count of a table.
pub async fn count(store: &Store, table: &str) -> i64 {
    store
        .scalar_raw(&format!("SELECT count(*) FROM {table}"))
        .await
        .unwrap()
}
