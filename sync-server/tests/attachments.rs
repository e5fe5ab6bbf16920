//! Attachments on the relay over real HTTP on 127.0.0.1:0: uploads in chunks that resume,
//! checks of every chunk and of the whole file, downloads whole and by range, access through
//! the documents that refer to a file, size and quota limits, one copy per file.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use common::{error_code, metric, province, vietnamese_doc_text, Peer, Relay};
use serde_json::{json, Value};
use tidemark_sync_protocol::attachment::{sha256_hex, Manifest, CHUNK_SIZE};
use tidemark_sync_protocol::encode_bundle;

const JPEG: &str = "image/jpeg";
const KIB: usize = 1024;

/// `len` deterministic bytes that differ with `seed`.
fn file(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

/// Adds `{hash, thumb?, name}` to the `attachments` list of the map at `place` (the root, or
/// `violations[0]`, created as needed) of a local document.
fn refer(peer: &mut Peer, id: &str, nested: bool, hash: &str, thumb: Option<&str>) {
    let doc = peer.docs.get_mut(id).unwrap();
    let mut parent = ROOT;
    if nested {
        let violations = match doc.get(ROOT, "violations").unwrap() {
            Some((_, v)) => v,
            None => doc.put_object(ROOT, "violations", ObjType::List).unwrap(),
        };
        parent = match doc.get(&violations, 0).unwrap() {
            Some((_, v)) => v,
            None => {
                let v = doc.insert_object(&violations, 0, ObjType::Map).unwrap();
                doc.put(&v, "kind", "Khai thác thủy sản trái phép").unwrap();
                v
            }
        };
    }
    let list = match doc.get(&parent, "attachments").unwrap() {
        Some((_, list)) => list,
        None => doc
            .put_object(&parent, "attachments", ObjType::List)
            .unwrap(),
    };
    let entry = doc
        .insert_object(&list, doc.length(&list), ObjType::Map)
        .unwrap();
    doc.put(&entry, "hash", hash).unwrap();
    doc.put(&entry, "name", "ảnh tàu cá TG-93096-TS.jpg")
        .unwrap();
    if let Some(t) = thumb {
        doc.put(&entry, "thumb", t).unwrap();
    }
    doc.commit();
}

/// Creates a patrol of `unit` referring to `hashes` at its root and syncs it to the relay.
async fn record(peer: &mut Peer, id: &str, unit: &str, hashes: &[&str]) {
    peer.create(id, unit, json!([]), vietnamese_doc_text())
        .await;
    for h in hashes {
        refer(peer, id, false, h, None);
    }
    peer.sync_until_quiet().await;
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

async fn begin(peer: &Peer, hash: &str, manifest: &Manifest) -> (u16, Value) {
    let resp = peer
        .post(&format!("/v1/attachments/{hash}"))
        .json(manifest)
        .send()
        .await
        .unwrap();
    answer(resp).await
}

fn put(peer: &Peer, hash: &str, index: u64, bytes: &[u8]) -> reqwest::RequestBuilder {
    peer.http
        .put(format!("{}/v1/attachments/{hash}/chunks/{index}", peer.url))
        .bearer_auth(&peer.token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
}

async fn put_chunk(peer: &Peer, hash: &str, index: u64, bytes: &[u8]) -> (u16, Value) {
    answer(put(peer, hash, index, bytes).send().await.unwrap()).await
}

fn chunk(bytes: &[u8], index: usize) -> &[u8] {
    let size = CHUNK_SIZE as usize;
    &bytes[index * size..((index + 1) * size).min(bytes.len())]
}

/// Uploads a whole file (its hash must be referenced by a document `peer` writes).
async fn upload(peer: &Peer, bytes: &[u8]) -> String {
    let hash = sha256_hex(bytes);
    let manifest = Manifest::of(bytes, JPEG);
    let (status, up) = begin(peer, &hash, &manifest).await;
    assert_eq!(status, 200, "{up}");
    for i in 0..manifest.chunks.len() {
        let (status, v) = put_chunk(peer, &hash, i as u64, chunk(bytes, i)).await;
        assert_eq!(status, 200, "{v}");
    }
    hash
}

fn content(peer: &Peer, hash: &str) -> reqwest::RequestBuilder {
    peer.get(&format!("/v1/attachments/{hash}/content"))
}

async fn range(peer: &Peer, hash: &str, spec: &str) -> reqwest::Response {
    content(peer, hash)
        .header("range", spec)
        .send()
        .await
        .unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_file_uploads_in_chunks_and_downloads_whole_and_by_range() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let bytes = file(1, 600 * KIB + 123);
    let hash = sha256_hex(&bytes);
    record(&mut tt, "patrol:TT:1", "TT", &[&hash]).await;
    let manifest = Manifest::of(&bytes, JPEG);
    assert_eq!(manifest.chunks.len(), 3);

    let (status, up) = begin(&tt, &hash, &manifest).await;
    assert_eq!(status, 200, "{up}");
    assert_eq!(
        up,
        json!({"complete": false, "chunk_size": CHUNK_SIZE, "have": []})
    );
    for i in 0..3 {
        let (status, v) = put_chunk(&tt, &hash, i, chunk(&bytes, i as usize)).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v, json!({"complete": i == 2, "received": i + 1}));
    }
    let (status, meta) = answer(
        tt.get(&format!("/v1/attachments/{hash}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(meta["complete"], true);
    assert_eq!(meta["size"], bytes.len());
    assert_eq!(meta["mime"], JPEG);
    assert_eq!(meta["chunk_size"], CHUNK_SIZE);
    assert_eq!(meta["chunks"], json!(manifest.chunks));

    let whole = content(&tt, &hash).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(header(&whole, "content-type"), "application/octet-stream");
    assert_eq!(whole.bytes().await.unwrap(), bytes);

    let size = bytes.len() as u64;
    let mut assembled = Vec::new();
    for i in 0..3u64 {
        let (a, b) = (i * CHUNK_SIZE, ((i + 1) * CHUNK_SIZE).min(size));
        let resp = range(&tt, &hash, &format!("bytes={a}-{}", b - 1)).await;
        assert_eq!(resp.status(), 206);
        assert_eq!(
            header(&resp, "content-range"),
            format!("bytes {a}-{}/{size}", b - 1)
        );
        assert_eq!(header(&resp, "content-length"), (b - a).to_string());
        let part = resp.bytes().await.unwrap();
        assert_eq!(sha256_hex(&part), manifest.chunks[i as usize]);
        assembled.extend_from_slice(&part);
    }
    assert_eq!(assembled, bytes);
    // Across a chunk boundary, and open-ended.
    let resp = range(&tt, &hash, "bytes=262000-262299").await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), &bytes[262_000..262_300]);
    let resp = range(&tt, &hash, "bytes=600000-").await;
    assert_eq!(
        header(&resp, "content-range"),
        format!("bytes 600000-{}/{size}", size - 1)
    );
    assert_eq!(resp.bytes().await.unwrap(), &bytes[600_000..]);

    assert_eq!(
        metric(&relay, "tidemark_attachment_chunks_received_total").await,
        3
    );
    let served = metric(&relay, "tidemark_attachment_bytes_served_total").await;
    assert_eq!(served, 2 * size + 300 + (size - 600_000));
    relay.stop().await;
}

#[tokio::test]
async fn a_unit_above_the_station_downloads_but_does_not_upload() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let hq = relay.device("HQ").await;
    let bytes = file(2, 300 * KIB);
    let hash = sha256_hex(&bytes);
    let photo = file(3, 10 * KIB);
    let photo_hash = sha256_hex(&photo);
    // Referenced under violations[0], with a thumbnail.
    tt.create("patrol:TT:2", "TT", json!([]), vietnamese_doc_text())
        .await;
    refer(&mut tt, "patrol:TT:2", true, &hash, Some(&photo_hash));
    tt.sync_until_quiet().await;
    upload(&tt, &bytes).await;
    upload(&tt, &photo).await;

    let resp = content(&hq, &hash).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), bytes);
    let resp = range(&hq, &photo_hash, "bytes=0-99").await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), &photo[..100]);
    let (status, v) = begin(&hq, &hash, &Manifest::of(&bytes, JPEG)).await;
    assert_eq!((status, &v["error"]["code"]), (403, &json!("forbidden")));
    relay.stop().await;
}

