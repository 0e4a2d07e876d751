//! The OpenAI-compatible data plane against the mock provider, on both backends.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_config::CreditRule;
use tollgate_domain::key::{issue, KeyKind};
use tollgate_testkit::{backend_tests, TestApp, TestDb};

use crate::fixtures::{chat, key_with, limit_models, unspent_credits, usage_row};

backend_tests!(
    answers_a_chat_completion_and_records_usage,
    streams_with_usage_last_when_asked,
    refuses_bad_keys_models_and_bodies,
    revoked_keys_stop_working,
    concurrent_calls_never_overspend_credits,
    an_idle_key_gets_its_credit_lease_back,
    refuses_impossible_requests_in_the_openai_shape,
    a_client_that_goes_away_gets_its_credits_back,
    browsers_only_from_the_apps_allowed_origins,
    every_answered_call_is_recorded_by_shutdown,
    embeds_as_floats_or_base64,
    speaks_the_anthropic_messages_api,
    a_key_limited_to_some_models_sees_and_calls_only_those,
);

async fn answers_a_chat_completion_and_records_usage(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let r = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-small", "What does Tollgate do?"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let cost: i64 = r.headers()["x-tollgate-cost-micros"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "mock-small");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.ends_with("You said: What does Tollgate do?"), "{text}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    // One usage record, keyed by the request id, with metadata only.
    let row = usage_row(&app.store, &request_id)
        .await
        .expect("a usage record");
    assert_eq!(
        row,
        format!(
            "mock-small|{}|{}|success|{cost}",
            usage["prompt_tokens"], usage["completion_tokens"]
        )
    );

    let models: Value = app
        .client
        .get(app.url("/v1/models"))
        .header("x-api-key", &secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["mock-small", "mock-large", "mock-embed"]);
}

async fn streams_with_usage_last_when_asked(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    for include_usage in [true, false] {
        let mut body = chat("mock-large", "stream this please");
        body["stream"] = json!(true);
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let r = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let text = r.text().await.unwrap();
        // A comment before the end tells curl users the cost; SSE clients skip it.
        assert!(text.contains("\n\n: tollgate cost_micros="), "{text}");
        let events: Vec<&str> = text
            .split("\n\n")
            .filter(|e| !e.is_empty() && !e.starts_with(':'))
            .collect();
        assert_eq!(*events.last().unwrap(), "data: [DONE]");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect();
        let content: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"]
                    .get(0)
                    .and_then(|ch| ch["delta"]["content"].as_str())
            })
            .collect();
        assert!(
            content.ends_with("You said: stream this please"),
            "{content}"
        );
        let with_usage: Vec<&Value> = chunks
            .iter()
            .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
            .collect();
        if include_usage {
            assert_eq!(with_usage.len(), 1, "usage comes once");
            assert!(
                std::ptr::eq(with_usage[0], chunks.last().unwrap()),
                "and last"
            );
            assert_eq!(chunks.last().unwrap()["choices"], json!([]));
        } else {
            assert!(with_usage.is_empty(), "no usage chunk unless asked");
        }
    }
}

async fn refuses_bad_keys_models_and_bodies(db: TestDb) {
    let mut settings = db.settings();
    settings.gateway.max_body_bytes = 4096;
    let app = TestApp::spawn_with(settings).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let url = app.url("/v1/chat/completions");
    let admin_shaped = issue(KeyKind::Admin, &mut rand::thread_rng()).secret;
    let unknown = issue(KeyKind::Gateway, &mut rand::thread_rng()).secret;

    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            app.client.post(&url).json(&chat("mock-small", "hi")),
            401,
            "missing_api_key",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth("sk-not-ours")
                .json(&chat("mock-small", "hi")),
            401,
            "invalid_api_key",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&unknown)
                .json(&chat("mock-small", "hi")),
            401,
            "invalid_api_key",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&admin_shaped)
                .json(&chat("mock-small", "hi")),
            401,
            "wrong_key_kind",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&secret)
                .json(&chat("gpt-9", "hi")),
            404,
            "model_not_found",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&secret)
                .header("content-type", "application/json")
                .body("{\"model\": \"mock-small\", \"messages\": [{\"content\": \"x\"}]}"),
            400,
            "invalid_json",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&secret)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "invalid_json",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&secret)
                .json(&chat("mock-small", &"x".repeat(5000))),
            413,
            "request_too_large",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&secret)
                .json(&chat("mock-small", "fail please [mock:status 503]")),
            502,
            "upstream_error",
        ),
    ];
    for (request, status, code) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{code}");
        assert!(r.headers().contains_key("x-request-id"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        match code {
            "model_not_found" => assert!(message.contains("mock-small, mock-large"), "{message}"),
            "invalid_json" if message.contains("messages") => {
                assert!(message.contains("messages[0]"), "{message}")
            }
            "upstream_error" => assert!(message.contains("`mock`"), "{message}"),
            _ => {}
        }
    }
}

