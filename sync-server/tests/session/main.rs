//! `POST /v1/session` over real HTTP on 127.0.0.1:0: one request creates a document and
//! pushes it whole, another reads the feed and gets the relay's offer of it, a third reads the
//! receipt the acknowledgement made. `feed`: what a feed page and the key directory hold;
//! `wire`: malformed requests are refused with a code and change nothing, and answers
//! compressed with the request for a dictionary.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod feed;
mod wire;

use automerge::sync::{Message, MessageVersion, State, SyncDoc};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ReadDoc, TextEncoding, ROOT};
use common::{metric, province, vietnamese_doc_text, Peer, Relay};
use tidemark_sync_protocol::presume::{presume_shared, WHOLE_FROM};
use tidemark_sync_protocol::signature::verify;
use tidemark_sync_protocol::SigningKey;
use tidemark_sync_protocol::{decode_response, encode_session, DocMessage, Envelope, Limits};

/// Posts a session request; returns the status JSON and the envelope of replies and offers.
async fn session(
    peer: &Peer,
    name: &str,
    header: serde_json::Value,
    items: Vec<DocMessage>,
) -> (serde_json::Value, Envelope) {
    let body = encode_session(header.to_string().as_bytes(), &Envelope { items });
    let resp = peer
        .post("/v1/session")
        .header("tidemark-session", name)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let (status, env) = decode_response(&bytes, &Limits::default()).unwrap();
    (serde_json::from_slice(&status).unwrap(), env)
}

/// `peer`'s first message about `id` to a relay that has nothing of it: the whole document,
/// pushed unasked, as the client sends it.
fn push_message(peer: &mut Peer, id: &str) -> Vec<u8> {
    let mut state = State::new();
    presume_shared(&mut state, WHOLE_FROM);
    peer.docs
        .get_mut(id)
        .unwrap()
        .sync()
        .generate_sync_message(&mut state)
        .unwrap()
        .encode()
}

fn notes(doc: &AutoCommit) -> String {
    let (_, notes) = doc.get(ROOT, "notes").unwrap().unwrap();
    doc.text(&notes).unwrap()
}

#[tokio::test]
async fn a_station_pushes_in_one_request_and_hq_pulls_in_one_with_its_receipt_in_the_next() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut hq = relay.device("HQ").await;
    let id = "patrol:TT:20260301:01";
    tt.local(id, vietnamese_doc_text());

    // The station: create and push in the same request, and read the feed.
    let message = push_message(&mut tt, id);
    let (status, replies) = session(
        &tt,
        "s-tt-1",
        serde_json::json!({
            "create": [{"id": id, "owner_unit": "TT", "kind": "patrol"}],
            "feed": {"since": 0, "keys": 0},
        }),
        vec![DocMessage::new(id, message)],
    )
    .await;
    assert_eq!(status["created"][0]["code"], "created", "{status}");
    assert_eq!(status["items"][0]["code"], "ok", "{status}");
    assert_eq!(status["items"][0]["accepted"], 1, "{status}");
    // The exchange itself brought the station's own document up to date: the feed does not
    // echo it back, and nothing is offered.
    assert_eq!(status["offered"], 0, "{status}");
    assert_eq!(
        status["feed"]["documents"],
        serde_json::json!([]),
        "{status}"
    );
    assert!(replies.items.iter().all(|m| m.doc_id == id));

    // HQ: one request reads the feed and brings the record.
    let (status, offers) = session(
        &hq,
        "s-hq-1",
        serde_json::json!({"feed": {"since": 0, "keys": 0}}),
        Vec::new(),
    )
    .await;
    assert_eq!(status["offered"], 1, "{status}");
    let listed: Vec<&str> = status["feed"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![id]);
    assert_eq!(offers.items.len(), 1);
    let mut doc = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit);
    let mut hq_state = State::new();
    doc.sync()
        .receive_sync_message(
            &mut hq_state,
            Message::decode(&offers.items[0].message).unwrap(),
        )
        .unwrap();
    assert_eq!(notes(&doc), vietnamese_doc_text());
    assert_eq!(doc.get_heads(), tt.docs.get_mut(id).unwrap().get_heads());

    // Its acknowledgement (the next request of the same session) is what the receipt is.
    let ack = doc.sync().generate_sync_message(&mut hq_state).unwrap();
    let (status, _) = session(
        &hq,
        "s-hq-1",
        serde_json::json!({}),
        vec![DocMessage::new(id, ack.encode())],
    )
    .await;
    assert_eq!(status["items"][0]["code"], "ok", "{status}");
    hq.docs.insert(id.to_string(), doc);

    let (status, _) = session(
        &tt,
        "s-tt-2",
        serde_json::json!({"receipts": [id]}),
        Vec::new(),
    )
    .await;
    let units = &status["receipts"][0]["units"];
    let hq_unit = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit"] == "HQ")
        .unwrap_or_else(|| panic!("no receipt from HQ: {status}"));
    assert_eq!(hq_unit["root"], true);
    assert_eq!(hq_unit["devices"][0]["heads"].as_array().unwrap().len(), 1);
    assert_eq!(
        hq_unit["devices"][0]["heads"][0].as_str().unwrap(),
        hq.heads(id)[0]
    );

    // Nothing new for HQ: the feed lists the record again but the relay knows HQ holds it.
    let (status, offers) = session(
        &hq,
        "s-hq-2",
        serde_json::json!({"feed": {"since": 0, "keys": 0}}),
        Vec::new(),
    )
    .await;
    assert_eq!(status["offered"], 0, "HQ holds it already: {status}");
    assert!(offers.items.is_empty());
}