#[tokio::test]
async fn an_upload_resumes_from_the_chunks_the_relay_has() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let bytes = file(4, 700 * KIB);
    let hash = sha256_hex(&bytes);
    record(&mut tt, "patrol:TT:3", "TT", &[&hash]).await;
    let manifest = Manifest::of(&bytes, JPEG);
    begin(&tt, &hash, &manifest).await;
    put_chunk(&tt, &hash, 0, chunk(&bytes, 0)).await;
    // Sending a chunk again is harmless.
    let (status, v) = put_chunk(&tt, &hash, 0, chunk(&bytes, 0)).await;
    assert_eq!((status, v["received"].as_u64()), (200, Some(1)));

    let (status, up) = begin(&tt, &hash, &manifest).await;
    assert_eq!(status, 200);
    assert_eq!(
        up,
        json!({"complete": false, "chunk_size": CHUNK_SIZE, "have": [0]})
    );
    let (_, v) = put_chunk(&tt, &hash, 2, chunk(&bytes, 2)).await;
    assert_eq!(v, json!({"complete": false, "received": 2}));
    let (_, up) = begin(&tt, &hash, &manifest).await;
    assert_eq!(up["have"], json!([0, 2]));

    // Another manifest for an incomplete upload starts it over.
    let other = Manifest::of(&bytes, "application/pdf");
    let (_, up) = begin(&tt, &hash, &other).await;
    assert_eq!(up["have"], json!([]));
    for i in 0..3 {
        put_chunk(&tt, &hash, i, chunk(&bytes, i as usize)).await;
    }
    let (_, meta) = answer(
        tt.get(&format!("/v1/attachments/{hash}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (&meta["complete"], &meta["mime"]),
        (&json!(true), &json!("application/pdf"))
    );
    // A complete attachment is never replaced.
    let (_, up) = begin(&tt, &hash, &manifest).await;
    assert_eq!(
        up,
        json!({"complete": true, "chunk_size": CHUNK_SIZE, "have": [0, 1, 2]})
    );
    relay.stop().await;
}

#[tokio::test]
async fn a_chunk_that_does_not_match_its_manifest_is_refused_and_not_stored() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let bytes = file(5, 600 * KIB);
    let hash = sha256_hex(&bytes);
    record(&mut tt, "patrol:TT:4", "TT", &[&hash]).await;
    // Chunks of an upload that was not started.
    let (status, v) = put_chunk(&tt, &hash, 0, chunk(&bytes, 0)).await;
    assert_eq!((status, &v["error"]["code"]), (404, &json!("not_found")));
    begin(&tt, &hash, &Manifest::of(&bytes, JPEG)).await;

    let mut corrupted = chunk(&bytes, 1).to_vec();
    corrupted[1000] ^= 0x40;
    let (status, v) = put_chunk(&tt, &hash, 1, &corrupted).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (422, &json!("chunk_mismatch"))
    );
    let short = &chunk(&bytes, 2)[1..];
    let (status, v) = put_chunk(&tt, &hash, 2, short).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (422, &json!("chunk_mismatch"))
    );
    let mut long = chunk(&bytes, 0).to_vec();
    long.extend_from_slice(b"them");
    let (status, v) = put_chunk(&tt, &hash, 0, &long).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (422, &json!("chunk_mismatch"))
    );
    let (status, v) = put_chunk(&tt, &hash, 3, b"qua chunk cuoi").await;
    assert_eq!((status, &v["error"]["code"]), (404, &json!("not_found")));
    let resp = put(&tt, &hash, 0, &vec![0u8; 2 * CHUNK_SIZE as usize])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    let (_, up) = begin(&tt, &hash, &Manifest::of(&bytes, JPEG)).await;
    assert_eq!(up["have"], json!([]));
    assert_eq!(
        metric(&relay, "tidemark_attachment_chunks_refused_total").await,
        3
    );
    assert_eq!(
        metric(&relay, "tidemark_attachment_chunks_received_total").await,
        0
    );
    relay.stop().await;
}

