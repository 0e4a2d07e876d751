//! Calls through the real HTTP adapters to the mock provider on its own port: both API
//! surfaces to both kinds of upstream (translated where they differ), tools, retries,
//! fallbacks, upstream errors, sloppy and broken streams, and a caller that leaves.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_config::{ModelKind, ModelSettings, ProviderKind, ProviderSettings, Settings};
use tollgate_testkit::{backend_tests, MockServerConfig, MockUpstream, TestApp, TestDb};

use crate::fixtures::{chat, key_with, limit_models, sse_events, unspent_credits, usage_of};

backend_tests!(
    openai_callers_reach_both_kinds_of_upstream,
    anthropic_callers_reach_both_kinds_of_upstream,
    tools_work_across_the_translation,
    flaky_and_unreachable_upstreams_are_retried_and_fallen_back,
    upstream_errors_reach_the_caller_in_its_shape,
    sloppy_and_broken_streams_still_end_well_formed,
    a_caller_leaving_mid_stream_cancels_the_upstream_call,
    calls_are_counted_with_the_tokenizer_when_the_provider_reports_no_usage,
);

/// The key the mock provider wants.
const UPSTREAM_KEY: &str = "sk-upstream-test-0123456789";

fn provider(kind: ProviderKind, base_url: String, key: &str) -> ProviderSettings {
    ProviderSettings {
        kind,
        base_url,
        api_key: key.to_string(),
        retry_base_ms: 5,
        retry_max_ms: 2_000,
        ..ProviderSettings::default()
    }
}

fn model(name: &str, provider: &str, upstream: &str, fallbacks: &[&str]) -> ModelSettings {
    ModelSettings {
        name: name.into(),
        provider: provider.into(),
        upstream_model: upstream.into(),
        input_micros_per_mtok: 1_000_000,
        output_micros_per_mtok: 2_000_000,
        context_tokens: 100_000,
        fallbacks: fallbacks.iter().map(|f| f.to_string()).collect(),
        kind: ModelKind::Chat,
        dimensions: 0,
    }
}

/// Settings with two providers on the mock server (`compat`, OpenAI-compatible, and `claude`,
/// Anthropic), one with the wrong key, one that is down, and a model on each.
fn through(db: &TestDb, up: &MockUpstream) -> Settings {
    let mut s = db.settings();
    let p = &mut s.providers;
    p.insert(
        "compat".into(),
        provider(ProviderKind::Openai, up.openai_base(), UPSTREAM_KEY),
    );
    p.insert(
        "claude".into(),
        provider(ProviderKind::Anthropic, up.anthropic_base(), UPSTREAM_KEY),
    );
    p.insert(
        "wrongkey".into(),
        provider(
            ProviderKind::Openai,
            up.openai_base(),
            "sk-wrong-key-9876543210",
        ),
    );
    // Port 9 (discard) refuses connections on loopback.
    let mut down = provider(ProviderKind::Openai, "http://127.0.0.1:9/v1".into(), "k");
    down.max_retries = 1;
    p.insert("down".into(), down);
    let mut impatient = provider(ProviderKind::Openai, up.openai_base(), UPSTREAM_KEY);
    impatient.attempt_timeout_ms = 300;
    impatient.max_retries = 0;
    p.insert("impatient".into(), impatient);
    s.models.extend([
        model("gpt-mock", "compat", "mock-small", &[]),
        model("claude-mock", "claude", "mock-large", &[]),
        model("wrong-key", "wrongkey", "mock-small", &[]),
        model("unreachable", "down", "mock-small", &["claude-mock"]),
        model("slow", "impatient", "mock-small", &[]),
    ]);
    s
}