#[tokio::test]
async fn a_request_that_creates_and_pushes_commits_once() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let ids = ["patrol:TT:20260305:01", "patrol:TT:20260305:02"];
    let mut items = Vec::new();
    for id in ids {
        tt.local(id, vietnamese_doc_text());
        items.push(DocMessage::new(id, push_message(&mut tt, id)));
    }
    let before = metric(&relay, "tidemark_db_commits_total").await;
    let synced = metric(&relay, "tidemark_db_syncs_total").await;
    let (status, _) = session(
        &tt,
        "s-tt-commit",
        serde_json::json!({
            "create": ids.map(|id| serde_json::json!({"id": id, "owner_unit": "TT", "kind": "patrol"})),
            "feed": {"since": 0, "keys": 0},
        }),
        items,
    )
    .await;
    for i in 0..ids.len() {
        assert_eq!(status["created"][i]["code"], "created", "{status}");
        assert_eq!(status["items"][i]["code"], "ok", "{status}");
    }
    // Two documents created and two pushed: one transaction, one sync to disk, taken before
    // the answer left (alone, no other request's sync could cover it).
    assert_eq!(
        metric(&relay, "tidemark_db_commits_total").await,
        before + 1
    );
    assert_eq!(metric(&relay, "tidemark_db_syncs_total").await, synced + 1);
    // Each commit is timed: the histogram counts the same commits, every one within its
    // unbounded bucket.
    let timed = metric(&relay, "tidemark_db_commit_seconds_count").await;
    assert_eq!(timed, before + 1);
    assert_eq!(
        metric(&relay, "tidemark_db_commit_seconds_bucket{le=\"+Inf\"}").await,
        timed
    );

    // Both are kept: a new HQ device is offered both whole.
    let hq = relay.device("HQ").await;
    let (status, offers) = session(
        &hq,
        "s-hq-commit",
        serde_json::json!({"feed": {"since": 0, "keys": 0}}),
        Vec::new(),
    )
    .await;
    assert_eq!(status["offered"], 2, "{status}");
    for offer in &offers.items {
        assert_eq!(notes(&apply_offer(&offer.message)), vietnamese_doc_text());
    }
}

