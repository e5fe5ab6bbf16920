//! Attachments between devices through the real relay: records first, thumbnails before full
//! files, uploads and downloads that resume after a cut without resending what arrived, the
//! same file stored and sent once, and nobody reading a file they may not read.

use std::sync::{Arc, Mutex};

use tidemark_client::sync::{self, FileDirection, RelayHttp, SyncStatus, WireCounters};
use tidemark_client::Client;
use tidemark_domain::AttachPlace;
use tidemark_province::story::{self, record_patrols};
use tidemark_province::{unit_of, Province, HQ};
use tidemark_sync_protocol::attachment::{sha256_hex, CHUNK_SIZE};
use tidemark_testkit::faultproxy::{Direction, Fault, FaultPlan, FaultProxy};
use tidemark_testkit::Rng;

/// A photo: a noisy PNG (large, does not compress) that decodes, so it gets a thumbnail.
fn photo(seed: u64, w: u32, h: u32) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        let v = rng.next_u64();
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    png
}

/// Incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Runs one sync of `key`, recording every status event.
async fn sync_recording(
    p: &Province,
    key: &str,
) -> (Result<sync::SyncReport, sync::SyncError>, Vec<SyncStatus>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let progress = move |s: SyncStatus| sink.lock().expect("events").push(s);
    let r = sync::sync_once(&p.dev(key).client, &p.opts, &progress).await;
    let ev = events.lock().expect("events").clone();
    (r, ev)
}

/// The (direction, thumb) of each transfer event, in order.
fn transfers(events: &[SyncStatus]) -> Vec<(FileDirection, bool)> {
    events
        .iter()
        .filter_map(|s| match s {
            SyncStatus::Transferring {
                direction, thumb, ..
            } => Some((*direction, *thumb)),
            _ => None,
        })
        .collect()
}

