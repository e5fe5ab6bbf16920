//! S5 relay load: N devices — one in fifty at HQ, the others spread over the six stations —
//! sync all at once, several times over; before each session a station device records a patrol.
//! Their stores are on a RAM disk (the devices' disks are not what is measured). The relay runs
//! in its own process; the proxy times every HTTP exchange.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use tidemark_client::sync::{self, SharedClient};
use tidemark_domain::interchange::parse_line;
use tokio::task::JoinSet;

use super::Ctx;
use crate::harness::{bench_opts, by_request, Device, Relay, Wire};
use crate::measure::{
    cpu_secs, human_bytes, ms, peak_rss, percentile, proc_status_kb, reset_peak_rss,
};
use crate::report::{Outcome, Table, Target};
use crate::workload::{patrol, rng_for, HQ, STATIONS};

/// What one device's session did.
struct Session {
    millis: f64,
    requests: u64,
    error: Option<String>,
}

/// Devices per HQ device.
const HQ_EVERY: usize = 50;

/// Whether device `index` is at HQ.
fn at_hq(index: usize) -> bool {
    index.is_multiple_of(HQ_EVERY)
}

/// When a device's sessions start in a paced load: at `start + offset + k × period`.
#[derive(Clone, Copy)]
struct Pace {
    start: Instant,
    offset: Duration,
    period: Duration,
}

/// The app's default sync period (`SyncOptions::period`); the paced load runs ten times faster.
const APP_PERIOD: Duration = Duration::from_secs(60);

/// One device's work: `sessions` times (numbered from `first`), record a patrol (station
/// devices) then sync; at once, or on `pace`.
async fn device_loop(
    client: SharedClient,
    seed: u64,
    index: usize,
    (first, sessions): (usize, usize),
    pace: Option<Pace>,
) -> Vec<Session> {
    let opts = bench_opts();
    let station = index % STATIONS.len();
    let mut rng = rng_for(seed, &[0x10AD, index as u64, first as u64]);
    let mut out = Vec::new();
    for k in first..first + sessions {
        if let Some(p) = pace {
            let due = p.offset + p.period * (k - first) as u32;
            tokio::time::sleep_until((p.start + due).into()).await;
        }
        if at_hq(index) {
            out.push(timed(&client, &opts).await);
            continue;
        }
        let mut p = patrol(&mut rng, station, 200 + k as u32, 0);
        p["id"] = format!("patrol:{}:load:{index}:{k}", STATIONS[station].0).into();
        let saved = parse_line(&p.to_string())
            .map_err(|e| anyhow!("{e:?}"))
            .and_then(|l| {
                let mut c = client.lock().unwrap_or_else(|e| e.into_inner());
                c.save(&l.record).map_err(|e| anyhow!("{e}"))
            });
        if let Err(e) = saved {
            out.push(Session {
                millis: 0.0,
                requests: 0,
                error: Some(format!("save: {e}")),
            });
            continue;
        }
        out.push(timed(&client, &opts).await);
    }
    out
}

/// One timed session.
async fn timed(client: &SharedClient, opts: &tidemark_client::sync::SyncOptions) -> Session {
    let t = Instant::now();
    let r = sync::sync_once(client, opts, &|_| {}).await;
    let millis = ms(t.elapsed());
    match r {
        Ok(r) => Session {
            millis,
            requests: r.wire.requests,
            error: None,
        },
        Err(e) => Session {
            millis,
            requests: 0,
            error: Some(e.code),
        },
    }
}

/// Enrols `n` devices (one in [`HQ_EVERY`] at HQ, the others spread over the stations) with
/// their stores under `ram_root/dir`.
async fn enrol_all(
    ctx: &Ctx,
    relay: &Relay,
    url: &str,
    n: usize,
    dir: &str,
) -> Result<Vec<Device>> {
    let mut devices = Vec::new();
    for i in 0..n {
        let name = if at_hq(i) {
            HQ
        } else {
            STATIONS[i % STATIONS.len()].1
        };
        let store = ctx.ram_root.join(format!("{dir}/dev{i}"));
        devices.push(Device::enrol(relay, url, &store, name, "Trinh sát viên").await?);
    }
    Ok(devices)
}

/// What the paced load gives.
struct Paced {
    ok: usize,
    errors: usize,
    p50: f64,
    p99: f64,
    max: f64,
    period: Duration,
    commits: Commits,
    /// Requests of [`TARGET_MS`] or more, and how many a p99 under it allows.
    slow: (usize, usize),
}

