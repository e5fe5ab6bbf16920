//! End to end: the relay in-process on loopback, HQ, three stations and two district
//! committees as separate device stores, syncing over real HTTP.

use tidemark_client::sync::DeliveryStage;
use tidemark_domain::Lang;
use tidemark_province::story::{self, convergence, record_patrols, Silent};
use tidemark_province::{Province, KEYS};
use tidemark_testkit::Rng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_converges_with_receipts_conflicts_and_a_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    let fig = story::run(&p, &mut Silent, Lang::Vi).await.expect("story");
    assert!(fig.converged, "devices disagree: {fig:?}");
    assert_eq!(fig.patrols_offline, 12);
    assert_eq!(fig.patrols_at_hq, 12, "every station patrol reaches HQ");
    assert_eq!(fig.conflicts_seen, 1, "the status conflict is surfaced");
    assert!(fig.received_by_hq, "the station learns HQ has its patrol");
    assert!(fig.bundle_confirmed, "the bundle receipt confirms delivery");
    // Every edit is present everywhere: both sentences spliced into the item's content.
    for d in &p.devices {
        let v = d
            .with(|c| c.show("plan:item:tuan-tra-chung"))
            .expect("item");
        let json = serde_json::to_value(&v.record).expect("json");
        let content = json["content"].as_str().expect("content");
        assert!(
            content.contains("xuất phát 5 giờ sáng"),
            "{}: {content}",
            d.key
        );
        assert!(content.contains("cử 2 cán bộ"), "{}: {content}", d.key);
        assert_eq!(json["status"], "in_progress", "{}", d.key);
        assert!(v.conflicts.is_empty(), "{}: resolved everywhere", d.key);
    }
    p.stop().await.expect("stop");
}

/// Stations record offline, the committees and HQ edit the same plan item offline, then
/// everyone reconnects in an order drawn from `seed`.
async fn reconnect_in_order(seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    p.dev("hq")
        .with(|c| {
            story::import_lines(c, &story::unit_lines())?;
            story::import_lines(c, &story::plan_lines())
        })
        .expect("plan");
    p.settle(&KEYS).await.expect("share the plan");

    // Offline: patrols at every station, edits to one plan item by three units.
    let mut rng = Rng::new(seed);
    let mut patrols = Vec::new();
    for (i, key) in ["tt", "kp", "vl"].iter().enumerate() {
        patrols.extend(
            p.dev(key)
                .with(|c| record_patrols(c, &mut rng, i, 10 + seed as u32, 3))
                .expect("patrols"),
        );
    }
    let item = "plan:item:tuyen-truyen";
    p.dev("gcd")
        .with(|c| c.edit(item, "status", "done"))
        .expect("edit");
    p.dev("tpd")
        .with(|c| c.edit(item, "status", "cancelled"))
        .expect("edit");
    p.dev("hq")
        .with(|c| c.splice(item, "content", 0, 0, "Đã liên hệ Ủy ban xã. "))
        .expect("splice");
    p.dev("gcd")
        .with(|c| c.edit(item, "title", "Tuyên truyền Luật Biên phòng Việt Nam"))
        .expect("edit");

    // Reconnect in a seeded order.
    let mut order: Vec<&str> = KEYS.to_vec();
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    p.settle(&order).await.expect("settle");
    // A second pass lets stations learn what HQ acknowledged.
    p.settle(&order).await.expect("settle again");

    let (agree, _) = convergence(&p).expect("convergence");
    assert!(agree, "order {order:?}: devices disagree");
    let hq = p.dev("hq");
    for id in &patrols {
        assert!(
            hq.with(|c| c.show(id)).is_ok(),
            "order {order:?}: {id} missing at HQ"
        );
    }
    for d in &p.devices {
        let v = d.with(|c| c.show(item)).expect("item");
        let json = serde_json::to_value(&v.record).expect("json");
        assert_eq!(json["title"], "Tuyên truyền Luật Biên phòng Việt Nam");
        assert!(json["content"]
            .as_str()
            .expect("content")
            .starts_with("Đã liên hệ Ủy ban xã. "));
        let fields: Vec<&str> = v.conflicts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["status"],
            "{}: the status conflict is visible",
            d.key
        );
        assert_eq!(v.conflicts[0].values.len(), 2);
    }
    for (i, key) in ["tt", "kp", "vl"].iter().enumerate() {
        for id in patrols.iter().skip(i * 3).take(3) {
            let stage = p.dev(key).with(|c| c.delivery(id)).expect("delivery").stage;
            assert_eq!(stage, DeliveryStage::ReceivedByHq, "order {order:?}: {id}");
        }
    }
    p.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_reconnection_order_converges_seed_1() {
    reconnect_in_order(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_reconnection_order_converges_seed_2() {
    reconnect_in_order(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_reconnection_order_converges_seed_3() {
    reconnect_in_order(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_pending_and_receipts_start_at_saved_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    let mut rng = Rng::new(9);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 3, 2))
        .expect("patrols");
    let tt = p.dev("tt");
    let before = tt.with(|c| c.sync_summary()).expect("summary");
    assert!(before.pending >= 2, "{before:?}");
    assert!(before.last_ok.is_none());
    let stage = tt.with(|c| c.delivery(&ids[0])).expect("delivery").stage;
    assert_eq!(stage, DeliveryStage::SavedHere);
    p.sync("tt").await.expect("sync");
    let after = tt.with(|c| c.sync_summary()).expect("summary");
    assert_eq!(after.pending, 0, "{after:?}");
    assert!(after.last_ok.is_some());
    let stage = tt.with(|c| c.delivery(&ids[0])).expect("delivery").stage;
    assert_eq!(stage, DeliveryStage::AtRelay);
    p.sync("hq").await.expect("hq sync");
    p.sync("tt").await.expect("sync");
    let stage = tt.with(|c| c.delivery(&ids[0])).expect("delivery").stage;
    assert_eq!(stage, DeliveryStage::ReceivedByHq);
    // A committee is not a reader of a station's patrols: it never receives them.
    p.sync("gcd").await.expect("gcd sync");
    assert!(p.dev("gcd").with(|c| c.show(&ids[0])).is_err());
    p.stop().await.expect("stop");
}
