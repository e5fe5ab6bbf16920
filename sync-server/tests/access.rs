//! The access matrix: each kind of unit (HQ, the owning station, another station, a district
//! committee) × each kind of document (a station's patrol, an exchange shared with a committee,
//! a plan owned by HQ and written by its parties) × read and write.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use tidemark_sync_server::db::{Access, Db, Device, Grant};

fn grant(unit: &str, access: Access) -> Grant {
    Grant {
        unit: unit.into(),
        access,
    }
}

#[test]
fn every_unit_gets_exactly_the_access_its_place_and_grants_give() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("relay.sqlite3")).unwrap();
    db.add_unit("HQ", None).unwrap();
    for unit in ["TT", "KP", "DC"] {
        db.add_unit(unit, Some("HQ")).unwrap();
    }
    db.add_unit("TT-tổ-1", Some("TT")).unwrap();
    let dev = |unit: &str| Device {
        id: format!("dev-{unit}"),
        unit: unit.into(),
    };
    use Access::{None as N, Read as R, Write as W};
    // The defaults a client asks for when it creates each kind of record.
    let docs: Vec<(&str, &str, &str, Vec<Grant>)> = vec![
        ("patrol", "patrol:TT:1", "TT", vec![]),
        ("squad patrol", "patrol:TT-tổ-1:1", "TT-tổ-1", vec![]),
        ("exchange", "exchange:TT:DC:1", "TT", vec![grant("DC", W)]),
        (
            "plan",
            "plan:2025",
            "HQ",
            vec![grant("TT", W), grant("KP", W), grant("DC", W)],
        ),
        ("shared read", "activity:KP:1", "KP", vec![grant("DC", R)]),
    ];
    for (_, id, owner, grants) in &docs {
        db.create_document(&dev(owner), id, owner, grants).unwrap();
    }
    //                    HQ  TT  KP  DC  TT-tổ-1
    let expected = [
        ("patrol", [R, W, N, N, N]),
        ("squad patrol", [R, R, N, N, W]),
        ("exchange", [R, W, N, W, N]),
        ("plan", [W, W, W, W, N]),
        ("shared read", [R, N, W, R, N]),
    ];
    let units = ["HQ", "TT", "KP", "DC", "TT-tổ-1"];
    for ((kind, id, _, _), (kind2, row)) in docs.iter().zip(expected) {
        assert_eq!(*kind, kind2);
        let meta = db.doc_meta(id).unwrap().unwrap();
        for (unit, want) in units.iter().zip(row) {
            assert_eq!(db.access(unit, &meta).unwrap(), want, "{unit} on {kind}");
        }
    }
}

#[test]
fn devices_create_documents_only_for_their_unit_or_below() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("relay.sqlite3")).unwrap();
    db.add_unit("HQ", None).unwrap();
    db.add_unit("TT", Some("HQ")).unwrap();
    db.add_unit("KP", Some("HQ")).unwrap();
    let hq = Device {
        id: "dev-hq".into(),
        unit: "HQ".into(),
    };
    let tt = Device {
        id: "dev-tt".into(),
        unit: "TT".into(),
    };
    assert!(db.create_document(&hq, "a", "TT", &[]).is_ok());
    assert!(db.create_document(&tt, "b", "TT", &[]).is_ok());
    for (device, owner) in [(&tt, "HQ"), (&tt, "KP")] {
        let err = db.create_document(device, "c", owner, &[]).unwrap_err();
        assert_eq!(err.code(), "forbidden");
    }
}