async fn mock() -> MockUpstream {
    MockUpstream::spawn(MockServerConfig {
        api_key: Some(UPSTREAM_KEY.into()),
        ..MockServerConfig::default()
    })
    .await
}

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn openai_callers_reach_both_kinds_of_upstream(db: TestDb) {
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;
    for (name, provider) in [("gpt-mock", "compat"), ("claude-mock", "claude")] {
        let r = post(
            &app,
            "/v1/chat/completions",
            &key,
            &chat(name, "hello there"),
        )
        .await;
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()["x-tollgate-model"], name);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], name, "the caller's name for the model");
        let text = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.ends_with("You said: hello there"), "{name}: {text}");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        let (p, c) = (
            &body["usage"]["prompt_tokens"],
            &body["usage"]["completion_tokens"],
        );
        let row = usage_of(&app.store, &id, "provider || '|' || model || '|' || CAST(prompt_tokens AS TEXT) || '|' || CAST(completion_tokens AS TEXT)").await;
        assert_eq!(
            row.unwrap(),
            format!("{provider}|{name}|{p}|{c}"),
            "the provider's counts are recorded"
        );

        for include_usage in [true, false] {
            let mut body = chat(name, "stream me");
            body["stream"] = json!(true);
            if include_usage {
                body["stream_options"] = json!({"include_usage": true});
            }
            let r = post(&app, "/v1/chat/completions", &key, &body).await;
            assert_eq!(r.status(), 200);
            let (chunks, done) = sse_events(&r.text().await.unwrap());
            assert!(done, "{name}: ends with [DONE]");
            assert!(chunks
                .iter()
                .all(|c| c["model"] == name && c["object"] == "chat.completion.chunk"));
            let text: String = chunks
                .iter()
                .filter_map(|c| {
                    c.pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                })
                .collect();
            assert!(text.ends_with("You said: stream me"), "{name}: {text}");
            let usage: Vec<&Value> = chunks
                .iter()
                .filter(|c| c.get("usage").is_some_and(Value::is_object))
                .collect();
            if include_usage {
                assert_eq!(usage.len(), 1, "{name}: usage once");
                assert_eq!(
                    chunks.last().unwrap()["choices"],
                    json!([]),
                    "{name}: and last"
                );
                assert!(usage[0]["usage"]["completion_tokens"].as_u64().unwrap() > 0);
            } else {
                assert!(
                    usage.is_empty(),
                    "{name}: the usage Tollgate asked for is not forwarded"
                );
            }
        }
    }
}

async fn anthropic_callers_reach_both_kinds_of_upstream(db: TestDb) {
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;
    for name in ["claude-mock", "gpt-mock"] {
        let body = json!({"model": name, "max_tokens": 200, "system": "be brief",
            "messages": [{"role": "user", "content": "hello there"}]});
        let r = post(&app, "/v1/messages", &key, &body).await;
        assert_eq!(r.status(), 200, "{name}");
        let msg: Value = r.json().await.unwrap();
        assert_eq!(msg["type"], "message");
        assert_eq!(msg["model"], name);
        assert_eq!(msg["stop_reason"], "end_turn");
        assert!(msg["content"][0]["text"]
            .as_str()
            .unwrap()
            .ends_with("You said: hello there"));
        assert!(msg["usage"]["input_tokens"].as_u64().unwrap() > 0);

        let mut body = body.clone();
        body["stream"] = json!(true);
        let r = post(&app, "/v1/messages", &key, &body).await;
        let text = r.text().await.unwrap();
        let (events, _) = sse_events(&text);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types.first(), Some(&"message_start"), "{name}: {types:?}");
        assert_eq!(
            &types[types.len() - 2..],
            ["message_delta", "message_stop"],
            "{name}"
        );
        assert!(types.contains(&"content_block_start") && types.contains(&"content_block_stop"));
        assert_eq!(events[0]["message"]["model"], name);
        let delta = &events[events.len() - 2];
        assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
        // Every event is named for its type, as the Anthropic SDK reads them.
        assert!(text.contains("event: message_start\ndata: "));
    }
}

