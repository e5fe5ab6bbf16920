//! A unit record's first change, which every device of the unit makes the same from the unit's
//! name (`tidemark_domain::genesis`) and which has no author: the relay takes it from any device
//! that may write the record, holds it once however many devices bring it, and refuses as a
//! forgery anything else made under the genesis actor.

#![allow(clippy::unwrap_used)]

mod common;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ReadDoc, TextEncoding, ROOT};
use common::*;
use tidemark_domain::genesis::{genesis_actor, unit_genesis, unit_id_for};

/// Registers unit record `id` for `unit` on the relay (201, or 409 when a colleague did).
async fn register(peer: &Peer, id: &str, unit: &str) -> u16 {
    peer.post("/v1/documents")
        .json(&serde_json::json!({"id": id, "owner_unit": unit, "grants": []}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `peer`'s copy of the unit record made from `name`, as a new device makes it.
fn start_unit(peer: &mut Peer, name: &str) {
    let mut doc = unit_genesis(name, &peer.actor).unwrap();
    peer.docs.insert(unit_id_for(name), doc.automerge().clone());
}

/// Rounds of `peer`'s sync until `id`'s item fails (its code) or there is nothing to send
/// (`ok`): a fresh session's first message carries no changes.
async fn push(peer: &mut Peer, id: &str) -> String {
    for _ in 0..8 {
        let Some(statuses) = peer.round().await else {
            break;
        };
        match statuses.get(id).map(String::as_str) {
            Some("ok") | None => {}
            Some(code) => return code.to_string(),
        }
    }
    "ok".into()
}

#[tokio::test]
async fn a_unit_record_made_by_every_device_is_one_change_at_the_relay() {
    let relay = province().await;
    let id = unit_id_for("TT");
    let mut devices = Vec::new();
    for n in 0..3 {
        let mut device = relay.signed_device("TT").await;
        let status = register(&device, &id, "TT").await;
        assert_eq!(status, if n == 0 { 201 } else { 409 }, "device {n}");
        start_unit(&mut device, "TT");
        device.sync_until_quiet().await;
        devices.push(device);
    }
    // Another device follows the record: it receives the one change, by no device.
    let mut reader = relay.signed_device("TT").await;
    reader.follow(&id);
    reader.sync_until_quiet().await;
    let doc = reader.docs.get_mut(&id).unwrap();
    let changes = doc.get_changes(&[]);
    assert_eq!(changes.len(), 1, "one change however many devices made it");
    assert_eq!(changes[0].actor_id(), &genesis_actor());
    let (name, _) = doc.get(ROOT, "name").unwrap().unwrap();
    assert_eq!(name.as_str(), Some("TT"));
    for device in &mut devices {
        assert_eq!(device.heads(&id), reader.heads(&id));
    }

    // A device's edit on top is its own change, checked as any other.
    let editor = &mut devices[1];
    let doc = editor.docs.get_mut(&id).unwrap();
    doc.put(ROOT, "code", "TT").unwrap();
    doc.commit();
    editor.sync_until_quiet().await;
    reader.sync_until_quiet().await;
    assert_eq!(reader.docs.get_mut(&id).unwrap().get_changes(&[]).len(), 2);
}

#[tokio::test]
async fn nothing_else_passes_for_a_unit_genesis() {
    let relay = province().await;
    let name = "Đồn Biên phòng Kiểng Phước";
    let id = unit_id_for(name);
    let mut forger = relay.signed_device("KP").await;
    assert_eq!(register(&forger, &id, "KP").await, 201);

    // Under the genesis actor, with the unit's own fields and one more.
    let mut forged =
        AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit).with_actor(genesis_actor());
    forged.put(ROOT, "type", "unit").unwrap();
    forged.put(ROOT, "id", id.as_str()).unwrap();
    forged.put(ROOT, "name", name).unwrap();
    forged.put(ROOT, "ghi_chú", "Đơn vị đã giải thể").unwrap();
    forged.commit_with(CommitOptions::default().with_time(0));
    forger.docs.insert(id.clone(), forged);
    assert_eq!(push(&mut forger, &id).await, "forged_author");

    // The genesis of another unit under this record's id.
    let mut other = unit_genesis("Đồn Biên phòng Tân Thành", &forger.actor).unwrap();
    forger.docs.insert(id.clone(), other.automerge().clone());
    forger.states.clear();
    assert_eq!(push(&mut forger, &id).await, "forged_author");

    // Nothing was kept: a reader of the record finds it empty; the true genesis then passes.
    let mut reader = relay.signed_device("KP").await;
    reader.follow(&id);
    reader.sync_until_quiet().await;
    assert!(reader
        .docs
        .get_mut(&id)
        .unwrap()
        .get_changes(&[])
        .is_empty());
    forger.states.clear();
    start_unit(&mut forger, name);
    forger.sync_until_quiet().await;
    reader.sync_until_quiet().await;
    assert_eq!(reader.docs.get_mut(&id).unwrap().get_changes(&[]).len(), 1);
}

#[tokio::test]
async fn a_unit_genesis_needs_a_device_that_may_write_the_record() {
    let relay = province().await;
    let id = unit_id_for("TT");
    let owner = relay.signed_device("TT").await;
    assert_eq!(register(&owner, &id, "TT").await, 201);
    // A device of another station may not write TT's record, genesis or not.
    let mut other = relay.signed_device("KP").await;
    start_unit(&mut other, "TT");
    assert_eq!(push(&mut other, &id).await, "forbidden");
}
