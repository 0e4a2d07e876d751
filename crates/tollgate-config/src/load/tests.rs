use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_work_without_file_or_env() {
    let s = load(&ConfigSource::None, env(&[])).unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(s.database.url, "sqlite://tollgate.db");
}

#[test]
fn env_overrides_file_which_overrides_defaults() {
    let f = file("[server]\nbind = \"0.0.0.0:9000\"\n[database]\nmax_connections = 4\n");
    let src = ConfigSource::Required(f.path().to_path_buf());
    let s = load(&src, env(&[])).unwrap();
    assert_eq!(s.server.bind.to_string(), "0.0.0.0:9000");
    assert_eq!(s.database.max_connections, 4);

    let s = load(
        &src,
        env(&[
            ("TOLLGATE_SERVER__BIND", "127.0.0.1:7000"),
            ("TOLLGATE_DATABASE__URL", "postgres://u:p@h/db"),
        ]),
    )
    .unwrap();
    assert_eq!(s.server.bind.to_string(), "127.0.0.1:7000");
    assert_eq!(s.database.max_connections, 4, "file value kept");
    assert_eq!(s.database.url, "postgres://u:p@h/db");
}

#[test]
fn unrelated_env_is_ignored() {
    let s = load(
        &ConfigSource::None,
        env(&[
            ("PATH", "/bin"),
            ("TOLLGATE_CONFIG", "x.toml"),
            ("TOLLGATE_TEST_POSTGRES_URL", "postgres://x"),
        ]),
    );
    assert!(s.is_ok());
}

