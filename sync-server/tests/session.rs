//! `POST /v1/session` over real HTTP on 127.0.0.1:0: one request creates a document and
//! pushes it whole, another reads the feed and gets the relay's offer of it, a third reads the
//! receipt the acknowledgement made; malformed requests are refused with a code and change
//! nothing.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use automerge::sync::{Message, MessageVersion, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc, TextEncoding, ROOT};
use common::{error_code, metric, province, vietnamese_doc_text, Peer};
use tidemark_sync_protocol::presume::{presume_shared, WHOLE_FROM};
use tidemark_sync_protocol::{
    decode_response, encode_session, DocMessage, Envelope, Limits, SESSION_MAGIC,
};

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
    // Two documents created and two pushed: one transaction, one sync to disk.
    assert_eq!(
        metric(&relay, "tidemark_db_commits_total").await,
        before + 1
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
    let mut tt = relay.device("TT").await;
    let id = "patrol:TT:20260303:01";
    tt.local(id, vietnamese_doc_text());
    let message = push_message(&mut tt, id);
    let (status, _) = session(
        &tt,
        "s-tt-1",
        serde_json::json!({"create": [{"id": id, "owner_unit": "TT", "kind": "patrol"}]}),
        vec![DocMessage::new(id, message)],
    )
    .await;
    assert_eq!(status["items"][0]["code"], "ok", "{status}");

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
async fn a_device_missing_a_few_changes_gets_them_as_changes_not_a_whole_save() {
    let relay = province().await;
    let mut tt1 = relay.device("TT").await;
    let mut tt2 = relay.device("TT").await;
    let id = "unit:tram-bien-phong-tt";
    // Two devices of one station make the same record on their own, as each new device makes
    // its unit's; the first brings three changes.
    tt1.local(id, "Đồn Biên phòng TT");
    let doc = tt1.docs.get_mut(id).unwrap();
    let (_, text) = doc.get(ROOT, "notes").unwrap().unwrap();
    for word in ["Trạm ", "Đội "] {
        doc.splice_text(&text, 0, 0, word).unwrap();
        doc.commit();
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

    tt2.local(id, "Đồn Biên phòng TT");
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

#[tokio::test]
async fn malformed_session_requests_are_refused_with_a_code() {
    let relay = province().await;
    let tt = relay.device("TT").await;
    let post = |body: Vec<u8>| tt.post("/v1/session").body(body).send();

    let mut framed_garbage = SESSION_MAGIC.to_vec();
    framed_garbage.extend_from_slice(&[2, 0xff, 0xff, 0xff]);
    for body in [
        b"".to_vec(),
        b"TMS\x02\x00".to_vec(),
        framed_garbage,
        b"GET / HTTP/1.1".to_vec(),
    ] {
        let resp = post(body).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(error_code(resp).await, "bad_envelope");
    }

    let not_json = encode_session(b"{feed:", &Envelope::default());
    let resp = post(not_json).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "bad_json");

    let unknown = encode_session(br#"{"pull_everything": true}"#, &Envelope::default());
    let resp = post(unknown).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "bad_json");

    let many: Vec<serde_json::Value> = (0..1001)
        .map(|i| serde_json::json!({"id": format!("patrol:TT:{i}"), "owner_unit": "TT"}))
        .collect();
    let header = serde_json::json!({ "create": many }).to_string();
    let resp = post(encode_session(header.as_bytes(), &Envelope::default()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Nothing of the refused batch was created.
    assert!(relay.db().doc_meta("patrol:TT:0").unwrap().is_none());
}

#[tokio::test]
async fn a_device_reads_only_the_keys_registered_after_its_last_one() {
    let relay = province().await;
    let tt = relay.signed_device("TT").await;
    let _kp = relay.signed_device("KP").await;

    let ask = |cursor: i64| serde_json::json!({"feed": {"since": 0, "key_cursor": cursor}});
    let (status, _) = session(&tt, "s-keys-1", ask(0), Vec::new()).await;
    let first: Vec<String> = status["feed"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["actor"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first.len(), 2, "{status}");
    let cursor = status["feed"]["key_cursor"].as_i64().unwrap();
    assert_eq!(cursor, 2);

    // Nothing new: no keys, the same position.
    let (status, _) = session(&tt, "s-keys-2", ask(cursor), Vec::new()).await;
    assert!(status["feed"].get("keys").is_none(), "{status}");
    assert_eq!(status["feed"]["key_cursor"], cursor);

    // A device of the district committee enrols: only its key comes.
    let dc = relay.signed_device("DC").await;
    let (status, _) = session(&tt, "s-keys-3", ask(cursor), Vec::new()).await;
    let keys = status["feed"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{status}");
    assert_eq!(keys[0]["actor"], dc.actor.to_hex_string());
    assert_eq!(keys[0]["unit"], "DC");
    assert_eq!(status["feed"]["key_cursor"], cursor + 1);

    // A device enrolled before signing registers its key later: it comes next, once.
    let old = relay.device("KP").await;
    let key = tidemark_sync_protocol::SigningKey::from_seed(&[7; 32]);
    let resp = old
        .post("/v1/keys")
        .json(&serde_json::json!({"sign_key": hex::encode(key.public())}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, _) = session(&tt, "s-keys-4", ask(cursor + 1), Vec::new()).await;
    let keys = status["feed"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{status}");
    assert_eq!(keys[0]["key"], hex::encode(key.public()));
    assert_eq!(status["feed"]["key_cursor"], cursor + 2);
}

/// Posts `body` raw to `/v1/session` with `headers`; returns the response's content headers
/// and its bytes as they came off the wire.
async fn raw_session(
    peer: &Peer,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (Option<String>, Option<String>, Vec<u8>) {
    let mut req = peer.post("/v1/session");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (encoding, dictionary) = (header("content-encoding"), header("tidemark-dictionary"));
    (encoding, dictionary, resp.bytes().await.unwrap().to_vec())
}

/// A client that offers its request as the dictionary gets an answer compressed with it,
/// which decodes only with that dictionary and reads the same as the plain answer; a client
/// that does not offer it gets plain zstd.
#[tokio::test]
async fn an_answer_compressed_with_the_request_for_a_dictionary_decodes_with_it_only() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let ids = ["patrol:TT:20260302:01", "patrol:TT:20260302:02"];
    let mut items = Vec::new();
    for id in ids {
        tt.local(id, vietnamese_doc_text());
        items.push(DocMessage::new(id, push_message(&mut tt, id)));
    }
    let header = serde_json::json!({
        "create": ids.iter().map(|id| serde_json::json!({"id": id, "owner_unit": "TT", "kind": "patrol"})).collect::<Vec<_>>(),
    });
    let body = encode_session(header.to_string().as_bytes(), &Envelope { items });
    let (encoding, dictionary, wire) = raw_session(
        &tt,
        body.clone(),
        &[
            ("tidemark-session", "s-dict"),
            ("accept-encoding", "zstd"),
            ("tidemark-dictionary", "request"),
        ],
    )
    .await;
    assert_eq!(encoding.as_deref(), Some("zstd"));
    assert_eq!(dictionary.as_deref(), Some("request"));
    // Without the dictionary the bytes do not decode (or not to the answer).
    let plain = zstd::stream::decode_all(&wire[..]);
    assert!(plain.map_or(true, |b| decode_response(&b, &Limits::default()).is_err()));
    let mut out = Vec::new();
    let mut decoder = zstd::stream::read::Decoder::with_dictionary(&wire[..], &body).unwrap();
    std::io::copy(&mut decoder, &mut out).unwrap();
    let (status, replies) = decode_response(&out, &Limits::default()).unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["created"][0]["code"], "created", "{status}");
    assert_eq!(status["items"][1]["accepted"], 1, "{status}");
    assert_eq!(replies.items.len(), 2);

    // The same exchange again, without offering the dictionary: plain zstd, and the answer
    // (the creations now exist, nothing new is accepted) decodes as is.
    let (encoding, dictionary, wire) = raw_session(
        &tt,
        body,
        &[
            ("tidemark-session", "s-dict-2"),
            ("accept-encoding", "zstd"),
        ],
    )
    .await;
    assert_eq!(encoding.as_deref(), Some("zstd"));
    assert_eq!(dictionary, None);
    let out = zstd::stream::decode_all(&wire[..]).unwrap();
    let (status, _) = decode_response(&out, &Limits::default()).unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["created"][0]["code"], "exists", "{status}");
    assert_eq!(status["items"][0]["accepted"], 0, "{status}");
}

/// A feed page counts only the rows of documents the device's unit reads (its own, its
/// sub-units', those granted to it), however many rows of other units lie between them; once
/// a page is not full its cursor passes the rest of the feed, so they are not read again.
#[tokio::test]
async fn a_feed_page_counts_only_what_the_unit_reads_and_passes_the_rest() {
    let relay = province().await;
    let team = "Tổ công tác Tân Thành";
    relay.add_unit(team, Some("TT"));
    let mut tt = relay.device("TT").await;
    let mut crew = relay.device(team).await;
    let mut kp = relay.device("KP").await;
    let text = vietnamese_doc_text();
    let none = serde_json::json!([]);
    // One feed row each, in this order; TT reads three of them.
    for i in 1..=3 {
        let id = format!("activity:KP:2026031{i}:01");
        kp.create(&id, "KP", none.clone(), text).await;
    }
    tt.create("patrol:TT:20260314:01", "TT", none.clone(), text)
        .await;
    for i in 5..=6 {
        let id = format!("activity:KP:2026031{i}:01");
        kp.create(&id, "KP", none.clone(), text).await;
    }
    crew.create("patrol:TT:20260317:01", team, none.clone(), text)
        .await;
    let granted = serde_json::json!([{"unit": "TT", "access": "read"}]);
    kp.create("activity:KP:20260318:01", "KP", granted, text)
        .await;
    kp.create("activity:KP:20260319:01", "KP", none.clone(), text)
        .await;

    let page = |since: i64| serde_json::json!({"feed": {"since": since, "rows": 1}});
    let mut cursor = 0;
    let mut read = Vec::new();
    for k in 0.. {
        let (status, _) = session(&tt, &format!("s-page-{k}"), page(cursor), Vec::new()).await;
        let feed = &status["feed"];
        let docs = feed["documents"].as_array().unwrap();
        let next = feed["cursor"].as_i64().unwrap();
        assert!(next >= cursor, "{status}");
        cursor = next;
        if !feed["more"].as_bool().unwrap() {
            assert!(docs.is_empty(), "{status}");
            break;
        }
        // A full page of one row is one document the unit reads, never a row of KP's.
        assert_eq!(docs.len(), 1, "page {k}: {status}");
        read.push((
            docs[0]["id"].as_str().unwrap().to_string(),
            docs[0]["access"].as_str().unwrap().to_string(),
        ));
    }
    let expected = [
        ("patrol:TT:20260314:01", "write"),
        ("patrol:TT:20260317:01", "read"),
        ("activity:KP:20260318:01", "read"),
    ];
    let read: Vec<(&str, &str)> = read.iter().map(|(i, a)| (i.as_str(), a.as_str())).collect();
    assert_eq!(read, expected);

    // The cursor stands past every row: a later row of KP's moves it on and brings nothing.
    let (status, _) = session(&tt, "s-page-again", page(cursor), Vec::new()).await;
    assert_eq!(status["feed"]["cursor"], cursor, "{status}");
    kp.create("activity:KP:20260320:01", "KP", none, text).await;
    let (status, _) = session(&tt, "s-page-later", page(cursor), Vec::new()).await;
    assert!(status["feed"]["documents"].as_array().unwrap().is_empty());
    assert_eq!(status["feed"]["cursor"], cursor + 1, "{status}");
    assert_eq!(status["feed"]["more"], false);

    // HQ, above every unit, reads all ten in one page.
    let hq = relay.device("HQ").await;
    let ask = serde_json::json!({"feed": {"since": 0}});
    let (status, _) = session(&hq, "s-page-hq", ask, Vec::new()).await;
    assert_eq!(status["feed"]["documents"].as_array().unwrap().len(), 10);
}
