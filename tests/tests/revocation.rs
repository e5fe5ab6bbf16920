//! A station's laptop is lost and revoked; what was written on it afterwards reaches the
//! station's other laptop on a USB stick, which syncs. The relay takes that session as usual
//! (it completes, every time) but holds the lost device's later change back for review instead
//! of passing it on.

use tidemark_client::sync;
use tidemark_domain::RecordDoc;
use tidemark_province::story::record_patrols;
use tidemark_province::{unit_of, Province};
use tidemark_testkit::Rng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_laptops_later_edit_carried_by_usb_to_another_is_held_at_the_relay() {
    let root = tempfile::tempdir().expect("tempdir");
    let p = Province::start(root.path()).await.expect("province");
    let mut rng = Rng::new(17);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 3, 1))
        .expect("patrol");
    let id = ids[0].clone();
    p.sync("tt").await.expect("station sync");
    // The station's second laptop.
    let spare = p
        .second_device("tt", "Thượng úy Võ Thành Nam")
        .await
        .expect("spare laptop");
    let spare_sync = || sync::sync_once(&spare, &p.opts, &|_| {});
    spare_sync().await.expect("first sync");

    let lost = p
        .dev("tt")
        .with(|c| c.relay_config())
        .expect("config")
        .expect("enrolled")
        .device_id;
    let relay_db = || p.relay.as_ref().expect("relay").db().expect("db");
    relay_db().revoke(&lost).expect("revoke");
    // Change times are whole seconds: the next one must be later than the revocation.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.dev("tt")
        .with(|c| c.splice(&id, "notes", 0, 0, "Ghi sau khi mất máy. "))
        .expect("edit on the lost laptop");
    let usb = root.path().join("usb.tmb");
    p.dev("tt")
        .with(|c| c.export_bundle(&usb, Some(unit_of("tt")), None))
        .expect("bundle");
    let bytes = std::fs::read(&usb).expect("read");
    let on_spare = {
        let mut c = spare.lock().expect("lock");
        c.import_bundle(&bytes).expect("the spare takes the stick");
        c.show(&id).expect("show").record
    };
    assert!(serde_json::to_string(&on_spare)
        .expect("json")
        .contains("Ghi sau khi mất máy"));

    // Its sessions complete, twice: the relay does not ask for the held change forever.
    for _ in 0..2 {
        let r = spare_sync().await.expect("the session completes");
        assert!(r.refused.is_empty(), "{:?}", r.refused);
    }
    let held = relay_db().held_changes().expect("held");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].doc_id, id);
    assert_eq!(held[0].device_id.as_deref(), Some(lost.as_str()));
    assert_eq!(held[0].reason, "after_revocation");
    let carrier = spare
        .lock()
        .expect("lock")
        .relay_config()
        .expect("config")
        .expect("enrolled")
        .device_id;
    assert_eq!(held[0].via_device.as_deref(), Some(carrier.as_str()));

    // The relay's copy has no trace of it, so nobody else receives it.
    let saved = relay_db().load_chunks(&id).expect("chunks");
    let doc = RecordDoc::load(&saved, &automerge::ActorId::random()).expect("loads");
    let text = serde_json::to_string(&doc.read().expect("record")).expect("json");
    assert!(!text.contains("Ghi sau khi mất máy"), "{text}");
    p.stop().await.expect("stop");
}
