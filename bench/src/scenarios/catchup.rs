//! S1 catch-up and S6 weak link. Six stations and HQ share a history of N days. Then a day
//! passes in which Tân Thành (at sea) and HQ have no signal while the other five stations sync
//! as usual. The station's session pushes its day and pulls what the others addressed to it;
//! HQ's session pulls the day of all six (a station may not read another station's patrols, so
//! "the other stations' day" is pulled by HQ). S6 runs the same sessions through a 9.6 kbit/s
//! link that breaks connections at random, retrying until each completes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Result};
use serde_json::Value;
use tidemark_client::sync::{SyncOptions, SyncReport};
use tidemark_testkit::faultproxy::{Direction, Fault, FaultPlan};

use super::{baselines, ratio, Baselines, Ctx};
use crate::harness::{bench_opts, by_request, measured_sync, settle, Device, Relay, Socket, Wire};
use crate::measure::{human_bytes, ms};
use crate::report::{Outcome, Table, Target};
use crate::workload::{plan, station_day, unit_lines, HQ, STATIONS};
use tidemark_testkit::faultproxy::Exchange;

/// 9.6 kbit/s in bytes per second.
pub const WEAK_RATE: u64 = 1200;
/// Share of connections the weak link breaks after a session's first drop.
pub const WEAK_FAULT_RATE: f64 = 0.35;
/// Those faults land in a connection's first this many bytes.
pub const WEAK_MAX_OFFSET: usize = 24 * 1024;

/// The province of the catch-up: relay, wire, HQ and the six stations.
struct Province {
    relay: Relay,
    wire: Wire,
    hq: Device,
    stations: Vec<Device>,
    opts: SyncOptions,
}

fn lines(values: &[Value]) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

fn ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect()
}

/// Builds the province with `days` days of history, synced everywhere.
async fn build(ctx: &Ctx, dir: &Path, days: u32) -> Result<Province> {
    let relay = Relay::start(&dir.join("relay"), &ctx.relay).await?;
    let wire = Wire::start(relay.addr).await?;
    let url = wire.url();
    let hq = Device::enrol(&relay, &url, &dir.join("hq"), HQ, "Thiếu tá Phạm Quang Huy").await?;
    let mut stations = Vec::new();
    for (code, name, _, _) in STATIONS {
        let d = Device::enrol(&relay, &url, &dir.join(code), name, "Trung úy Lê Quốc Vũ").await?;
        stations.push(d);
    }
    hq.import(&unit_lines())?;
    hq.import(&lines(&plan(ctx.seed)))?;
    for (s, d) in stations.iter().enumerate() {
        d.import(&unit_lines())?;
        let history: Vec<Value> = (0..days)
            .flat_map(|day| station_day(ctx.seed, s, day))
            .collect();
        d.import(&lines(&history))?;
    }
    let opts = bench_opts();
    let mut order: Vec<&Device> = stations.iter().collect();
    order.push(&hq);
    settle(&order, &opts).await?;
    Ok(Province {
        relay,
        wire,
        hq,
        stations,
        opts,
    })
}

/// The day offline: stations 2–6 record and sync theirs; the first station records its own
/// without signal. Returns the ids of everyone's day.
async fn offline_day(p: &Province, seed: u64, day: u32) -> Result<Vec<String>> {
    let mut all = Vec::new();
    for (s, d) in p.stations.iter().enumerate().skip(1) {
        let recs = station_day(seed, s, day);
        d.import(&lines(&recs))?;
        d.sync(&p.opts)
            .await
            .map_err(|e| anyhow!("sync of an online station: {}", e.code))?;
        all.extend(ids(&recs));
    }
    let own = station_day(seed, 0, day);
    p.stations[0].import(&lines(&own))?;
    all.extend(ids(&own));
    Ok(all)
}

/// One measured session with its baselines.
#[derive(Debug, Clone)]
struct Session {
    what: &'static str,
    report: SyncReport,
    socket: Socket,
    wall: Duration,
    base: Baselines,
    /// Sessions broken by the link before this one completed (S6).
    broken: usize,
    /// Its HTTP exchanges (the completed ones).
    exchanges: Vec<Exchange>,
}

