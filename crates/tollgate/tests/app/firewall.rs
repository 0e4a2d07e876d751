//! The PII firewall on both API surfaces: personal data and keys reach the provider as
//! placeholders only, the caller gets the original values back (streamed and not), the usage
//! record says something was found, and a blocked type is refused without echoing its value.

use serde_json::{json, Value};
use tollgate_config::PiiAction;
use tollgate_testkit::{backend_tests, TestApp, TestDb};

use crate::fixtures::{chat, key_with, sse_events, usage_of};

backend_tests!(
    the_provider_sees_placeholders_only,
    the_caller_gets_the_values_back_streamed_and_not,
    a_blocked_type_is_refused_without_its_value,
    answers_are_scanned_when_asked_streamed_and_not,
);

const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const KEY: &str = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";

fn prompt() -> String {
    format!("Refund {EMAIL} on card {CARD} to IBAN {IBAN}; our key is {KEY}.")
}

async fn the_provider_sees_placeholders_only(db: TestDb) {
    // With restoring off, the mock's echo shows exactly what it was sent.
    let mut settings = db.settings();
    settings.pii.restore_in_response = false;
    let app = TestApp::spawn_with(settings).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let r = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-small", &prompt()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    let echo = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        echo.ends_with("You said: Refund [EMAIL_1] on card [CREDIT_CARD_1] to IBAN [IBAN_1]; our key is [SECRET_1]."),
        "{echo}"
    );
    for value in [EMAIL, CARD, IBAN, KEY] {
        assert!(!echo.contains(value), "{value} reached the provider");
    }
    let flagged = usage_of(
        &app.store,
        &id,
        "CAST(pii_detected AS TEXT) || '|' || pii_types",
    )
    .await;
    assert!(
        matches!(
            flagged.as_deref(),
            Some("true|CREDIT_CARD,EMAIL,IBAN,SECRET") | Some("1|CREDIT_CARD,EMAIL,IBAN,SECRET")
        ),
        "{flagged:?}"
    );
}

