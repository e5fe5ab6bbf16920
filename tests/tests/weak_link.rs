//! Weak links: a fault-injecting TCP proxy between every device and the relay cuts, stalls,
//! truncates and resets connections at random points, and the relay restarts mid-way. At least
//! 100 syncs are interrupted; nothing is lost, nothing is duplicated, everyone converges.

use std::collections::BTreeMap;
use std::time::Duration;

use tidemark_province::story::{self, convergence, record_patrols};
use tidemark_province::{Province, KEYS};
use tidemark_testkit::faultproxy::{Direction, Fault, FaultPlan, FaultProxy};
use tidemark_testkit::Rng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_interrupted_syncs_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    p.opts.request_timeout = Duration::from_millis(1500);
    // Small requests, so that a session is many round trips with many places to break.
    p.opts.max_request_bytes = 8 * 1024;
    p.opts.max_docs_per_request = 4;
    // Sessions here give up at the first break, so that a hundred of them break: resuming a cut
    // exchange within a session is tested below, and on the 9.6 kbit/s link.
    p.opts.resumes = 0;
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
            round < 800,
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

/// A station at sea on a 9.6 kbit/s link that also drops, stalls and
/// truncates connections at random: its sync still completes, and HQ receives each patrol
/// exactly once with every change made at sea.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_on_a_9600_bit_link_that_keeps_dropping_still_delivers_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    p.opts.request_timeout = Duration::from_secs(60);
    let proxy = FaultProxy::start(p.relay.as_ref().expect("relay").addr, FaultPlan::pass())
        .await
        .expect("proxy");
    proxy.set_rate_limit(Some(1200));
    p.dev("tt")
        .with(|c| c.set_relay_url(&proxy.url()))
        .expect("proxy url");
    let mut rng = Rng::new(96);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 300, 3))
        .expect("patrols");
    for id in &ids {
        p.dev("tt")
            .with(|c| c.splice(id, "notes", 0, 0, "Sóng cấp 6, liên lạc chập chờn. "))
            .expect("note");
    }
    let started = std::time::Instant::now();
    // The first three sessions break (every connection of the session, at that offset): cut
    // while sending, stalled then closed while receiving, reset while sending.
    let breaks = [
        Fault::Cut {
            dir: Direction::Upstream,
            after: 1500,
        },
        Fault::Stall {
            dir: Direction::Downstream,
            after: 500,
            for_: Duration::from_secs(2),
        },
        // (After the stalled answer the next session asks before pushing again, so its
        // request is small: the reset comes early enough to catch it.)
        Fault::Reset {
            dir: Direction::Upstream,
            after: 300,
        },
    ];
    let (mut failures, mut done) = (0, false);
    for session in 0..40 {
        proxy.set_plan(match breaks.get(session) {
            Some(f) => FaultPlan::always(*f),
            None => FaultPlan::pass(),
        });
        match p.sync("tt").await {
            Ok(_) => {
                done = true;
                break;
            }
            Err(e) => {
                assert!(e.retryable, "{e:?}");
                failures += 1;
            }
        }
    }
    assert!(done, "the sync never completed ({failures} failures)");
    let stats = proxy.stats();
    // Every connection of the first session is cut after 1,500 bytes up: the push crosses in
    // pieces, each resumed where the last stopped (or, with the session given up, in the next
    // sessions' breaks). Either way the link broke more than once.
    assert!(stats.faults >= 2, "{failures} failures, {stats:?}");
    eprintln!(
        "9.6 kbit/s: done in {:.1} s after {failures} broken sessions; {} B up, {} B down on the socket; {stats:?}",
        started.elapsed().as_secs_f64(),
        stats.bytes_up,
        stats.bytes_down
    );
    p.sync("hq").await.expect("hq");
    for id in &ids {
        let at_sea = p.dev("tt").with(|c| c.show(id)).expect("tt").changes;
        let at_hq = p
            .dev("hq")
            .with(|c| c.show(id))
            .unwrap_or_else(|e| panic!("{id} lost: {e}"));
        assert_eq!(at_hq.changes, at_sea, "{id}: changes missing or doubled");
    }
    proxy.stop().await;
    p.stop().await.expect("stop");
}

/// The relay takes a station's push, but the answer is lost on the way back (the link drops
/// after the status line). The next session asks about those records before pushing them
/// again: the relay has them, so they do not cross the link a second time; and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_answer_was_lost_is_not_sent_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Province::start(dir.path()).await.expect("province");
    // The link stays this bad for the whole session: its two tries to fetch the answer break
    // the same way, and it gives up.
    p.opts.resumes = 2;
    p.settle(&KEYS).await.expect("settle");
    let proxy = FaultProxy::start(p.relay.as_ref().expect("relay").addr, FaultPlan::pass())
        .await
        .expect("proxy");
    p.dev("tt")
        .with(|c| c.set_relay_url(&proxy.url()))
        .expect("proxy url");
    let mut rng = Rng::new(41);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 200, 3))
        .expect("patrols");
    write_logs(&p, &ids, &mut rng, "QNg");

    // The whole request goes through; of the answer, the headers and a few bytes of the body.
    proxy.set_plan(FaultPlan::always(Fault::Truncate { after: 260 }));
    proxy.record_exchanges();
    let lost = p.sync("tt").await;
    assert!(lost.is_err(), "the session should have broken: {lost:?}");
    let pushed: u64 = proxy.take_exchanges().iter().map(|e| e.up).sum();
    assert!(proxy.stats().truncated >= 1);
    proxy.set_plan(FaultPlan::pass());
    assert!(pushed > 4000, "the push was {pushed} bytes");

    let again = p.sync("tt").await.expect("next session");
    assert_eq!(again.changes_sent, 0, "{again:?}");
    assert!(
        again.wire.bytes_up * 3 < pushed,
        "the next session sent {} bytes up; the lost one {pushed}",
        again.wire.bytes_up
    );

    // Everything is at the relay once: HQ pulls it, identical, Vietnamese intact.
    p.sync("hq").await.expect("HQ");
    for id in &ids {
        let at_station = p.dev("tt").with(|c| c.store().record_json(id)).expect("tt");
        let at_hq = p.dev("hq").with(|c| c.store().record_json(id)).expect("hq");
        assert!(at_hq.is_some(), "{id} did not reach HQ");
        assert_eq!(at_station, at_hq);
        assert!(at_hq.unwrap_or_default().contains("Đồn"));
    }
    // And the station's next session is quiet: nothing is left waiting to be asked about.
    let quiet = p.sync("tt").await.expect("quiet");
    assert_eq!(quiet.changes_sent + quiet.changes_received, 0, "{quiet:?}");
    p.stop().await.expect("stop");
}

