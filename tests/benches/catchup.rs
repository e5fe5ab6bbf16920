//! Catch-up after a day offline, on top of a month of history (six stations, HQ, two
//! committees): one station pushes its day; HQ, offline the same day, pulls five stations'
//! days. Printed beside two baselines measured in the same run on the same records:
//! the day's records as zstd-compressed JSON Lines, and each changed document sent whole
//! (an Automerge save, zstd-compressed).
//!
//! `TIDEMARK_BENCH_DAYS` (default 30) sets the history; `TIDEMARK_BENCH_PER_DAY` (default 6)
//! the patrols per station per day.

use std::time::Instant;

use anyhow::Result;
use tidemark_client::sync::SyncReport;
use tidemark_domain::interchange::to_line;
use tidemark_province::story::{self, record_patrols};
use tidemark_province::{Province, ALL_STATIONS};
use tidemark_testkit::Rng;

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Baselines for a set of records held by `key`: compressed JSON Lines, and whole documents.
fn baselines(p: &Province, key: &str, ids: &[String]) -> Result<(usize, usize)> {
    p.dev(key).with(|c| -> Result<(usize, usize)> {
        let mut jsonl = String::new();
        let mut whole = 0usize;
        for id in ids {
            let view = c.show(id)?;
            jsonl.push_str(&to_line(&view.record));
            jsonl.push('\n');
            whole += zstd::bulk::compress(&c.document_bytes(id)?, 3)?.len();
        }
        Ok((zstd::bulk::compress(jsonl.as_bytes(), 3)?.len(), whole))
    })
}

fn row(what: &str, r: &SyncReport, records: usize, jsonl: usize, whole: usize) {
    let wire = r.wire.bytes_up + r.wire.bytes_down;
    println!(
        "{what:<34} {records:>7} {:>10} {:>10} {:>6} {:>8.1} {:>12} {:>12} {:>8.2}x {:>8.2}x",
        r.wire.bytes_up,
        r.wire.bytes_down,
        r.wire.requests,
        r.millis as f64,
        jsonl,
        whole,
        wire as f64 / jsonl.max(1) as f64,
        wire as f64 / whole.max(1) as f64,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let days = env("TIDEMARK_BENCH_DAYS", 30);
    let per_day = env("TIDEMARK_BENCH_PER_DAY", 6);
    let dir = tempfile::tempdir()?;
    let p = Province::start_with_stations(dir.path(), 6).await?;
    let keys: Vec<&str> = p.devices.iter().map(|d| d.key).collect();
    p.dev("hq").with(|c| -> Result<()> {
        story::import_lines(c, &story::unit_lines())?;
        story::import_lines(c, &story::plan_lines())?;
        Ok(())
    })?;

    // A month of history, synced day by day.
    let started = Instant::now();
    let mut rng = Rng::new(31);
    for day in 0..days {
        for (i, (key, _)) in ALL_STATIONS.iter().enumerate() {
            p.dev(key)
                .with(|c| record_patrols(c, &mut rng, i, day, per_day))?;
        }
        if day % 5 == 4 || day + 1 == days {
            p.settle(&keys).await?;
        }
    }
    let history = p.dev("hq").with(|c| c.store().doc_ids())?.len();
    println!(
        "history: {days} days × 6 stations × {per_day} patrols; HQ holds {history} records (built in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // The day offline: Tân Thành and HQ have no signal; the other five stations sync as usual.
    let day = days;
    let pushed = p
        .dev("tt")
        .with(|c| record_patrols(c, &mut rng, 0, day, per_day))?;
    let mut pulled = Vec::new();
    for (i, (key, _)) in ALL_STATIONS.iter().enumerate().skip(1) {
        pulled.extend(
            p.dev(key)
                .with(|c| record_patrols(c, &mut rng, i, day, per_day))?,
        );
        p.sync(key).await?;
    }

    println!(
        "\n{:<34} {:>7} {:>10} {:>10} {:>6} {:>8} {:>12} {:>12} {:>9} {:>9}",
        "catch-up",
        "records",
        "bytes ↑",
        "bytes ↓",
        "trips",
        "ms",
        "jsonl.zst",
        "whole docs",
        "vs jsonl",
        "vs whole"
    );
    let push = p.sync("tt").await?;
    let (push_jsonl, push_whole) = baselines(&p, "tt", &pushed)?;
    row(
        "one station pushes its day",
        &push,
        pushed.len(),
        push_jsonl,
        push_whole,
    );
    let pull = p.sync("hq").await?;
    let (pull_jsonl, pull_whole) = baselines(&p, "hq", &pulled)?;
    row(
        "HQ pulls five stations' day",
        &pull,
        pulled.len(),
        pull_jsonl,
        pull_whole,
    );
    let missing = pulled
        .iter()
        .filter(|id| p.dev("hq").with(|c| c.show(id)).is_err())
        .count();
    anyhow::ensure!(missing == 0, "{missing} records did not reach HQ");
    println!(
        "\nbytes on the wire ÷ compressed JSON Lines of the same records (lower is better); \
         trips = HTTP round trips including the feed and receipts"
    );
    p.stop().await?;
    Ok(())
}
