//! What a session's feed page holds: the signing keys registered after the device's last one,
//! and only the documents its unit reads.

use super::common::{province, vietnamese_doc_text, Peer};
use super::session;

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

/// Reads `peer`'s feed from `since` a row a page until a page is not full; returns each page's
/// document (id, access) and the last cursor. A full page of one row must be one document the
/// unit reads: a row of a document it does not read never fills a page.
async fn pages(peer: &Peer, name: &str, since: i64) -> (Vec<(String, String)>, i64) {
    let mut cursor = since;
    let mut read = Vec::new();
    for k in 0.. {
        let ask = serde_json::json!({"feed": {"since": cursor, "rows": 1}});
        let (status, _) = session(peer, &format!("s-{name}-{k}"), ask, Vec::new()).await;
        let feed = &status["feed"];
        let docs = feed["documents"].as_array().unwrap();
        let next = feed["cursor"].as_i64().unwrap();
        assert!(next >= cursor, "{status}");
        cursor = next;
        if !feed["more"].as_bool().unwrap() {
            assert!(docs.is_empty(), "{status}");
            return (read, cursor);
        }
        assert_eq!(docs.len(), 1, "{name}, page {k}: {status}");
        read.push((
            docs[0]["id"].as_str().unwrap().to_string(),
            docs[0]["access"].as_str().unwrap().to_string(),
        ));
    }
    unreachable!()
}

fn owned(read: &[(String, String)]) -> Vec<(&str, &str)> {
    read.iter().map(|(i, a)| (i.as_str(), a.as_str())).collect()
}

/// A feed page counts only the rows of documents the device's unit reads (its own, its
/// sub-units', those granted to it), however many rows of other units lie between them; once
/// a page is not full its cursor passes the rest of the feed, so they are not read again. So
/// for a unit with units under it (TT and its team) as for units with none (the team, KP).
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

    // TT reads its own, its team's and what KP shares with it.
    let (read, cursor) = pages(&tt, "tt", 0).await;
    let expected = [
        ("patrol:TT:20260314:01", "write"),
        ("patrol:TT:20260317:01", "read"),
        ("activity:KP:20260318:01", "read"),
    ];
    assert_eq!(owned(&read), expected);

    // The cursor stands past every row: a later row of KP's moves it on and brings nothing.
    let (read, again) = pages(&tt, "tt-again", cursor).await;
    assert!(read.is_empty());
    assert_eq!(again, cursor);
    kp.create("activity:KP:20260320:01", "KP", none.clone(), text)
        .await;
    let (read, later) = pages(&tt, "tt-later", cursor).await;
    assert!(read.is_empty());
    assert_eq!(later, cursor + 1);

    // The team reads its own only; KP its own and what TT shares with it, in feed order.
    let (read, _) = pages(&crew, "crew", 0).await;
    assert_eq!(owned(&read), [("patrol:TT:20260317:01", "write")]);
    let shared = serde_json::json!([{"unit": "KP", "access": "write"}]);
    tt.create("plan:TT:2026:01", "TT", shared, text).await;
    kp.create("activity:KP:20260321:01", "KP", none, text).await;
    let (read, end) = pages(&kp, "kp", 0).await;
    let mut expected: Vec<(String, &str)> = [1, 2, 3, 5, 6, 8, 9]
        .iter()
        .map(|d| (format!("activity:KP:2026031{d}:01"), "write"))
        .collect();
    expected.push(("activity:KP:20260320:01".into(), "write"));
    expected.push(("plan:TT:2026:01".into(), "write"));
    expected.push(("activity:KP:20260321:01".into(), "write"));
    let expected: Vec<(&str, &str)> = expected.iter().map(|(i, a)| (i.as_str(), *a)).collect();
    assert_eq!(owned(&read), expected);
    assert_eq!(end, cursor + 3, "the end of the feed");
    let (read, _) = pages(&kp, "kp-from", end - 2).await;
    assert_eq!(
        owned(&read),
        [
            ("plan:TT:2026:01", "write"),
            ("activity:KP:20260321:01", "write")
        ]
    );

    // HQ, above every unit, reads all twelve in one page.
    let hq = relay.device("HQ").await;
    let ask = serde_json::json!({"feed": {"since": 0}});
    let (status, _) = session(&hq, "s-page-hq", ask, Vec::new()).await;
    assert_eq!(status["feed"]["documents"].as_array().unwrap().len(), 12);
}