/// A day at sea writes a log into each of the station's patrols `ids`: sightings of fishing
/// boats registered in `province`, with times, bearings and distances; a few KB per patrol.
fn write_logs(p: &Province, ids: &[String], rng: &mut Rng, province: &str) {
    for id in ids {
        let log: String = (0..60)
            .map(|i| {
                format!(
                    "{:02}:{:02} tàu cá {province}-{} hướng {}°, cách bờ {} hải lý; ",
                    6 + i / 6,
                    (i % 6) * 10,
                    90_000 + rng.below(9_999),
                    rng.below(360),
                    rng.below(40)
                )
            })
            .collect();
        p.dev("tt")
            .with(|c| c.splice(id, "notes", 0, 0, &log))
            .expect("log");
    }
}

/// Socket bytes of one catch-up through the proxy: the station's push (up) and HQ's pull
/// (down), each session's first connection given `station` / `hq`.
struct CatchUp {
    station_up: u64,
    hq_down: u64,
    resumed: u64,
}

/// A station pushes three patrols with a day's log; HQ pulls them. Every connection after the
/// first of each session passes.
async fn catch_up(station: Fault, hq: Fault) -> CatchUp {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(dir.path()).await.expect("province");
    p.settle(&KEYS).await.expect("settle");
    let proxy = FaultProxy::start(p.relay.as_ref().expect("relay").addr, FaultPlan::pass())
        .await
        .expect("proxy");
    for key in ["tt", "hq"] {
        p.dev(key)
            .with(|c| c.set_relay_url(&proxy.url()))
            .expect("proxy url");
    }
    let mut rng = Rng::new(52);
    let ids = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, 210, 3))
        .expect("patrols");
    write_logs(&p, &ids, &mut rng, "BĐ");
    proxy.set_plan(FaultPlan::schedule(vec![station]));
    let before = proxy.stats();
    let pushed = p.sync("tt").await.expect("the station's session completes");
    let station_up = proxy.stats().bytes_up - before.bytes_up;
    proxy.set_plan(FaultPlan::schedule(vec![hq]));
    let before = proxy.stats();
    let pulled = p.sync("hq").await.expect("HQ's session completes");
    let hq_down = proxy.stats().bytes_down - before.bytes_down;
    for id in &ids {
        let at_station = p.dev("tt").with(|c| c.show(id)).expect("tt");
        let at_hq = p
            .dev("hq")
            .with(|c| c.show(id))
            .unwrap_or_else(|e| panic!("{id} did not reach HQ: {e}"));
        assert_eq!(at_hq.changes, at_station.changes, "{id}");
        let json = p.dev("hq").with(|c| c.store().record_json(id)).expect("hq");
        assert!(json.unwrap_or_default().contains("tàu cá BĐ-"), "{id}");
    }
    proxy.stop().await;
    p.stop().await.expect("stop");
    CatchUp {
        station_up,
        hq_down,
        resumed: pushed.wire.resumed + pulled.wire.resumed,
    }
}

/// A push cut half-way and a pull truncated half-way each complete in the same session: the
/// device asks the relay how far the exchange got and sends, or fetches, only the rest. The
/// bytes on the link stay within a small request or two of a clean catch-up's, where starting
/// over would cost the half that had crossed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_exchange_resumes_and_nothing_crosses_the_link_twice() {
    let clean = catch_up(Fault::Pass, Fault::Pass).await;
    assert_eq!(clean.resumed, 0);
    assert!(
        clean.station_up > 4000,
        "push of {} bytes",
        clean.station_up
    );
    let cut = catch_up(
        Fault::Reset {
            dir: Direction::Upstream,
            after: clean.station_up as usize / 2,
        },
        Fault::Truncate {
            after: clean.hq_down as usize / 2,
        },
    )
    .await;
    eprintln!(
        "station up {} B clean, {} B cut and resumed; HQ down {} B clean, {} B cut and resumed; {} resumed round trips",
        clean.station_up, cut.station_up, clean.hq_down, cut.hq_down, cut.resumed
    );
    assert!(cut.resumed >= 2, "{} resumed round trips", cut.resumed);
    // A question and the rest of the request: a few hundred bytes of headers more, not the
    // half that had crossed.
    assert!(
        cut.station_up < clean.station_up + 1000,
        "{} bytes up against {} clean",
        cut.station_up,
        clean.station_up
    );
    assert!(
        cut.hq_down < clean.hq_down + 1000,
        "{} bytes down against {} clean",
        cut.hq_down,
        clean.hq_down
    );
}
