//! The enrolment answer's unit, `POST /v1/documents/batch` and `POST /v1/receipts`, over real
//! HTTP on 127.0.0.1:0.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::{error_code, province, vietnamese_doc_text, Peer, Relay};

const HQ: &str = "Bộ Chỉ huy Bộ đội Biên phòng tỉnh Tiền Giang";
const TT: &str = "Đồn Biên phòng Tân Thành";

#[tokio::test]
async fn enrolment_answers_the_unit_and_its_root() {
    let relay = Relay::start().await;
    relay.add_unit(HQ, None);
    relay.add_unit(TT, Some(HQ));
    relay.add_unit("Tổ công tác Cồn Ngang", Some(TT));
    let http = reqwest::Client::new();
    for (unit, actor) in [
        (TT, "0a01"),
        (HQ, "0a02"),
        ("Tổ công tác Cồn Ngang", "0a03"),
    ] {
        let (_, code) = relay.db().create_enrolment(unit, "máy", 3600).unwrap();
        let v: serde_json::Value = http
            .post(format!("{}/v1/enroll", relay.url))
            .json(&serde_json::json!({"code": code, "actor_hex": actor}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["unit"], unit);
        assert_eq!(v["root_unit"], HQ);
        assert!(v["token"].as_str().unwrap().starts_with("tmk_"));
    }
    relay.stop().await;
}

async fn batch(peer: &Peer, documents: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = peer
        .post("/v1/documents/batch")
        .json(&serde_json::json!({ "documents": documents }))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_batch_answers_one_code_per_document_in_order() {
    let relay = province().await;
    let tt = relay.device("TT").await;
    let hq = relay.device("HQ").await;
    let (status, _) = batch(
        &tt,
        serde_json::json!([{"id": "patrol:TT:0", "owner_unit": "TT"}]),
    )
    .await;
    assert_eq!(status, 200);
    let docs = serde_json::json!([
        {"id": "patrol:TT:Tân-Thành:1", "owner_unit": "TT", "kind": "patrol"},
        {"id": "patrol:TT:0", "owner_unit": "TT"},
        {"id": "patrol:KP:1", "owner_unit": "KP"},
        {"id": "patrol:X:1", "owner_unit": "Không tồn tại"},
        {"id": "info:TT:1", "owner_unit": "TT", "kind": "info_exchange", "parties": ["Huyện ủy ma"]},
        {"id": "tau:TT:1", "owner_unit": "TT", "kind": "tau_ca"},
        {"id": "", "owner_unit": "TT"},
        {"id": "info:TT:2", "owner_unit": "TT", "kind": "info_exchange", "parties": ["DC"]},
        {"id": "patrol:TT:Tân-Thành:1", "owner_unit": "TT"},
    ]);
    let (status, v) = batch(&tt, docs).await;
    assert_eq!(status, 200, "{v}");
    let codes: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "created",
            "exists",
            "forbidden",
            "not_found",
            "not_found",
            "bad_kind",
            "bad_doc_id",
            "created",
            "exists"
        ]
    );
    assert_eq!(v["results"][0]["id"], "patrol:TT:Tân-Thành:1");
    assert!(v["results"][0].get("message").is_none());
    assert!(v["results"][2]["message"].is_string());
    // Created documents are in the feed, with the default grants of their kind.
    let (_, ids) = tt.feed(0).await;
    assert_eq!(ids, ["patrol:TT:0", "patrol:TT:Tân-Thành:1", "info:TT:2"]);
    let meta = relay.db().doc_meta("info:TT:2").unwrap().unwrap();
    assert_eq!(meta.grants[0].unit, "DC");
    assert!(relay.db().doc_meta("info:TT:1").unwrap().is_none());
    // HQ creates for a station below it.
    let (_, v) = batch(
        &hq,
        serde_json::json!([{"id": "plan:KP:1", "owner_unit": "KP"}]),
    )
    .await;
    assert_eq!(v["results"][0]["code"], "created");
    relay.stop().await;
}

