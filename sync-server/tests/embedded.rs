//! `EmbeddedRelay`: the in-process relay other crates start for demos and end-to-end tests.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{vietnamese_doc_text, Peer};
use tidemark_sync_server::{EmbeddedRelay, Settings};

const HQ: &str = "Bộ Chỉ huy Bộ đội Biên phòng tỉnh Tiền Giang";
const TT: &str = "Đồn Biên phòng Tân Thành";

#[tokio::test]
async fn an_embedded_relay_serves_restarts_on_its_port_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let relay = EmbeddedRelay::start(dir.path()).await.unwrap();
    assert!(relay.addr.ip().is_loopback());
    assert_ne!(relay.addr.port(), 0);
    assert_eq!(relay.url, format!("http://{}", relay.addr));
    relay.add_unit(HQ, None).unwrap();
    relay.add_unit(TT, Some(HQ)).unwrap();
    assert_eq!(relay.add_unit(TT, Some(HQ)).unwrap_err().code(), "exists");
    let code = relay.enrolment_code(TT, "máy tính bảng").unwrap();
    let mut tt = Peer::enroll(&relay.url, &code).await;
    let id = "patrol:TT:20250121:01";
    tt.create(id, TT, serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    let (url, settings) = (relay.url.clone(), relay.settings().clone());
    relay.stop().await.unwrap();
    assert!(reqwest::get(format!("{url}/v1/health")).await.is_err());

    let relay = EmbeddedRelay::start_with(settings).await.unwrap();
    assert_eq!(relay.url, url, "same port after a restart");
    let code = relay.enrolment_code(HQ, "máy chỉ huy").unwrap();
    let mut hq = Peer::enroll(&relay.url, &code).await;
    hq.follow(id);
    hq.sync_until_quiet().await;
    assert_eq!(hq.notes(id), vietnamese_doc_text());
    assert!(relay.db().unwrap().doc_meta(id).unwrap().is_some());
    let addr = relay.addr;
    drop(relay);
    // Dropping aborts the server task: the port stops answering.
    let mut refused = false;
    for _ in 0..100 {
        if reqwest::get(format!("http://{addr}/v1/health"))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused);
    let again = EmbeddedRelay::start_on(
        addr,
        Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(again.addr, addr);
    again.stop().await.unwrap();
}

#[tokio::test]
async fn a_relay_without_a_fixed_loopback_port_gets_a_free_one() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        listen: "0.0.0.0:8787".parse().unwrap(),
        ..Settings::default()
    };
    let relay = EmbeddedRelay::start_with(settings).await.unwrap();
    assert!(relay.addr.ip().is_loopback());
    assert_ne!(relay.addr.port(), 8787);
    let bad = tempfile::NamedTempFile::new().unwrap();
    let err = EmbeddedRelay::start(bad.path()).await.unwrap_err();
    assert_eq!(err.code(), "internal", "a file is not a data directory");
    relay.stop().await.unwrap();
}