/// The same devices and sessions as the burst, on a fresh relay, paced: device `i` starts at
/// `i / n` of a period and syncs once a period, the period being a tenth of the app's.
async fn paced(ctx: &Ctx, n: usize, per: usize) -> Result<Paced> {
    let relay = Relay::start(&ctx.root.join("s5p-relay"), &ctx.relay).await?;
    let wire = Wire::start(relay.addr).await?;
    let url = wire.url();
    let devices = enrol_all(ctx, &relay, &url, n, "s5p").await?;
    let counted_before = relay.counters().await?;
    let split = relay
        .pid()
        .and_then(|pid| crate::measure::CpuSplit::new(pid, "bench-wire"));
    wire.proxy().record_exchanges();
    let period = APP_PERIOD / 10;
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (i, d) in devices.iter().enumerate() {
        let pace = Pace {
            start,
            offset: period.mul_f64(i as f64 / n.max(1) as f64),
            period,
        };
        tasks.spawn(device_loop(
            Arc::clone(&d.client),
            ctx.seed,
            i,
            (0, per),
            Some(pace),
        ));
    }
    let mut sessions = Vec::new();
    while let Some(done) = tasks.join_next().await {
        sessions.extend(done?);
    }
    drop(split);
    drop(devices);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let times: Vec<f64> = wire
        .proxy()
        .take_exchanges()
        .iter()
        .map(|x| ms(x.took))
        .collect();
    let commits = Commits::from(&since(&counted_before, relay.counters().await?));
    relay.stop().await?;
    let errors = sessions.iter().filter(|s| s.error.is_some()).count();
    Ok(Paced {
        ok: sessions.len() - errors,
        errors,
        p50: percentile(&times, 50.0),
        p99: percentile(&times, 99.0),
        max: percentile(&times, 100.0),
        period,
        commits,
        slow: slow_and_allowed(&times),
    })
}

/// The relay's counters now less `before` (a counter missing before counts from 0).
fn since(
    before: &std::collections::BTreeMap<String, f64>,
    now: std::collections::BTreeMap<String, f64>,
) -> std::collections::BTreeMap<String, f64> {
    now.into_iter()
        .map(|(k, v)| {
            let was = before.get(&k).copied().unwrap_or(0.0);
            (k, v - was)
        })
        .collect()
}

/// The relay's commits during a load, from the differences of its `/metrics` counters. Every
/// request that needs the database waits behind a commit, and a commit waits for the disk.
#[derive(Debug, PartialEq)]
struct Commits {
    count: f64,
    /// Their time in all.
    secs: f64,
    over_50ms: f64,
    over_200ms: f64,
}

impl Commits {
    fn from(counted: &std::collections::BTreeMap<String, f64>) -> Commits {
        let get = |name: &str| counted.get(name).copied().unwrap_or(0.0);
        let count = get("tidemark_db_commit_seconds_count");
        let within = |le: &str| get(&format!("tidemark_db_commit_seconds_bucket{{le=\"{le}\"}}"));
        Commits {
            count,
            secs: get("tidemark_db_commit_seconds_sum"),
            over_50ms: count - within("0.05"),
            over_200ms: count - within("0.2"),
        }
    }

    /// "1200 commits (0.41 s in all; 3 took over 50 ms, 1 over 200 ms)".
    fn describe(&self) -> String {
        format!(
            "{:.0} commits ({:.2} s in all; {:.0} took over 50 ms, {:.0} over 200 ms)",
            self.count, self.secs, self.over_50ms, self.over_200ms
        )
    }
}

/// The first `n` requests of a load (one per device when they all start at once).
struct Wave {
    requests: usize,
    /// From the first request's first byte to the last one's.
    arrival_ms: f64,
    /// From the first request's first byte to the last answer's last.
    drained_ms: f64,
    /// The most of them that arrived within any [`DENSE_MS`].
    densest: usize,
    /// How many of them took [`TARGET_MS`] or more.
    slow: usize,
}

/// S5's latency target: a p99 under this many milliseconds.
const TARGET_MS: f64 = 250.0;

/// How many of `times` (ms) took [`TARGET_MS`] or more, and how many may for a p99 under it
/// (the nearest-rank p99 of [`percentile`] is under the target while at most 1 % are slow).
fn slow_and_allowed(times: &[f64]) -> (usize, usize) {
    let slow = times.iter().filter(|t| **t >= TARGET_MS).count();
    let n = times.len();
    let allowed = n - ((0.99 * n as f64).ceil() as usize).min(n);
    (slow, allowed)
}