/// The records of the day `dev` holds: what its session pushed and what it received (in S6,
/// possibly in a session the link broke before it completed).
fn held(dev: &Device, day: &[String]) -> Result<Vec<String>> {
    dev.with(|c| -> Result<Vec<String>> {
        let mut v = Vec::new();
        for id in day {
            if c.store().record_json(id)?.is_some() {
                v.push(id.clone());
            }
        }
        Ok(v)
    })
}

/// How S6 breaks the link: whether HQ's session goes over it too, and the socket bytes
/// (up, down) of each session in S1, so that its first drop lands inside the transfer.
#[derive(Debug, Clone, Copy)]
struct Weak {
    hq: bool,
    station_bytes: Option<(u64, u64)>,
    hq_bytes: Option<(u64, u64)>,
}

/// Runs the station's and HQ's sessions after the day offline: normally (S1), or over the weak
/// link (S6).
async fn sessions(p: &Province, seed: u64, day: u32, weak: Option<Weak>) -> Result<Vec<Session>> {
    let all = offline_day(p, seed, day).await?;
    let station = &p.stations[0];
    let mut out = Vec::new();
    let first = match weak {
        None => plain(p, station).await?,
        Some(w) => over_weak_link(p, station, seed, w.station_bytes).await?,
    };
    out.push(Session {
        what: "station: pushes its day, pulls what is addressed to it",
        base: baselines(station, &held(station, &all)?)?,
        report: first.report,
        socket: first.socket,
        wall: first.wall,
        broken: first.broken,
        exchanges: first.exchanges,
    });
    let hq = match weak {
        None => Some(plain(p, &p.hq).await?),
        Some(w) if w.hq => Some(over_weak_link(p, &p.hq, seed + 1, w.hq_bytes).await?),
        Some(_) => None,
    };
    if let Some(hq) = hq {
        let got = held(&p.hq, &all)?;
        let missing = all.len() - got.len();
        ensure!(
            missing == 0,
            "{missing} records of the day did not reach HQ"
        );
        out.push(Session {
            what: "HQ: pulls all six stations' day",
            base: baselines(&p.hq, &got)?,
            report: hq.report,
            socket: hq.socket,
            wall: hq.wall,
            broken: hq.broken,
            exchanges: hq.exchanges,
        });
    }
    Ok(out)
}

/// A completed session, however many tries it took.
struct Done {
    report: SyncReport,
    socket: Socket,
    wall: Duration,
    broken: usize,
    exchanges: Vec<Exchange>,
}

async fn plain(p: &Province, dev: &Device) -> Result<Done> {
    let m = measured_sync(dev, &p.wire, &p.opts).await?;
    Ok(Done {
        report: m.report,
        socket: m.socket,
        wall: m.wall,
        broken: 0,
        exchanges: m.exchanges,
    })
}

/// A drop at a random byte of a transfer of `up` and `down` bytes: a clean cut, a reset, a
/// 2 s stall or a truncated response, chosen at random.
fn drop_within(seed: u64, up: u64, down: u64) -> Fault {
    let mut r = crate::workload::rng_for(seed, &[0xD209]);
    let at = r.below(up + down) as usize;
    let (dir, after) = if (at as u64) < up {
        (Direction::Upstream, at)
    } else {
        (Direction::Downstream, at - up as usize)
    };
    match (r.below(4), dir) {
        (0, _) => Fault::Cut { dir, after },
        (1, _) => Fault::Reset { dir, after },
        (2, Direction::Downstream) => Fault::Truncate { after },
        _ => Fault::Stall {
            dir,
            after,
            for_: Duration::from_secs(2),
        },
    }
}

/// The faults after a session's first drop.
fn random_faults(seed: u64) -> FaultPlan {
    FaultPlan::random(
        seed,
        WEAK_FAULT_RATE,
        WEAK_MAX_OFFSET,
        Duration::from_secs(2),
    )
}