#[tokio::test]
async fn batch_and_receipt_request_errors_have_codes() {
    let relay = province().await;
    let tt = relay.device("TT").await;
    let many: Vec<serde_json::Value> = (0..1001)
        .map(|i| serde_json::json!({"id": format!("patrol:TT:{i}"), "owner_unit": "TT"}))
        .collect();
    let (status, v) = batch(&tt, serde_json::Value::Array(many)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let ids: Vec<String> = (0..1001).map(|i| format!("patrol:TT:{i}")).collect();
    let resp = tt
        .post("/v1/receipts")
        .json(&serde_json::json!({ "ids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    for (path, body) in [
        ("/v1/documents/batch", r#"{"documents": 5}"#),
        ("/v1/documents/batch", r#"{"documents": [{"id": "x"}]}"#),
        ("/v1/receipts", r#"{"ids": "x"}"#),
        ("/v1/receipts", "["),
    ] {
        let resp = tt.post(path).body(body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path} {body}");
        assert_eq!(error_code(resp).await, "bad_json");
    }
    let http = reqwest::Client::new();
    for path in ["/v1/documents/batch", "/v1/receipts"] {
        let resp = http
            .post(format!("{}{path}", relay.url))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    relay.stop().await;
}

async fn receipts(peer: &Peer, ids: &[&str]) -> serde_json::Value {
    let resp = peer
        .post("/v1/receipts")
        .json(&serde_json::json!({ "ids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn receipts_show_acknowledged_heads_to_readers_only() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let kp = relay.device("KP").await;
    let id = "patrol:TT:20250120:01";
    tt.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    let v = receipts(&tt, &[id]).await;
    assert_eq!(v["documents"][0]["id"], id);
    assert_eq!(v["documents"][0]["units"], serde_json::json!([]));
    tt.sync_until_quiet().await;
    hq.follow(id);
    hq.sync_until_quiet().await;
    // Three more devices of the station reach the same state: one receipt stands for them.
    let mut others = Vec::new();
    for _ in 0..3 {
        let mut other = relay.device("TT").await;
        other.follow(id);
        other.sync_until_quiet().await;
        others.push(other);
    }
    let mut heads = tt.heads(id);
    heads.sort();
    let v = receipts(&tt, &[id, "patrol:không:có"]).await;
    let docs = v["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "unknown ids are left out");
    let units: HashMap<&str, &serde_json::Value> = docs[0]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["unit"].as_str().unwrap(), u))
        .collect();
    assert_eq!(units.len(), 2);
    assert_eq!(units["HQ"]["root"], true);
    assert_eq!(units["TT"]["root"], false);
    assert_eq!(units["HQ"]["devices"][0]["device_id"], hq.id.as_str());
    assert_eq!(units["HQ"]["devices"][0]["heads"], serde_json::json!(heads));
    assert_eq!(units["TT"]["devices"][0]["heads"], serde_json::json!(heads));
    assert!(units["TT"]["devices"][0]["at"].as_i64().unwrap() > 0);
    let tt_devices = units["TT"]["devices"].as_array().unwrap();
    assert_eq!(
        tt_devices.len(),
        1,
        "one entry per distinct state: {tt_devices:?}"
    );
    assert_ne!(
        tt_devices[0]["device_id"],
        tt.id.as_str(),
        "never the caller's own"
    );
    // HQ reads the document, so it sees the receipts too; KP does not.
    assert_eq!(
        receipts(&hq, &[id]).await["documents"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        receipts(&kp, &[id]).await,
        serde_json::json!({"documents": []})
    );
    // The station writes more; until HQ has it, HQ's receipt stays at the old heads (the relay
    // keeps what it read between requests), and once HQ syncs it moves to the new ones.
    tt.append(
        id,
        "Bổ sung: tàu cá đã rời vùng biển lúc 17 giờ, không có vi phạm.",
    );
    tt.sync_until_quiet().await;
    let mut newer = tt.heads(id);
    newer.sort();
    assert_ne!(newer, heads);
    let hq_heads = |v: serde_json::Value| {
        v["documents"][0]["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["unit"] == "HQ")
            .map(|u| u["devices"][0]["heads"].clone())
            .unwrap()
    };
    assert_eq!(
        hq_heads(receipts(&tt, &[id]).await),
        serde_json::json!(heads)
    );
    hq.sync_until_quiet().await;
    assert_eq!(
        hq_heads(receipts(&tt, &[id]).await),
        serde_json::json!(newer)
    );
    relay.stop().await;
}
