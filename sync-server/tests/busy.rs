//! The relay under load: concurrent clients on one document, compaction of many small chunks,
//! and random bytes as sync messages.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{province, vietnamese_doc_text};
use rand::{Rng, SeedableRng};
use tidemark_sync_protocol::{DocMessage, Envelope};
use tidemark_sync_server::sync::COMPACT_AFTER_CHUNKS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_on_one_document_converge() {
    let relay = province().await;
    let id = "plan:2025:TT";
    let mut first = relay.device("TT").await;
    first
        .create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    first.sync_until_quiet().await;
    let mut peers = vec![first];
    for _ in 0..3 {
        let mut p = relay.device("TT").await;
        p.follow(id);
        p.sync_until_quiet().await;
        peers.push(p);
    }
    let tasks: Vec<_> = peers
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            tokio::spawn(async move {
                for j in 0..5 {
                    p.append(id, &format!("[máy {i} lượt {j}] "));
                    p.sync_until_quiet().await;
                }
                p
            })
        })
        .collect();
    let mut peers = Vec::new();
    for t in tasks {
        peers.push(t.await.unwrap());
    }
    // Everyone pulls once more after the last writer finished.
    for p in peers.iter_mut() {
        p.sync_until_quiet().await;
    }
    let text = peers[0].notes(id);
    for p in &peers {
        assert_eq!(p.notes(id), text);
    }
    for i in 0..4 {
        for j in 0..5 {
            assert!(
                text.contains(&format!("[máy {i} lượt {j}] ")),
                "missing {i}/{j}"
            );
        }
    }
    relay.stop().await;
}

#[tokio::test]
async fn many_small_syncs_are_compacted_and_still_load() {
    let relay = province().await;
    let id = "patrol:TT:20250111:01";
    let mut a = relay.device("TT").await;
    a.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    for i in 0..(COMPACT_AFTER_CHUNKS + 8) {
        a.append(id, &format!("Mốc {i}. "));
        a.sync_until_quiet().await;
    }
    let chunks = relay.db().chunk_count(id).unwrap();
    assert!(chunks < COMPACT_AFTER_CHUNKS, "{chunks} chunks");
    let mut b = relay.device("HQ").await;
    b.follow(id);
    b.sync_until_quiet().await;
    assert_eq!(b.notes(id), a.notes(id));
    relay.stop().await;
}

#[tokio::test]
async fn random_bytes_as_sync_messages_fail_items_without_panicking() {
    let relay = province().await;
    let id = "patrol:TT:20250112:01";
    let mut a = relay.device("TT").await;
    a.create(id, "TT", serde_json::json!([]), vietnamese_doc_text())
        .await;
    a.sync_until_quiet().await;
    let seed = 20251126u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let valid = {
        let mut doc = a.docs[id].clone();
        let mut state = automerge::sync::State::new();
        let message = automerge::sync::SyncDoc::generate_sync_message(&doc.sync(), &mut state);
        message.unwrap().encode()
    };
    for round in 0..50 {
        let message: Vec<u8> = if round % 2 == 0 {
            (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect()
        } else {
            let mut m = valid.clone();
            let at = rng.random_range(0..m.len());
            m[at] ^= 1 << rng.random_range(0..8);
            m.truncate(rng.random_range(1..=m.len()));
            m
        };
        let env = Envelope {
            items: vec![DocMessage {
                doc_id: id.into(),
                message,
                signatures: Vec::new(),
            }],
        };
        let statuses = a.send(env).await;
        assert!(
            ["ok", "bad_message", "forged_author"].contains(&statuses[id].as_str()),
            "seed {seed} round {round}: {statuses:?}"
        );
    }
    let mut b = relay.device("TT").await;
    b.follow(id);
    b.sync_until_quiet().await;
    assert_eq!(b.notes(id), vietnamese_doc_text());
    relay.stop().await;
}

/// A token is checked without a turn in the database's queue: while that queue is held (a
/// write waiting on a lock another connection holds), a request with a wrong token is still
/// answered 401 at once; a revocation by another connection counts at the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_while_the_database_queue_is_held() {
    let relay = province().await;
    let tt = relay.device("TT").await;
    let kp = relay.device("KP").await;
    assert_eq!(
        kp.get("/v1/feed?since=0").send().await.unwrap().status(),
        200
    );

    // Another connection takes the write lock; the relay's next write waits for it inside its
    // turn, and so holds the queue.
    let path = relay.settings.database_path();
    let outside = rusqlite::Connection::open(&path).unwrap();
    outside.execute_batch("BEGIN IMMEDIATE").unwrap();
    let id = "patrol:TT:20260320:01";
    let create = {
        let request = tt
            .post("/v1/documents")
            .json(&serde_json::json!({"id": id, "owner_unit": "TT", "grants": []}));
        tokio::spawn(async move { request.send().await.unwrap().status() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!create.is_finished(), "the write waits for the lock");

    let wrong = reqwest::Client::new()
        .get(format!("{}/v1/feed?since=0", relay.url))
        .bearer_auth("ma-gia-0000000000000000000000000000000000")
        .send();
    let answered = tokio::time::timeout(std::time::Duration::from_secs(3), wrong).await;
    assert!(
        !create.is_finished(),
        "the lock was still held when the token was refused"
    );
    assert_eq!(
        answered
            .expect("answered while the queue was held")
            .unwrap()
            .status(),
        401
    );

    outside.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        create.await.unwrap(),
        201,
        "the write went on once the lock was free"
    );

    // A revocation written by another connection (as the admin command does) counts at the
    // device's next request.
    relay.db().revoke(&kp.id).unwrap();
    assert_eq!(
        kp.get("/v1/feed?since=0").send().await.unwrap().status(),
        401
    );
}