/// The window [`Wave::densest`] counts arrivals in.
const DENSE_MS: u64 = 100;

/// The first wave of `recorded`: its first `n` exchanges by start; `None` if there are none.
fn first_wave(recorded: &[tidemark_testkit::faultproxy::Exchange], n: usize) -> Option<Wave> {
    let mut by_start: Vec<_> = recorded.iter().collect();
    by_start.sort_by_key(|x| x.started);
    let wave = &by_start[..n.min(by_start.len())];
    let first = wave.first()?.started;
    let last = wave.last()?.started;
    let done = wave.iter().map(|x| x.started + x.took).max()?;
    let window = Duration::from_millis(DENSE_MS);
    let mut from = 0;
    let mut densest = 0;
    for (to, x) in wave.iter().enumerate() {
        while x.started.saturating_duration_since(wave[from].started) >= window {
            from += 1;
        }
        densest = densest.max(to + 1 - from);
    }
    let slow = wave.iter().filter(|x| ms(x.took) >= TARGET_MS).count();
    Some(Wave {
        requests: wave.len(),
        arrival_ms: ms(last.saturating_duration_since(first)),
        drained_ms: ms(done.saturating_duration_since(first)),
        densest,
        slow,
    })
}

/// S5.
pub async fn s5(ctx: &Ctx) -> Result<Outcome> {
    let n = ctx.sizes.devices;
    let per = ctx.sizes.sessions_per_device;
    let mut out = Outcome::new("S5", "relay load: devices syncing concurrently");
    out.param("devices", n);
    out.param("sessions_per_device", per);
    let full = super::Sizes::full();
    out.reduced = super::reduced(&[
        ("devices", n as f64, full.devices as f64),
        (
            "sessions per device",
            per as f64,
            full.sessions_per_device as f64,
        ),
    ]);
    let relay = Relay::start(&ctx.root.join("s5-relay"), &ctx.relay).await?;
    let wire = Wire::start(relay.addr).await?;
    let url = wire.url();
    let started = Instant::now();
    let devices = enrol_all(ctx, &relay, &url, n, "s5").await?;
    out.metric("enrol_secs", started.elapsed().as_secs_f64());

    let relay_pid = relay.pid();
    let counted_before = relay.counters().await?;
    let relay_before = proc_status_kb(relay_pid, "VmRSS");
    let relay_cpu = cpu_secs(relay_pid);
    let own_cpu = cpu_secs(None);
    reset_peak_rss(relay_pid);
    // The devices stand for 200 other machines: they get CPUs of their own, not the relay's.
    let split = relay_pid.and_then(|pid| crate::measure::CpuSplit::new(pid, "bench-wire"));
    let split_note = split.as_ref().map(|s| s.describe());
    wire.proxy().record_exchanges();
    let before = wire.socket();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (i, d) in devices.iter().enumerate() {
        tasks.spawn(device_loop(
            Arc::clone(&d.client),
            ctx.seed,
            i,
            (0, per),
            None,
        ));
    }
    let mut sessions = Vec::new();
    while let Some(done) = tasks.join_next().await {
        sessions.extend(done?);
    }
    let wall = started.elapsed().as_secs_f64();
    drop(split);
    let relay_cpu = cpu_secs(relay_pid).zip(relay_cpu).map(|(a, b)| a - b);
    let own_cpu = cpu_secs(None).zip(own_cpu).map(|(a, b)| a - b);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let socket = wire.socket().since(before);
    // Close the devices' connections so the proxy records their last exchanges.
    drop(devices);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let recorded = wire.proxy().take_exchanges();
    let exchanges: Vec<f64> = recorded.iter().map(|x| ms(x.took)).collect();
    let wave = first_wave(&recorded, n);
    let counted = since(&counted_before, relay.counters().await?);
    let relay_peak = peak_rss(relay_pid);
    let relay_now = proc_status_kb(relay_pid, "VmRSS");

    let ok: Vec<&Session> = sessions.iter().filter(|s| s.error.is_none()).collect();
    let errors = sessions.len() - ok.len();
    let mut codes: Vec<String> = sessions.iter().filter_map(|s| s.error.clone()).collect();
    codes.sort();
    codes.dedup();
    let session_ms: Vec<f64> = ok.iter().map(|s| s.millis).collect();
    let requests: u64 = ok.iter().map(|s| s.requests).sum();
    let (p50, p99, max) = (
        percentile(&exchanges, 50.0),
        percentile(&exchanges, 99.0),
        percentile(&exchanges, 100.0),
    );
    let (s50, s99) = (percentile(&session_ms, 50.0), percentile(&session_ms, 99.0));

    let mut t = Table::new(
        &format!(
            "{n} devices ({} at HQ) × {per} sessions (station devices save a patrol first), all started together:",
            (0..n).filter(|i| at_hq(*i)).count()
        ),
        &[
            "sessions ok",
            "errors",
            "throughput",
            "request p50",
            "request p99",
            "request max",
            "session p50",
            "session p99",
            "relay peak RSS",
            "socket ↑ / ↓",
        ],
    );
    t.row(vec![
        ok.len().to_string(),
        if codes.is_empty() {
            errors.to_string()
        } else {
            format!("{errors} ({})", codes.join(", "))
        },
        format!(
            "{:.1} sessions/s, {:.0} requests/s",
            ok.len() as f64 / wall.max(1e-9),
            exchanges.len() as f64 / wall.max(1e-9)
        ),
        format!("{p50:.1} ms"),
        format!("{p99:.1} ms"),
        format!("{max:.1} ms"),
        format!("{s50:.0} ms"),
        format!("{s99:.0} ms"),
        relay_peak.map_or("—".into(), |b| human_bytes(b as f64)),
        format!(
            "{} / {}",
            human_bytes(socket.up as f64),
            human_bytes(socket.down as f64)
        ),
    ]);
    out.tables.push(t);
    let mut b = Table::new(
        "Where the bytes and the time go:",
        &["request", "count", "socket ↑", "socket ↓", "p50", "p99"],
    );
    for (request, count, up, down) in by_request(&recorded) {
        let times: Vec<f64> = recorded
            .iter()
            .filter(|x| x.request == request)
            .map(|x| ms(x.took))
            .collect();
        b.row(vec![
            format!("`{request}`"),
            count.to_string(),
            human_bytes(up as f64),
            human_bytes(down as f64),
            format!("{:.1} ms", percentile(&times, 50.0)),
            format!("{:.1} ms", percentile(&times, 99.0)),
        ]);
    }
    out.tables.push(b);
    for (k, v) in [
        ("sessions_ok", ok.len() as f64),
        ("errors", errors as f64),
        ("wall_secs", wall),
        ("requests", requests as f64),
        ("exchanges", exchanges.len() as f64),
        ("request_p50_ms", p50),
        ("request_p99_ms", p99),
        ("request_max_ms", max),
        ("session_p50_ms", s50),
        ("session_p99_ms", s99),
        ("socket_up", socket.up as f64),
        ("socket_down", socket.down as f64),
    ] {
        out.metric(k, v);
    }
    if let Some(b) = relay_peak {
        out.metric("relay_peak_rss", b as f64);
    }
    if let Some(b) = relay_now {
        out.metric("relay_rss_end", b as f64);
    }
    if let Some(b) = relay_before {
        out.metric("relay_rss_before", b as f64);
    }
    if let (Some(r), Some(o)) = (relay_cpu, own_cpu) {
        out.metric("relay_cpu_secs", r);
        out.metric("devices_cpu_secs", o);
        out.notes.push(format!(
            "CPU during the load ({wall:.1} s of wall time on {} CPUs): {r:.1} s in the relay, \
             {o:.1} s in the simulated devices and the proxy (one process).",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ));
    }
    let (slow, allowed) = slow_and_allowed(&exchanges);
    out.metric("requests_over_target", slow as f64);
    out.metric("requests_over_target_allowed", allowed as f64);
    if let Some(w) = &wave {
        out.metric("first_wave_arrival_ms", w.arrival_ms);
        out.metric("first_wave_drained_ms", w.drained_ms);
        out.metric("first_wave_densest_100ms", w.densest as f64);
        out.metric("first_wave_over_target", w.slow as f64);
        out.notes.push(format!(
            "The first wave: the first {} requests arrived within {:.0} ms of each other ({} of \
             them within {DENSE_MS} ms), and the last of them was answered {:.0} ms after the \
             first arrived.",
            w.requests, w.arrival_ms, w.densest, w.drained_ms
        ));
    }
    out.notes.push(format!(
        "{slow} of the {} requests took {TARGET_MS:.0} ms or more{}; a p99 under \
         {TARGET_MS:.0} ms allows {allowed}.",
        exchanges.len(),
        wave.as_ref().map_or(String::new(), |w| format!(
            ", {} of them in the first wave",
            w.slow
        )),
    ));
    let count = |name: &str| counted.get(name).copied().unwrap_or(0.0);
    let (made, reused) = (
        count("tidemark_first_offers_made_total"),
        count("tidemark_first_offers_reused_total"),
    );
    let loaded = count("tidemark_documents_loaded_total");
    let commits = Commits::from(&counted);
    for (k, v) in [
        ("relay_first_offers_made", made),
        ("relay_first_offers_reused", reused),
        ("relay_documents_loaded", loaded),
        ("relay_commits", commits.count),
        ("relay_commit_secs", commits.secs),
        ("relay_commits_over_50ms", commits.over_50ms),
        ("relay_commits_over_200ms", commits.over_200ms),
    ] {
        out.metric(k, v);
    }
    out.notes.push(format!(
        "The relay during the load (its `/metrics`): {made:.0} first offers made and {reused:.0} \
         reused (a record's message to a device that holds none of it, made once per stored \
         version and kind of device, reader or writer), {loaded:.0} documents loaded from its \
         database, {}.",
        commits.describe()
    ));
    out.notes.push(match &split_note {
        Some(how) => format!(
            "CPUs split for the load ({how}), so that the simulated devices, which stand for \
             other machines, do not take the relay's CPU; every request starts at once, so the \
             p99 is mostly the time the relay takes to work through the first wave."
        ),
        None => "CPUs shared by the relay and the simulated devices (one CPU, or pinning \
                 failed)."
            .to_string(),
    });
    out.metric("cpu_split", if split_note.is_some() { 1.0 } else { 0.0 });
    out.targets.push(Target::new(
        "p99 latency of an HTTP request",
        "< 250 ms",
        format!("{p99:.1} ms (session p99 {s99:.0} ms)"),
        p99 < TARGET_MS,
    ));
    out.targets
        .push(Target::new("errors", "0", errors.to_string(), errors == 0));
    out.notes.push(format!(
        "Latency is per HTTP request, timed at the proxy from the request's first byte to the \
         response's last; a session is {:.1} requests on average. The relay runs in {}; its peak \
         RSS is its VmHWM during the load{}. The devices' stores are on {}.",
        requests as f64 / ok.len().max(1) as f64,
        if relay_pid.is_some() {
            "its own process"
        } else {
            "this process (the figure includes the devices)"
        },
        relay_now.map_or(String::new(), |b| format!(
            " ({} resident at the end)",
            human_bytes(b as f64)
        )),
        if ctx.ram_root.starts_with("/dev/shm") {
            "a RAM disk (/dev/shm)".to_string()
        } else {
            ctx.ram_root.display().to_string()
        }
    ));
    relay.stop().await?;

    // The same load as it comes day to day: devices on their own schedules, not all at once.
    let Paced {
        ok,
        errors,
        p50,
        p99,
        max,
        period,
        commits,
        slow: (slow, allowed),
    } = paced(ctx, n, per).await?;
    let mut t = Table::new(
        &format!(
            "The same {n} devices × {per} sessions on a fresh relay, paced: each device syncs \
             every {:.0} s (ten times the app's default rate), their starts spread over the first \
             period:",
            period.as_secs_f64()
        ),
        &[
            "sessions ok",
            "errors",
            "request p50",
            "request p99",
            "request max",
        ],
    );
    t.row(vec![
        ok.to_string(),
        errors.to_string(),
        format!("{p50:.1} ms"),
        format!("{p99:.1} ms"),
        format!("{max:.1} ms"),
    ]);
    out.tables.push(t);
    out.notes.push(format!(
        "The paced relay's {}: the database serves one request at a time, so every request \
         that needs it waits behind a commit, and a commit waits for the disk's sync. Paced, \
         {slow} requests took {TARGET_MS:.0} ms or more ({allowed} allowed).",
        commits.describe()
    ));
    out.targets.push(Target::new(
        "p99 latency, paced (each device on its own schedule, 10× the app's rate)",
        "< 250 ms",
        format!("{p99:.1} ms, {errors} errors"),
        p99 < TARGET_MS && errors == 0,
    ));
    for (k, v) in [
        ("paced_errors", errors as f64),
        ("paced_request_p50_ms", p50),
        ("paced_request_p99_ms", p99),
        ("paced_request_max_ms", max),
        ("paced_commits", commits.count),
        ("paced_commit_secs", commits.secs),
        ("paced_commits_over_50ms", commits.over_50ms),
        ("paced_commits_over_200ms", commits.over_200ms),
        ("paced_requests_over_target", slow as f64),
    ] {
        out.metric(k, v);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tidemark_testkit::faultproxy::Exchange;

    fn exchange(t0: Instant, start_ms: u64, took_ms: u64) -> Exchange {
        Exchange {
            request: "POST /v1/session".into(),
            up: 1,
            down: 1,
            started: t0 + Duration::from_millis(start_ms),
            took: Duration::from_millis(took_ms),
        }
    }

    #[test]
    fn commits_during_a_load_come_from_the_differences_of_the_histogram() {
        let scrape = |count: f64, within_50: f64, within_200: f64, sum: f64| {
            crate::harness::counters(&format!(
                "tidemark_db_commit_seconds_bucket{{le=\"0.05\"}} {within_50}\n\
                 tidemark_db_commit_seconds_bucket{{le=\"0.2\"}} {within_200}\n\
                 tidemark_db_commit_seconds_sum {sum}\n\
                 tidemark_db_commit_seconds_count {count}\n"
            ))
        };
        // Enrolment's 200 commits before, all fast; the load's 1200 after, four slow.
        let before = scrape(200.0, 200.0, 200.0, 0.25);
        let after = scrape(1400.0, 1396.0, 1399.0, 1.75);
        let c = Commits::from(&since(&before, after));
        assert_eq!(c.count, 1200.0);
        assert!((c.secs - 1.5).abs() < 1e-9);
        assert_eq!((c.over_50ms, c.over_200ms), (4.0, 1.0));
        assert_eq!(
            c.describe(),
            "1200 commits (1.50 s in all; 4 took over 50 ms, 1 over 200 ms)"
        );
        // A relay without the histogram (older): nothing, not a failure.
        let none = Commits::from(&std::collections::BTreeMap::new());
        assert_eq!(none.count, 0.0);
    }

    #[test]
    fn the_first_wave_is_the_first_requests_by_start_and_ends_with_their_last_answer() {
        let t0 = Instant::now();
        // Recorded in the order they ended, not started; the fourth is the second wave.
        let recorded = vec![
            exchange(t0, 30, 10),
            exchange(t0, 0, 500),
            exchange(t0, 20, 100),
            exchange(t0, 900, 5),
        ];
        let w = first_wave(&recorded, 3).unwrap();
        assert_eq!(w.requests, 3);
        assert!((w.arrival_ms - 30.0).abs() < 1e-6);
        assert!(
            (w.drained_ms - 500.0).abs() < 1e-6,
            "the slowest, not the last to start"
        );
        assert_eq!(w.densest, 3, "all three within 100 ms");
        assert_eq!(w.slow, 1, "the one of 500 ms is over 250 ms");
        let spread = first_wave(&recorded, 10).unwrap();
        assert_eq!(spread.requests, 4);
        assert_eq!(spread.densest, 3, "the fourth is 870 ms after the third");
        // A window is 100 ms: starts at 0, 99 and 100 count two at most.
        let edge = [
            exchange(t0, 0, 1),
            exchange(t0, 99, 1),
            exchange(t0, 100, 1),
        ];
        assert_eq!(first_wave(&edge, 3).unwrap().densest, 2);
        assert!(first_wave(&[], 3).is_none());
    }

    #[test]
    fn a_p99_under_the_target_allows_one_request_in_a_hundred_over_it() {
        // 1,200 requests: the p99 is the 1,188th fastest, so 12 may be slow.
        let mut times = vec![10.0; 1188];
        times.extend([TARGET_MS; 12]);
        assert_eq!(slow_and_allowed(&times), (12, 12));
        assert!(percentile(&times, 99.0) < TARGET_MS, "12 slow: met");
        times[0] = 300.0;
        assert_eq!(slow_and_allowed(&times), (13, 12));
        assert!(percentile(&times, 99.0) >= TARGET_MS, "13 slow: not met");
        // 150 requests: ceil(148.5) = 149 must be fast, so one may be slow.
        assert_eq!(slow_and_allowed(&[1.0; 150]), (0, 1));
        assert_eq!(slow_and_allowed(&[]), (0, 0));
    }
}
