//! File bundles on the relay over real HTTP on 127.0.0.1:0: `POST /v1/bundles` with its
//! per-document checks and receipt, and the `tidemark-server bundle import` admin command.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::Command;

use automerge::ActorId;
use common::{province, vietnamese_doc_text, Peer, Relay};
use tidemark_sync_protocol::{bundle_sha256_hex, encode_bundle, Receipt};

const BIN: &str = env!("CARGO_BIN_EXE_tidemark-server");

/// Receipt statuses by document id.
fn statuses(receipt: &serde_json::Value) -> HashMap<String, String> {
    receipt["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn entry<'a>(receipt: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    receipt["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap()
}

#[tokio::test]
async fn a_bundle_creates_documents_that_sync_serves_to_other_devices() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let id = "patrol:TT:20250110:01";
    tt.local(id, vietnamese_doc_text());
    tt.append(id, "Bắt giữ 2 tàu cá vi phạm. ");
    let bundle = tt.bundle("TT", &[(id, "patrol", "TT")]);
    let bytes = encode_bundle(&bundle);
    let (status, receipt) = tt.upload(bytes.clone()).await;
    assert_eq!(status, 200, "{receipt}");
    let parsed = Receipt::from_json(&serde_json::to_vec(&receipt).unwrap()).unwrap();
    assert_eq!(parsed.bundle_id, bundle.header.bundle_id);
    assert_eq!(parsed.bundle_sha256, bundle_sha256_hex(&bytes));
    assert_eq!(parsed.by_unit, "TT");
    assert_eq!(parsed.by_device, tt.id);
    assert_eq!(parsed.documents[0].status, "ok");
    assert_eq!(parsed.documents[0].accepted, 2);
    assert_eq!(parsed.documents[0].heads, tt.heads(id));
    // HQ reads the station's patrol through the tree: the feed lists it and sync serves it.
    assert_eq!(hq.feed(0).await.1, vec![id.to_string()]);
    hq.follow(id);
    hq.sync_until_quiet().await;
    assert_eq!(
        hq.notes(id),
        format!("{}Bắt giữ 2 tàu cá vi phạm. ", vietnamese_doc_text())
    );
    // The same bundle again: nothing new, still ok.
    let (status, again) = tt.upload(bytes).await;
    assert_eq!(status, 200);
    assert_eq!(entry(&again, id)["status"], "ok");
    assert_eq!(entry(&again, id)["accepted"], 0);
    let log = relay.db().audit_log().unwrap();
    assert!(log
        .iter()
        .any(|(_, a, act, _)| a == &tt.id && act == "bundle.import"));
    relay.stop().await;
}

#[tokio::test]
async fn a_bundle_refreshes_a_document_the_relay_holds_in_memory() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let id = "patrol:TT:20250111:01";
    tt.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    hq.follow(id);
    hq.sync_until_quiet().await;
    tt.append(id, "Đêm yên tĩnh. ");
    let bytes = encode_bundle(&tt.bundle("TT", &[(id, "patrol", "TT")]));
    let (status, receipt) = tt.upload(bytes).await;
    assert_eq!(status, 200);
    assert_eq!(entry(&receipt, id)["accepted"], 1);
    hq.sync_until_quiet().await;
    assert!(hq.notes(id).ends_with("Đêm yên tĩnh. "));
    relay.stop().await;
}

#[tokio::test]
async fn a_tampered_bundle_is_refused_whole_and_stores_nothing() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20250112:01";
    tt.local(id, vietnamese_doc_text());
    let mut bytes = encode_bundle(&tt.bundle("TT", &[(id, "patrol", "TT")]));
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let (status, body) = tt.upload(bytes.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_bundle");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("checksum_mismatch"), "{message}");
    assert!(
        message.contains("ask the sender for a new copy"),
        "{message}"
    );
    bytes.truncate(middle);
    let (status, body) = tt.upload(bytes).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("(truncated)"));
    let (status, body) = tt.upload(b"PK\x03\x04 not a bundle".to_vec()).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not_a_bundle"));
    assert!(relay.db().doc_meta(id).unwrap().is_none());
    assert_eq!(tt.feed(0).await.1, Vec::<String>::new());
    relay.stop().await;
}

