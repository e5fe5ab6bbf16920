//! The background engine: syncs on a local change, goes offline with backoff when the relay is
//! gone, comes back by itself, and stops retrying (with what to do) when the device is revoked.

use std::time::Duration;

use tidemark_client::sync::{SyncEngine, SyncOptions, SyncStatus};
use tidemark_province::story::record_patrols;
use tidemark_province::Province;
use tidemark_sync_server::EmbeddedRelay;
use tidemark_testkit::Rng;
use tokio::sync::watch;

async fn wait_for(
    rx: &mut watch::Receiver<SyncStatus>,
    what: &str,
    pred: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = rx.borrow_and_update().clone();
        if pred(&now) {
            return now;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("timed out waiting for {what}; last status {now:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_goes_offline_backs_off_recovers_and_stops_on_revocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    let opts = SyncOptions {
        debounce: Duration::from_millis(50),
        period: Duration::from_secs(3600),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        request_timeout: Duration::from_secs(2),
        ..SyncOptions::default()
    };
    let engine = SyncEngine::start(p.dev("tt").client.clone(), opts);
    let mut rx = engine.status();
    wait_for(&mut rx, "first sync", |s| {
        matches!(s, SyncStatus::UpToDate { .. })
    })
    .await;

    // The relay goes away; a patrol is recorded; the engine reports offline with a retry.
    let relay = p.relay.take().expect("relay");
    let (addr, settings) = (relay.addr, relay.settings().clone());
    relay.stop().await.expect("stop relay");
    let mut rng = Rng::new(5);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 40, 1))
        .expect("patrol");
    engine.nudge();
    let offline = wait_for(&mut rx, "offline", |s| {
        matches!(s, SyncStatus::Offline { .. })
    })
    .await;
    if let SyncStatus::Offline { pending, code, .. } = &offline {
        assert!(*pending >= 1, "{offline:?}");
        assert!(
            ["offline", "network", "timeout"].contains(&code.as_str()),
            "{code}"
        );
    }

    // The relay comes back on the same port: the probe notices and the patrol goes up.
    p.relay = Some(
        EmbeddedRelay::start_on(addr, settings)
            .await
            .expect("restart"),
    );
    let up = wait_for(&mut rx, "up to date after the relay returns", |s| {
        matches!(s, SyncStatus::UpToDate { pending: 0, .. })
    })
    .await;
    assert!(matches!(up, SyncStatus::UpToDate { .. }));
    p.sync("hq").await.expect("hq sync");
    assert!(p.dev("hq").with(|c| c.show(&ids[0])).is_ok());

    // The administrator revokes the device: the engine stops with what to do, no retries.
    let device = p
        .dev("tt")
        .with(|c| c.relay_config())
        .expect("config")
        .expect("enrolled")
        .device_id;
    p.relay
        .as_ref()
        .expect("relay")
        .db()
        .expect("db")
        .revoke(&device)
        .expect("revoke");
    engine.nudge();
    let err = wait_for(&mut rx, "unauthorized", |s| {
        matches!(s, SyncStatus::Error { .. })
    })
    .await;
    match err {
        SyncStatus::Error { code, message } => {
            assert_eq!(code, "unauthorized");
            assert!(message.contains("tidemark enroll"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // It stays there: no retry loop.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(matches!(&*rx.borrow(), SyncStatus::Error { .. }));
    engine.stop().await;
    p.stop().await.expect("stop");
}
