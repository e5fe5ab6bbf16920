//! Signed changes (issue 10, item 4): a device registers an Ed25519 key at enrolment and signs
//! every change it makes; the relay keeps the signatures beside the changes, passes them on with
//! the changes, refuses a forged or missing signature from a device that has a key, and still
//! takes unsigned changes from a device enrolled before signing existed until it registers one.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{error_code, province, vietnamese_doc_text, Peer};
use tidemark_sync_protocol::signature::verify;
use tidemark_sync_protocol::{encode_bundle, SigningKey};

const ID: &str = "patrol:TT:20250412:01";

fn other_key() -> SigningKey {
    SigningKey::from_seed(&[0x5a; 32])
}

/// What the relay's copy of `ID` says, as a device that follows it sees it.
async fn notes_at_relay(relay: &common::Relay) -> String {
    let mut reader = relay.device("HQ").await;
    reader.follow(ID);
    reader.sync_until_quiet().await;
    reader.notes(ID)
}

#[tokio::test]
async fn signed_changes_are_kept_and_passed_on_with_their_signatures() {
    let relay = province().await;
    let mut a = relay.signed_device("TT").await;
    let mut hq = relay.signed_device("HQ").await;
    a.create(ID, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.append(ID, "Tàu cá đã rời vùng biển. ");
    a.sync_until_quiet().await;

    // Both changes are signed at the relay, under a's key.
    let heads = a.heads(ID);
    let doc = a.docs.get_mut(ID).unwrap();
    let hashes: Vec<String> = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.hash().to_string())
        .collect();
    assert_eq!(hashes.len(), 2);
    let stored = relay.db().signatures_for(&hashes).unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");

    // HQ receives them with the changes, and they verify under the key the relay lists.
    hq.follow(ID);
    hq.sync_until_quiet().await;
    assert_eq!(hq.heads(ID), heads);
    assert_eq!(hq.signatures.len(), 2);
    let keys: serde_json::Value = hq
        .get("/v1/keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a_key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["actor"] == a.actor.to_hex_string())
        .unwrap();
    assert_eq!(a_key["device"], a.id.as_str());
    assert_eq!(a_key["unit"], "TT");
    let public = hex::decode(a_key["key"].as_str().unwrap()).unwrap();
    assert!(hq.signatures.values().all(|s| verify(&public, s)));

    // The feed carries the directory only to a device that holds fewer keys than the relay.
    let page: serde_json::Value = hq
        .get("/v1/feed?since=0&keys=0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["keys"].as_array().unwrap().len(), 2);
    let page: serde_json::Value = hq
        .get("/v1/feed?since=0&keys=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page.get("keys").is_none(), "{page}");
    relay.stop().await;
}

#[tokio::test]
async fn a_forged_or_missing_signature_is_refused_and_nothing_is_stored() {
    let relay = province().await;
    let mut a = relay.signed_device("TT").await;
    a.create(ID, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.sync_until_quiet().await;

    // Signed with a key that is not a's: refused, the relay's copy unchanged.
    a.forger = Some(other_key());
    let forged = a.forced_push(ID, "Ghi chép giả mạo. ");
    let statuses = a.send(forged).await;
    assert_eq!(statuses[ID], "forged_signature");
    assert_eq!(notes_at_relay(&relay).await, vietnamese_doc_text());

    // The same change with no signature at all: refused too.
    a.forger = None;
    let signer = a.signer.take();
    a.states.clear();
    a.session = None;
    let mut unsigned = None;
    for _ in 0..8 {
        match a.round().await {
            Some(s) if s[ID] != "ok" => {
                unsigned = Some(s[ID].clone());
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert_eq!(unsigned.as_deref(), Some("unsigned_change"));
    assert_eq!(notes_at_relay(&relay).await, vietnamese_doc_text());

    // Signed properly, the change lands.
    a.signer = signer;
    a.states.clear();
    a.sync_until_quiet().await;
    assert_eq!(
        notes_at_relay(&relay).await,
        format!("{}Ghi chép giả mạo. ", vietnamese_doc_text())
    );
    relay.stop().await;
}

#[tokio::test]
async fn an_older_device_is_taken_unsigned_until_it_registers_a_key_once() {
    let relay = province().await;
    let mut old = relay.device("TT").await;
    old.create(ID, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    old.sync_until_quiet().await;
    assert_eq!(notes_at_relay(&relay).await, vietnamese_doc_text());

    // Malformed keys are refused; a key registers once, again is a no-op, another is refused.
    for bad in ["zz", "00", &"ab".repeat(33)] {
        let resp = old
            .post("/v1/keys")
            .json(&serde_json::json!({"sign_key": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_code(resp).await, "bad_sign_key");
    }
    let key = SigningKey::from_seed(&[0x11; 32]);
    for _ in 0..2 {
        let resp = old
            .post("/v1/keys")
            .json(&serde_json::json!({"sign_key": hex::encode(key.public())}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = old
        .post("/v1/keys")
        .json(&serde_json::json!({"sign_key": hex::encode(other_key().public())}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "key_taken");

    // From now on its changes must be signed.
    old.append(ID, "Sau khi đăng ký khóa. ");
    let statuses = old.round().await.unwrap();
    let statuses = if statuses[ID] == "ok" {
        old.round().await.unwrap()
    } else {
        statuses
    };
    assert_eq!(statuses[ID], "unsigned_change");
    old.signer = Some(key);
    old.states.clear();
    old.sync_until_quiet().await;
    assert!(notes_at_relay(&relay)
        .await
        .ends_with("Sau khi đăng ký khóa. "));
    relay.stop().await;
}

/// A bundle of `peer`'s copy of `ID` carrying signatures by `key`.
fn bundle_signed_by(peer: &mut Peer, key: &SigningKey) -> Vec<u8> {
    let mut bundle = peer.bundle("TT", &[(ID, "patrol", "TT")]);
    let doc = peer.docs.get_mut(ID).unwrap();
    bundle.docs[0].meta.signatures = doc
        .get_changes(&[])
        .iter()
        .map(|c| {
            let s = key.sign(&c.hash().0);
            (hex::encode(s.hash), hex::encode(s.sig))
        })
        .collect();
    encode_bundle(&bundle)
}

#[tokio::test]
async fn a_bundle_with_a_forged_signature_is_refused_for_that_document() {
    let relay = province().await;
    let mut a = relay.signed_device("TT").await;
    a.local(ID, vietnamese_doc_text());
    let forged = bundle_signed_by(&mut a, &other_key());
    let (status, receipt) = a.upload(forged).await;
    assert_eq!(status, 200, "{receipt}");
    let entry = &receipt["documents"][0];
    assert_eq!(entry["status"], "forged_signature", "{receipt}");
    assert!(relay.db().doc_meta(ID).unwrap().is_none(), "nothing stored");

    let key = a.signer.take().unwrap();
    let honest = bundle_signed_by(&mut a, &key);
    let (status, receipt) = a.upload(honest).await;
    assert_eq!(status, 200);
    assert_eq!(receipt["documents"][0]["status"], "ok", "{receipt}");
    assert_eq!(notes_at_relay(&relay).await, vietnamese_doc_text());
    relay.stop().await;
}