#[tokio::test]
async fn a_change_by_an_unknown_actor_fails_its_document_only() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let (good, forged, known) = (
        "patrol:TT:20250113:01",
        "patrol:TT:20250113:02",
        "patrol:TT:20250113:03",
    );
    tt.create(known, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    tt.local(good, vietnamese_doc_text());
    tt.local(forged, vietnamese_doc_text());
    let doc = tt
        .docs
        .remove(forged)
        .unwrap()
        .with_actor(ActorId::random());
    tt.docs.insert(forged.to_string(), doc);
    tt.append(forged, "Giả mạo người viết. ");
    let before = relay.db().load_chunks(known).unwrap();
    let doc = tt.docs.remove(known).unwrap().with_actor(ActorId::random());
    tt.docs.insert(known.to_string(), doc);
    tt.append(known, "Sửa trái phép. ");
    let bundle = tt.bundle(
        "TT",
        &[
            (good, "patrol", "TT"),
            (forged, "patrol", "TT"),
            (known, "patrol", "TT"),
        ],
    );
    let (status, receipt) = tt.upload(encode_bundle(&bundle)).await;
    assert_eq!(status, 200);
    let s = statuses(&receipt);
    assert_eq!(s[good], "ok");
    assert_eq!(s[forged], "forged_author");
    assert_eq!(s[known], "forged_author");
    assert!(relay.db().doc_meta(good).unwrap().is_some());
    assert!(
        relay.db().doc_meta(forged).unwrap().is_none(),
        "a refused new document is not created"
    );
    assert_eq!(relay.db().load_chunks(known).unwrap(), before);
    assert_eq!(entry(&receipt, known)["accepted"], 0);
    assert_eq!(entry(&receipt, known)["heads"].as_array().unwrap().len(), 1);
    relay.stop().await;
}

#[tokio::test]
async fn creation_and_write_rules_apply_per_document() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let kp = relay.device("KP").await;
    let shared = "patrol:TT:20250114:01";
    tt.create(shared, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    hq.follow(shared);
    hq.sync_until_quiet().await;
    // HQ reads the station's patrol but may not write it.
    hq.append(shared, "Chỉ huy sửa. ");
    hq.local("patrol:KP:1", "Tuần tra Kiểng Phước. ");
    hq.local("patrol:HQ:1", "Họp giao ban. ");
    hq.local("patrol:X:1", "Không rõ đơn vị. ");
    hq.local("tau:HQ:1", "Loại lạ. ");
    let long = "p".repeat(300);
    hq.local(&long, "Mã quá dài. ");
    let bundle = hq.bundle(
        "HQ",
        &[
            (shared, "patrol", "TT"),
            ("patrol:KP:1", "patrol", "KP"),
            ("patrol:HQ:1", "patrol", "HQ"),
            ("patrol:X:1", "patrol", "Nowhere"),
            ("tau:HQ:1", "tau_ca", "HQ"),
            (&long, "patrol", "HQ"),
        ],
    );
    let (status, receipt) = hq.upload(encode_bundle(&bundle)).await;
    assert_eq!(status, 200);
    let s = statuses(&receipt);
    assert_eq!(s[shared], "forbidden");
    assert!(!entry(&receipt, shared)["heads"]
        .as_array()
        .unwrap()
        .is_empty());
    // HQ creates for KP (below it) but then only reads it: the changes are refused.
    assert_eq!(s["patrol:KP:1"], "forbidden");
    assert_eq!(s["patrol:HQ:1"], "ok");
    assert_eq!(s["patrol:X:1"], "not_found");
    assert_eq!(s["tau:HQ:1"], "bad_kind");
    assert_eq!(s[&long], "bad_doc_id");
    assert!(relay.db().doc_meta("patrol:KP:1").unwrap().is_none());
    // KP may not read TT's patrol: forbidden, and the relay's heads are not shown.
    let mut kp = kp;
    kp.docs
        .insert(shared.to_string(), hq.docs.get_mut(shared).unwrap().fork());
    let bytes = encode_bundle(&kp.bundle("KP", &[(shared, "patrol", "TT")]));
    let (_, receipt) = kp.upload(bytes).await;
    assert_eq!(entry(&receipt, shared)["status"], "forbidden");
    assert!(entry(&receipt, shared)["heads"]
        .as_array()
        .unwrap()
        .is_empty());
    tt.sync_until_quiet().await;
    assert_eq!(tt.notes(shared), vietnamese_doc_text());
    relay.stop().await;
}

#[tokio::test]
async fn incomplete_data_is_a_bad_message_and_compressed_uploads_work() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20250115:01";
    tt.local(id, vietnamese_doc_text());
    let mut bundle = tt.bundle("TT", &[(id, "patrol", "TT")]);
    bundle.docs[0].meta.heads = vec!["ab".repeat(32)];
    let (_, receipt) = tt.upload(encode_bundle(&bundle)).await;
    assert_eq!(entry(&receipt, id)["status"], "bad_message");
    bundle.docs[0].meta.heads = vec!["không phải hex".into()];
    let (_, receipt) = tt.upload(encode_bundle(&bundle)).await;
    assert_eq!(entry(&receipt, id)["status"], "bad_message");
    assert!(relay.db().doc_meta(id).unwrap().is_none());
    let good = tt.bundle("TT", &[(id, "patrol", "TT")]);
    let zstd = zstd::encode_all(&encode_bundle(&good)[..], 3).unwrap();
    let resp = tt
        .post("/v1/bundles")
        .header("content-encoding", "zstd")
        .body(zstd)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let receipt: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(entry(&receipt, id)["status"], "ok");
    relay.stop().await;
}