/// Syncs `dev` over a 9.6 kbit/s link until a session completes; counts every byte, broken
/// sessions included. The session's first connection drops at a random byte of the transfer
/// (`expected`: S1's bytes up and down) — or, without S1's figures, at random — and later
/// connections at random.
async fn over_weak_link(
    p: &Province,
    dev: &Device,
    seed: u64,
    expected: Option<(u64, u64)>,
) -> Result<Done> {
    let proxy = p.wire.proxy();
    proxy.set_rate_limit(Some(WEAK_RATE));
    // Every connection after the first drop is at risk, whether the client resumes the cut
    // exchange within its session or starts a new session.
    proxy.set_plan(match expected {
        Some((up, down)) => {
            FaultPlan::schedule_then(vec![drop_within(seed, up, down)], random_faults(seed))
        }
        None => random_faults(seed),
    });
    let opts = SyncOptions {
        request_timeout: Duration::from_secs(240),
        ..p.opts.clone()
    };
    p.wire.record();
    let before = p.wire.socket();
    let started = Instant::now();
    let mut broken = 0;
    let result = loop {
        match dev.sync(&opts).await {
            Ok(r) => break Ok(r),
            Err(e) if e.retryable && broken < 40 => {
                broken += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                break Err(anyhow!(
                    "weak-link sync gave up: {} ({})",
                    e.code,
                    e.message
                ))
            }
        }
    };
    let wall = started.elapsed();
    let report = result?;
    let exchanges = p.wire.exchanges(report.wire.requests as usize).await;
    let socket = p.wire.socket().since(before);
    proxy.set_plan(FaultPlan::pass());
    proxy.set_rate_limit(None);
    Ok(Done {
        report,
        socket,
        wall,
        broken,
        exchanges,
    })
}

fn table(title: &str, sessions: &[Session]) -> Table {
    let mut t = Table::new(
        title,
        &[
            "session",
            "records",
            "socket ↑",
            "socket ↓",
            "round trips",
            "wall",
            "jsonl.zst",
            "whole docs.zst",
            "socket ÷ jsonl.zst",
            "bodies ÷ jsonl.zst",
            "socket ÷ whole docs",
        ],
    );
    for s in sessions {
        let bodies = (s.report.wire.bytes_up + s.report.wire.bytes_down) as f64;
        t.row(vec![
            s.what.to_string(),
            s.base.records.to_string(),
            human_bytes(s.socket.up as f64),
            human_bytes(s.socket.down as f64),
            s.report.wire.requests.to_string(),
            format!("{:.0} ms", ms(s.wall)),
            human_bytes(s.base.jsonl_zst as f64),
            human_bytes(s.base.whole_zst as f64),
            ratio(s.socket.total() as f64, s.base.jsonl_zst as f64),
            ratio(bodies, s.base.jsonl_zst as f64),
            ratio(s.socket.total() as f64, s.base.whole_zst as f64),
        ]);
    }
    t
}

/// Where each session's bytes went, exchange by exchange (grouped by request when there are
/// many).
fn breakdown(sessions: &[Session]) -> Table {
    let mut t = Table::new(
        "Where the bytes go (HTTP exchanges in order, headers included; broken ones as far as they got):",
        &["session", "request", "count", "socket ↑", "socket ↓", "time"],
    );
    for s in sessions {
        let who = if key(s) == "hq" { "HQ" } else { "station" };
        if s.exchanges.len() <= 12 {
            for x in &s.exchanges {
                t.row(vec![
                    who.to_string(),
                    format!("`{}`", x.request),
                    "1".into(),
                    human_bytes(x.up as f64),
                    human_bytes(x.down as f64),
                    format!("{:.0} ms", ms(x.took)),
                ]);
            }
            continue;
        }
        for (request, n, up, down) in by_request(&s.exchanges) {
            t.row(vec![
                who.to_string(),
                format!("`{request}`"),
                n.to_string(),
                human_bytes(up as f64),
                human_bytes(down as f64),
                "—".into(),
            ]);
        }
    }
    t
}

fn key(s: &Session) -> &'static str {
    if s.what.starts_with("HQ") {
        "hq"
    } else {
        "station"
    }
}