/// The same matrix over HTTP: each unit's device tries to read (sync down) and to write (push a
/// change) each document, and gets `ok`, `forbidden` or a pushed change accordingly.
#[tokio::test]
async fn the_access_matrix_holds_over_http_sync() {
    let relay = common::province().await;
    let units = ["HQ", "TT", "KP", "DC"];
    let mut devices = Vec::new();
    for unit in units {
        devices.push(relay.device(unit).await);
    }
    let docs = [
        ("patrol:TT:9", 1, serde_json::json!([])),
        (
            "exchange:TT:DC:9",
            1,
            serde_json::json!([{"unit": "DC", "access": "write"}]),
        ),
        (
            "plan:2025:9",
            0,
            serde_json::json!([
                {"unit": "TT", "access": "write"},
                {"unit": "KP", "access": "write"},
                {"unit": "DC", "access": "write"}
            ]),
        ),
        (
            "activity:KP:9",
            2,
            serde_json::json!([{"unit": "DC", "access": "read"}]),
        ),
    ];
    //                                HQ   TT   KP   DC
    let expected: [[&str; 4]; 4] = [
        ["r", "w", "-", "-"],
        ["r", "w", "-", "w"],
        ["w", "w", "w", "w"],
        ["r", "-", "w", "r"],
    ];
    for ((id, owner, grants), row) in docs.iter().zip(expected) {
        let owner_unit = units[*owner];
        devices[*owner]
            .create(
                id,
                owner_unit,
                grants.clone(),
                common::vietnamese_doc_text(),
            )
            .await;
        devices[*owner].sync_until_quiet().await;
        for (i, want) in row.iter().enumerate() {
            if i == *owner {
                continue;
            }
            let peer = &mut devices[i];
            peer.follow(id);
            let read = peer.round().await.unwrap()[*id].clone();
            let case = format!("{} on {id}", units[i]);
            if *want == "-" {
                assert_eq!(read, "forbidden", "read: {case}");
                peer.docs.remove(*id);
                peer.states.remove(*id);
                continue;
            }
            assert_eq!(read, "ok", "read: {case}");
            peer.sync_until_quiet().await;
            assert!(
                peer.notes(id).starts_with(common::vietnamese_doc_text()),
                "{case}"
            );
            let before = relay.db().load_chunks(id).unwrap();
            let push = peer.forced_push(id, "Ghi chú thêm. ");
            let write = peer.send(push).await[*id].clone();
            if *want == "w" {
                assert_eq!(write, "ok", "write: {case}");
                assert_ne!(relay.db().load_chunks(id).unwrap(), before, "{case}");
            } else {
                assert_eq!(write, "forbidden", "write: {case}");
                assert_eq!(relay.db().load_chunks(id).unwrap(), before, "{case}");
            }
        }
    }
    relay.stop().await;
}

/// Default grants by kind: exchange recipients and plan parties may write; patrols stay with
/// the station and its parents.
#[tokio::test]
async fn default_grants_follow_the_record_kind() {
    let relay = common::province().await;
    let tt = relay.device("TT").await;
    let dc = relay.device("DC").await;
    let kp = relay.device("KP").await;
    let create = |id: &str, kind: &str, parties: serde_json::Value| {
        tt.post("/v1/documents").json(&serde_json::json!({
            "id": id, "owner_unit": "TT", "kind": kind, "parties": parties
        }))
    };
    for (id, kind) in [
        ("info:TT:1", "info_exchange"),
        ("plan:item:1", "plan_item"),
        ("patrol:TT:1", "patrol"),
    ] {
        let resp = create(id, kind, serde_json::json!(["DC"]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{kind}");
    }
    let access = |peer: &common::Peer, id: &str| {
        let req = peer.get(&format!("/v1/documents/{id}"));
        async move {
            let resp = req.send().await.unwrap();
            if resp.status() == 403 {
                return "none".to_string();
            }
            let v: serde_json::Value = resp.json().await.unwrap();
            v["access"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(access(&dc, "info:TT:1").await, "write");
    assert_eq!(access(&dc, "plan:item:1").await, "write");
    assert_eq!(access(&dc, "patrol:TT:1").await, "none");
    assert_eq!(access(&kp, "info:TT:1").await, "none");
    let resp = create("x:1", "tau_ca", serde_json::json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(common::error_code(resp).await, "bad_kind");
}
