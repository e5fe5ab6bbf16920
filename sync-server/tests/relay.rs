//! End-to-end relay tests over real HTTP on 127.0.0.1:0: identity, sync convergence, access,
//! authorship, bodies, restart.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use automerge::sync::SyncDoc;
use common::{error_code, province, vietnamese_doc_text, Relay};
use tidemark_sync_protocol::{encode, DocMessage, Envelope};

#[tokio::test]
async fn enrolment_code_gives_a_token_once() {
    let relay = province().await;
    let (_, code) = relay.db().create_enrolment("TT", "tablet", 3600).unwrap();
    let http = reqwest::Client::new();
    let body = serde_json::json!({"code": code, "actor_hex": "0a0b0c0d"});
    let first = http
        .post(format!("{}/v1/enroll", relay.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let v: serde_json::Value = first.json().await.unwrap();
    assert!(v["token"].as_str().unwrap().len() >= 64);
    assert!(v["device_id"].as_str().unwrap().starts_with("dev-"));
    let again = http
        .post(format!("{}/v1/enroll", relay.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    assert_eq!(error_code(again).await, "unauthorized");
    relay.stop().await;
}

#[tokio::test]
async fn missing_bad_and_revoked_tokens_get_401() {
    let relay = province().await;
    let peer = relay.device("TT").await;
    let http = reqwest::Client::new();
    let feed = format!("{}/v1/feed", relay.url);
    let none = http.get(&feed).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(error_code(none).await, "unauthorized");
    let bad = http
        .get(&feed)
        .bearer_auth("tmk_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(peer.get("/v1/feed").send().await.unwrap().status(), 200);
    relay.db().revoke(&peer.id).unwrap();
    let revoked = peer.get("/v1/feed").send().await.unwrap();
    assert_eq!(revoked.status(), 401);
    assert_eq!(error_code(revoked).await, "unauthorized");
    let health = http
        .get(format!("{}/v1/health", relay.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    relay.stop().await;
}

#[tokio::test]
async fn two_devices_of_a_station_converge_through_the_relay() {
    let relay = province().await;
    let mut a = relay.device("TT").await;
    let mut b = relay.device("TT").await;
    let id = "patrol:TT:20250101:01";
    a.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.sync_until_quiet().await;
    b.follow(id);
    b.sync_until_quiet().await;
    assert_eq!(b.notes(id), vietnamese_doc_text());
    // Concurrent edits on both sides, then both sync until quiet, twice around.
    a.append(id, "Đã lập biên bản. ");
    b.append(id, "Thuyền trưởng ký xác nhận. ");
    for _ in 0..2 {
        a.sync_until_quiet().await;
        b.sync_until_quiet().await;
    }
    let text = a.notes(id);
    assert_eq!(text, b.notes(id));
    assert!(text.contains("Đã lập biên bản.") && text.contains("Thuyền trưởng ký xác nhận."));
    relay.stop().await;
}

#[tokio::test]
async fn hq_reads_a_station_document_via_feed_and_sync_but_cannot_write_it() {
    let relay = province().await;
    let mut station = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let id = "patrol:TT:20250102:01";
    station
        .create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    station.sync_until_quiet().await;
    let (cursor, ids) = hq.feed(0).await;
    assert_eq!(ids, vec![id.to_string()]);
    hq.follow(id);
    hq.sync_until_quiet().await;
    assert_eq!(hq.notes(id), vietnamese_doc_text());
    assert_eq!(hq.feed(cursor).await.1, Vec::<String>::new());
    // The relay keeps a read-only sync state for a reader, so a well-behaved client never
    // sends it changes; a message that carries changes anyway is refused whole.
    let before = relay.db().load_chunks(id).unwrap();
    let env = hq.forced_push(id, "Sửa trái phép. ");
    assert_eq!(hq.send(env).await[id], "forbidden");
    // Its rejected local change must not keep it syncing forever: the session ends.
    hq.sync_until_quiet().await;
    assert_eq!(relay.db().load_chunks(id).unwrap(), before);
    relay.stop().await;
}

#[tokio::test]
async fn another_station_gets_403_and_an_empty_feed() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut kp = relay.device("KP").await;
    let id = "patrol:TT:20250103:01";
    tt.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    assert!(kp.feed(0).await.1.is_empty());
    let info = kp.get(&format!("/v1/documents/{id}")).send().await.unwrap();
    assert_eq!(info.status(), 403);
    assert_eq!(error_code(info).await, "forbidden");
    kp.follow(id);
    let statuses = kp.round().await.unwrap();
    assert_eq!(statuses[id], "forbidden");
    assert_eq!(common::root_keys(&kp.docs[id]), 0);
    relay.stop().await;
}

#[tokio::test]
async fn a_granted_district_committee_reads_only_what_is_shared() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut dc = relay.device("DC").await;
    let shared = "exchange:TT:DC:0001";
    let private = "patrol:TT:20250104:01";
    let grants = serde_json::json!([{"unit": "DC", "access": "write"}]);
    tt.create(shared, "TT", grants, "Trao đổi thông tin với Huyện ủy. ")
        .await;
    tt.create(private, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    assert_eq!(dc.feed(0).await.1, vec![shared.to_string()]);
    dc.follow(shared);
    dc.sync_until_quiet().await;
    dc.append(shared, "Đã nhận. ");
    dc.sync_until_quiet().await;
    tt.sync_until_quiet().await;
    assert!(tt.notes(shared).ends_with("Đã nhận. "));
    relay.stop().await;
}

#[tokio::test]
async fn changes_under_another_devices_actor_are_forged_and_change_nothing() {
    let relay = province().await;
    let mut a = relay.device("TT").await;
    let mut b = relay.device("TT").await;
    let hq = relay.device("HQ").await;
    let id = "patrol:TT:20250105:01";
    a.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.sync_until_quiet().await;
    b.follow(id);
    b.sync_until_quiet().await;
    let before = relay.db().load_chunks(id).unwrap();
    for actor in [hq.actor.clone(), automerge::ActorId::random()] {
        let mut forger = relay.device("TT").await;
        forger.follow(id);
        forger.sync_until_quiet().await;
        let doc = forger.docs.remove(id).unwrap().with_actor(actor);
        forger.docs.insert(id.to_string(), doc);
        forger.append(id, "Giả mạo người viết. ");
        // The forged change need not go in the first message: the relay's last Bloom filter
        // can claim it by a false positive (about 1 in 100), and then it goes once the relay's
        // answer shows its heads without it. Every round until then changes nothing either.
        let mut status = String::from("ok");
        for _ in 0..5 {
            let Some(statuses) = forger.round().await else {
                break;
            };
            status = statuses[id].clone();
            assert_eq!(relay.db().load_chunks(id).unwrap(), before);
            if status != "ok" {
                break;
            }
        }
        assert_eq!(status, "forged_author");
        assert_eq!(relay.db().load_chunks(id).unwrap(), before);
    }
    b.sync_until_quiet().await;
    assert_eq!(b.notes(id), vietnamese_doc_text());
    relay.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_400_and_413() {
    let relay = Relay::start_with(|s| {
        s.max_request_bytes = 64 * 1024;
        s.max_message_bytes = 1024;
    })
    .await;
    relay.add_unit("TT", None);
    let peer = relay.device("TT").await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"GET / HTTP/1.1".to_vec(), 400, "bad_envelope"),
        (b"TMS\x09\x00".to_vec(), 400, "bad_envelope"),
        (b"TMS\x01\x05\x01".to_vec(), 400, "bad_envelope"),
        (vec![0u8; 100 * 1024], 413, "too_large"),
        (
            encode(&Envelope {
                items: vec![DocMessage {
                    doc_id: "x".into(),
                    message: vec![0; 2048],
                    signatures: Vec::new(),
                }],
            }),
            413,
            "too_large",
        ),
    ];
    for (body, status, code) in cases {
        let resp = peer.post("/v1/sync").body(body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(error_code(resp).await, code);
    }
    let zstd_junk = peer
        .post("/v1/sync")
        .header("content-encoding", "zstd")
        .body(b"not zstd".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(zstd_junk.status(), 400);
    assert_eq!(error_code(zstd_junk).await, "bad_encoding");
    relay.stop().await;
}

#[tokio::test]
async fn a_malformed_sync_message_fails_its_item_only() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20250106:01";
    tt.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    let env = Envelope {
        items: vec![
            DocMessage {
                doc_id: id.into(),
                message: vec![0x42, 0xff, 0xff, 0xff],
                signatures: Vec::new(),
            },
            DocMessage {
                doc_id: "unknown:doc".into(),
                message: vec![],
                signatures: Vec::new(),
            },
        ],
    };
    let statuses = tt.send(env).await;
    assert_eq!(statuses[id], "bad_message");
    assert_eq!(statuses["unknown:doc"], "not_found");
    relay.stop().await;
}

#[tokio::test]
async fn zstd_request_and_response_round_trip() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20250107:01";
    tt.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    let state = tt.states.entry(id.to_string()).or_default();
    let doc = tt.docs.get_mut(id).unwrap();
    let msg = doc.sync().generate_sync_message(state).unwrap();
    let env = encode(&Envelope {
        items: vec![DocMessage {
            doc_id: id.into(),
            message: msg.encode(),
            signatures: Vec::new(),
        }],
    });
    let resp = tt
        .post("/v1/sync")
        .header("content-encoding", "zstd")
        .header("accept-encoding", "zstd")
        .body(zstd::encode_all(env.as_slice(), 3).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "zstd");
    let body = zstd::decode_all(resp.bytes().await.unwrap().as_ref()).unwrap();
    let (status, _) = tidemark_sync_protocol::decode_response(&body, &Default::default()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(v["items"][0]["code"], "ok");
    relay.stop().await;
}

#[tokio::test]
async fn a_restarted_relay_keeps_everything_acknowledged() {
    let relay = province().await;
    let mut a = relay.device("TT").await;
    let id = "patrol:TT:20250108:01";
    a.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.append(id, "Kết thúc tuần tra lúc 17 giờ. ");
    a.sync_until_quiet().await;
    let (token, expected) = (a.token.clone(), a.notes(id));
    let dir = relay.stop().await;
    let relay = Relay::start_in(dir, |_| {}).await;
    let mut b = relay.device("TT").await;
    b.follow(id);
    b.sync_until_quiet().await;
    assert_eq!(b.notes(id), expected);
    let old = reqwest::Client::new()
        .get(format!("{}/v1/feed", relay.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 200);
    relay.stop().await;
}

#[tokio::test]
async fn sharing_after_creation_opens_the_document_to_the_grantee() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut kp = relay.device("KP").await;
    let id = "activity:TT:20250109:01";
    tt.create(
        id,
        "TT",
        serde_json::json!([]),
        "Tuyên truyền pháp luật ở xã Tân Thành. ",
    )
    .await;
    tt.sync_until_quiet().await;
    let (cursor, ids) = kp.feed(0).await;
    assert!(ids.is_empty());
    let grants = serde_json::json!({"grants": [{"unit": "KP", "access": "read"}]});
    let path = format!("/v1/documents/{id}/grants");
    let denied = kp.post(&path).json(&grants).send().await.unwrap();
    assert_eq!(denied.status(), 403);
    assert_eq!(error_code(denied).await, "forbidden");
    let shared = tt.post(&path).json(&grants).send().await.unwrap();
    assert_eq!(shared.status(), 200);
    assert_eq!(kp.feed(cursor).await.1, vec![id.to_string()]);
    kp.follow(id);
    kp.sync_until_quiet().await;
    assert_eq!(kp.notes(id), "Tuyên truyền pháp luật ở xã Tân Thành. ");
    let audit = relay.db().audit_log().unwrap();
    assert!(audit
        .iter()
        .any(|(_, _, action, subject)| action == "document.share" && subject == id));
    relay.stop().await;
}
