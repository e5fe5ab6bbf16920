//! Signed changes end to end (issue 10, item 4), with real device stores and the real relay on
//! loopback: a station's changes reach HQ signed and verified; a change made under the
//! station's actor by someone without its key, carried to the station's second laptop on a USB
//! stick, is merged there but flagged as forged in its history, and the relay refuses it when
//! that laptop syncs.

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use tidemark_client::sync;
use tidemark_domain::RecordDoc;
use tidemark_province::story::record_patrols;
use tidemark_province::Province;
use tidemark_sync_protocol::{
    encode_bundle, Bundle, BundleDoc, BundleDocMeta, BundleHeader, SigningKey, BUNDLE_FORMAT,
};
use tidemark_testkit::Rng;

const FORGED: &str = "Ghi chép chèn vào không có khóa của đồn. ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stations_changes_verify_at_hq_and_a_forged_one_is_flagged_then_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let p = Province::start(root.path()).await.expect("province");
    let mut rng = Rng::new(23);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 4, 1))
        .expect("patrol");
    let id = ids[0].clone();
    p.dev("tt")
        .with(|c| c.splice(&id, "notes", 0, 0, "Biển động cấp 5. "))
        .expect("edit");
    p.sync("tt").await.expect("station sync");
    p.sync("hq").await.expect("hq sync");

    // Every entry of the station's patrol verifies at HQ, under the key the relay registered.
    let history = p.dev("hq").with(|c| c.history(&id)).expect("history");
    assert!(history.len() >= 2);
    assert!(
        history.iter().all(|e| e.signature == Some("verified")),
        "{:?}",
        history
            .iter()
            .map(|e| (&e.change[..8], e.signature))
            .collect::<Vec<_>>()
    );

    // The station's second laptop, enrolled with its own key.
    let spare = p
        .second_device("tt", "Thượng úy Võ Thành Nam")
        .await
        .expect("spare laptop");
    let spare_sync = || sync::sync_once(&spare, &p.opts, &|_| {});
    spare_sync().await.expect("first sync");
    let on_spare = spare.lock().expect("lock").history(&id).expect("history");
    assert!(on_spare.iter().all(|e| e.signature == Some("verified")));

    // Someone with a copy of the record but not the station's key writes under its actor.
    let actor = p.dev("tt").with(|c| c.identity().actor.clone());
    let bytes = spare
        .lock()
        .expect("lock")
        .store()
        .load_doc(&id)
        .expect("load")
        .expect("doc");
    let mut doc = RecordDoc::load(&bytes, &actor).expect("doc");
    let before = doc.heads();
    let am = doc.automerge();
    let (_, notes) = am
        .get(automerge::ROOT, "notes")
        .expect("get")
        .expect("notes");
    am.splice_text(&notes, 0, 0, FORGED).expect("splice");
    am.commit();
    let forged_hash = am.get_heads()[0];
    let thief = SigningKey::from_seed(&[0x66; 32]);
    let sig = thief.sign(&forged_hash.0);
    let bundle = Bundle {
        header: BundleHeader {
            format: BUNDLE_FORMAT.into(),
            version: 1,
            bundle_id: "b-forged".into(),
            created_at: 1_767_225_600,
            from_unit: tidemark_province::unit_of("tt").into(),
            from_device: "dev-unknown".into(),
            for_unit: None,
            since: None,
        },
        docs: vec![BundleDoc {
            meta: BundleDocMeta {
                id: id.clone(),
                kind: "patrol".into(),
                owner_unit: tidemark_province::unit_of("tt").into(),
                parties: Vec::new(),
                heads: vec![forged_hash.to_string()],
                signatures: [(hex::encode(sig.hash), hex::encode(sig.sig))]
                    .into_iter()
                    .collect(),
            },
            data: doc.save_after(&before),
        }],
    };
    let merged = spare
        .lock()
        .expect("lock")
        .import_bundle(&encode_bundle(&bundle))
        .expect("import");
    assert_eq!(merged.new_changes, 1);
    assert_eq!(merged.forged, 1, "flagged at import");

    let history = spare.lock().expect("lock").history(&id).expect("history");
    let flagged: Vec<_> = history
        .iter()
        .filter(|e| e.signature == Some("forged"))
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].change, forged_hash.to_string());
    assert!(history
        .iter()
        .filter(|e| e.change != forged_hash.to_string())
        .all(|e| e.signature == Some("verified")));

    // The laptop syncs: the relay refuses the document's forged change and keeps nothing of it.
    let report = spare_sync().await.expect("spare sync");
    assert!(
        report
            .refused
            .iter()
            .any(|(doc, code)| doc == &id && code == "forged_signature"),
        "{:?}",
        report.refused
    );
    let relay_db = p.relay.as_ref().expect("relay").db().expect("db");
    let saved = relay_db.load_chunks(&id).expect("chunks");
    let relay_copy = RecordDoc::load(&saved, &automerge::ActorId::random()).expect("loads");
    let text = serde_json::to_string(&relay_copy.read().expect("record")).expect("json");
    assert!(!text.contains(FORGED.trim()), "{text}");
    assert!(text.contains("Biển động cấp 5"));
    p.stop().await.expect("stop");
}