async fn revoked_keys_stop_working(db: TestDb) {
    let mut settings = db.settings();
    settings.gateway.key_cache_seconds = 0;
    let app = TestApp::spawn_with(settings).await;
    let (_, key_id, secret) = key_with(&app.store, None).await;
    let call = || {
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&chat("mock-small", "hi"))
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);
    app.store
        .execute_raw(&format!(
            "UPDATE api_keys SET is_active = false, revoked_at = '2026-11-02T10:00:00.000Z' WHERE id = '{key_id}'"
        ))
        .await
        .unwrap();
    let r = call().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "key_revoked");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-11-02"),
        "{body}"
    );
}

async fn concurrent_calls_never_overspend_credits(db: TestDb) {
    const ALLOWED: usize = 5;
    let mut settings = db.settings();
    settings.gateway.credit_rule = CreditRule::Request;
    settings.gateway.credits_per_request = 1_000;
    let app = TestApp::spawn_with(settings).await;
    let credits = 1_000 * ALLOWED as i64;
    let (_, key_id, secret) = key_with(&app.store, Some(credits)).await;
    let calls: Vec<_> = (0..ALLOWED * 4)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/v1/chat/completions"))
                .bearer_auth(&secret)
                .json(&chat("mock-small", "hi"));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        ALLOWED,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        ALLOWED * 3,
        "{statuses:?}"
    );
    // Once the calls are stored, exactly what they were charged is gone from the key.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let charged = app
            .store
            .scalar_raw(&format!("SELECT CAST(COALESCE(sum(credits_deducted), 0) AS BIGINT) FROM usage_logs WHERE api_key_id = '{key_id}'"))
            .await
            .unwrap();
        let unspent = unspent_credits(&app.store, key_id).await;
        assert!(unspent >= 0);
        if unspent == 0 && charged == credits {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "unspent {unspent}, charged {charged} of {credits}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_idle_key_gets_its_credit_lease_back(db: TestDb) {
    let mut settings = db.settings();
    settings.gateway.credit_lease_idle_seconds = 1;
    let app = TestApp::spawn_with(settings).await;
    let (_, key_id, secret) = key_with(&app.store, Some(50_000_000)).await;
    let r = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-small", "one call"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cost: i64 = r.headers()["x-tollgate-cost-micros"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(cost > 0);
    let outside = format!("SELECT credits_remaining FROM api_keys WHERE id = '{key_id}'");
    assert!(
        app.store.scalar_raw(&outside).await.unwrap() < 50_000_000 - cost,
        "a lease was taken"
    );
    // Idle for a second: the lease goes home, less what the call cost.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.store.scalar_raw(&outside).await.unwrap() != 50_000_000 - cost {
        assert!(
            Instant::now() < deadline,
            "the idle lease did not come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(unspent_credits(&app.store, key_id).await, 50_000_000 - cost);
}

async fn refuses_impossible_requests_in_the_openai_shape(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let url = app.url("/v1/chat/completions");
    let long = "word ".repeat(20_000);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, Option<&str>)> = vec![
        (app.client.get(&url).bearer_auth(&secret), 405, "method_not_allowed", None),
        (app.client.post(app.url("/v1/completions")).bearer_auth(&secret), 404, "unknown_url", None),
        (app.client.post(&url).bearer_auth(&secret).json(&json!({"model": "mock-small", "messages": []})), 400, "invalid_request", Some("messages")),
        (app.client.post(&url).bearer_auth(&secret).json(&json!({"model": "mock-small", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})), 400, "invalid_request", Some("stream_options")),
        (app.client.post(&url).bearer_auth(&secret).json(&json!({"model": "mock-small", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0})), 400, "invalid_request", Some("max_tokens")),
        (app.client.post(&url).bearer_auth(&secret).json(&chat("mock-small", &long)), 400, "context_length_exceeded", Some("messages")),
        (app.client.get(app.url("/v1/models/nope")).bearer_auth(&secret), 404, "model_not_found", Some("model")),
    ];
    for (request, status, code, param) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{code}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["param"].as_str(), param, "{body}");
    }
    // `stream: null` is not streaming, and one model can be fetched by name.
    let r = app.client.post(&url).bearer_auth(&secret).json(&json!({"model": "mock-small", "stream": null, "messages": [{"role": "user", "content": "x"}]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let model: Value = app
        .client
        .get(app.url("/v1/models/mock-large"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(model["id"], "mock-large");
}

async fn a_client_that_goes_away_gets_its_credits_back(db: TestDb) {
    let mut settings = db.settings();
    settings.providers.get_mut("mock").unwrap().latency_ms = 2_000;
    settings.gateway.credit_rule = CreditRule::Request;
    let per_call = settings.gateway.credits_per_request;
    let app = TestApp::spawn_with(settings).await;
    // Credits for one call.
    let (_, key_id, secret) = key_with(&app.store, Some(per_call)).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gone = impatient
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-small", "take your time"))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    // Its hold went back, so the one call the key pays for can still be made, once.
    let call = || {
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&chat("mock-small", "now wait"))
            .send()
    };
    // The server learns that the client left when it reads the closed connection, which
    // under load can come after this next call: until then the key's one credit is held.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = call().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 402);
        assert!(Instant::now() < deadline, "the hold never went back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(call().await.unwrap().status(), 402);
    let deadline = Instant::now() + Duration::from_secs(10);
    while unspent_credits(&app.store, key_id).await != 0 {
        assert!(
            Instant::now() < deadline,
            "the answered call was not charged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn browsers_only_from_the_apps_allowed_origins(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let url = app.url("/v1/chat/completions");

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let allowed = app
        .client
        .post(&url)
        .bearer_auth(&secret)
        .header("origin", "https://app.example.com")
        .json(&chat("mock-small", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );

    let refused = app
        .client
        .post(&url)
        .bearer_auth(&secret)
        .header("origin", "https://evil.example.com")
        .json(&chat("mock-small", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("https://evil.example.com"));
}

async fn every_answered_call_is_recorded_by_shutdown(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (tenant, _, secret) = key_with(&app.store, None).await;
    let store = db.store().await;
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let request = app
                .client
                .post(app.url("/v1/chat/completions"))
                .bearer_auth(&secret)
                .json(&chat("mock-small", &format!("call {i}")));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut answered = 0;
    for call in calls {
        if call.await.unwrap() == 200 {
            answered += 1;
        }
    }
    assert_eq!(answered, 200);
    app.stop().await.unwrap();
    let recorded = store
        .scalar_raw(&format!(
            "SELECT count(*) FROM usage_logs WHERE tenant_id = '{tenant}'"
        ))
        .await
        .unwrap();
    assert_eq!(
        recorded, 200,
        "the queue is written before the server stops"
    );
    let rolled = store
        .scalar_raw(&format!("SELECT CAST(sum(request_count) AS BIGINT) FROM usage_hourly WHERE tenant_id = '{tenant}'"))
        .await
        .unwrap();
    assert_eq!(rolled, 200, "and rolled up");
}

async fn embeds_as_floats_or_base64(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, Some(1_000_000)).await;
    let url = app.url("/v1/embeddings");
    let floats: Value = app
        .client
        .post(&url)
        .bearer_auth(&secret)
        .json(&json!({"model": "mock-embed", "input": ["same text", "other text", "same text"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(
        data[0]["embedding"], data[2]["embedding"],
        "equal texts embed equally"
    );
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert!(floats["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let short: Value = app
        .client
        .post(&url)
        .bearer_auth(&secret)
        .json(&json!({"model": "mock-embed", "input": "x", "encoding_format": "base64", "dimensions": 8}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        short["data"][0]["embedding"].as_str().unwrap().len(),
        44,
        "8 f32 = 32 bytes = 44 base64 chars"
    );

    for (body, code, param) in [
        (
            json!({"model": "mock-small", "input": "x"}),
            "invalid_request",
            "model",
        ),
        (
            json!({"model": "mock-embed", "input": []}),
            "invalid_request",
            "input",
        ),
        (
            json!({"model": "mock-embed", "input": "x", "dimensions": 9999}),
            "invalid_request",
            "dimensions",
        ),
    ] {
        let r = app
            .client
            .post(&url)
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(
            (e["error"]["code"].as_str(), e["error"]["param"].as_str()),
            (Some(code), Some(param)),
            "{e}"
        );
    }
    let chat_with_embedder = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-embed", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(chat_with_embedder.status(), 400);
}

async fn speaks_the_anthropic_messages_api(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let url = app.url("/v1/messages");
    let body = json!({"model": "mock-small", "max_tokens": 50, "system": "be brief",
                      "messages": [{"role": "user", "content": "Hello Anthropic"}]});
    let r = app
        .client
        .post(&url)
        .header("x-api-key", &secret)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["type"], "message");
    assert!(m["content"][0]["text"]
        .as_str()
        .unwrap()
        .ends_with("You said: Hello Anthropic"));
    assert_eq!(m["stop_reason"], "end_turn");
    assert!(m["usage"]["input_tokens"].as_u64().unwrap() > 0);

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let text = app
        .client
        .post(&url)
        .header("x-api-key", &secret)
        .json(&streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_delta") && names.contains(&"message_delta"));

    let bad = app
        .client
        .post(&url)
        .header("x-api-key", "nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let e: Value = bad.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "authentication_error");
}

async fn a_key_limited_to_some_models_sees_and_calls_only_those(db: TestDb) {
    let mut settings = db.settings();
    settings.gateway.key_cache_seconds = 0;
    let app = TestApp::spawn_with(settings).await;
    let (_, key_id, secret) = key_with(&app.store, None).await;
    limit_models(&app.store, key_id, Some(&["mock-small"])).await;
    let get = |path: &str| app.client.get(app.url(path)).bearer_auth(&secret).send();

    let listed: Value = get("/v1/models").await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mock-small"], "{listed}");
    assert_eq!(get("/v1/models/mock-small").await.unwrap().status(), 200);
    assert_eq!(get("/v1/models/mock-large").await.unwrap().status(), 403);

    let call = |model: &str| {
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&chat(model, "hi"))
            .send()
    };
    assert_eq!(call("mock-small").await.unwrap().status(), 200);
    let r = call("mock-large").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().contains_key("x-request-id"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_allowed", "{body}");
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(body["error"]["param"], "model");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`test key`") && message.contains("may call: mock-small."),
        "{message}"
    );
    let r = call("gpt-9").await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("available models: mock-small"),
        "only what the key may call is offered: {body}"
    );

    let r = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &secret)
        .json(&json!({"model": "mock-large", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "permission_error", "{e}");

    limit_models(&app.store, key_id, Some(&[])).await;
    let body: Value = call("mock-small").await.unwrap().json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may call: none."),
        "an empty list parks the key: {body}"
    );
    limit_models(&app.store, key_id, None).await;
    let listed: Value = get("/v1/models").await.unwrap().json().await.unwrap();
    assert!(
        listed["data"].as_array().unwrap().len() > 1,
        "a lifted limit gives every model back: {listed}"
    );
}
