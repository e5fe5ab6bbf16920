//! A lost device is revoked: its token stops at once (see `relay.rs`), and changes its actor
//! made after the revocation are held back for review when they arrive later through another
//! device or a bundle — with anything built on them — while its earlier changes and everyone
//! else's still land.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::ReadDoc;
use common::{province, vietnamese_doc_text, Peer};
use tidemark_sync_protocol::encode_bundle;

const ID: &str = "patrol:TT:20250410:01";

/// Appends `text` to the notes of `peer`'s copy of `ID`, in a change stamped `time`.
fn append_at(peer: &mut Peer, text: &str, time: i64) {
    let doc = peer.docs.get_mut(ID).unwrap();
    let (_, notes) = doc.get(automerge::ROOT, "notes").unwrap().unwrap();
    let len = doc.length(&notes);
    doc.splice_text(&notes, len, 0, text).unwrap();
    doc.commit_with(CommitOptions::default().with_time(time));
}

/// Merges the lost device's copy into `into`'s (a station hands its laptop's data over).
fn merge_from(into: &mut Peer, lost: &mut Peer) {
    let mut theirs = lost.docs.get_mut(ID).unwrap().fork();
    into.docs.get_mut(ID).unwrap().merge(&mut theirs).unwrap();
}

/// The lost device `a` made one change before its revocation and one after, both offline.
async fn lost_device_with_two_changes(relay: &common::Relay) -> (Peer, Peer) {
    let mut a = relay.device("TT").await;
    let mut b = relay.device("TT").await;
    a.create(ID, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.sync_until_quiet().await;
    b.follow(ID);
    b.sync_until_quiet().await;
    let now = chrono_now();
    append_at(&mut a, "Trước khi mất máy. ", now - 600);
    relay.db().revoke(&a.id).unwrap();
    append_at(&mut a, "Sau khi bị thu hồi. ", now + 600);
    (a, b)
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_revoked_devices_later_changes_arriving_through_another_device_are_held() {
    let relay = province().await;
    let (mut a, mut b) = lost_device_with_two_changes(&relay).await;
    // The other device's own work, concurrent with the lost device's.
    append_at(&mut b, "Đồn xác nhận. ", chrono_now());
    merge_from(&mut b, &mut a);
    // Syncing completes (the held change is not asked for forever) and reports no error.
    b.sync_until_quiet().await;

    let mut hq = relay.device("HQ").await;
    hq.follow(ID);
    hq.sync_until_quiet().await;
    let text = hq.notes(ID);
    assert!(text.contains("Trước khi mất máy."), "{text}");
    assert!(text.contains("Đồn xác nhận."), "{text}");
    assert!(!text.contains("Sau khi bị thu hồi."), "{text}");

    let held = relay.db().held_changes().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].doc_id, ID);
    assert_eq!(held[0].reason, "after_revocation");
    assert_eq!(held[0].via, "sync");
    assert_eq!(held[0].device_id.as_deref(), Some(a.id.as_str()));
    assert_eq!(held[0].via_device.as_deref(), Some(b.id.as_str()));

    // Work built on the held change is held with it; the next session brings nothing twice.
    append_at(&mut b, "Ghi tiếp sau khi gộp. ", chrono_now());
    b.sync_until_quiet().await;
    b.sync_until_quiet().await;
    let held = relay.db().held_changes().unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
    let mut reasons: Vec<&str> = held.iter().map(|h| h.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(reasons, ["after_revocation", "depends_on_held"]);
    hq.sync_until_quiet().await;
    assert!(!hq.notes(ID).contains("Ghi tiếp sau khi gộp."));

    // The administrator reviews them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidemark-server"))
        .arg("--data-dir")
        .arg(relay.dir.path())
        .args(["held", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    for (row, h) in listed.as_array().unwrap().iter().zip(&held) {
        assert_eq!(row["hash"], h.hash.as_str());
        assert_eq!(row["reason"], h.reason.as_str());
    }
    relay.stop().await;
}

#[tokio::test]
async fn a_revoked_devices_later_changes_arriving_by_bundle_are_held() {
    let relay = province().await;
    let (mut a, mut b) = lost_device_with_two_changes(&relay).await;
    merge_from(&mut b, &mut a);
    let bundle = b.bundle("TT", &[(ID, "patrol", "TT")]);
    let (status, receipt) = b.upload(encode_bundle(&bundle)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["documents"][0]["status"], "ok", "{receipt}");

    let mut hq = relay.device("HQ").await;
    hq.follow(ID);
    hq.sync_until_quiet().await;
    let text = hq.notes(ID);
    assert!(text.contains("Trước khi mất máy."), "{text}");
    assert!(!text.contains("Sau khi bị thu hồi."), "{text}");
    let held = relay.db().held_changes().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].via.as_str(), held[0].reason.as_str()),
        ("bundle", "after_revocation")
    );
    relay.stop().await;
}