#[tokio::test]
async fn a_file_whose_whole_hash_differs_is_dropped() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let bytes = file(6, 600 * KIB);
    // The record names another file's address; the chunks match their manifest.
    let hash = sha256_hex(&file(7, 600 * KIB));
    record(&mut tt, "patrol:TT:5", "TT", &[&hash]).await;
    let manifest = Manifest::of(&bytes, JPEG);
    begin(&tt, &hash, &manifest).await;
    for i in 0..2 {
        let (status, _) = put_chunk(&tt, &hash, i, chunk(&bytes, i as usize)).await;
        assert_eq!(status, 200);
    }
    let (status, v) = put_chunk(&tt, &hash, 2, chunk(&bytes, 2)).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (422, &json!("file_mismatch"))
    );

    let resp = tt
        .get(&format!("/v1/attachments/{hash}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(relay.db().attachment(&hash).unwrap().is_none());
    assert_eq!(relay.db().attachment_bytes("TT").unwrap(), 0);
    let (_, up) = begin(&tt, &hash, &manifest).await;
    assert_eq!(up["have"], json!([]));
    relay.stop().await;
}

#[tokio::test]
async fn only_units_that_may_use_a_referencing_document_reach_its_files() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let kp = relay.device("KP").await;
    let bytes = file(8, 20 * KIB);
    let hash = sha256_hex(&bytes);
    let manifest = Manifest::of(&bytes, JPEG);
    // No document refers to it yet: not even its uploader may use it.
    let (status, v) = begin(&tt, &hash, &manifest).await;
    assert_eq!((status, &v["error"]["code"]), (403, &json!("forbidden")));
    let resp = tt
        .get(&format!("/v1/attachments/{hash}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    record(&mut tt, "patrol:TT:6", "TT", &[&hash]).await;
    upload(&tt, &bytes).await;
    // Another station reads nothing of TT's patrol, so nothing of its files.
    let meta = kp
        .get(&format!("/v1/attachments/{hash}"))
        .send()
        .await
        .unwrap();
    assert_eq!(meta.status(), 403);
    assert_eq!(error_code(meta).await, "forbidden");
    let resp = content(&kp, &hash).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "forbidden");
    let (status, _) = begin(&kp, &hash, &manifest).await;
    assert_eq!(status, 403);
    let (status, _) = put_chunk(&kp, &hash, 0, &bytes).await;
    assert_eq!(status, 403);

    // The record drops the file: its references are re-read, and the file is out of reach.
    let doc = tt.docs.get_mut("patrol:TT:6").unwrap();
    doc.delete(ROOT, "attachments").unwrap();
    doc.commit();
    tt.sync_until_quiet().await;
    assert!(relay
        .db()
        .attachment_refs("patrol:TT:6")
        .unwrap()
        .is_empty());
    assert_eq!(content(&tt, &hash).send().await.unwrap().status(), 403);
    relay.stop().await;
}

#[tokio::test]
async fn references_arrive_with_bundles_too() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let bytes = file(9, 5 * KIB);
    let hash = sha256_hex(&bytes);
    let id = "patrol:TT:20250110:02";
    tt.local(id, vietnamese_doc_text());
    refer(&mut tt, id, true, &hash, None);
    let bundle = tt.bundle("TT", &[(id, "patrol", "TT")]);
    let (status, receipt) = tt.upload(encode_bundle(&bundle)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(
        relay
            .db()
            .attachment_refs(id)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![hash.clone()]
    );
    upload(&tt, &bytes).await;
    let resp = content(&tt, &hash).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), bytes);
    relay.stop().await;
}

