//! TLS terminated by Tollgate itself, with the certificate reloaded when its files change.

use std::path::Path;
use std::time::{Duration, Instant};

use tollgate_testkit::{Backend, TestApp, TestDb};

fn write_cert(dir: &Path) -> Vec<u8> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    certified.cert.der().to_vec()
}

fn client_trusting(der: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(der).unwrap())
        .tls_info(true)
        .build()
        .unwrap()
}

async fn served_certificate(der_trusted: &[u8], url: &str) -> Option<Vec<u8>> {
    let response = client_trusting(der_trusted).get(url).send().await.ok()?;
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate().map(<[u8]>::to_vec))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_and_picks_up_a_renewed_certificate() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = write_cert(dir.path());
    let mut settings = db.settings();
    settings.server.tls.cert_file = dir.path().join("cert.pem").display().to_string();
    settings.server.tls.key_file = dir.path().join("key.pem").display().to_string();
    settings.server.tls.reload_seconds = 1;
    let app = TestApp::spawn_with(settings).await;
    let url = format!("https://localhost:{}/healthz", app.addr.port());

    let response = client_trusting(&first).get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        reqwest::get(app.url("/healthz")).await.is_err(),
        "plain HTTP is not served"
    );

    let second = write_cert(dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if served_certificate(&second, &url).await.as_deref() == Some(second.as_slice()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_certificate_stops_start_with_a_clear_error() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut settings = db.settings();
    settings.server.tls.cert_file = "/nonexistent/cert.pem".into();
    settings.server.tls.key_file = "/nonexistent/key.pem".into();
    let err = tollgate::Application::build(settings).await.err().unwrap();
    assert!(err.to_string().contains("server.tls.cert_file"), "{err}");
}