/// Devices pushing at once each wait for a sync to disk covering their commit before they are
/// answered, and share syncs: never more syncs than commits. A turn that wrote nothing waits
/// for no sync of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stations_pushing_at_once_are_each_on_disk_in_no_more_syncs_than_commits() {
    let relay = province().await;
    let mut requests = Vec::new();
    for n in 0..8 {
        let mut tt = relay.device("TT").await;
        let id = format!("patrol:TT:20260306:{n:02}");
        tt.local(&id, vietnamese_doc_text());
        let message = push_message(&mut tt, &id);
        requests.push((tt, id, message));
    }
    let (commits, syncs) = (
        metric(&relay, "tidemark_db_commits_total").await,
        metric(&relay, "tidemark_db_syncs_total").await,
    );
    let mut pushes = tokio::task::JoinSet::new();
    for (tt, id, message) in requests {
        pushes.spawn(async move {
            let (status, _) = session(
                &tt,
                &format!("s-at-once-{id}"),
                serde_json::json!({"create": [{"id": id, "owner_unit": "TT", "kind": "patrol"}]}),
                vec![DocMessage::new(&id, message)],
            )
            .await;
            assert_eq!(status["items"][0]["code"], "ok", "{status}");
        });
    }
    while let Some(done) = pushes.join_next().await {
        done.unwrap();
    }
    let commits = metric(&relay, "tidemark_db_commits_total").await - commits;
    let syncs = metric(&relay, "tidemark_db_syncs_total").await - syncs;
    assert_eq!(commits, 8);
    assert!(
        (1..=commits).contains(&syncs),
        "{syncs} syncs for {commits} commits"
    );

    // All eight are kept: a new HQ device reads them whole.
    let hq = relay.device("HQ").await;
    let (status, offers) = session(
        &hq,
        "s-hq-at-once",
        serde_json::json!({"feed": {"since": 0, "keys": 0}}),
        Vec::new(),
    )
    .await;
    assert_eq!(status["offered"], 8, "{status}");
    for offer in &offers.items {
        assert_eq!(notes(&apply_offer(&offer.message)), vietnamese_doc_text());
    }
}

/// HQ device `hq` reads the feed in a session of its own; returns the one offer it gets.
async fn first_offer(hq: &Peer, name: &str) -> Vec<u8> {
    let (status, offers) = session(
        hq,
        name,
        serde_json::json!({"feed": {"since": 0, "keys": 0}}),
        Vec::new(),
    )
    .await;
    assert_eq!(status["offered"], 1, "{status}");
    assert_eq!(offers.items.len(), 1);
    offers.items[0].message.clone()
}

/// A station device that made record `id` (Vietnamese notes) and pushed it whole, creating it
/// at the relay, in one session request.
async fn station_with_record(relay: &Relay, id: &str) -> Peer {
    let mut tt = relay.device("TT").await;
    tt.local(id, vietnamese_doc_text());
    let message = push_message(&mut tt, id);
    let (status, _) = session(
        &tt,
        &format!("s-create-{id}"),
        serde_json::json!({"create": [{"id": id, "owner_unit": "TT", "kind": "patrol"}]}),
        vec![DocMessage::new(id, message)],
    )
    .await;
    assert_eq!(status["items"][0]["code"], "ok", "{status}");
    tt
}

/// The document an offer brings to a device that had none of it.
fn apply_offer(offer: &[u8]) -> AutoCommit {
    let mut doc = AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit);
    doc.sync()
        .receive_sync_message(&mut State::new(), Message::decode(offer).unwrap())
        .unwrap();
    doc
}

#[tokio::test]
async fn devices_new_to_a_record_get_the_same_first_offer_until_it_changes() {
    let relay = province().await;
    let id = "patrol:TT:20260303:01";
    let mut tt = station_with_record(&relay, id).await;

    // Two HQ devices that hold nothing of it get the same message (the second one kept from
    // the first), and each brings the whole record.
    let (hq1, hq2) = (relay.device("HQ").await, relay.device("HQ").await);
    let first = first_offer(&hq1, "s-hq1").await;
    let again = first_offer(&hq2, "s-hq2").await;
    assert_eq!(first, again);
    let tt_heads = tt.docs.get_mut(id).unwrap().get_heads();
    for offer in [&first, &again] {
        let mut doc = apply_offer(offer);
        assert_eq!(notes(&doc), vietnamese_doc_text());
        assert_eq!(doc.get_heads(), tt_heads);
    }

    // The station writes again: a device new to the record now gets the new version.
    let doc = tt.docs.get_mut(id).unwrap();
    let (_, text) = doc.get(ROOT, "notes").unwrap().unwrap();
    doc.splice_text(&text, 0, 0, "Bổ sung: ").unwrap();
    doc.commit();
    let message = push_message(&mut tt, id);
    let (status, _) = session(
        &tt,
        "s-tt-2",
        serde_json::json!({}),
        vec![DocMessage::new(id, message)],
    )
    .await;
    assert_eq!(status["items"][0]["accepted"], 1, "{status}");
    let hq3 = relay.device("HQ").await;
    let later = first_offer(&hq3, "s-hq3").await;
    assert_ne!(later, first);
    let mut doc = apply_offer(&later);
    assert_eq!(notes(&doc), format!("Bổ sung: {}", vietnamese_doc_text()));
    assert_eq!(doc.get_heads(), tt.docs.get_mut(id).unwrap().get_heads());
}

