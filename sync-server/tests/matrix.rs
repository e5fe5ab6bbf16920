//! Every relay endpoint × every role, over real HTTP: the owning station, HQ above it, another
//! station, a district committee with a write grant on one exchange, a revoked device, no
//! token and a made-up token. Each cell is the HTTP status the role must get (for sync, the
//! item's code); the table is the specification, and one test checks all of it.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use automerge::sync::{State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use common::{vietnamese_doc_text, Peer, Relay};
use serde_json::json;
use tidemark_sync_protocol::attachment::{sha256_hex, Manifest};
use tidemark_sync_protocol::{encode, DocMessage, Envelope};

const ROLES: [&str; 7] = ["tt", "hq", "kp", "dc", "revoked", "anonymous", "forged"];

/// One role's way of calling the relay: a bearer token, or none.
struct Caller {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Caller {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }
}

fn caller(p: &Peer, token: Option<String>) -> Caller {
    Caller {
        http: reqwest::Client::new(),
        url: p.url.clone(),
        token,
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_access_rules_say() {
    // Three roles fail authentication on every row: the per-address limit on failed
    // authentications (its own test is in handlers.rs) is raised so the table can run.
    let relay = Relay::start_with(|s| s.max_failed_auth_per_minute = 10_000).await;
    relay.add_unit("HQ", None);
    for unit in ["TT", "KP", "DC"] {
        relay.add_unit(unit, Some("HQ"));
    }
    let mut tt = relay.device("TT").await;
    let hq = relay.device("HQ").await;
    let kp = relay.device("KP").await;
    let dc = relay.device("DC").await;
    let revoked = relay.device("TT").await;
    relay.db().revoke(&revoked.id).unwrap();

    // A station's patrol referring to a photo, and an exchange the committee may write.
    let photo = vietnamese_doc_text().repeat(50).into_bytes();
    let hash = sha256_hex(&photo);
    tt.create("patrol:TT:1", "TT", json!([]), vietnamese_doc_text())
        .await;
    {
        let doc = tt.docs.get_mut("patrol:TT:1").unwrap();
        let list = doc.put_object(ROOT, "attachments", ObjType::List).unwrap();
        let entry = doc.insert_object(&list, 0, ObjType::Map).unwrap();
        doc.put(&entry, "hash", hash.as_str()).unwrap();
        doc.put(&entry, "name", "ảnh tàu cá.jpg").unwrap();
        doc.commit();
    }
    tt.create(
        "exchange:TT:DC:1",
        "TT",
        json!([{"unit": "DC", "access": "write"}]),
        "Đề nghị phối hợp tuyên truyền.",
    )
    .await;
    tt.sync_until_quiet().await;
    let manifest = Manifest::of(&photo, "image/jpeg");
    let begun = tt
        .post(&format!("/v1/attachments/{hash}"))
        .json(&manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(begun.status(), 200);
    let put = tt
        .http
        .put(format!("{}/v1/attachments/{hash}/chunks/0", tt.url))
        .bearer_auth(&tt.token)
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let callers = [
        caller(&tt, Some(tt.token.clone())),
        caller(&tt, Some(hq.token.clone())),
        caller(&tt, Some(kp.token.clone())),
        caller(&tt, Some(dc.token.clone())),
        caller(&tt, Some(revoked.token.clone())),
        caller(&tt, None),
        caller(&tt, Some(format!("tmk_{}", "0".repeat(64)))),
    ];
    let units = ["TT", "HQ", "KP", "DC", "TT", "TT", "TT"];
    use reqwest::Method as M;
    // (what, method, path, body, expected status per role in ROLES order)
    type Row = (&'static str, M, String, Option<serde_json::Value>, [u16; 7]);
    let rows: Vec<Row> = vec![
        ("health", M::GET, "/v1/health".into(), None, [200; 7]),
        ("metrics", M::GET, "/metrics".into(), None, [200; 7]),
        (
            "a station's patrol",
            M::GET,
            "/v1/documents/patrol:TT:1".into(),
            None,
            [200, 200, 403, 403, 401, 401, 401],
        ),
        (
            "an exchange granted to DC",
            M::GET,
            "/v1/documents/exchange:TT:DC:1".into(),
            None,
            [200, 200, 403, 200, 401, 401, 401],
        ),
        (
            "share the patrol",
            M::POST,
            "/v1/documents/patrol:TT:1/grants".into(),
            Some(json!({"grants": [{"unit": "HQ", "access": "read"}]})),
            [200, 200, 403, 403, 401, 401, 401],
        ),
        (
            "the feed",
            M::GET,
            "/v1/feed?since=0".into(),
            None,
            [200, 200, 200, 200, 401, 401, 401],
        ),
        (
            "receipts",
            M::POST,
            "/v1/receipts".into(),
            Some(json!({"ids": ["patrol:TT:1"]})),
            [200, 200, 200, 200, 401, 401, 401],
        ),
        (
            "the photo's manifest",
            M::GET,
            format!("/v1/attachments/{hash}"),
            None,
            [200, 200, 403, 403, 401, 401, 401],
        ),
        (
            "the photo",
            M::GET,
            format!("/v1/attachments/{hash}/content"),
            None,
            [200, 200, 403, 403, 401, 401, 401],
        ),
        (
            "upload the photo",
            M::POST,
            format!("/v1/attachments/{hash}"),
            Some(serde_json::to_value(&manifest).unwrap()),
            [200, 403, 403, 403, 401, 401, 401],
        ),
        (
            "a bundle that is not one",
            M::POST,
            "/v1/bundles".into(),
            Some(json!("not a bundle")),
            [400, 400, 400, 400, 401, 401, 401],
        ),
        (
            "create a document for TT",
            M::POST,
            "/v1/documents".into(),
            None,
            [201, 201, 403, 403, 401, 401, 401],
        ),
    ];
    let mut checked = 0;
    for (what, method, path, body, expected) in &rows {
        for (r, c) in callers.iter().enumerate() {
            let mut req = c.req(method.clone(), path);
            if *what == "create a document for TT" {
                req = req.json(
                    &json!({"id": format!("patrol:TT:new-{}", ROLES[r]), "owner_unit": "TT"}),
                );
            } else if let Some(b) = body {
                req = req.json(b);
            }
            let got = req.send().await.unwrap().status().as_u16();
            assert_eq!(got, expected[r], "{what}: {} got {got}", ROLES[r]);
            checked += 1;
        }
    }

    // Sync of the patrol: owner and HQ sync it (HQ read-only), the others are refused for the
    // item, and who has no valid token is refused for the request.
    let expected_sync = ["ok", "ok", "forbidden", "forbidden", "401", "401", "401"];
    for (r, c) in callers.iter().enumerate() {
        let mut doc = automerge::AutoCommit::new();
        let msg = doc.sync().generate_sync_message(&mut State::new()).unwrap();
        let env = Envelope {
            items: vec![DocMessage {
                doc_id: "patrol:TT:1".into(),
                message: msg.encode(),
                signatures: Vec::new(),
            }],
        };
        let resp = c
            .req(M::POST, "/v1/sync")
            .header("content-type", "application/x-tidemark-sync")
            .body(encode(&env))
            .send()
            .await
            .unwrap();
        let got = if resp.status() == 200 {
            let bytes = resp.bytes().await.unwrap();
            let (status, _) =
                tidemark_sync_protocol::decode_response(&bytes, &Default::default()).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&status).unwrap();
            v["items"][0]["code"].as_str().unwrap().to_string()
        } else {
            resp.status().as_u16().to_string()
        };
        assert_eq!(got, expected_sync[r], "sync: {} ({})", ROLES[r], units[r]);
        checked += 1;
    }

    // What the feed and receipts show: only what each role may read.
    for (r, c) in callers.iter().take(4).enumerate() {
        let feed: serde_json::Value = c
            .req(M::GET, "/v1/feed?since=0")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = feed["documents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["id"].as_str())
            .collect();
        let sees_patrol = ids.contains(&"patrol:TT:1");
        let sees_exchange = ids.contains(&"exchange:TT:DC:1");
        let (patrol, exchange) = [(true, true), (true, true), (false, false), (false, true)][r];
        assert_eq!(
            (sees_patrol, sees_exchange),
            (patrol, exchange),
            "feed of {}",
            ROLES[r]
        );
        // And what each may do with them: the owner writes, HQ above it reads, the district
        // writes the exchange it has a write grant on.
        let access = |id: &str| {
            feed["documents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == id)
                .map(|d| d["access"].as_str().unwrap().to_string())
        };
        let (patrol_access, exchange_access) = [
            (Some("write"), Some("write")),
            (Some("read"), Some("read")),
            (None, None),
            (None, Some("write")),
        ][r];
        assert_eq!(
            (access("patrol:TT:1"), access("exchange:TT:DC:1")),
            (
                patrol_access.map(String::from),
                exchange_access.map(String::from)
            ),
            "feed access of {}",
            ROLES[r]
        );
        let receipts: serde_json::Value = c
            .req(M::POST, "/v1/receipts")
            .json(&json!({"ids": ["patrol:TT:1"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            receipts["documents"].as_array().unwrap().len(),
            usize::from(patrol),
            "receipts of {}",
            ROLES[r]
        );
        checked += 2;
    }
    // The patrol is untouched by everything refused.
    let doc = tt.docs.get("patrol:TT:1").unwrap();
    assert!(doc.get(ROOT, "attachments").unwrap().is_some());
    eprintln!("{checked} endpoint × role cases checked");
    assert_eq!(checked, rows.len() * 7 + 7 + 8);
}
