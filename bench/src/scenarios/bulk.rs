//! S2 HQ bulk: the six stations push a province-year to the relay; then a new HQ device, just
//! enrolled, pulls all of it in one session — in a process of its own, so that its peak memory
//! is the pull's.

use std::time::Instant;

use anyhow::{ensure, Result};
use serde_json::Value;

use super::{baselines, ratio, Ctx};
use crate::child::pull;
use crate::harness::{bench_opts, by_request, settle, Device, Relay, Wire};
use crate::measure::{human_bytes, peak_rss, reset_peak_rss};
use crate::report::{Outcome, Table, Target};
use crate::workload::{plan, station_day, unit_lines, HQ, STATIONS};

/// S2 wall-time target, seconds.
const TARGET_SECS: f64 = 8.0;

/// S2: a new HQ device pulls `year_days` days of the province.
pub async fn s2(ctx: &Ctx) -> Result<Outcome> {
    let days = ctx.sizes.year_days;
    let mut out = Outcome::new("S2", "HQ bulk: a new HQ device pulls a province-year");
    out.param("days", days);
    out.reduced = super::reduced(&[(
        "days",
        f64::from(days),
        f64::from(super::Sizes::full().year_days),
    )]);
    out.param("stations", STATIONS.len());
    let dir = ctx.root.join("s2");
    let relay = Relay::start(&dir.join("relay"), &ctx.relay).await?;
    let wire = Wire::start(relay.addr).await?;
    let url = wire.url();
    let opts = bench_opts();

    let started = Instant::now();
    let hq = Device::enrol(&relay, &url, &dir.join("hq"), HQ, "Thiếu tá Phạm Quang Huy").await?;
    hq.import(&unit_lines())?;
    let plan_lines: Vec<String> = plan(ctx.seed).iter().map(Value::to_string).collect();
    hq.import(&plan_lines)?;
    let mut stations = Vec::new();
    let mut expected = 0usize;
    for (s, (code, name, _, _)) in STATIONS.iter().enumerate() {
        let d = Device::enrol(&relay, &url, &dir.join(code), name, "Trung úy Lê Quốc Vũ").await?;
        d.import(&unit_lines())?;
        let year: Vec<String> = (0..days)
            .flat_map(|day| station_day(ctx.seed, s, day))
            .map(|v| v.to_string())
            .collect();
        expected += year.len();
        d.import(&year)?;
        stations.push(d);
    }
    out.metric("import_secs", started.elapsed().as_secs_f64());
    let pushed = Instant::now();
    let mut order: Vec<&Device> = stations.iter().collect();
    order.push(&hq);
    settle(&order, &opts).await?;
    out.metric("push_secs", pushed.elapsed().as_secs_f64());

    // The new HQ device.
    let new_dir = dir.join("hq-new");
    let fresh = Device::enrol(&relay, &url, &new_dir, HQ, "Đại úy Nguyễn Văn Đạt").await?;
    drop(fresh);
    let relay_pid = relay.pid();
    let relay_before = relay_pid.and_then(|pid| crate::measure::proc_status_kb(Some(pid), "VmRSS"));
    let relay_cpu = crate::measure::cpu_secs(relay_pid);
    let relay_reset = reset_peak_rss(relay_pid);
    wire.record();
    let before = wire.socket();
    let wall = Instant::now();
    let got = pull(&new_dir, &ctx.relay).await?;
    let wall = wall.elapsed();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let socket = wire.socket().since(before);
    let relay_peak = relay_pid.and_then(|pid| peak_rss(Some(pid)));
    let relay_cpu = crate::measure::cpu_secs(relay_pid)
        .zip(relay_cpu)
        .map(|(a, b)| a - b);
    let exchanges = wire.exchanges(got.requests as usize).await;

    // What arrived, and the baselines of exactly those records.
    let holder = Device {
        unit: HQ.to_string(),
        dir: new_dir.clone(),
        client: std::sync::Arc::new(std::sync::Mutex::new(tidemark_client::Client::open(
            &new_dir,
        )?)),
    };
    let ids = holder.with(|c| c.store().doc_ids())?;
    let base = baselines(&holder, &ids)?;
    let station_records = expected;
    let received = holder.with(|c| -> Result<usize> {
        let mut n = 0;
        for (kind, count) in c.counts()? {
            if matches!(
                kind.as_str(),
                "patrol" | "info_exchange" | "community_activity"
            ) {
                n += count as usize;
            }
        }
        Ok(n)
    })?;
    ensure!(
        received == station_records,
        "HQ received {received} of {station_records} station records"
    );

    let total = socket.total() as f64;
    let mut t = Table::new(
        &format!(
            "{} records ({} from the stations over {days} days, plus units, the plan and its items):",
            base.records, station_records
        ),
        &[
            "socket ↑",
            "socket ↓",
            "round trips",
            "session",
            "process wall",
            "peak RSS (pull)",
            "jsonl",
            "jsonl.zst",
            "whole docs.zst",
            "socket ÷ jsonl.zst",
            "bodies ÷ jsonl.zst",
            "socket ÷ whole docs",
        ],
    );
    t.row(vec![
        human_bytes(socket.up as f64),
        human_bytes(socket.down as f64),
        got.requests.to_string(),
        format!("{:.2} s", got.session_ms as f64 / 1000.0),
        format!("{:.2} s", wall.as_secs_f64()),
        human_bytes(got.peak_rss as f64),
        human_bytes(base.jsonl as f64),
        human_bytes(base.jsonl_zst as f64),
        human_bytes(base.whole_zst as f64),
        ratio(total, base.jsonl_zst as f64),
        ratio(
            (got.bytes_up + got.bytes_down) as f64,
            base.jsonl_zst as f64,
        ),
        ratio(total, base.whole_zst as f64),
    ]);
    out.tables.push(t);
    let mut b = Table::new(
        "Where the bytes go:",
        &["request", "count", "socket ↑", "socket ↓"],
    );
    for (request, n, up, down) in by_request(&exchanges) {
        b.row(vec![
            format!("`{request}`"),
            n.to_string(),
            human_bytes(up as f64),
            human_bytes(down as f64),
        ]);
    }
    out.tables.push(b);
    out.metric("records", base.records as f64);
    out.metric("station_records", station_records as f64);
    out.metric("socket_up", socket.up as f64);
    out.metric("socket_down", socket.down as f64);
    out.metric("body_up", got.bytes_up as f64);
    out.metric("body_down", got.bytes_down as f64);
    out.metric("requests", got.requests as f64);
    out.metric("session_ms", got.session_ms as f64);
    out.metric("process_wall_ms", wall.as_secs_f64() * 1000.0);
    out.metric("open_ms", got.open_ms);
    out.metric("peak_rss", got.peak_rss as f64);
    out.metric("jsonl", base.jsonl as f64);
    out.metric("jsonl_zst", base.jsonl_zst as f64);
    out.metric("whole_zst", base.whole_zst as f64);
    if let Some(p) = relay_peak {
        out.metric("relay_peak_rss", p as f64);
    }
    if let Some(p) = relay_before {
        out.metric("relay_rss_before_pull", p as f64);
    }
    if let Some(c) = relay_cpu {
        out.metric("relay_cpu_secs", c);
    }
    out.metric("pull_cpu_secs", got.cpu_secs);
    let r = total / base.jsonl_zst.max(1) as f64;
    out.targets.push(Target::new(
        "bytes on the socket ÷ zstd JSON Lines",
        "≤ 1.0×",
        format!(
            "{r:.2}× ({} vs {})",
            human_bytes(total),
            human_bytes(base.jsonl_zst as f64)
        ),
        r <= 1.0,
    ));
    let secs = got.session_ms as f64 / 1000.0;
    out.targets.push(Target::new(
        "wall time of the pull",
        &format!("< {TARGET_SECS:.0} s"),
        format!("{secs:.2} s ({} round trips)", got.requests),
        secs < TARGET_SECS,
    ));
    out.notes.push(format!(
        "Peak RSS is the VmHWM of {} that did only the pull{}.",
        if got.own_process {
            "a child process"
        } else {
            "the whole benchmark process (relay in-process)"
        },
        match (relay_peak, relay_before) {
            (Some(p), Some(b)) if relay_reset => format!(
                "; the relay (its own process) held {} before the pull and peaked at {} during it",
                human_bytes(b as f64),
                human_bytes(p as f64)
            ),
            _ => String::new(),
        }
    ));
    if let Some(c) = relay_cpu {
        out.notes.push(format!(
            "CPU during the pull: {:.2} s in the pulling process, {c:.2} s in the relay.",
            got.cpu_secs
        ));
    }
    if days < 365 {
        out.notes.push(format!(
            "{days} days, not a year: the 8 s target is for 365 days."
        ));
    }
    relay.stop().await?;
    Ok(out)
}