fn new_patrol(p: &Province, key: &str, station: usize, day: u32) -> String {
    let mut rng = Rng::new(day as u64);
    p.dev(key)
        .with(|c| record_patrols(c, &mut rng, station, day, 1))
        .expect("patrol")
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_follow_their_records_thumbnails_first_and_resume_after_a_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    let patrol = new_patrol(&p, "tt", 0, 40);
    let png = photo(1, 900, 700);
    let pdf = noise(2, 700 * 1024);
    let (png_hash, thumb_hash) = p.dev("tt").with(|c| {
        let a = c
            .attach(
                &patrol,
                AttachPlace::Record,
                "ảnh tàu TG-93096-TS.png",
                &png,
            )
            .expect("attach photo");
        c.attach(&patrol, AttachPlace::Record, "biên bản vi phạm.pdf", &pdf)
            .expect("attach pdf");
        (a.attachment.hash, a.attachment.thumb.expect("thumbnail"))
    });

    // The station sends: the record first, then the thumbnail, then the full files.
    let (r, events) = sync_recording(&p, "tt").await;
    let r = r.expect("station sync");
    assert_eq!(r.files.uploaded, 3, "{:?}", r.files);
    let thumb_len = p
        .dev("tt")
        .with(|c| c.attachment_bytes(&thumb_hash))
        .expect("read")
        .expect("thumbnail")
        .len();
    assert_eq!(
        r.files.bytes_sent,
        (png.len() + pdf.len() + thumb_len) as u64,
        "every byte sent once"
    );
    let first_file = events
        .iter()
        .position(|s| matches!(s, SyncStatus::Transferring { .. }))
        .expect("files moved");
    assert!(
        !events[first_file..]
            .iter()
            .any(|s| matches!(s, SyncStatus::Syncing { .. })),
        "records finish before files start"
    );
    let moves = transfers(&events);
    let first_full = moves.iter().position(|(_, t)| !t).expect("full files");
    assert!(moves[..first_full]
        .iter()
        .all(|(d, t)| *t && *d == FileDirection::Up));
    assert!(moves[first_full..].iter().all(|(_, t)| !t), "{moves:?}");

    // HQ on a link that breaks in the middle of the full files: it has the record and the
    // preview, not yet the photo, and nothing half-written where the photo belongs.
    let proxy = FaultProxy::start(
        p.relay.as_ref().expect("relay").addr,
        FaultPlan::schedule(vec![Fault::Cut {
            dir: Direction::Downstream,
            after: 400 * 1024,
        }]),
    )
    .await
    .expect("proxy");
    p.dev("hq")
        .with(|c| c.set_relay_url(&proxy.url()))
        .expect("proxy url");
    p.opts.request_timeout = std::time::Duration::from_secs(5);
    let (cut, events) = sync_recording(&p, "hq").await;
    let err = cut.expect_err("the link broke");
    assert!(err.retryable, "{err:?}");
    let moves = transfers(&events);
    assert!(moves.iter().any(|(_, t)| *t), "the thumbnail moved first");
    let rows = p.dev("hq").with(|c| c.attachments(&patrol)).expect("rows");
    assert_eq!(rows.len(), 2, "the record arrived");
    assert!(rows.iter().all(|r| r.thumb.is_none() || r.thumb_present));
    assert!(
        rows.iter().any(|r| !r.present),
        "a full file was still on its way"
    );
    let hq_thumb = p
        .dev("hq")
        .with(|c| c.attachment_bytes(&thumb_hash))
        .expect("read")
        .expect("the thumbnail is here");
    assert!(hq_thumb.len() <= 20 * 1024);

    // The link comes back: the rest arrives, chunks that arrived are not fetched again.
    let (again, _) = sync_recording(&p, "hq").await;
    let again = again.expect("hq sync");
    let before_cut = proxy.stats().bytes_down;
    assert!(
        again.files.bytes_received + 400 * 1024 <= (png.len() + pdf.len()) as u64 + 2 * CHUNK_SIZE,
        "resumed download refetched too much: {:?} (proxy saw {before_cut} down)",
        again.files
    );
    let hq_png = p
        .dev("hq")
        .with(|c| c.attachment_bytes(&png_hash))
        .expect("read")
        .expect("the photo arrived");
    assert_eq!(sha256_hex(&hq_png), png_hash);
    let rows = p.dev("hq").with(|c| c.attachments(&patrol)).expect("rows");
    assert!(rows.iter().all(|r| r.present), "{rows:?}");
    // HQ's store is encrypted: what arrived (resumed across the cut) is sealed on its disk.
    let on_disk = p
        .dev("hq")
        .with(|c| c.blob_path(&png_hash))
        .map(|path| std::fs::read(path).expect("read"))
        .expect("path");
    assert!(on_disk.starts_with(b"TMBLOB01"), "sealed");
    assert!(
        !on_disk
            .windows(64)
            .any(|w| w == &png[png.len() / 2..png.len() / 2 + 64]),
        "no plaintext of the photo on HQ's disk"
    );
    p.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_at_random_points_resumes_and_sends_little_more_than_the_file() {
    let seed = std::env::var("TIDEMARK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2026u64);
    eprintln!("seed {seed} (replay with TIDEMARK_SEED={seed})");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    let patrol = new_patrol(&p, "kp", 1, 41);
    // The record reaches the relay first over a good link.
    p.sync("kp").await.expect("records");
    let size = 8 * 1024 * 1024 + 12_345;
    let log = noise(seed, size);
    let hash = p
        .dev("kp")
        .with(|c| c.attach(&patrol, AttachPlace::Record, "nhật ký hải trình.bin", &log))
        .expect("attach")
        .attachment
        .hash;

    let mut rng = Rng::new(seed);
    let proxy = FaultProxy::start(p.relay.as_ref().expect("relay").addr, FaultPlan::pass())
        .await
        .expect("proxy");
    p.dev("kp")
        .with(|c| c.set_relay_url(&proxy.url()))
        .expect("proxy url");
    p.opts.request_timeout = std::time::Duration::from_secs(10);
    let (mut failures, mut done) = (0, None);
    for session in 0..20 {
        // The first three sessions are cut at a random point of their upload (every connection
        // of the session breaks after that many bytes; only the one carrying chunks gets there).
        let plan = if session < 3 {
            let after = 50_000 + rng.below(size as u64 / 4) as usize;
            eprintln!("session {session}: cut after {after} B");
            FaultPlan::always(Fault::Cut {
                dir: Direction::Upstream,
                after,
            })
        } else {
            FaultPlan::pass()
        };
        proxy.set_plan(plan);
        match p.sync("kp").await {
            Ok(r) => {
                done = Some(r);
                break;
            }
            Err(e) => {
                assert!(e.retryable, "{e:?}");
                failures += 1;
            }
        }
    }
    let done = done.expect("the upload finished");
    let stats = proxy.stats();
    assert!(
        failures == 3 && stats.cut >= 3,
        "the cuts interrupted the upload ({failures} failed sessions, {stats:?})"
    );
    let sent = proxy.stats().bytes_up;
    let allowed = (size as f64 * 1.1) as u64 + CHUNK_SIZE;
    eprintln!(
        "file {size} B, sent on the socket {sent} B ({:.3}×) over {} sessions, {failures} cut",
        sent as f64 / size as f64,
        failures + 1
    );
    assert!(sent <= allowed, "sent {sent} > allowed {allowed}");
    assert!(done.files.uploaded >= 1 || failures > 0);

    // HQ gets exactly the file.
    p.sync("hq").await.expect("hq");
    let got = p
        .dev("hq")
        .with(|c| c.attachment_bytes(&hash))
        .expect("read")
        .expect("arrived");
    assert_eq!(got, log);
    p.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_is_sent_once_concurrent_attachments_merge_and_outsiders_get_403() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    let patrol = new_patrol(&p, "tt", 0, 42);
    let shared_photo = photo(9, 640, 480);
    p.dev("tt")
        .with(|c| c.attach(&patrol, AttachPlace::Record, "ảnh chung.png", &shared_photo))
        .expect("attach");
    p.sync("tt").await.expect("tt");
    p.sync("hq").await.expect("hq");

    // An exchange from the station to HQ: both may write it. Offline, each attaches a file.
    let exchange = "info:TT:20250210:01";
    let line = serde_json::json!({
        "type": "info_exchange", "id": exchange, "from_unit": unit_of("tt"), "to_units": [HQ],
        "sent_at": "2025-02-10T08:00:00+07:00", "subject": "Ảnh tàu lạ gần cửa Soài Rạp",
        "body": "Đề nghị Bộ Chỉ huy xác minh."
    })
    .to_string();
    p.dev("tt")
        .with(|c| {
            story::import_lines(c, &story::unit_lines())?;
            story::import_lines(c, &[line])
        })
        .expect("exchange");
    p.settle(&["tt", "hq"]).await.expect("exchange reaches hq");
    let a = noise(10, 300 * 1024);
    let b = noise(11, 200 * 1024);
    p.dev("tt")
        .with(|c| c.attach(exchange, AttachPlace::Record, "ảnh đồn.jpg", &a))
        .expect("tt attach");
    p.dev("hq")
        .with(|c| c.attach(exchange, AttachPlace::Record, "ảnh chỉ huy.jpg", &b))
        .expect("hq attach");
    // Another station attaches the very same photo to its own patrol: the relay has it.
    let other = new_patrol(&p, "kp", 1, 42);
    p.dev("kp")
        .with(|c| {
            c.attach(
                &other,
                AttachPlace::Record,
                "ảnh chung (bản sao).png",
                &shared_photo,
            )
        })
        .expect("kp attach");
    let kp = p.sync("kp").await.expect("kp");
    assert_eq!(
        kp.files.bytes_sent, 0,
        "the relay already had it: {:?}",
        kp.files
    );
    assert!(kp.files.uploaded >= 1);

    p.settle(&["tt", "hq", "tt"]).await.expect("settle");
    for key in ["tt", "hq"] {
        let rows = p.dev(key).with(|c| c.attachments(exchange)).expect("rows");
        let mut names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["ảnh chỉ huy.jpg", "ảnh đồn.jpg"], "{key}");
        assert!(rows.iter().all(|r| r.present), "{key}: {rows:?}");
    }
    let hq_rows = p.dev("hq").with(|c| c.attachments(&patrol)).expect("rows");
    assert!(hq_rows.iter().all(|r| r.present && r.thumb_present));

    // A district committee may not read a station's patrol, so not its files either.
    let hash = sha256_hex(&a);
    let gcd = p
        .dev("gcd")
        .with(|c: &mut Client| c.relay_config())
        .expect("cfg")
        .expect("enrolled");
    let http = RelayHttp::new(
        &gcd.url,
        Some(gcd.token.clone()),
        std::time::Duration::from_secs(5),
        Arc::new(WireCounters::default()),
    )
    .expect("http");
    let e = http.attachment_meta(&hash).await.expect_err("outsider");
    assert_eq!(e.code, "forbidden");
    let e = http
        .attachment_range(&hash, 0, 10)
        .await
        .expect_err("outsider");
    assert_eq!(e.code, "forbidden");
    p.sync("gcd").await.expect("gcd syncs fine");
    assert!(
        p.dev("gcd").with(|c| c.attachments(&patrol)).is_err(),
        "gcd has no such record"
    );
    let refused = p
        .dev("gcd")
        .with(|c| c.sync_summary())
        .expect("summary")
        .files_to_fetch;
    assert_eq!(refused, 0, "gcd was never told about the files");
    p.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_relay_refuses_are_reported_and_the_rest_still_move() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    // A relay with a 1 MiB file limit and a 1.5 MiB quota per unit.
    let relay = p.relay.take().expect("relay");
    let (addr, mut settings) = (relay.addr, relay.settings().clone());
    relay.stop().await.expect("stop");
    settings.max_attachment_bytes = 1024 * 1024;
    settings.attachment_quota_bytes = 1536 * 1024;
    p.relay = Some(
        tidemark_sync_server::EmbeddedRelay::start_on(addr, settings)
            .await
            .expect("restart"),
    );
    let patrol = new_patrol(&p, "vl", 2, 43);
    let (big, first, second) = (
        noise(20, 1200 * 1024),
        noise(21, 900 * 1024),
        noise(22, 900 * 1024),
    );
    p.dev("vl").with(|c| {
        for (name, bytes) in [
            ("video ngắn.mp4", &big),
            ("ảnh 1.jpg", &first),
            ("ảnh 2.jpg", &second),
        ] {
            c.attach(&patrol, AttachPlace::Record, name, bytes)
                .expect("attach");
        }
    });
    let r = p.sync("vl").await.expect("the session completes");
    let mut codes: Vec<_> = r.files.refused.iter().map(|(_, c)| c.as_str()).collect();
    codes.sort();
    assert_eq!(codes, ["quota_exceeded", "too_large"], "{:?}", r.files);
    assert_eq!(r.files.uploaded, 1, "the first photo fits");
    let summary = p.dev("vl").with(|c| c.sync_summary()).expect("summary");
    assert_eq!(
        summary.files_to_send, 2,
        "the refused files wait, nothing is lost"
    );
    assert!(p
        .dev("vl")
        .with(|c| c.attachment_bytes(&sha256_hex(&big)))
        .expect("read")
        .is_some());
    p.stop().await.expect("stop");
}