#[test]
fn unknown_file_key_names_its_path() {
    let f = file("[database]\nurll = \"sqlite://x.db\"\n");
    let err = load(&ConfigSource::Required(f.path().to_path_buf()), env(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`database.urll`"), "{msg}");
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
    assert!(msg.contains("expected one of"), "{msg}");
}

#[test]
fn unknown_env_key_names_the_variable() {
    let err = load(&ConfigSource::None, env(&[("TOLLGATE_SERVER__BINDD", "x")])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("TOLLGATE_SERVER__BINDD"), "{msg}");
    assert!(msg.contains("server.bindd"), "{msg}");
}

#[test]
fn bad_value_names_key_source_and_expected_form() {
    let err = load(
        &ConfigSource::None,
        env(&[("TOLLGATE_SERVER__BIND", "localhost")]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`server.bind`"), "{msg}");
    assert!(
        msg.contains("environment variable TOLLGATE_SERVER__BIND"),
        "{msg}"
    );

    let err = load(
        &ConfigSource::None,
        env(&[("TOLLGATE_DATABASE__MAX_CONNECTIONS", "many")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("expected a whole number"), "{err}");

    let f = file("[log]\nformat = \"xml\"\n");
    let err = load(&ConfigSource::Required(f.path().to_path_buf()), env(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`log.format`") && msg.contains("pretty"),
        "{msg}"
    );
}

#[test]
fn semantic_checks_name_the_key() {
    let err = load(
        &ConfigSource::None,
        env(&[("TOLLGATE_DATABASE__URL", "mysql://x")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`database.url`"), "{err}");
    let err = load(
        &ConfigSource::None,
        env(&[
            ("TOLLGATE_DATABASE__MIN_CONNECTIONS", "20"),
            ("TOLLGATE_DATABASE__MAX_CONNECTIONS", "5"),
        ]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("database.min_connections"),
        "{err}"
    );
}

#[test]
fn missing_required_file_is_an_error_but_optional_is_not() {
    let missing = std::path::PathBuf::from("/nonexistent/tollgate.toml");
    assert!(load(&ConfigSource::Required(missing.clone()), env(&[])).is_err());
    assert!(load(&ConfigSource::IfPresent(missing), env(&[])).is_ok());
}

#[test]
fn syntax_error_is_reported_with_file() {
    let f = file("[server\nbind=1");
    let err = load(&ConfigSource::Required(f.path().to_path_buf()), env(&[])).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

#[test]
fn masked_output_hides_database_password() {
    let s = load(
        &ConfigSource::None,
        env(&[(
            "TOLLGATE_DATABASE__URL",
            "postgres://tg:hunter2@db/tollgate",
        )]),
    )
    .unwrap();
    let shown = s.to_masked_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://tg:****@db/tollgate"), "{shown}");
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn proxies_and_tls_are_checked() {
    let s = load(
        &ConfigSource::None,
        env(&[("TOLLGATE_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, ::1")]),
    )
    .unwrap();
    assert_eq!(s.server.trusted_proxies, vec!["10.0.0.0/8", "::1"]);

    let err = load(
        &ConfigSource::None,
        env(&[("TOLLGATE_SERVER__TRUSTED_PROXIES", "10.0.0.0/40")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("server.trusted_proxies"), "{err}");

    let err = load(
        &ConfigSource::None,
        env(&[("TOLLGATE_SERVER__TLS__CERT_FILE", "/etc/tollgate/cert.pem")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("key_file"), "{err}");
}

#[test]
fn cookies_are_secure_exactly_when_clients_use_https() {
    let mut s = Settings::default();
    assert!(!s.server.secure_cookies());
    s.server.external_url = "https://gate.example.com".into();
    assert!(s.server.secure_cookies());
}

#[test]
fn providers_come_from_the_file_with_keys_from_the_environment() {
    let f = file(
        r#"
[providers.openai]
base_url = "http://127.0.0.1:11434/v1/"
api_key_env = "MY_OPENAI_KEY"

[providers.claude]
kind = "anthropic"

[[models]]
name = "small"
provider = "openai"
upstream_model = "llama3"
input_micros_per_mtok = 1
output_micros_per_mtok = 2
context_tokens = 8192
fallbacks = ["big"]

[[models]]
name = "big"
provider = "claude"
upstream_model = "claude-sonnet-4-5"
input_micros_per_mtok = 3000000
output_micros_per_mtok = 15000000
context_tokens = 200000
"#,
    );
    let src = ConfigSource::Required(f.path().to_path_buf());
    let s = load(
        &src,
        env(&[("TOLLGATE_PROVIDERS__CLAUDE__API_KEY", "sk-ant-secret-123")]),
    )
    .unwrap();
    let openai = &s.providers["openai"];
    assert_eq!(openai.kind, crate::ProviderKind::Openai);
    assert_eq!(openai.endpoint(), "http://127.0.0.1:11434/v1");
    assert_eq!(
        openai.resolve_key(|v| (v == "MY_OPENAI_KEY").then(|| "sk-from-env".to_string())),
        Some("sk-from-env".to_string())
    );
    let claude = &s.providers["claude"];
    assert_eq!(claude.endpoint(), "https://api.anthropic.com");
    assert_eq!(
        claude.resolve_key(|_| None).as_deref(),
        Some("sk-ant-secret-123")
    );
    assert!(s.providers.contains_key("mock"), "the mock stays available");

    let shown = s.to_masked_toml();
    assert!(!shown.contains("sk-ant-secret-123"), "{shown}");
    assert!(!format!("{s:?}").contains("sk-ant-secret-123"));
}

#[test]
fn models_must_name_a_configured_provider_of_the_right_kind() {
    let model = |provider: &str, kind: &str| {
        format!(
            "[providers.claude]\nkind = \"anthropic\"\n[[models]]\nname = \"m\"\nprovider = \"{provider}\"\nupstream_model = \"u\"\ninput_micros_per_mtok = 0\noutput_micros_per_mtok = 0\ncontext_tokens = 10\nkind = \"{kind}\"\ndimensions = 8\n"
        )
    };
    let err_of = |text: String| {
        let f = file(&text);
        load(&ConfigSource::Required(f.path().to_path_buf()), env(&[]))
            .unwrap_err()
            .to_string()
    };
    let err = err_of(model("nowhere", "chat"));
    assert!(
        err.contains("provider `nowhere` is not configured"),
        "{err}"
    );
    assert!(err.contains("claude, mock"), "{err}");
    let err = err_of(model("claude", "embedding"));
    assert!(err.contains("Anthropic serves no embeddings"), "{err}");

    let f = file("[providers.bad]\nbase_url = \"ftp://x\"\n");
    let err = load(&ConfigSource::Required(f.path().to_path_buf()), env(&[])).unwrap_err();
    assert!(err.to_string().contains("providers.bad.base_url"), "{err}");
}

#[test]
fn seed_retention_variables_are_read_and_tollgate_ones_win() {
    let s = load(
        &ConfigSource::None,
        env(&[
            ("ENABLE_RETENTION_SCHEDULER", "true"),
            ("RETENTION_CLEANUP_INTERVAL_HOURS", "6"),
        ]),
    )
    .unwrap();
    assert!(s.retention.enabled);
    assert_eq!(s.retention.interval_hours, 6);
    let s = load(
        &ConfigSource::None,
        env(&[
            ("RETENTION_CLEANUP_INTERVAL_HOURS", "6"),
            ("TOLLGATE_RETENTION__INTERVAL_HOURS", "12"),
        ]),
    )
    .unwrap();
    assert_eq!(s.retention.interval_hours, 12);
    let err = load(
        &ConfigSource::None,
        env(&[("RETENTION_CLEANUP_INTERVAL_HOURS", "0")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("retention.interval_hours"), "{err}");
}
