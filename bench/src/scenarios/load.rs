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
    cpu_secs, human_bytes, ms, peak_rss, percentile, proc_status_kb, reset_peak_rss, CpuSampler,
};
use crate::report::{Outcome, Table, Target};
use crate::workload::{patrol, rng_for, HQ, STATIONS};
use recorded::{first_wave, since, slow_and_allowed, Commits, DENSE_MS, TARGET_MS};

mod recorded;

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
    // The relay's CPU through the load, to tell what the first wave cost it once the proxy's
    // record says when that wave was.
    let sampler = relay_pid.map(|pid| CpuSampler::start(pid, Duration::from_millis(10)));
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
    let relay_samples = sampler.map(CpuSampler::finish);
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
    let (slow, allowed) = slow_and_allowed(&exchanges);
    let wave = first_wave(&recorded, n, allowed);
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
        out.metric("first_wave_budget_ms", w.budget_ms);
        let spent = relay_samples
            .as_ref()
            .and_then(|s| s.between(w.window.0, w.window.1))
            .map(|secs| secs * 1000.0 / w.answered as f64);
        if let Some(each) = spent {
            out.metric("first_wave_relay_cpu_ms_per_request", each);
        }
        out.notes.push(format!(
            "What the first wave asked of the relay, whatever its density: these arrivals leave \
             at most {allowed} {} at {TARGET_MS:.0} ms or more if the relay takes at most \
             {:.2} ms a request (answering one at a time, in order of arrival){}.",
            if allowed == 1 { "request" } else { "requests" },
            w.budget_ms,
            spent.map_or(String::new(), |each| format!(
                "; it took {each:.2} ms of CPU a request over the wave ({} requests answered \
                 in it), {:.1}× that",
                w.answered,
                each / w.budget_ms.max(0.01)
            ))
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
        ("relay_disk_syncs", commits.syncs),
        ("relay_disk_sync_secs", commits.sync_secs),
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
         that needs it waits behind a commit, then for a sync to disk covering it. Paced, \
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
        ("paced_disk_syncs", commits.syncs),
        ("paced_requests_over_target", slow as f64),
    ] {
        out.metric(k, v);
    }
    Ok(out)
}