#[tokio::test]
async fn size_and_quota_limits_hold_and_a_file_the_relay_has_costs_nothing() {
    let relay = Relay::start_with(|s| {
        s.max_attachment_bytes = 300 * KIB as u64;
        s.attachment_quota_bytes = 500 * KIB as u64;
    })
    .await;
    for (unit, parent) in [("HQ", None), ("TT", Some("HQ")), ("KP", Some("HQ"))] {
        relay.add_unit(unit, parent);
    }
    let mut tt = relay.device("TT").await;
    let mut kp = relay.device("KP").await;
    let big = file(10, 301 * KIB);
    let [a, b, c, d, e] = [11, 12, 13, 14, 15].map(|seed| file(seed, 200 * KIB));
    let h = |bytes: &[u8]| sha256_hex(bytes);
    record(
        &mut tt,
        "patrol:TT:7",
        "TT",
        &[&h(&big), &h(&a), &h(&b), &h(&c)],
    )
    .await;
    record(&mut kp, "patrol:KP:1", "KP", &[&h(&a), &h(&d), &h(&e)]).await;

    let (status, v) = begin(&tt, &h(&big), &Manifest::of(&big, JPEG)).await;
    assert_eq!((status, &v["error"]["code"]), (413, &json!("too_large")));
    upload(&tt, &a).await;
    // An incomplete upload counts, once, however often it is resumed.
    let (status, _) = begin(&tt, &h(&b), &Manifest::of(&b, JPEG)).await;
    assert_eq!(status, 200);
    let (status, _) = begin(&tt, &h(&b), &Manifest::of(&b, JPEG)).await;
    assert_eq!(status, 200);
    let (status, v) = begin(&tt, &h(&c), &Manifest::of(&c, JPEG)).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (413, &json!("quota_exceeded"))
    );
    assert_eq!(relay.db().attachment_bytes("TT").unwrap(), 400 * KIB as u64);

    // KP refers to the same photo: the relay has it, KP is told so and not charged.
    let (status, up) = begin(&kp, &h(&a), &Manifest::of(&a, JPEG)).await;
    assert_eq!(status, 200);
    assert_eq!(
        up,
        json!({"complete": true, "chunk_size": CHUNK_SIZE, "have": [0]})
    );
    assert_eq!(relay.db().attachment_bytes("KP").unwrap(), 0);
    upload(&kp, &d).await;
    upload(&kp, &e).await;
    assert_eq!(relay.db().attachment_bytes("KP").unwrap(), 400 * KIB as u64);
    relay.stop().await;
}