fn metrics(out: &mut Outcome, sessions: &[Session]) {
    for s in sessions {
        let k = key(s);
        out.metric(&format!("{k}.records"), s.base.records as f64);
        out.metric(&format!("{k}.socket_up"), s.socket.up as f64);
        out.metric(&format!("{k}.socket_down"), s.socket.down as f64);
        out.metric(&format!("{k}.body_up"), s.report.wire.bytes_up as f64);
        out.metric(&format!("{k}.body_down"), s.report.wire.bytes_down as f64);
        out.metric(&format!("{k}.requests"), s.report.wire.requests as f64);
        out.metric(&format!("{k}.sync_rounds"), s.report.sync_requests as f64);
        out.metric(&format!("{k}.wall_ms"), ms(s.wall));
        out.metric(&format!("{k}.jsonl"), s.base.jsonl as f64);
        out.metric(&format!("{k}.jsonl_zst"), s.base.jsonl_zst as f64);
        out.metric(&format!("{k}.whole_zst"), s.base.whole_zst as f64);
        out.metric(&format!("{k}.broken_sessions"), s.broken as f64);
        out.metric(&format!("{k}.faults"), s.socket.faults as f64);
    }
}

/// S1: catch-up after a day offline on top of the history.
pub async fn s1(ctx: &Ctx) -> Result<Outcome> {
    let days = ctx.sizes.history_days;
    let mut out = Outcome::new(
        "S1",
        "catch-up: a station offline for a day pushes its day; HQ pulls the six stations' day",
    );
    out.param("history_days", days);
    out.param("stations", STATIONS.len());
    let full = super::Sizes::full();
    out.reduced = super::reduced(&[(
        "history days",
        f64::from(days),
        f64::from(full.history_days),
    )]);
    let dir = ctx.root.join("s1");
    let started = Instant::now();
    let p = build(ctx, &dir, days).await?;
    out.metric("setup_secs", started.elapsed().as_secs_f64());
    let sessions = sessions(&p, ctx.seed, days, None).await?;
    out.tables.push(table(
        &format!("On top of {days} days of history (6 stations × 4 patrols a day):"),
        &sessions,
    ));
    out.tables.push(breakdown(&sessions));
    metrics(&mut out, &sessions);
    for s in &sessions {
        let who = if key(s) == "hq" { "HQ" } else { "station" };
        let trips = s.report.wire.requests;
        out.targets.push(Target::new(
            &format!("{who} session: HTTP round trips"),
            "≤ 2",
            trips.to_string(),
            trips <= 2,
        ));
        let r = s.socket.total() as f64 / s.base.jsonl_zst.max(1) as f64;
        out.targets.push(Target::new(
            &format!("{who} session: bytes on the socket ÷ zstd JSON Lines"),
            "≤ 1.0×",
            format!(
                "{r:.2}× ({} vs {})",
                human_bytes(s.socket.total() as f64),
                human_bytes(s.base.jsonl_zst as f64)
            ),
            r <= 1.0,
        ));
    }
    out.notes.push(
        "Round trips are HTTP requests (`SyncReport.wire.requests`): `POST /v1/session` carries \
         the feed, the new documents, the sync messages and the receipts; the relay answers the \
         feed with its news. Socket bytes include HTTP headers; \
         \"bodies\" are the request and response bodies as sent (zstd)."
            .into(),
    );
    p.relay.stop().await?;
    Ok(out)
}