async fn tools_work_across_the_translation(db: TestDb) {
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;
    let tools = json!([{"type": "function", "function": {"name": "weather", "description": "forecast",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    for name in ["gpt-mock", "claude-mock"] {
        let mut body = chat(name, "Paris");
        body["tools"] = tools.clone();
        let r = post(&app, "/v1/chat/completions", &key, &body).await;
        let answer: Value = r.json().await.unwrap();
        let call = &answer["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(
            answer["choices"][0]["finish_reason"], "tool_calls",
            "{name}: {answer}"
        );
        assert_eq!(call["function"]["name"], "weather");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"city": "Paris"}), "{name}");

        // The tool's result goes back; the model reads it.
        body["messages"] = json!([
            {"role": "user", "content": "Paris"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21 C"}
        ]);
        let r = post(&app, "/v1/chat/completions", &key, &body).await;
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"], "The tool answered: sunny, 21 C",
            "{name}"
        );

        // Streamed, the arguments arrive in pieces that add up.
        let mut body = chat(name, "Oslo");
        body["tools"] = tools.clone();
        body["stream"] = json!(true);
        let (chunks, done) = sse_events(
            &post(&app, "/v1/chat/completions", &key, &body)
                .await
                .text()
                .await
                .unwrap(),
        );
        assert!(done);
        let args: String = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"city": "Oslo"}),
            "{name}"
        );

        // And the Anthropic surface sees a tool_use block.
        let body = json!({"model": name, "max_tokens": 100, "messages": [{"role": "user", "content": "Rome"}],
            "tools": [{"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]});
        let msg: Value = post(&app, "/v1/messages", &key, &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(msg["stop_reason"], "tool_use", "{name}: {msg}");
        let block = msg["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "tool_use")
            .unwrap();
        assert_eq!(block["input"], json!({"city": "Rome"}));
    }
}

async fn flaky_and_unreachable_upstreams_are_retried_and_fallen_back(db: TestDb) {
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;
    let r = post(
        &app,
        "/v1/chat/completions",
        &key,
        &chat("gpt-mock", "hi [mock:flaky 2]"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-tollgate-attempts"],
        "3",
        "two failures, then the answer"
    );

    let r = post(
        &app,
        "/v1/chat/completions",
        &key,
        &chat("unreachable", "hi"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-tollgate-model"],
        "claude-mock",
        "the fallback answered"
    );
    assert_eq!(
        r.headers()["x-tollgate-attempts"],
        "3",
        "two refused connections first"
    );
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["model"], "claude-mock");
    let row = usage_of(&app.store, &id, "provider || '|' || model")
        .await
        .unwrap();
    assert_eq!(
        row, "claude|claude-mock",
        "recorded as the model that answered"
    );

    // A key limited to the failing model is not routed to a fallback it may not call.
    let (_, limited_id, limited) = key_with(&app.store, None).await;
    limit_models(&app.store, limited_id, Some(&["unreachable"])).await;
    let r = post(
        &app,
        "/v1/chat/completions",
        &limited,
        &chat("unreachable", "hi"),
    )
    .await;
    assert_eq!(r.status(), 502, "no fallback outside the key's models");
}

async fn upstream_errors_reach_the_caller_in_its_shape(db: TestDb) {
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;

    let calls = || up.stats.calls.load(std::sync::atomic::Ordering::Relaxed);
    let before = calls();
    let r = post(
        &app,
        "/v1/chat/completions",
        &key,
        &chat("gpt-mock", "[mock:status 400]"),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(calls() - before, 1, "a refused request is not retried");
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "upstream_rejected");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fails with 400 as asked"),
        "{err}"
    );
    let row = usage_of(
        &app.store,
        &id,
        "response_status || '|' || error_type || '|' || CAST(http_status AS TEXT)",
    )
    .await;
    assert_eq!(row.unwrap(), "error|upstream_rejected|400");

    let r = post(&app, "/v1/chat/completions", &key, &chat("wrong-key", "hi")).await;
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("upstream_credentials_refused")
            && text.contains("providers.wrongkey.api_key"),
        "{text}"
    );
    assert!(
        !text.contains("sk-wrong-key"),
        "the provider key never reaches a caller"
    );

    let r = post(
        &app,
        "/v1/chat/completions",
        &key,
        &chat("slow", "hi [mock:slow 2000]"),
    )
    .await;
    assert_eq!(r.status(), 504);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "upstream_timeout");

    let started = Instant::now();
    let r = post(
        &app,
        "/v1/chat/completions",
        &key,
        &chat("gpt-mock", "[mock:status 429] [mock:retry-after 1]"),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers()["retry-after"],
        "1",
        "the provider's pause is passed on"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two retries honoured Retry-After"
    );
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "upstream_rate_limited"
    );

    let body = json!({"model": "claude-mock", "max_tokens": 5, "messages": [{"role": "user", "content": "[mock:status 404]"}]});
    let r = post(&app, "/v1/messages", &key, &body).await;
    assert_eq!(r.status(), 404);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "not_found_error");
}