#[tokio::test]
async fn writers_and_readers_new_to_a_record_take_turns_and_each_kind_is_made_once() {
    let relay = province().await;
    let id = "patrol:TT:20260304:01";
    let mut tt = station_with_record(&relay, id).await;
    let made = metric(&relay, "tidemark_first_offers_made_total").await;
    let reused = metric(&relay, "tidemark_first_offers_reused_total").await;

    // The station's other devices may write it; headquarters' only read it. They come in turns,
    // as they do in a burst: writer, reader, writer, reader, writer.
    let mut offers = Vec::new();
    for (k, unit) in ["TT", "HQ", "TT", "HQ", "TT"].into_iter().enumerate() {
        let device = relay.device(unit).await;
        offers.push((unit, first_offer(&device, &format!("s-{k}")).await));
    }
    let tt_heads = tt.docs.get_mut(id).unwrap().get_heads();
    for (unit, offer) in &offers {
        let mut doc = apply_offer(offer);
        assert_eq!(notes(&doc), vietnamese_doc_text(), "{unit}");
        assert_eq!(doc.get_heads(), tt_heads, "{unit}");
    }
    assert_ne!(
        offers[0].1, offers[1].1,
        "a reader's message differs from a writer's"
    );
    assert_eq!(offers[0].1, offers[2].1);
    assert_eq!(offers[0].1, offers[4].1);
    assert_eq!(offers[1].1, offers[3].1);
    // One made for each kind (the reader's from the writer's, re-flagged); the other three
    // reused. With one offer kept per record, each kind pushed the other out and all five were
    // made.
    assert_eq!(
        metric(&relay, "tidemark_first_offers_made_total").await - made,
        2
    );
    assert_eq!(
        metric(&relay, "tidemark_first_offers_reused_total").await - reused,
        3
    );
}

#[tokio::test]
async fn a_kept_first_offer_brings_its_changes_signatures_to_every_device() {
    let relay = province().await;
    let mut tt = relay.signed_device("TT").await;
    let id = "patrol:TT:20260305:01";
    tt.local(id, vietnamese_doc_text());
    let doc = tt.docs.get_mut(id).unwrap();
    let (_, text) = doc.get(ROOT, "notes").unwrap().unwrap();
    doc.splice_text(&text, 0, 0, "Đã kiểm tra: ").unwrap();
    doc.commit();
    let hashes: Vec<[u8; 32]> = doc.get_changes(&[]).iter().map(|c| c.hash().0).collect();
    assert_eq!(hashes.len(), 2);
    let signer = SigningKey::from_seed(&tt.signer.as_ref().unwrap().seed());
    let mut push = DocMessage::new(id, push_message(&mut tt, id));
    push.signatures = hashes.iter().map(|h| signer.sign(h)).collect();
    let (status, _) = session(
        &tt,
        "s-tt",
        serde_json::json!({"create": [{"id": id, "owner_unit": "TT", "kind": "patrol"}]}),
        vec![push],
    )
    .await;
    assert_eq!(status["items"][0]["accepted"], 2, "{status}");

    // Three readers new to the record: the first offer is made for the first and kept for the
    // others, and each gets both signatures with it, valid under the station device's key.
    let made = metric(&relay, "tidemark_first_offers_made_total").await;
    let mut got = Vec::new();
    for k in 0..3 {
        let hq = relay.device("HQ").await;
        let (status, offers) = session(
            &hq,
            &format!("s-hq{k}"),
            serde_json::json!({"feed": {"since": 0, "keys": 0}}),
            Vec::new(),
        )
        .await;
        assert_eq!(status["offered"], 1, "{status}");
        let mut sigs = offers.items[0].signatures.clone();
        sigs.sort_by_key(|s| s.hash);
        got.push(sigs);
    }
    assert_eq!(
        metric(&relay, "tidemark_first_offers_made_total").await - made,
        1
    );
    let mut want: Vec<[u8; 32]> = hashes.clone();
    want.sort();
    for sigs in &got {
        assert_eq!(sigs.iter().map(|s| s.hash).collect::<Vec<_>>(), want);
        assert!(sigs.iter().all(|s| verify(&signer.public(), s)));
    }
    assert_eq!(got[0], got[2]);
}