/// S6: S1's sessions over a 9.6 kbit/s link with random disconnects; bytes compared with S1's.
pub async fn s6(ctx: &Ctx, s1: Option<&Outcome>) -> Result<Outcome> {
    let days = ctx.sizes.history_days;
    let mut out = Outcome::new(
        "S6",
        "weak link: S1 through 9.6 kbit/s with random disconnects",
    );
    out.param("history_days", days);
    out.param("rate_bytes_per_sec", WEAK_RATE);
    out.param("fault_rate_per_connection", WEAK_FAULT_RATE);
    out.param("fault_max_offset", WEAK_MAX_OFFSET);
    out.param("hq_over_weak_link", ctx.sizes.weak_hq);
    let full = super::Sizes::full();
    out.reduced = super::reduced(&[
        (
            "history days",
            f64::from(days),
            f64::from(full.history_days),
        ),
        (
            "sessions over the weak link",
            if ctx.sizes.weak_hq { 2.0 } else { 1.0 },
            2.0,
        ),
    ]);
    let dir = ctx.root.join("s6");
    let p = build(ctx, &dir, days).await?;
    let bytes = |k: &str| {
        let m = &s1?.metrics;
        Some((
            *m.get(&format!("{k}.socket_up"))? as u64,
            *m.get(&format!("{k}.socket_down"))? as u64,
        ))
    };
    let weak = Weak {
        hq: ctx.sizes.weak_hq,
        station_bytes: bytes("station"),
        hq_bytes: bytes("hq"),
    };
    let sessions = sessions(&p, ctx.seed, days, Some(weak)).await?;
    let mut t = table(
        "Over 9.6 kbit/s (1,200 bytes/s each way) with random disconnects; bytes include broken sessions:",
        &sessions,
    );
    // Bodies are counted by the completing session only: not comparable here.
    let bodies = t.headers.iter().position(|h| h.starts_with("bodies"));
    if let Some(i) = bodies {
        t.headers.remove(i);
        for row in &mut t.rows {
            row.remove(i);
        }
    }
    t.headers.push("broken sessions".into());
    t.headers.push("resumed round trips".into());
    t.headers.push("bytes ÷ S1's".into());
    for (row, s) in t.rows.iter_mut().zip(&sessions) {
        row.push(s.broken.to_string());
        row.push(s.report.wire.resumed.to_string());
        let s1_bytes = s1
            .and_then(|o| {
                let k = key(s);
                Some(
                    o.metrics.get(&format!("{k}.socket_up"))?
                        + o.metrics.get(&format!("{k}.socket_down"))?,
                )
            })
            .unwrap_or(0.0);
        let r = s.socket.total() as f64 / s1_bytes.max(1.0);
        row.push(if s1_bytes > 0.0 {
            format!("{r:.2}×")
        } else {
            "—".into()
        });
        let who = if key(s) == "hq" { "HQ" } else { "station" };
        out.targets.push(Target::new(
            &format!("{who} session completes"),
            "completes",
            format!(
                "in {:.1} s after {} broken sessions, {} resumed round trips",
                s.wall.as_secs_f64(),
                s.broken,
                s.report.wire.resumed
            ),
            true,
        ));
        if s1_bytes > 0.0 {
            out.targets.push(Target::new(
                &format!("{who} session: bytes ÷ S1's"),
                "≤ 1.1×",
                format!(
                    "{r:.2}× ({} vs {})",
                    human_bytes(s.socket.total() as f64),
                    human_bytes(s1_bytes)
                ),
                r <= 1.1,
            ));
        }
    }
    out.tables.push(t);
    out.tables.push(breakdown(&sessions));
    metrics(&mut out, &sessions);
    out.notes.push(
        "Round trips and bodies are those of the session that completed (resumed round trips \
         included: a client that loses its connection asks the relay where the exchange stands \
         and sends or fetches only the rest); socket bytes include every broken session before \
         it."
        .into(),
    );
    out.notes.push(format!(
        "The link carries {WEAK_RATE} bytes/s in each direction, shared by all connections. \
         Each session's first connection drops at a random byte of its transfer (a cut, a reset, \
         a 2 s stall then close, or a truncated response, at random); after that, {:.0}% of \
         connections are broken (the same kinds, or refused) at a random offset in their first \
         {} KB. A session that gives up is retried after 200 ms, as a new session; every byte \
         counts.",
        WEAK_FAULT_RATE * 100.0,
        WEAK_MAX_OFFSET / 1024
    ));
    if !ctx.sizes.weak_hq {
        out.notes.push(
            "Quick mode: only the station's session goes over the weak link (HQ's pull of six \
             stations' day would take minutes at 9.6 kbit/s)."
                .into(),
        );
    }
    p.relay.stop().await?;
    Ok(out)
}
