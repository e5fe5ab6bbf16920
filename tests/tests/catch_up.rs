//! A station's catch-up and HQ's pull through the real client and the real relay: each takes
//! at most two HTTP requests (the session request, then the acknowledgements), and the
//! station learns in its next session that HQ holds its records.

use tidemark_province::story::{import_lines, record_patrols, unit_lines};
use tidemark_province::{Province, KEYS};
use tidemark_testkit::Rng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_catches_up_in_two_requests_and_hq_pulls_in_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    p.settle(&KEYS).await.expect("settle");

    // A day at sea: three patrols recorded offline.
    let mut rng = Rng::new(11);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 40, 3))
        .expect("patrols");

    let station = p.sync("tt").await.expect("station sync");
    assert!(
        station.wire.requests <= 2,
        "station catch-up took {} requests",
        station.wire.requests
    );
    assert_eq!(station.created, 3);
    assert!(station.changes_sent >= 3, "{station:?}");

    let hq = p.sync("hq").await.expect("HQ sync");
    assert!(
        hq.wire.requests <= 2,
        "HQ pull took {} requests",
        hq.wire.requests
    );
    for id in &ids {
        let at_station = p.dev("tt").with(|c| c.store().record_json(id)).expect("tt");
        let at_hq = p.dev("hq").with(|c| c.store().record_json(id)).expect("hq");
        assert!(at_hq.is_some(), "{id} did not reach HQ");
        assert_eq!(at_station, at_hq);
        assert!(at_hq.unwrap_or_default().contains("Đồn"));
    }

    // Nothing new for HQ: one request, nothing moves.
    let quiet = p.sync("hq").await.expect("quiet sync");
    assert_eq!(quiet.wire.requests, 1, "{quiet:?}");
    assert_eq!(quiet.changes_received + quiet.changes_sent, 0);

    // The station's next session learns that HQ (the root unit) holds every one of them.
    let next = p.sync("tt").await.expect("station again");
    assert!(next.wire.requests <= 2, "{next:?}");
    for id in &ids {
        let receipts = p
            .dev("tt")
            .with(|c| c.store().receipts(id))
            .expect("receipts");
        let heads = p
            .dev("tt")
            .with(|c| c.store().doc_heads(id))
            .expect("heads");
        assert!(
            receipts
                .iter()
                .any(|r| r.root && Some(&r.heads) == heads.as_ref()),
            "no receipt from HQ for {id}: {receipts:?}"
        );
    }

    // A spare laptop of the station enrols: HQ's next session brings its key and no other.
    let before = p
        .dev("hq")
        .with(|c| c.store().sign_keys())
        .expect("keys")
        .len();
    let spare = p
        .second_device("tt", "Trung úy Lê Văn Tâm")
        .await
        .expect("spare");
    let actor = spare
        .lock()
        .expect("spare lock")
        .identity()
        .actor
        .to_hex_string();
    p.sync("hq").await.expect("HQ after the enrolment");
    let keys = p.dev("hq").with(|c| c.store().sign_keys()).expect("keys");
    assert_eq!(keys.len(), before + 1);
    assert!(
        keys.contains_key(&actor),
        "the spare's key did not reach HQ"
    );
    p.stop().await.expect("stop");
}

/// A record the station holds but may not create at the relay (HQ's own unit record, from an
/// imported unit list) is refused once; the refusal stands, so the station's later sessions do
/// not offer it again, until it changes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_creation_is_not_retried_every_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    p.dev("tt")
        .with(|c| import_lines(c, &unit_lines()))
        .expect("unit list");
    let first = p.sync("tt").await.expect("first sync");
    assert!(
        first
            .refused
            .iter()
            .any(|(id, code)| id == "unit:HQ" && code == "forbidden"),
        "{:?}",
        first.refused
    );
    let second = p.sync("tt").await.expect("second sync");
    assert!(
        second.refused.iter().all(|(id, _)| id != "unit:HQ"),
        "the refused creation was tried again: {:?}",
        second.refused
    );
    assert_eq!(second.wire.requests, 1, "{second:?}");
    assert_eq!(second.created + second.changes_sent, 0, "{second:?}");
    p.stop().await.expect("stop");
}

/// HQ pulls many pages of the feed: each next page is asked for while the page before is
/// stored, and the pulled documents are stored as the relay sent them. Everything arrives once,
/// reads back the same from the store, is found by a search without diacritics, and a second
/// session finds nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_of_many_pages_stores_every_record_once_and_finds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    p.settle(&KEYS).await.expect("settle");
    let mut rng = Rng::new(29);
    let mut ids = Vec::new();
    for (i, key) in ["tt", "kp", "vl"].into_iter().enumerate() {
        let mut day = p
            .dev(key)
            .with(|c| record_patrols(c, &mut rng, i, 7, 14))
            .expect("patrols");
        p.sync(key).await.expect("station sync");
        ids.append(&mut day);
    }
    // Small pages of the feed: the pull is many requests, each next page asked for while the
    // one before is stored.
    p.opts.feed_rows = 8;
    let hq = p.sync("hq").await.expect("HQ pull");
    assert!(
        hq.wire.requests >= 6,
        "expected a pull of many pages: {:?}",
        hq.wire
    );
    assert_eq!(hq.refused, Vec::<(String, String)>::new());
    for id in &ids {
        let at_station = p
            .dev(&id_station(id))
            .with(|c| c.store().record_json(id))
            .expect("station");
        let at_hq = p.dev("hq").with(|c| c.store().record_json(id)).expect("hq");
        assert!(at_hq.is_some(), "{id} did not reach HQ");
        assert_eq!(at_station, at_hq, "{id}");
        // What the store kept loads back to the heads it recorded.
        let (bytes, heads) = p.dev("hq").with(|c| {
            let s = c.store();
            (
                s.load_doc(id).expect("load"),
                s.doc_heads(id).expect("heads"),
            )
        });
        let mut doc =
            tidemark_domain::RecordDoc::load(&bytes.expect("bytes"), &automerge::ActorId::random())
                .expect("stored document loads");
        let loaded: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
        assert_eq!(Some(tidemark_store::heads_key(&loaded)), heads, "{id}");
    }
    // Every record is in the search index exactly once, found without its diacritics.
    let hits = p
        .dev("hq")
        .with(|c| c.store().search("don bien phong", None, 1000))
        .expect("search");
    for id in &ids {
        assert_eq!(
            hits.iter().filter(|h| &h.id == id).count(),
            1,
            "{id} found {} times",
            hits.iter().filter(|h| &h.id == id).count()
        );
    }
    let quiet = p.sync("hq").await.expect("quiet sync");
    assert_eq!(quiet.wire.requests, 1, "{quiet:?}");
    assert_eq!(quiet.changes_received + quiet.changes_sent, 0);
    p.stop().await.expect("stop");
}

/// The device key of the station that made patrol `id` (`patrol:TT:…` → `tt`).
fn id_station(id: &str) -> String {
    id.split(':').nth(1).unwrap_or_default().to_lowercase()
}