async fn the_caller_gets_the_values_back_streamed_and_not(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let said = format!("You said: {}", prompt());
    // OpenAI surface, whole and streamed (the mock streams a few words per chunk, so
    // placeholders arrive split).
    for stream in [false, true] {
        let mut body = chat("mock-small", &prompt());
        body["stream"] = json!(stream);
        let r = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let content = if stream {
            let (events, done) = sse_events(&r.text().await.unwrap());
            assert!(done);
            events
                .iter()
                .filter_map(|c| {
                    c["choices"]
                        .get(0)
                        .and_then(|ch| ch["delta"]["content"].as_str())
                })
                .collect::<String>()
        } else {
            let v: Value = r.json().await.unwrap();
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(content.ends_with(&said), "stream {stream}: {content}");
    }
    // Anthropic surface, whole and streamed.
    for stream in [false, true] {
        let body = json!({"model": "mock-small", "max_tokens": 200, "stream": stream,
                          "messages": [{"role": "user", "content": prompt()}]});
        let r = app
            .client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = if stream {
            let (events, _) = sse_events(&r.text().await.unwrap());
            events
                .iter()
                .filter(|e| e["type"] == "content_block_delta")
                .filter_map(|e| e["delta"]["text"].as_str())
                .collect::<String>()
        } else {
            let v: Value = r.json().await.unwrap();
            v["content"][0]["text"].as_str().unwrap().to_string()
        };
        assert!(text.ends_with(&said), "messages stream {stream}: {text}");
    }
}

async fn a_blocked_type_is_refused_without_its_value(db: TestDb) {
    let mut settings = db.settings();
    settings
        .pii
        .actions
        .insert("SECRET".into(), PiiAction::Block);
    let app = TestApp::spawn_with(settings).await;
    let (_, _, secret) = key_with(&app.store, None).await;
    let r = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-small", &prompt()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let text = r.text().await.unwrap();
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["error"]["code"], "sensitive_data_blocked");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("SECRET"),
        "{text}"
    );
    assert!(!text.contains(KEY) && !text.contains("sk-proj"), "{text}");
    // The refusal leaves a usage record: who, which model, what was found, nothing spent.
    let row = usage_of(
        &app.store,
        &id,
        "model || '|' || error_type || '|' || CAST(http_status AS TEXT) || '|' || pii_types || '|' || CAST(cost_micros AS TEXT)",
    )
    .await;
    assert_eq!(
        row.as_deref(),
        Some("mock-small|sensitive_data_blocked|400|CREDIT_CARD,EMAIL,IBAN,SECRET|0")
    );

    let r = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &secret)
        .json(&json!({"model": "mock-small", "max_tokens": 20,
                      "messages": [{"role": "user", "content": format!("key {KEY}")}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");

    // Other types are still only redacted: a prompt with an email alone goes through.
    let r = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&secret)
        .json(&chat("mock-small", &format!("mail {EMAIL}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The answer's text, how it finished, and the call's id: OpenAI or Anthropic surface, whole
/// or streamed.
async fn answer(
    app: &TestApp,
    key: &str,
    anthropic: bool,
    stream: bool,
    text: &str,
) -> (String, String, String) {
    let r = if anthropic {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", key)
            .json(
                &json!({"model": "mock-small", "max_tokens": 300, "stream": stream,
                          "messages": [{"role": "user", "content": text}]}),
            )
    } else {
        let mut body = chat("mock-small", text);
        body["stream"] = json!(stream);
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body)
    }
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let (content, finish) = match (anthropic, stream) {
        (false, false) => {
            let v: Value = r.json().await.unwrap();
            let choice = &v["choices"][0];
            (
                choice["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                choice["finish_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
        (false, true) => {
            let (events, done) = sse_events(&r.text().await.unwrap());
            assert!(done);
            let text = events
                .iter()
                .filter_map(|c| {
                    c["choices"]
                        .get(0)
                        .and_then(|ch| ch["delta"]["content"].as_str())
                })
                .collect::<String>();
            let finish = events
                .iter()
                .rev()
                .find_map(|c| {
                    c["choices"]
                        .get(0)
                        .and_then(|ch| ch["finish_reason"].as_str())
                })
                .unwrap_or_default()
                .to_string();
            (text, finish)
        }
        (true, false) => {
            let v: Value = r.json().await.unwrap();
            (
                v["content"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                v["stop_reason"].as_str().unwrap_or_default().to_string(),
            )
        }
        (true, true) => {
            let (events, _) = sse_events(&r.text().await.unwrap());
            let text = events
                .iter()
                .filter(|e| e["type"] == "content_block_delta")
                .filter_map(|e| e["delta"]["text"].as_str())
                .collect::<String>();
            let stop = events
                .iter()
                .rev()
                .filter(|e| e["type"] == "message_delta")
                .find_map(|e| e["delta"]["stop_reason"].as_str())
                .unwrap_or_default()
                .to_string();
            (text, stop)
        }
    };
    (content, finish, id)
}

const LEAKED: [&str; 3] = [
    "4000 0566 5566 5556",
    "leak.victim@example.org",
    "sk-live-0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2yZ3",
];

async fn answers_are_scanned_when_asked_streamed_and_not(db: TestDb) {
    let mut settings = db.settings();
    settings.pii.scan_answers = true;
    let app = TestApp::spawn_with(settings.clone()).await;
    let (_, _, key) = key_with(&app.store, None).await;
    for anthropic in [false, true] {
        for stream in [false, true] {
            // The caller's own values come back; what the model adds is redacted.
            let (text, _, _) = answer(
                &app,
                &key,
                anthropic,
                stream,
                &format!("{} [mock:leak]", prompt()),
            )
            .await;
            for value in [EMAIL, CARD, IBAN, KEY] {
                assert!(
                    text.contains(value),
                    "{anthropic}/{stream}: the caller's {value} is theirs: {text}"
                );
            }
            for value in LEAKED {
                assert!(
                    !text.contains(value),
                    "{anthropic}/{stream}: {value} leaked: {text}"
                );
            }
            assert!(
                text.contains(
                    "card [CREDIT_CARD_1], mail [EMAIL_1], and the key [SECRET_1] in the logs."
                ),
                "{anthropic}/{stream}: {text}"
            );
            // The usage record names what the answer held.
            let (_, _, id) = answer(&app, &key, anthropic, stream, "Tell me [mock:leak]").await;
            assert_eq!(
                usage_of(&app.store, &id, "pii_types").await.as_deref(),
                Some("CREDIT_CARD,EMAIL,SECRET")
            );
        }
    }
    app.stop().await.unwrap();

    // Blocking a type cuts the answer just before it.
    settings
        .pii
        .actions
        .insert("SECRET".into(), PiiAction::Block);
    let app = TestApp::spawn_with(settings).await;
    let (_, _, key) = key_with(&app.store, None).await;
    for anthropic in [false, true] {
        for stream in [false, true] {
            let (text, finish, _) =
                answer(&app, &key, anthropic, stream, "Tell me [mock:leak]").await;
            assert!(
                text.ends_with("mail [EMAIL_1], and the key "),
                "{anthropic}/{stream}: {text}"
            );
            assert!(!text.contains("sk-live"), "{text}");
            let expected = if anthropic {
                "refusal"
            } else {
                "content_filter"
            };
            assert_eq!(finish, expected, "{anthropic}/{stream}");
        }
    }
    app.stop().await.unwrap();
}