#[tokio::test]
async fn a_device_missing_a_few_changes_gets_them_as_changes_not_a_whole_save() {
    let relay = province().await;
    // Fixed actors and times: the same change hashes every run. With random ones the device's
    // bloom filter of what it has (Automerge's) now and then matched one of the relay's three
    // changes by chance, and the reply left it for the next round.
    let mut tt1 = relay.device_as("TT", ActorId::from([0x11; 16])).await;
    let mut tt2 = relay.device_as("TT", ActorId::from([0x22; 16])).await;
    let at = 1_773_000_000_000;
    let id = "unit:tram-bien-phong-tt";
    // Two devices of one station make the same record on their own, as each new device makes
    // its unit's; the first brings three changes.
    tt1.local_at(id, "Đồn Biên phòng TT", at);
    let doc = tt1.docs.get_mut(id).unwrap();
    let (_, text) = doc.get(ROOT, "notes").unwrap().unwrap();
    for (k, word) in ["Trạm ", "Đội "].into_iter().enumerate() {
        doc.splice_text(&text, 0, 0, word).unwrap();
        doc.commit_with(CommitOptions::default().with_time(at + 1 + k as i64));
    }
    let message = push_message(&mut tt1, id);
    let (status, _) = session(
        &tt1,
        "s-tt1",
        serde_json::json!({"create": [{"id": id, "owner_unit": "TT", "kind": "unit"}]}),
        vec![DocMessage::new(id, message)],
    )
    .await;
    assert_eq!(status["items"][0]["accepted"], 3, "{status}");

    tt2.local_at(id, "Đồn Biên phòng TT", at);
    let mut state = State::new();
    presume_shared(&mut state, WHOLE_FROM);
    let message = tt2
        .docs
        .get_mut(id)
        .unwrap()
        .sync()
        .generate_sync_message(&mut state)
        .unwrap();
    let (status, replies) = session(
        &tt2,
        "s-tt2",
        serde_json::json!({}),
        vec![DocMessage::new(id, message.encode())],
    )
    .await;
    assert_eq!(status["items"][0]["accepted"], 1, "{status}");
    let reply = Message::decode(&replies.items[0].message).unwrap();
    // Automerge would send a whole save (three of four changes are a third of the document);
    // the relay sends the three as they are.
    assert_eq!(reply.version, MessageVersion::V1);
    assert_eq!(reply.changes.len(), 3);
    let doc = tt2.docs.get_mut(id).unwrap();
    doc.sync().receive_sync_message(&mut state, reply).unwrap();
    let mut relay_copy = apply_offer(&first_offer(&relay.device("HQ").await, "s-hq").await);
    assert_eq!(doc.get_heads(), relay_copy.get_heads());
    assert_eq!(doc.get_heads().len(), 2);
}

#[tokio::test]
async fn a_reader_that_pushes_is_refused_and_nothing_is_stored() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let mut kp = relay.device("KP").await;
    let id = "patrol:TT:20260302:01";
    tt.create(
        id,
        "TT",
        serde_json::json!([{"unit": "KP", "access": "read"}]),
        "Tuần tra sáng",
    )
    .await;
    tt.sync_until_quiet().await;
    let before = relay.db().doc_version(id).unwrap();

    // KP holds a copy with its own change and pushes it unasked.
    let mut copy = tt
        .docs
        .get_mut(id)
        .unwrap()
        .fork()
        .with_actor(kp.actor.clone());
    let (_, notes_obj) = copy.get(ROOT, "notes").unwrap().unwrap();
    copy.splice_text(&notes_obj, 0, 0, "Sửa trái phép: ")
        .unwrap();
    copy.commit();
    kp.docs.insert(id.to_string(), copy);
    let message = push_message(&mut kp, id);
    let (status, replies) = session(
        &kp,
        "s-kp-1",
        serde_json::json!({}),
        vec![DocMessage::new(id, message)],
    )
    .await;
    assert_eq!(status["items"][0]["code"], "forbidden", "{status}");
    assert!(replies.items.is_empty());
    assert_eq!(relay.db().doc_version(id).unwrap(), before);
}