#[tokio::test]
async fn bundles_above_the_cap_get_413_and_need_a_token() {
    let relay = Relay::start_with(|s| s.max_bundle_bytes = 2048).await;
    relay.add_unit("TT", None);
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20250116:01";
    // Random hex does not compress: the bundle stays larger than the cap.
    let noise: String = (0..100)
        .map(|_| ActorId::random().to_hex_string())
        .collect();
    tt.local(id, &format!("Tuần tra dài. {noise}"));
    let bytes = encode_bundle(&tt.bundle("TT", &[(id, "patrol", "TT")]));
    assert!(bytes.len() > 2048);
    let (status, body) = tt.upload(bytes.clone()).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "too_large");
    let anonymous = reqwest::Client::new()
        .post(format!("{}/v1/bundles", relay.url))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    relay.stop().await;
}

#[tokio::test]
async fn bundles_have_their_own_cap_above_the_request_cap() {
    let relay = Relay::start_with(|s| {
        s.max_request_bytes = 1024;
        s.max_bundle_bytes = 1024 * 1024;
    })
    .await;
    relay.add_unit("TT", None);
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20250118:01";
    let noise: String = (0..100)
        .map(|_| ActorId::random().to_hex_string())
        .collect();
    tt.local(id, &format!("Tuần tra dài. {noise}"));
    let bytes = encode_bundle(&tt.bundle("TT", &[(id, "patrol", "TT")]));
    assert!(bytes.len() > 1024);
    let (status, receipt) = tt.upload(bytes).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(entry(&receipt, id)["status"], "ok");
    relay.stop().await;
}

#[tokio::test]
async fn the_admin_command_imports_while_the_relay_runs() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let (known, new, forged) = (
        "patrol:TT:20250117:01",
        "community:TT:20250117",
        "patrol:TT:20250117:02",
    );
    tt.create(known, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    tt.sync_until_quiet().await;
    hq.follow(known);
    hq.sync_until_quiet().await;
    tt.append(known, "Bổ sung qua USB. ");
    tt.local(new, "Tuyên truyền pháp luật tại khu phố 3. ");
    let mut stranger = Peer {
        actor: ActorId::random(),
        ..relay.device("TT").await
    };
    stranger.local(forged, "Người lạ viết. ");
    tt.docs
        .insert(forged.to_string(), stranger.docs.remove(forged).unwrap());
    let bundle = tt.bundle(
        "TT",
        &[
            (known, "patrol", "TT"),
            (new, "community_activity", "TT"),
            (forged, "patrol", "TT"),
        ],
    );
    let file = relay.dir.path().join("gói Tân Thành.tmb");
    std::fs::write(&file, encode_bundle(&bundle)).unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(relay.dir.path())
        .args(["bundle", "import"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 documents"), "{stdout}");
    assert!(stdout.contains("forged_author 1"), "{stdout}");
    assert!(!stdout.contains("Bổ sung"), "no content in the summary");
    let receipt_path = relay.dir.path().join("gói Tân Thành.tmb.receipt.json");
    let receipt = Receipt::from_json(&std::fs::read(&receipt_path).unwrap()).unwrap();
    assert_eq!(receipt.by_device, "admin");
    assert_eq!(receipt.by_unit, "HQ");
    let s: HashMap<_, _> = receipt
        .documents
        .iter()
        .map(|d| (d.id.as_str(), d.status.as_str()))
        .collect();
    assert_eq!((s[known], s[new], s[forged]), ("ok", "ok", "forged_author"));
    // The running relay had `known` in memory: it notices the new chunk and serves it.
    hq.follow(new);
    hq.sync_until_quiet().await;
    assert!(hq.notes(known).ends_with("Bổ sung qua USB. "));
    assert_eq!(hq.notes(new), "Tuyên truyền pháp luật tại khu phố 3. ");
    let log = relay.db().audit_log().unwrap();
    assert!(log
        .iter()
        .any(|(_, a, act, _)| a == "admin" && act == "bundle.import"));
    // A damaged file: a clear sentence, a failure exit, no receipt.
    let damaged = relay.dir.path().join("hỏng.tmb");
    let mut bytes = encode_bundle(&bundle);
    bytes[10] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(relay.dir.path())
        .args(["bundle", "import"])
        .arg(&damaged)
        .args(["--receipt", "/nonexistent/never-written.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    relay.stop().await;
}
