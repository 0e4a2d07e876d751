//! The real server on a random port, against both backends.

use tollgate_testkit::{backend_tests, Backend, TestApp, TestDb};

backend_tests!(
    health_and_request_ids,
    ready_until_migrations_fall_behind,
    unready_when_the_database_goes_away,
    unmigrated_database_is_unready_when_migration_on_start_is_off,
    metrics_count_requests,
    unknown_paths_get_a_json_404,
    stops_on_signal,
);

async fn health_and_request_ids(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let a = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(a.status(), 200);
    let id_a = a.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = a.json().await.unwrap();
    assert_eq!(body["status"], "alive");

    let b = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-chosen")
        .send()
        .await
        .unwrap();
    let id_b = b.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id_a, id_b);
    assert_ne!(
        id_b, "client-chosen",
        "request ids are always the gateway's own"
    );
    assert!(uuid::Uuid::parse_str(&id_b).is_ok());
}

async fn ready_until_migrations_fall_behind(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().contains_key("x-request-id"));

    // A newer replica applied a migration this build does not know: still ready (rolling upgrade).
    let checksum = match db.backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "'\\x00'::bytea",
    };
    app.store
        .execute_raw(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from a newer release', true, {checksum}, 0)"
        ))
        .await
        .unwrap();
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.store
        .execute_raw("DELETE FROM _sqlx_migrations WHERE version = 9999")
        .await
        .unwrap();

    app.store.migrate_down(4, false).await.unwrap();
    let unready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(unready.status(), 503);
    let body: serde_json::Value = unready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert!(body["checks"]["migrations"]
        .as_str()
        .unwrap()
        .contains("migrate up"));
}

async fn unready_when_the_database_goes_away(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    match db.backend {
        // The server loses its database: every connection is terminated and it is dropped.
        Backend::Postgres => db.drop_database().await,
        // A SQLite file cannot vanish under open handles; a closed pool is the equivalent.
        Backend::Sqlite => app.store.close().await,
    }
    let unready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(unready.status(), 503);
    let body: serde_json::Value = unready.json().await.unwrap();
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["database"], "unreachable");
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still alive"
    );
}

async fn unmigrated_database_is_unready_when_migration_on_start_is_off(db: TestDb) {
    let mut settings = db.settings();
    settings.database.migrate_on_start = false;
    let app = TestApp::spawn_with(settings).await;
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    app.store.migrate_up(None, false).await.unwrap();
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn metrics_count_requests(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    app.client.get(app.url("/healthz")).send().await.unwrap();
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "tollgate_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("tollgate_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

async fn unknown_paths_get_a_json_404(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("x-request-id"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

async fn stops_on_signal(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let url = app.url("/healthz");
    let client = app.client.clone();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    app.stop().await.unwrap();
    assert!(
        reqwest::Client::new().get(&url).send().await.is_err(),
        "nothing listens after shutdown"
    );
}