#[tokio::test]
async fn malformed_addresses_and_ranges_are_refused() {
    let relay = province().await;
    let mut tt = relay.device("TT").await;
    let bytes = file(16, 300 * KIB);
    let hash = sha256_hex(&bytes);
    record(&mut tt, "patrol:TT:8", "TT", &[&hash]).await;
    let manifest = Manifest::of(&bytes, JPEG);
    let upper = hash.to_uppercase();
    for bad in ["..%2F..%2Fetc", upper.as_str(), &hash[..63], "ảnh.jpg"] {
        let resp = tt
            .get(&format!("/v1/attachments/{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        assert_eq!(error_code(resp).await, "bad_hash");
        let (status, v) = begin(&tt, bad, &manifest).await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (400, &json!("bad_hash")),
            "{bad}"
        );
        let (status, v) = put_chunk(&tt, bad, 0, b"x").await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (400, &json!("bad_hash")),
            "{bad}"
        );
        let resp = content(&tt, bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let mut wrong = manifest.clone();
    wrong.chunk_size = 1000;
    let (status, v) = begin(&tt, &hash, &wrong).await;
    assert_eq!((status, &v["error"]["code"]), (400, &json!("bad_manifest")));
    let resp = tt
        .post(&format!("/v1/attachments/{hash}"))
        .body("{\"tên\": \"ảnh\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "bad_manifest");

    begin(&tt, &hash, &manifest).await;
    put_chunk(&tt, &hash, 0, chunk(&bytes, 0)).await;
    let resp = content(&tt, &hash).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "incomplete");
    put_chunk(&tt, &hash, 1, chunk(&bytes, 1)).await;

    for spec in [
        "bytes=abc",
        "bytes=10-5",
        "bytes=0-1,5-9",
        "lines=0-1",
        "bytes=-100",
    ] {
        let resp = range(&tt, &hash, spec).await;
        assert_eq!(resp.status(), 400, "{spec}");
        assert_eq!(error_code(resp).await, "bad_range", "{spec}");
    }
    let size = bytes.len();
    let resp = range(&tt, &hash, &format!("bytes={size}-")).await;
    assert_eq!(resp.status(), 416);
    assert_eq!(header(&resp, "content-range"), format!("bytes */{size}"));
    assert_eq!(error_code(resp).await, "bad_range");
    relay.stop().await;
}
