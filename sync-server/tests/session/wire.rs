//! Requests as bytes: malformed ones are refused with a code and change nothing; an answer
//! compressed with the request for a dictionary decodes with it only.

use tidemark_sync_protocol::{
    decode_response, encode_session, DocMessage, Envelope, Limits, SESSION_MAGIC,
};

use super::common::{error_code, province, vietnamese_doc_text, Peer, Relay};
use super::push_message;

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

/// The zstd frames `wire` is made of, each as it came.
fn frames(mut wire: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let size = zstd::zstd_safe::find_frame_compressed_size(wire).expect("a whole frame");
        out.push(&wire[..size]);
        wire = &wire[size..];
    }
    out
}

/// A large key directory goes as a zstd frame of its own, made once: two devices' answers
/// carry the same frame between the frames of the rest (with the request for a dictionary),
/// and each decodes, as the client decodes it, to the very bytes of the plain answer.
#[tokio::test]
async fn a_large_key_directory_is_one_frame_made_once_and_the_answer_decodes_whole() {
    // Thirty enrolments from one address: past the relay's default rate.
    let relay = Relay::start_with(|s| s.max_enrolments_per_minute = 1000).await;
    relay.add_unit("HQ", None);
    relay.add_unit("TT", Some("HQ"));
    let mut devices = Vec::new();
    for _ in 0..30 {
        devices.push(relay.signed_device("TT").await);
    }
    let header = serde_json::json!({"feed": {"since": 0, "keys": 0}});
    let body = encode_session(header.to_string().as_bytes(), &Envelope::default());
    let compressed = [
        ("accept-encoding", "zstd"),
        ("tidemark-dictionary", "request"),
    ];
    let (_, _, plain) = raw_session(&devices[2], body.clone(), &[]).await;
    let (status, _) = decode_response(&plain, &Limits::default()).unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    let keys = &status["feed"]["keys"];
    assert_eq!(keys.as_array().unwrap().len(), 30);
    let size = serde_json::to_vec(keys).unwrap().len();
    assert!(size >= 4096, "{size} bytes of keys");

    let mut middles = Vec::new();
    for device in &devices[..2] {
        let (encoding, dictionary, wire) = raw_session(device, body.clone(), &compressed).await;
        assert_eq!(encoding.as_deref(), Some("zstd"));
        assert_eq!(dictionary.as_deref(), Some("request"));
        let mut out = Vec::new();
        let mut decoder = zstd::stream::read::Decoder::with_dictionary(&wire[..], &body).unwrap();
        std::io::copy(&mut decoder, &mut out).unwrap();
        assert!(out == plain, "the answer decodes whole, frame after frame");
        let parts = frames(&wire);
        assert_eq!(parts.len(), 3, "before the keys, the keys, after them");
        // The middle frame is the directory alone, and needs no dictionary.
        let directory: serde_json::Value =
            serde_json::from_slice(&zstd::stream::decode_all(parts[1]).unwrap()).unwrap();
        assert!(&directory == keys, "the middle frame is the directory");
        middles.push(parts[1].to_vec());
    }
    assert!(middles[0] == middles[1], "made once, sent twice");

    // A small directory goes in the answer's one frame, as before.
    let small = province().await;
    let few = [
        small.signed_device("TT").await,
        small.signed_device("KP").await,
    ];
    let (_, _, wire) = raw_session(&few[0], body.clone(), &compressed).await;
    assert_eq!(frames(&wire).len(), 1);
}
