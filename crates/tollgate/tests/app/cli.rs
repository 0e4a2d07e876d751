//! The `tollgate` binary as a person runs it, against both backends.

use std::process::{Command, Output};

use tollgate_testkit::{backend_tests, TestDb};

backend_tests!(
    tenants_apps_and_keys_from_the_command_line,
    migrate_status_up_and_verify,
    verify_fails_and_names_what_is_missing,
    seed_demo_twice_changes_nothing,
    erase_needs_confirmation,
    the_ledger_is_signed_and_verified_from_the_command_line,
);

fn tollgate(db: &TestDb, args: &[&str]) -> Output {
    tollgate_with(db, args, &[])
}

/// Runs the binary with further `TOLLGATE_*` variables.
fn tollgate_with(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(dir.path())
        .env("TOLLGATE_DATABASE__URL", &db.url)
        .env("TOLLGATE_LOG__FORMAT", "json")
        .env_remove("TOLLGATE_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("the tollgate binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

async fn migrate_status_up_and_verify(db: TestDb) {
    let status = tollgate(&db, &["migrate", "status"]);
    assert!(status.status.success());
    assert_eq!(
        stdout(&status).matches("pending").count(),
        13,
        "{}",
        stdout(&status)
    );

    let up = tollgate(&db, &["migrate", "up", "--to", "3"]);
    assert!(stdout(&up).contains("applied 3"), "{}", stdout(&up));
    let up = tollgate(&db, &["migrate", "up"]);
    assert!(stdout(&up).contains("applied 13"), "{}", stdout(&up));

    let verify = tollgate(&db, &["schema", "verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(stdout(&verify).starts_with("schema ok"));

    let refused = tollgate(&db, &["migrate", "down"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    let down = tollgate(&db, &["migrate", "down", "--yes"]);
    assert!(stdout(&down).contains("reverted 13"), "{}", stdout(&down));
    tollgate(&db, &["migrate", "up"]);

    let check = tollgate(&db, &["db", "check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(stdout(&check).contains("migrations 13 of 13 applied"));
    assert!(stdout(&check).contains("usage_logs"));
}

async fn verify_fails_and_names_what_is_missing(db: TestDb) {
    let store = db.migrated().await;
    store
        .execute_raw("DROP INDEX idx_apps_active")
        .await
        .unwrap();
    let verify = tollgate(&db, &["schema", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stdout(&verify).contains("missing: index idx_apps_active on apps"),
        "{}",
        stdout(&verify)
    );
}

async fn seed_demo_twice_changes_nothing(db: TestDb) {
    let first = tollgate(&db, &["seed", "--demo"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = stdout(&first);
    assert_eq!(out.matches("  Demo Key ").count(), 5, "{out}");
    assert!(
        out.contains("/v1/chat/completions"),
        "the curl to try next: {out}"
    );
    assert!(out.contains("admin@llmgovernance.local /"));
    let second = tollgate(&db, &["seed", "--demo"]);
    assert!(
        stdout(&second).contains("nothing changed"),
        "{}",
        stdout(&second)
    );
    assert!(!stdout(&second).contains("tg_gw_"));
}

async fn erase_needs_confirmation(db: TestDb) {
    let store = db.migrated().await;
    store.seed_demo(&Default::default()).await.unwrap();
    let tenant = tollgate_domain::demo::TENANT_ID.to_string();
    let refused = tollgate(&db, &["erase", "tenant", &tenant]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        store
            .scalar_raw("SELECT count(*) FROM usage_logs")
            .await
            .unwrap(),
        10
    );

    let done = tollgate(&db, &["erase", "tenant", &tenant, "--yes"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout(&done).contains("usage_logs"), "{}", stdout(&done));
    assert_eq!(
        store
            .scalar_raw("SELECT count(*) FROM usage_logs")
            .await
            .unwrap(),
        0
    );
}

#[test]
fn config_show_masks_secrets_and_bad_values_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.args(["config", "show"])
            .current_dir(dir.path())
            .env_remove("TOLLGATE_CONFIG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let shown = run(&[(
        "TOLLGATE_DATABASE__URL",
        "postgres://tg:hunter2@db/tollgate",
    )]);
    assert!(shown.status.success());
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("postgres://tg:****@db/tollgate") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(text.contains("bind = \"127.0.0.1:8080\""), "{text}");

    let bad = run(&[("TOLLGATE_SERVER__BIND", "everywhere")]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("server.bind") && err.contains("TOLLGATE_SERVER__BIND"),
        "{err}"
    );
}

async fn tenants_apps_and_keys_from_the_command_line(db: TestDb) {
    let store = db.migrated().await;
    let line = |o: &Output| {
        stdout(o)
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    let tenant = line(&tollgate(
        &db,
        &[
            "tenants",
            "create",
            "--name",
            "Acme",
            "--email",
            "ops@acme.example",
        ],
    ));
    let app = line(&tollgate(
        &db,
        &[
            "apps",
            "create",
            "--tenant",
            &tenant,
            "--name",
            "Contracts",
            "--origin",
            "https://acme.example",
        ],
    ));
    let created = tollgate(
        &db,
        &[
            "keys",
            "create",
            "--app",
            &app,
            "--name",
            "ci",
            "--credits",
            "2.50",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret = line(&created);
    assert!(secret.starts_with("tg_gw_"), "{}", stdout(&created));
    let key_id = stdout(&created)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();

    let listed = stdout(&tollgate(&db, &["keys", "list", "--tenant", &tenant]));
    assert!(
        listed.contains(&secret[..14]) && listed.contains("2.50") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "the secret is never listed");

    let topped = tollgate(&db, &["keys", "top-up", &key_id, "--credits", "1"]);
    assert!(stdout(&topped).contains("3.50"), "{}", stdout(&topped));
    let revoked = tollgate(&db, &["keys", "revoke", &key_id, "--reason", "rotated"]);
    assert!(revoked.status.success(), "{}", stdout(&revoked));
    assert!(stdout(&tollgate(&db, &["keys", "list"])).contains("revoked"));
    let missing = tollgate(&db, &["keys", "revoke", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(missing.status.code(), Some(2));

    let typo = tollgate(
        &db,
        &["keys", "create", "--app", &app, "--model", "mock-smal"],
    );
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        stdout(&typo).contains("no model `mock-smal`") && stdout(&typo).contains("mock-small"),
        "{}",
        stdout(&typo)
    );
    let limited = tollgate(
        &db,
        &["keys", "create", "--app", &app, "--model", "mock-small"],
    );
    assert!(limited.status.success(), "{}", stdout(&limited));
    let limited_id = stdout(&limited)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let opened = tollgate(&db, &["keys", "models", &limited_id, "--all"]);
    assert!(
        stdout(&opened).contains("may call every model"),
        "{}",
        stdout(&opened)
    );
    let narrowed = tollgate(
        &db,
        &["keys", "models", &limited_id, "--model", "mock-large"],
    );
    assert!(
        stdout(&narrowed).contains("may call: mock-large"),
        "{}",
        stdout(&narrowed)
    );
    let models = store
        .strings_raw(&format!(
            "SELECT CAST(allowed_models AS TEXT) FROM api_keys WHERE id = '{limited_id}'"
        ))
        .await
        .unwrap();
    assert_eq!(models, [r#"["mock-large"]"#]);

    let actions = store
        .strings_raw(&format!(
            "SELECT action FROM audit_log WHERE CAST(tenant_id AS TEXT) = '{tenant}' ORDER BY seq"
        ))
        .await
        .unwrap();
    assert_eq!(
        actions,
        vec![
            "tenant.create",
            "app.create",
            "key.create",
            "key.top_up",
            "key.revoke",
            "key.create",
            "key.models",
            "key.models"
        ]
    );
}

async fn the_ledger_is_signed_and_verified_from_the_command_line(db: TestDb) {
    assert!(tollgate(&db, &["seed", "--demo"]).status.success());
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("checkpoint.key");
    let key = key.to_str().unwrap();
    let made = tollgate(
        &db,
        &["audit", "keygen", "--name", "cli.example", "--out", key],
    );
    assert!(made.status.success(), "{}", stdout(&made));
    assert!(stdout(&made).contains("cli.example+"), "{}", stdout(&made));
    let again = tollgate(&db, &["audit", "keygen", "--out", key]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing key is never overwritten"
    );

    let sinks = dir.path().join("checkpoints");
    let env = [
        ("TOLLGATE_AUDIT__SIGNING_KEY_FILE", key),
        ("TOLLGATE_AUDIT__CHECKPOINT_DIR", sinks.to_str().unwrap()),
    ];
    let signed = tollgate_with(&db, &["audit", "checkpoint"], &env);
    assert!(signed.status.success(), "{}", stdout(&signed));
    assert!(
        stdout(&signed).contains("system log: signed at 1 entries"),
        "{}",
        stdout(&signed)
    );
    let nothing = tollgate_with(&db, &["audit", "checkpoint"], &env);
    assert!(
        stdout(&nothing).contains("no log grew"),
        "{}",
        stdout(&nothing)
    );

    // The copy in the sink directory is an outside checkpoint an auditor can hold.
    let held = dir.path().join("held.checkpoint");
    std::fs::copy(
        sinks
            .join(uuid::Uuid::nil().to_string())
            .join("latest.checkpoint"),
        &held,
    )
    .unwrap();
    let held = held.to_str().unwrap();
    let ok = tollgate_with(&db, &["audit", "verify", "--checkpoint", held], &env);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains("system log: ok, 1 entries"),
        "{}",
        stdout(&ok)
    );
    let unkeyed = tollgate(&db, &["audit", "verify", "--checkpoint", held]);
    assert_eq!(unkeyed.status.code(), Some(2), "{}", stdout(&unkeyed));

    // A bundle of the demo tenant's log (its usage seal has a body) checks with no database.
    let vkey = stdout(&made)
        .lines()
        .find(|l| l.starts_with("cli.example+"))
        .unwrap()
        .to_string();
    let tenant = tollgate_domain::demo::TENANT_ID.to_string();
    let bundle = dir.path().join("tenant.bundle");
    let bundle = bundle.to_str().unwrap();
    let exported = tollgate_with(
        &db,
        &["audit", "export", "--log", &tenant, "--out", bundle],
        &env,
    );
    assert!(exported.status.success(), "{}", stdout(&exported));
    let offline = [(
        "TOLLGATE_DATABASE__URL",
        "postgres://nobody@127.0.0.1:1/none",
    )];
    let bundle_check = |expect: i32, says: &str| {
        let checked = tollgate_with(
            &db,
            &["audit", "verify", "--bundle", bundle, "--trust", &vkey],
            &offline,
        );
        assert_eq!(checked.status.code(), Some(expect), "{}", stdout(&checked));
        assert!(stdout(&checked).contains(says), "{}", stdout(&checked));
    };
    bundle_check(0, "ok, 1 entries");
    let text = std::fs::read_to_string(bundle).unwrap();
    std::fs::write(bundle, text.replacen("\"count\":10", "\"count\":11", 1)).unwrap();
    bundle_check(1, "entry 1: its body does not match its body_hash");
    std::fs::write(bundle, text.replacen("usage.batch", "usage.other", 1)).unwrap();
    bundle_check(1, "entry 1: its chain hash does not match");
    let last = text
        .lines()
        .last()
        .unwrap()
        .replace("\"seq\":1,", "\"seq\":2,");
    std::fs::write(bundle, format!("{text}{last}\n")).unwrap();
    bundle_check(
        1,
        "entry 2 is beyond the bundle's signed checkpoint of 1 entries",
    );

    // Key rotation: a new key signs from now on, the old one stays trusted, and the
    // checkpoints of both verify.
    let new_key = dir.path().join("rotated.key");
    let new_key = new_key.to_str().unwrap();
    let rotated = tollgate(
        &db,
        &["audit", "keygen", "--name", "cli.example", "--out", new_key],
    );
    assert!(rotated.status.success(), "{}", stdout(&rotated));
    let app = tollgate(
        &db,
        &[
            "apps",
            "create",
            "--tenant",
            &tenant,
            "--name",
            "after rotation",
        ],
    );
    assert!(app.status.success(), "{}", stdout(&app));
    let after_rotation = [
        ("TOLLGATE_AUDIT__SIGNING_KEY_FILE", new_key),
        ("TOLLGATE_AUDIT__TRUSTED_KEYS", vkey.as_str()),
    ];
    let signed = tollgate_with(
        &db,
        &["audit", "checkpoint", "--log", &tenant],
        &after_rotation,
    );
    assert!(signed.status.success(), "{}", stdout(&signed));
    let both = tollgate_with(&db, &["audit", "verify", "--log", &tenant], &after_rotation);
    assert!(
        stdout(&both).contains("ok, 2 entries")
            && stdout(&both).contains("2 checkpoints, 2 signed by a trusted key"),
        "{}",
        stdout(&both)
    );
    let new_only = [("TOLLGATE_AUDIT__SIGNING_KEY_FILE", new_key)];
    let untrusted_old = tollgate_with(&db, &["audit", "verify", "--log", &tenant], &new_only);
    assert_eq!(
        untrusted_old.status.code(),
        Some(1),
        "{}",
        stdout(&untrusted_old)
    );

    db.tamper("UPDATE audit_log SET action = 'demo.nothing' WHERE tenant_id IS NULL AND seq = 1")
        .await;
    let caught = tollgate_with(&db, &["audit", "verify"], &env);
    assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
    assert!(
        stdout(&caught).contains("system log: FAILED: entry 1: its chain hash does not match"),
        "{}",
        stdout(&caught)
    );
}

#[test]
fn pii_scan_writes_spans_and_risk_never_values() {
    use std::io::Write as _;
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env_remove("TOLLGATE_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let input = concat!(
        r#"{"id": 1, "text": "Mail jane@example.com or card 4111 1111 1111 1111"}"#,
        "\n",
        r#"{"id": "b", "text": "héllo ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"}"#,
        "\n",
        r#"{"id": 3, "text": "Summarise this article."}"#,
        "\n"
    );
    let out = run(&["pii", "scan", "--jsonl", "--offsets", "chars"], input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(!text.contains("jane@") && !text.contains("ghp_"), "{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        serde_json::json!({"id": 1, "risk": "amber", "spans": [
            {"start": 5, "end": 21, "type": "EMAIL"},
            {"start": 30, "end": 49, "type": "CREDIT_CARD"}
        ]})
    );
    // Character offsets: "héllo " is six characters (seven bytes).
    assert_eq!(
        lines[1],
        serde_json::json!({"id": "b", "risk": "red", "spans": [
            {"start": 6, "end": 46, "type": "SECRET", "subtype": "source_host_token"}
        ]})
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"id": 3, "risk": "green", "spans": []})
    );

    let bad = run(&["pii", "scan", "--jsonl"], "{\"id\": 1}\n");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("line 1") && err.contains("\"text\""), "{err}");
}

#[test]
fn scan_guards_a_pipeline_by_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.txt");
    let leaky = dir.path().join("leaky.env");
    std::fs::write(&clean, "Summarise the release notes of version 1.2.3.\n").unwrap();
    std::fs::write(
        &leaky,
        "LOG_LEVEL=debug\nOPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD\n",
    )
    .unwrap();
    let run = |args: &[&std::path::Path], extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("scan")
            .args(extra)
            .args(args)
            .env_remove("TOLLGATE_CONFIG")
            .output()
            .unwrap()
    };
    let ok = run(&[&clean], &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("clean.txt: green"));
    let bad = run(&[&clean, &leaky], &[]);
    assert_eq!(bad.status.code(), Some(1));
    let text = stdout(&bad);
    assert!(
        text.contains("leaky.env: red") && text.contains("line 2: SECRET (model_provider_key)"),
        "{text}"
    );
    assert!(!text.contains("sk-proj"), "never the value: {text}");
    // An email is amber: it fails only with --fail-on amber.
    let mail = dir.path().join("mail.txt");
    std::fs::write(&mail, "write to jane@example.com").unwrap();
    assert_eq!(run(&[&mail], &[]).status.code(), Some(0));
    assert_eq!(
        run(&[&mail], &["--fail-on", "amber"]).status.code(),
        Some(1)
    );
}

#[test]
fn pii_eval_scores_the_detector_on_a_generated_set() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["pii", "eval", "--count", "300", "--seed", "5", "--write"])
        .arg(&set)
        .env_remove("TOLLGATE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for needle in [
        "EMAIL",
        "IBAN",
        "micro, all types",
        "prompts without personal data flagged",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let lines = std::fs::read_to_string(&set).unwrap();
    assert_eq!(lines.lines().count(), 300);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["id"].is_string() && first["text"].is_string() && first["spans"].is_array());
}
