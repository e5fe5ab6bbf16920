//! USB bundles: between two devices with no relay at all, with receipts and `--since`; into the
//! relay; tampered and truncated files refused without changing anything.

use std::sync::Arc;

use tidemark_client::sync::{self, DeliveryStage};
use tidemark_client::Client;
use tidemark_province::story::{self, record_patrols};
use tidemark_province::{Province, HQ, STATIONS};
use tidemark_sync_protocol::Receipt;
use tidemark_testkit::Rng;

fn store(dir: &std::path::Path, unit: &str) -> Client {
    Client::init(dir, unit, "Trung úy Lê Quốc Vũ").expect("init")
}

#[test]
fn bundles_travel_between_devices_with_no_relay_and_receipts_come_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut station = store(&dir.path().join("tt"), STATIONS[0]);
    let mut hq = store(&dir.path().join("hq"), HQ);
    story::import_lines(&mut hq, &story::unit_lines()).expect("units");
    // A station is set up with the province's unit list too.
    story::import_lines(&mut station, &story::unit_lines()).expect("units");
    let mut rng = Rng::new(3);
    let ids = record_patrols(&mut station, &mut rng, 0, 20, 3).expect("patrols");

    let bundle = dir.path().join("usb.tmb");
    let w = station
        .export_bundle(&bundle, Some(HQ), None)
        .expect("export");
    let all = station.store().doc_ids().expect("ids").len();
    assert_eq!(w.documents, all, "HQ may read everything");
    let bytes = std::fs::read(&bundle).expect("read");
    let merged = hq.import_bundle(&bytes).expect("import");
    assert_eq!(merged.changed, all);
    for id in &ids {
        assert_eq!(
            hq.show(id).expect("at HQ").record,
            station.show(id).expect("here").record
        );
    }
    // Importing the same bundle again changes nothing.
    assert_eq!(hq.import_bundle(&bytes).expect("again").changed, 0);

    // The receipt goes back: the station now knows HQ has them.
    let receipt = Receipt::from_json(&merged.receipt.to_json()).expect("receipt");
    assert_eq!(station.import_receipt(&receipt).expect("receipt in"), all);
    for id in &ids {
        assert_eq!(
            station.delivery(id).expect("delivery").stage,
            DeliveryStage::ReceivedByHq
        );
    }

    // An edit after the receipt: `--since` carries only what HQ lacks.
    station
        .splice(&ids[0], "notes", 0, 0, "Bổ sung: sóng cấp 4. ")
        .expect("edit");
    assert_eq!(
        station.delivery(&ids[0]).expect("delivery").stage,
        DeliveryStage::SavedHere,
        "HQ holds an older state only"
    );
    let next = dir.path().join("usb2.tmb");
    let w2 = station
        .export_bundle(&next, Some(HQ), Some(&receipt))
        .expect("export since");
    assert_eq!((w2.documents, w2.unchanged), (1, all - 1));
    assert!(w2.bytes < w.bytes / 2, "{} vs {}", w2.bytes, w.bytes);
    hq.import_bundle(&std::fs::read(&next).expect("read"))
        .expect("import since");
    let notes = serde_json::to_value(&hq.show(&ids[0]).expect("show").record).expect("json")
        ["notes"]
        .as_str()
        .expect("notes")
        .to_string();
    assert!(notes.starts_with("Bổ sung: sóng cấp 4. "), "{notes}");

    // A unit that may not read the patrols gets none of them.
    let other = station
        .export_bundle(&dir.path().join("x.tmb"), Some(STATIONS[1]), None)
        .expect("export for another station");
    let other_bytes = std::fs::read(dir.path().join("x.tmb")).expect("read");
    let other_bundle =
        tidemark_sync_protocol::decode_bundle(&other_bytes, &Default::default()).expect("decode");
    assert_eq!(other_bundle.docs.len(), other.documents);
    for d in &other_bundle.docs {
        assert!(
            !ids.contains(&d.meta.id),
            "{} leaked to another station",
            d.meta.id
        );
    }
    assert!(other.documents < all);
}

#[test]
fn damaged_bundles_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut station = store(&dir.path().join("tt"), STATIONS[0]);
    let mut hq = store(&dir.path().join("hq"), HQ);
    let mut rng = Rng::new(4);
    record_patrols(&mut station, &mut rng, 0, 21, 2).expect("patrols");
    let bundle = dir.path().join("usb.tmb");
    station.export_bundle(&bundle, None, None).expect("export");
    let good = std::fs::read(&bundle).expect("read");
    let before = hq.store().doc_ids().expect("ids");

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    let err = hq.import_bundle(&flipped).expect_err("tampered");
    assert!(err.to_string().contains("checksum"), "{err}");
    for cut in [0, 3, 10, good.len() / 3, good.len() - 1] {
        let err = hq.import_bundle(&good[..cut]).expect_err("truncated");
        assert!(err.is_user_error(), "{err}");
    }
    assert_eq!(
        hq.store().doc_ids().expect("ids"),
        before,
        "nothing applied"
    );
    hq.import_bundle(&good)
        .expect("the intact file still imports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_uploaded_to_the_relay_reaches_other_devices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    let mut rng = Rng::new(6);
    let ids = p
        .dev("kp")
        .with(|c| record_patrols(c, &mut rng, 1, 30, 2))
        .expect("patrols");
    let file = dir.path().join("kp.tmb");
    p.dev("kp")
        .with(|c| c.export_bundle(&file, None, None))
        .expect("export");
    // The stick reaches a machine with a link: the station's own device uploads it.
    let bytes = std::fs::read(&file).expect("read");
    let shared = Arc::clone(&p.dev("kp").client);
    let receipt = sync::upload_bundle(&shared, &bytes).await.expect("upload");
    let receipt = Receipt::from_json(&receipt).expect("receipt");
    assert!(
        receipt.documents.iter().all(|d| d.status == "ok"),
        "{receipt:?}"
    );
    p.sync("hq").await.expect("hq sync");
    for id in &ids {
        assert!(p.dev("hq").with(|c| c.show(id)).is_ok(), "{id} at HQ");
    }
    // A tampered upload is refused by the relay.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 40] ^= 1;
    let err = sync::upload_bundle(&shared, &bad)
        .await
        .expect_err("tampered");
    assert_eq!(err.code, "bad_bundle", "{err:?}");
    p.stop().await.expect("stop");
}
