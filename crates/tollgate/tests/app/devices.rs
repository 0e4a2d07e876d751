//! Seed 001's device API as an extension or agent uses it, and the admin routes that configure
//! it: register for a token, fetch the firewall configuration (cached, revalidated), scan text
//! (nothing stored), report events (stored once, metadata only), custom patterns checked when
//! saved, retention on demand, on a schedule, and once across replicas.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate_domain::audit::SCOPE_READ;
use tollgate_domain::scope::{DEVICES_READ, DEVICES_WRITE, FIREWALL_WRITE, RETENTION_RUN};
use tollgate_store::demo::DemoOptions;
use tollgate_store::Store;
use tollgate_testkit::{backend_tests, TestApp, TestDb};

use crate::fixtures::{admin_key, key_with};

backend_tests!(
    a_device_registers_scans_and_reports,
    an_admin_configures_the_firewall_and_devices_follow,
    retention_runs_on_demand_and_once_across_replicas,
);

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
    call(app, reqwest::Method::POST, path, key, Some(body)).await
}

async fn register(app: &TestApp, key: &str, device_id: &str) -> String {
    let (status, body) = post(
        app,
        "/v1/devices/register",
        key,
        json!({"device_id": device_id, "device_type": "browser", "name": "Jane's laptop"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tg_dev_"), "{token}");
    token
}

async fn count(store: &Store, sql: &str) -> i64 {
    store.scalar_raw(sql).await.unwrap()
}

fn event(id: &str, metadata: Value) -> Value {
    json!({
        "id": id, "tool_name": "ChatGPT", "tool_type": "web", "domain": "chatgpt.com",
        "risk_level": "amber", "prompt_length": 120, "detected_entity_types": ["EMAIL"],
        "was_sanitized": true, "metadata": metadata
    })
}

async fn a_device_registers_scans_and_reports(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (tenant, _, gateway_key) = key_with(&app.store, None).await;
    let token = register(&app, &gateway_key, "ext-42").await;

    // The configuration, with caching headers; an unchanged one is a 304.
    let r = app
        .client
        .get(app.url("/v1/firewall/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["cache-control"], "private, max-age=300");
    let config: Value = r.json().await.unwrap();
    assert_eq!(config["log_retention_days"], 90);
    let r = app
        .client
        .get(app.url("/v1/firewall/config"))
        .bearer_auth(&token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // A proxy that compressed the answer marks the tag weak: still the same configuration.
    let r = app
        .client
        .get(app.url("/v1/firewall/config"))
        .bearer_auth(&token)
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // The thresholds in force are shown, not an empty object.
    assert_eq!(
        config["sensitivity_thresholds"],
        json!({"amber": 1, "red": 3, "red_types": ["SECRET"]})
    );

    // A scan: risk, action, findings, and the text to offer instead. Nothing is stored.
    let text = "Mail jane.doe@example.com the key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    let (status, scan) = post(&app, "/v1/scan", &token, json!({ "text": text })).await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(scan["risk"], "red");
    assert_eq!(scan["action"], "redact");
    assert_eq!(scan["counts"], json!({"EMAIL": 1, "SECRET": 1}));
    assert_eq!(
        scan["redacted"], "Mail [EMAIL_1] the key [SECRET_1]",
        "{scan}"
    );
    assert_eq!(scan["findings"][0]["start"], 5);
    // Character offsets for JavaScript and Python callers.
    let (_, scan) = post(
        &app,
        "/v1/scan",
        &token,
        json!({ "text": "Grüße, jane.doe@example.com", "offsets": "chars" }),
    )
    .await;
    assert_eq!(
        (scan["findings"][0]["start"].as_u64(), scan["risk"].as_str()),
        (Some(7), Some("amber"))
    );
    let (_, clean) = post(
        &app,
        "/v1/scan",
        &token,
        json!({ "text": "Summarise this memo" }),
    )
    .await;
    assert_eq!(
        (clean["risk"].as_str(), clean["action"].as_str()),
        (Some("green"), Some("allow"))
    );
    assert_eq!(clean["redacted"], Value::Null);
    assert_eq!(
        count(&app.store, "SELECT count(*) FROM ai_use_events").await,
        0
    );

    // Events: stored once however often the batch is sent.
    let batch =
        json!({"events": [event("e1", json!({"browser": "Firefox 133"})), event("e2", json!({}))]});
    let (status, body) = post(&app, "/v1/events", &token, batch.clone()).await;
    assert_eq!(
        (status, body["stored"].as_u64()),
        (StatusCode::ACCEPTED, Some(2)),
        "{body}"
    );
    let (_, body) = post(&app, "/v1/events", &token, batch).await;
    assert_eq!(body["stored"], 0);
    // A bad batch is refused whole, every bad field named; personal data in metadata too.
    let (status, body) = post(
        &app,
        "/v1/events",
        &token,
        json!({"events": [
            event("e3", json!({"page": {"notes": ["ok", "asked about jane.doe@example.com"]}})),
            {"tool_name": "", "tool_type": "phone", "risk_level": "purple",
             "occurred_at": "2020-01-01T00:00:00Z"}
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "events[0].metadata.page.notes[1]",
            "events[1].occurred_at",
            "events[1].tool_name",
            "events[1].tool_type",
            "events[1].risk_level"
        ]
    );
    assert!(!body.to_string().contains("jane.doe"), "{body}");
    assert_eq!(
        count(&app.store, "SELECT count(*) FROM ai_use_events").await,
        2
    );

    // Keys stay in their lanes.
    let (status, body) = post(&app, "/v1/scan", &gateway_key, json!({"text": "x"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("wrong_key_kind"))
    );
    let (status, _) = post(
        &app,
        "/v1/chat/completions",
        &token,
        crate::fixtures::chat("mock-small", "hi"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post(
        &app,
        "/v1/devices/register",
        &gateway_key,
        json!({"device_id": "", "device_type": "tv"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A gateway key cannot take a registered device over (nor revive one an admin turned
    // off): the device keeps its token.
    let (status, body) = post(
        &app,
        "/v1/devices/register",
        &gateway_key,
        json!({"device_id": "ext-42", "device_type": "browser"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = post(&app, "/v1/scan", &token, json!({"text": "x"})).await;
    assert_eq!(status, 200);
    let new_token = register(&app, &gateway_key, "ext-43").await;
    let (status, _) = post(&app, "/v1/scan", &new_token, json!({"text": "x"})).await;
    assert_eq!(status, 200);
    let registered = count(
        &app.store,
        &format!("SELECT count(*) FROM audit_log WHERE action = 'device.register' AND tenant_id = '{tenant}'"),
    )
    .await;
    assert_eq!(registered, 2);
    app.stop().await.unwrap();
}

async fn an_admin_configures_the_firewall_and_devices_follow(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    app.store.seed_demo(&DemoOptions::default()).await.unwrap();
    let admin = admin_key(
        &app.store,
        &[FIREWALL_WRITE, DEVICES_READ, DEVICES_WRITE, RETENTION_RUN],
    )
    .await;
    let put = |body: Value, if_match: Option<String>| {
        let mut r = app
            .client
            .put(app.url("/api/v1/firewall/config"))
            .bearer_auth(&admin)
            .json(&body);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        r.send()
    };

    // A pattern that does not compile is a 422 naming it, and nothing changes.
    let r = put(
        json!({"custom_patterns": [{"name": "project", "regex": "PRJ-(\\d{4}"}]}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["errors"][0]["field"], "custom_patterns[0].regex",
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a valid regular expression"));
    let (_, shown) = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/firewall/config",
        &admin,
        None,
    )
    .await;
    assert_eq!(shown["custom_patterns"], json!([]));

    let config = json!({
        "monitored_tools": [{"name": "ChatGPT", "domains": ["chatgpt.com"]}],
        "sensitivity_thresholds": {"amber": 1, "red": 3, "red_types": ["SECRET", "CUSTOM"]},
        "custom_patterns": [{"name": "project", "regex": "PRJ-\\d{4}"}],
        "log_retention_days": 30
    });
    let r = put(config.clone(), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    // A stale If-Match is refused; the current one goes through.
    let r = put(config.clone(), Some("\"0000\"".into())).await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let r = put(config.clone(), Some(etag.clone())).await.unwrap();
    assert_eq!(r.status(), 200);

    // A device of the tenant sees the configuration and its pattern finds.
    let token = register(&app, &admin, "agent-1").await;
    let r = app
        .client
        .get(app.url("/v1/firewall/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["custom_patterns"][0]["name"], "project");
    let (_, scan) = post(
        &app,
        "/v1/scan",
        &token,
        json!({"text": "status of PRJ-1234?"}),
    )
    .await;
    assert_eq!(scan["risk"], "red", "{scan}");
    assert_eq!(scan["findings"][0]["label"], "project");

    // Devices are listed and can be deactivated.
    let (_, listed) = call(&app, reqwest::Method::GET, "/api/v1/devices", &admin, None).await;
    let device = listed["devices"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/devices/{device}/deactivate"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = post(&app, "/v1/scan", &token, json!({"text": "x"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("device_inactive"))
    );
    // An admin registers it again: a new token, active again; the old one stays dead.
    let again = register(&app, &admin, "agent-1").await;
    let (status, _) = post(&app, "/v1/scan", &again, json!({"text": "x"})).await;
    assert_eq!(status, 200);
    let (status, _) = post(&app, "/v1/scan", &token, json!({"text": "x"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Scopes are checked per route.
    let reader = admin_key(&app.store, &[SCOPE_READ]).await;
    let r = put(config, None).await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = call(
        &app,
        reqwest::Method::PUT,
        "/api/v1/firewall/config",
        &reader,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("missing_scope"))
    );
    let (status, _) = post(&app, "/api/v1/retention/run", &reader, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A dry run asked for without a content type is still a dry run.
    let r = app
        .client
        .post(app.url("/api/v1/retention/run"))
        .bearer_auth(&admin)
        .body(r#"{"dry_run": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (
            report["log_retention_days"].as_i64(),
            report["dry_run"].as_bool()
        ),
        (Some(30), Some(true))
    );
    let updates = count(
        &app.store,
        "SELECT count(*) FROM audit_log WHERE action = 'firewall_config.update'",
    )
    .await;
    assert_eq!(updates, 3);
    app.stop().await.unwrap();
}

/// Inserts events `days_ago` old for a device of a fresh tenant; returns its tenant.
async fn old_events(app: &TestApp, days_ago: &[i64]) -> uuid::Uuid {
    let (tenant, _, key) = key_with(&app.store, None).await;
    let token = register(app, &key, "old-device").await;
    let events: Vec<Value> = days_ago
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut e = event(&format!("old-{i}"), json!({}));
            e["occurred_at"] =
                json!((chrono::Utc::now() - chrono::Duration::days(*d)).to_rfc3339());
            e
        })
        .collect();
    let (status, _) = post(app, "/v1/events", &token, json!({ "events": events })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    tenant
}

async fn retention_runs_on_demand_and_once_across_replicas(db: TestDb) {
    // Two replicas on one database, both with the scheduler on: each asks when it starts,
    // and one of them runs it.
    let mut settings = db.settings();
    let seeded = TestApp::spawn_with(settings.clone()).await;
    let tenant = old_events(&seeded, &[1, 100, 200]).await;
    seeded.stop().await.unwrap();
    settings.retention.enabled = true;
    settings.retention.batch_size = 1;
    let a = TestApp::spawn_with(settings.clone()).await;
    // A replica has a journal of its own.
    settings.usage.journal_dir = db.dir().join("journal-b").display().to_string();
    let b = TestApp::spawn_with(settings).await;
    let left = || async {
        count(
            &a.store,
            &format!("SELECT count(*) FROM ai_use_events WHERE tenant_id = '{tenant}'"),
        )
        .await
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while left().await > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler did not run"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the other replica time to ask too: its claim is refused for this interval (the
    // store tests race eight claims).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let runs = count(
        &a.store,
        &format!("SELECT count(*) FROM audit_log WHERE action = 'retention.run' AND tenant_id = '{tenant}'"),
    )
    .await;
    assert_eq!(runs, 2, "two expired events, in batches of one");
    assert_eq!(
        count(
            &a.store,
            "SELECT count(*) FROM job_runs WHERE name = 'retention'"
        )
        .await,
        1
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
