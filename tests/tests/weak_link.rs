//! Weak links: a fault-injecting TCP proxy between every device and the relay cuts, stalls,
//! truncates and resets connections at random points, and the relay restarts mid-way. At least
//! 100 syncs are interrupted; nothing is lost, nothing is duplicated, everyone converges.

use std::collections::BTreeMap;
use std::time::Duration;

use tidemark_province::story::{self, convergence, record_patrols};
use tidemark_province::{Province, KEYS};
use tidemark_testkit::faultproxy::{FaultPlan, FaultProxy};
use tidemark_testkit::Rng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_interrupted_syncs_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    p.opts.request_timeout = Duration::from_millis(1500);
    // Small requests, so that a session is many round trips with many places to break.
    p.opts.max_request_bytes = 8 * 1024;
    p.opts.max_docs_per_request = 4;
    let relay_addr = p.relay.as_ref().expect("relay").addr;
    let proxy = FaultProxy::start(
        relay_addr,
        FaultPlan::random(7, 0.45, 6000, Duration::from_millis(2500)),
    )
    .await
    .expect("proxy");
    p.use_url(&proxy.url()).expect("use proxy");

    p.dev("hq")
        .with(|c| {
            story::import_lines(c, &story::unit_lines())?;
            story::import_lines(c, &story::plan_lines())
        })
        .expect("plan");

    let mut rng = Rng::new(77);
    let mut made: BTreeMap<String, usize> = BTreeMap::new(); // id → changes made at its origin
    let (mut interrupted, mut completed) = (0usize, 0usize);
    let mut round = 0u32;
    while interrupted < 100 || completed < 20 {
        round += 1;
        assert!(
            round < 400,
            "too many rounds: {interrupted} interrupted, {completed} ok"
        );
        // Work keeps happening while the link is bad.
        let i = (round % 3) as usize;
        let key = ["tt", "kp", "vl"][i];
        for id in p
            .dev(key)
            .with(|c| record_patrols(c, &mut rng, i, 100 + round, 1))
            .expect("patrol")
        {
            made.insert(id, 1);
        }
        if round.is_multiple_of(5) {
            let item = "plan:item:kham-benh";
            let who = ["hq", "gcd", "tpd"][(round / 5 % 3) as usize];
            let text = format!("Lần {round}: đã chuẩn bị thuốc. ");
            if p.dev(who)
                .with(|c| c.splice(item, "progress_notes", 0, 0, &text))
                .is_ok()
            {
                made.insert(format!("note:{round}"), 1);
            }
        }
        if round == 60 {
            p.restart_relay().await.expect("restart");
        }
        let syncer = KEYS[(rng.below(KEYS.len() as u64)) as usize];
        match p.sync(syncer).await {
            Ok(_) => completed += 1,
            Err(e) => {
                assert!(e.retryable, "a broken link must be retryable: {e:?}");
                interrupted += 1;
            }
        }
    }
    let stats = proxy.stats();
    assert!(stats.faults >= 100, "{stats:?}");

    // The link heals: everyone settles.
    proxy.set_plan(FaultPlan::pass());
    p.settle(&KEYS).await.expect("settle");
    p.settle(&KEYS).await.expect("settle again");
    let (agree, _) = convergence(&p).expect("convergence");
    assert!(agree, "devices disagree after healing");

    // Zero loss: every patrol reached HQ with exactly the changes made at its station.
    let hq = p.dev("hq");
    for (id, changes) in made.iter().filter(|(id, _)| id.starts_with("patrol:")) {
        let view = hq
            .with(|c| c.show(id))
            .unwrap_or_else(|e| panic!("{id} lost: {e}"));
        assert_eq!(
            view.changes, *changes,
            "{id}: changes duplicated or missing"
        );
    }
    // Every note spliced under the bad link is present exactly once, everywhere.
    let notes: Vec<u32> = made
        .keys()
        .filter_map(|k| k.strip_prefix("note:"))
        .filter_map(|n| n.parse().ok())
        .collect();
    for d in &p.devices {
        let v = d.with(|c| c.show("plan:item:kham-benh")).expect("item");
        let json = serde_json::to_value(&v.record).expect("json");
        let text = json["progress_notes"].as_str().unwrap_or_default();
        for n in &notes {
            let needle = format!("Lần {n}: đã chuẩn bị thuốc. ");
            assert_eq!(text.matches(&needle).count(), 1, "{}: note {n}", d.key);
        }
    }
    eprintln!(
        "weak link: {interrupted} interrupted sessions, {completed} completed, proxy {stats:?}"
    );
    proxy.stop().await;
    p.stop().await.expect("stop");
}
