//! Resumable exchanges over real HTTP on 127.0.0.1:0: a session request whose connection is cut
//! half-way through its body runs nothing; the device learns how much arrived, sends only the
//! rest, and gets the answer, which it can also fetch again from any byte; a repeated request
//! gets the same answer without running twice; a resume from the wrong byte or by another
//! device changes nothing.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use automerge::sync::{State, SyncDoc};
use common::{error_code, province, vietnamese_doc_text, Peer};
use tidemark_sync_protocol::presume::{presume_shared, WHOLE_FROM};
use tidemark_sync_protocol::{decode_response, encode_session, DocMessage, Envelope, Limits};
use tokio::io::AsyncWriteExt;

const ID: &str = "patrol:TT:20260401:01";

/// A station's first session request: create the patrol and push it whole.
fn request(peer: &mut Peer) -> Vec<u8> {
    peer.local(ID, vietnamese_doc_text());
    let mut state = State::new();
    presume_shared(&mut state, WHOLE_FROM);
    let message = peer
        .docs
        .get_mut(ID)
        .unwrap()
        .sync()
        .generate_sync_message(&mut state)
        .unwrap()
        .encode();
    let header = serde_json::json!({
        "create": [{"id": ID, "owner_unit": "TT", "kind": "patrol"}],
        "feed": {"since": 0, "keys": 0},
    });
    encode_session(
        header.to_string().as_bytes(),
        &Envelope {
            items: vec![DocMessage::new(ID, message)],
        },
    )
}

/// Sends the headers of a session request for `len` bytes and only `part` of its body, then
/// drops the connection.
async fn cut_upload(peer: &Peer, exchange: &str, len: usize, part: &[u8]) {
    let addr = peer.url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/session HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/x-tidemark-sync\r\ntidemark-session: cut-1\r\n\
         tidemark-exchange: {exchange}\r\ncontent-length: {len}\r\n\r\n",
        peer.token
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(part).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(socket);
}

/// Posts the rest of `body`, from byte `from`, as a resumed upload of `exchange`.
async fn resume(peer: &Peer, exchange: &str, body: &[u8], from: usize) -> reqwest::Response {
    peer.post("/v1/session")
        .header("tidemark-exchange", exchange)
        .header("tidemark-resume-from", from)
        .body(body[from..].to_vec())
        .send()
        .await
        .unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn look(peer: &Peer, exchange: &str, from: Option<usize>) -> reqwest::Response {
    let mut req = peer.get(&format!("/v1/exchanges/{exchange}"));
    if let Some(from) = from {
        req = req.header("tidemark-answer-from", from);
    }
    req.send().await.unwrap()
}

async fn exists(peer: &Peer) -> bool {
    let resp = peer
        .get(&format!("/v1/documents/{ID}"))
        .send()
        .await
        .unwrap();
    resp.status() == 200
}

#[tokio::test]
async fn a_cut_upload_resumes_from_the_byte_the_relay_holds_and_its_answer_can_be_fetched_again() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let hq = relay.device("HQ").await;
    let body = request(&mut tt);
    let half = body.len() / 2;
    let exchange = "cut-upload-00001";

    cut_upload(&tt, exchange, body.len(), &body[..half]).await;
    let resp = look(&tt, exchange, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "tidemark-exchange-state").unwrap(),
        "received"
    );
    assert_eq!(
        header(&resp, "tidemark-received").unwrap(),
        half.to_string()
    );
    // Half a request runs nothing.
    assert!(!exists(&tt).await);
    // Another device cannot see it, or resume it.
    let theirs = look(&hq, exchange, None).await;
    assert_eq!(theirs.status(), 404);
    let resp = resume(&hq, exchange, &body, half).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "resume_mismatch");
    // Nor can the device resume from a byte the relay does not hold; that changes nothing.
    let resp = resume(&tt, exchange, &body, half - 1).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "resume_mismatch");

    // The rest, with no other header than the exchange and the offset: the relay runs the
    // request with the headers of the post that started it.
    let resp = resume(&tt, exchange, &body, half).await;
    assert_eq!(resp.status(), 200);
    let answer = resp.bytes().await.unwrap().to_vec();
    let (status, _) = decode_response(&answer, &Limits::default()).unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["created"][0]["code"], "created", "{status}");
    assert_eq!(status["items"][0]["code"], "ok", "{status}");
    assert!(exists(&tt).await);

    // The answer again, from byte 10: the same bytes.
    let resp = look(&tt, exchange, Some(10)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "tidemark-exchange-state").unwrap(),
        "answered"
    );
    assert_eq!(header(&resp, "tidemark-answer-from").unwrap(), "10");
    assert_eq!(resp.bytes().await.unwrap()[..], answer[10..]);
    // Past its end is refused.
    let resp = look(&tt, exchange, Some(answer.len() + 1)).await;
    assert_eq!(resp.status(), 400);

    // The whole request again under the same id: the same answer, not a second run (a second
    // run would answer `exists` for the creation).
    let resp = tt
        .post("/v1/session")
        .header("tidemark-session", "cut-1")
        .header("tidemark-exchange", exchange)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), answer);
}

#[tokio::test]
async fn unknown_and_malformed_exchanges_are_refused_with_a_code() {
    let relay = province().await;
    let tt = relay.device("TT").await;
    let resp = look(&tt, "never-heard-of-it", None).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "not_found");
    let resp = look(&tt, "short", None).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "bad_header");
    let resp = tt
        .post("/v1/session")
        .header("tidemark-exchange", "bad/id/../..........")
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // A resume of an exchange the relay never saw starts nothing.
    let resp = tt
        .post("/v1/session")
        .header("tidemark-exchange", "no-such-exchange-01")
        .header("tidemark-resume-from", 100)
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "resume_mismatch");
    let resp = look(&tt, "no-such-exchange-01", None).await;
    assert_eq!(resp.status(), 404);
}