async fn sloppy_and_broken_streams_still_end_well_formed(db: TestDb) {
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;
    // No id, model or finish_reason, events split in halves, no [DONE].
    let mut body = chat("gpt-mock", "a b c [mock:lenient]");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done) = sse_events(
        &post(&app, "/v1/chat/completions", &key, &body)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(done, "[DONE] is added");
    assert!(chunks
        .iter()
        .all(|c| c["model"] == "gpt-mock" && c["id"].is_string() && c["created"].is_i64()));
    let finishes = chunks
        .iter()
        .filter(|c| {
            c.pointer("/choices/0/finish_reason")
                .is_some_and(Value::is_string)
        })
        .count();
    assert_eq!(finishes, 1, "a finish_reason is added");
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));

    // Cut after two words: the caller still gets an end, and the call is recorded with the
    // output counted from what arrived.
    for name in ["gpt-mock", "claude-mock"] {
        let mut body = chat(name, "one two three four five six [mock:cut 2]");
        body["stream"] = json!(true);
        let r = post(&app, "/v1/chat/completions", &key, &body).await;
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let (chunks, done) = sse_events(&r.text().await.unwrap());
        assert!(done, "{name}");
        let text: String = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(text, "This is ", "{name}");
        let row = usage_of(
            &app.store,
            &id,
            "response_status || '|' || CAST(completion_tokens AS TEXT)",
        )
        .await
        .unwrap();
        let (status, tokens) = row.split_once('|').unwrap();
        assert_eq!(status, "success", "{name}");
        assert!(tokens.parse::<u32>().unwrap() >= 2, "{name}: {row}");
    }
}

async fn a_caller_leaving_mid_stream_cancels_the_upstream_call(db: TestDb) {
    let up = MockUpstream::spawn(MockServerConfig {
        api_key: Some(UPSTREAM_KEY.into()),
        latency: Duration::from_millis(150),
    })
    .await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, key_id, key) = key_with(&app.store, Some(10_000_000)).await;
    let mut body = chat(
        "gpt-mock",
        "a long answer with many words to stream slowly please",
    );
    body["stream"] = json!(true);
    let mut r = post(&app, "/v1/chat/completions", &key, &body).await;
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let first = r.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(r);
    let deadline = Instant::now() + Duration::from_secs(10);
    while up
        .stats
        .streams_abandoned
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the upstream stream was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = usage_of(
        &app.store,
        &id,
        "error_type || '|' || CAST(credits_deducted AS TEXT)",
    )
    .await
    .unwrap();
    let (error, charged) = row.split_once('|').unwrap();
    assert_eq!(error, "client_disconnected");
    // What was produced before the caller left is charged; the rest of the hold goes back.
    let charged: i64 = charged.parse().unwrap();
    assert!(
        charged > 0,
        "the output produced before the caller left is charged"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while unspent_credits(&app.store, key_id).await != 10_000_000 - charged {
        assert!(
            Instant::now() < deadline,
            "the key was not charged exactly the partial call"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn calls_are_counted_with_the_tokenizer_when_the_provider_reports_no_usage(db: TestDb) {
    assert!(tollgate_providers::tokens::load(), "the tokenizer loads");
    let up = mock().await;
    let app = TestApp::spawn_with(through(&db, &up)).await;
    let (_, _, key) = key_with(&app.store, None).await;
    let question = "count these words with a real tokenizer please [mock:no-usage]";
    for (name, stream) in [
        ("gpt-mock", false),
        ("gpt-mock", true),
        ("claude-mock", false),
        ("claude-mock", true),
    ] {
        let mut body = chat(name, question);
        body["stream"] = json!(stream);
        let r = post(&app, "/v1/chat/completions", &key, &body).await;
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let text: String = if stream {
            let (chunks, _) = sse_events(&r.text().await.unwrap());
            chunks
                .iter()
                .filter_map(|c| {
                    c.pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                })
                .collect()
        } else {
            let answer: Value = r.json().await.unwrap();
            answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let row = usage_of(
            &app.store,
            &id,
            "CAST(prompt_tokens AS TEXT) || '|' || CAST(completion_tokens AS TEXT)",
        )
        .await
        .unwrap();
        let expected_prompt = tollgate_providers::tokens::count(question) + 4;
        let expected_output = tollgate_providers::tokens::count(&text);
        assert_eq!(
            row,
            format!("{expected_prompt}|{expected_output}"),
            "{name}, stream {stream}: {text}"
        );
    }
}
