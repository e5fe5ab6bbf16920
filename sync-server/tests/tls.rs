//! HTTPS with rustls from configured PEM files, and the loopback rule for plain HTTP.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::Relay;
use tidemark_sync_server::{serve, Settings};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn the_relay_speaks_https_with_the_configured_certificate() {
    let relay = Relay::start_with(|s| {
        s.tls_cert = Some(fixture("relay-cert.pem"));
        s.tls_key = Some(fixture("relay-key.pem"));
    })
    .await;
    let https = relay.url.replace("http://", "https://");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(fixture("test-ca.pem")).unwrap());
    let client = reqwest::Client::builder()
        .add_root_certificate(ca.unwrap())
        .build()
        .unwrap();
    let health = client
        .get(format!("{https}/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let feed = client.get(format!("{https}/v1/feed")).send().await.unwrap();
    assert_eq!(feed.status(), 401);
    // Plain HTTP to the TLS port gets nothing useful.
    assert!(reqwest::get(format!("{}/v1/health", relay.url))
        .await
        .is_err());
    relay.stop().await;
}

#[tokio::test]
async fn plain_http_outside_loopback_is_refused_and_tls_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let base = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    // Checked on the address alone: tests never listen outside loopback.
    let wildcard: std::net::SocketAddr = "0.0.0.0:8787".parse().unwrap();
    let err = tidemark_sync_server::check_listen(wildcard, false, &base).unwrap_err();
    assert_eq!(err.code(), "insecure_listen");
    assert!(tidemark_sync_server::check_listen(wildcard, true, &base).is_ok());
    let loopback: std::net::SocketAddr = "127.0.0.1:8787".parse().unwrap();
    assert!(tidemark_sync_server::check_listen(loopback, false, &base).is_ok());
    let half = Settings {
        tls_cert: Some(fixture("relay-cert.pem")),
        ..base.clone()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = serve(listener, half, async {}).await.unwrap_err();
    assert_eq!(err.code(), "bad_tls_config");
    let swapped = Settings {
        tls_cert: Some(fixture("relay-key.pem")),
        tls_key: Some(fixture("relay-cert.pem")),
        ..base
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = serve(listener, swapped, async {}).await.unwrap_err();
    assert_eq!(err.code(), "bad_tls_config");
}
