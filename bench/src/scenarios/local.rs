//! S4 local: a store of N records of the synthetic province (N = 100,000 in full: about nine
//! years), then list, filter and search p50/p95, opening the store, compacting every document
//! into a fresh snapshot, and the size on disk — beside the records as JSON Lines.

use std::io::Cursor;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use tidemark_client::Client;
use tidemark_domain::{RecordDoc, RecordKind};
use tidemark_store::{ListFilter, Store};

use super::Ctx;
use crate::measure::{files_size, human_bytes, ms, percentile, zstd3};
use crate::report::{Outcome, Table, Target};
use crate::workload::{province_lines, records_per_day, HQ};

/// Documents compacted per transaction.
const COMPACT_BATCH: usize = 1000;

/// p50, p95, max in ms, and rows of the last run.
type Timing = (f64, f64, f64, usize);

/// Runs `f` `runs` times after one warm-up run.
fn measure(runs: usize, mut f: impl FnMut() -> Result<usize>) -> Result<Timing> {
    f()?; // warm the page cache and the prepared statements
    let mut times = Vec::with_capacity(runs);
    let mut rows = 0;
    for _ in 0..runs {
        let t = Instant::now();
        rows = f()?;
        times.push(ms(t.elapsed()));
    }
    Ok((
        percentile(&times, 50.0),
        percentile(&times, 95.0),
        percentile(&times, 100.0),
        rows,
    ))
}

/// Lines of exactly `records` records (units and the plan first).
fn corpus(seed: u64, records: usize) -> Vec<String> {
    let days = (records as f64 / records_per_day()).ceil() as u32 + 1;
    let mut lines = province_lines(seed, days);
    lines.truncate(records);
    lines
}

/// S4.
pub async fn s4(ctx: &Ctx) -> Result<Outcome> {
    let records = ctx.sizes.records;
    let runs = ctx.sizes.query_runs;
    let mut out = Outcome::new(
        "S4",
        "local: list / filter / search, open, compaction, storage",
    );
    out.param("records", records);
    out.param("runs_per_query", runs);
    let full = super::Sizes::full();
    out.reduced = super::reduced(&[
        ("records", records as f64, full.records as f64),
        ("runs per query", runs as f64, full.query_runs as f64),
    ]);
    let dir = ctx.root.join("s4");
    let lines = corpus(ctx.seed, records);
    let jsonl = lines.join("\n");
    let jsonl_zst = zstd3(jsonl.as_bytes())?;

    let mut client = Client::init(&dir, HQ, "Thiếu tá Phạm Quang Huy")?;
    let t = Instant::now();
    let report = client.import_jsonl(Cursor::new(jsonl.as_bytes()), &mut |_| {})?;
    let import = t.elapsed();
    ensure!(
        report.problems.is_empty(),
        "{} import problems",
        report.problems.len()
    );
    drop(client); // the last connection checkpoints and removes the WAL
    let size_imported = files_size(&dir, tidemark_client::STORE_FILE);

    // Opening the store: median and worst of 5.
    let mut opens = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let c = Client::open(&dir)?;
        opens.push(ms(t.elapsed()));
        drop(c);
    }
    let client = Client::open(&dir)?;
    let store = client.store();
    let list = |f: ListFilter| move || -> Result<usize> { Ok(store.list(&f)?.0.len()) };
    let search =
        |q: &'static str| move || -> Result<usize> { Ok(store.search(q, None, 50)?.len()) };
    let cases: Vec<(&str, Timing)> = vec![
        (
            "baseline: one record by id",
            measure(runs, || {
                Ok(store.record_json("patrol:KP:20250315:02")?.map_or(0, |_| 1))
            })?,
        ),
        (
            "list newest 100",
            measure(
                runs,
                list(ListFilter {
                    limit: 100,
                    ..ListFilter::default()
                }),
            )?,
        ),
        (
            "list patrols of one station",
            measure(
                runs,
                list(ListFilter {
                    kind: Some(RecordKind::Patrol),
                    unit: Some("Đồn Biên phòng Kiểng Phước".into()),
                    limit: 100,
                    ..ListFilter::default()
                }),
            )?,
        ),
        (
            "list one month, all kinds",
            measure(
                runs,
                list(ListFilter {
                    from: Some("2025-03-01".into()),
                    to: Some("2025-03-31".into()),
                    limit: 100,
                    ..ListFilter::default()
                }),
            )?,
        ),
        (
            "filter station + kind + month",
            measure(
                runs,
                list(ListFilter {
                    kind: Some(RecordKind::Patrol),
                    unit: Some("Đồn Biên phòng Vàm Láng".into()),
                    from: Some("2025-06-01".into()),
                    to: Some("2025-06-30".into()),
                    limit: 100,
                    ..ListFilter::default()
                }),
            )?,
        ),
        (
            "search \"kieng phuoc\"",
            measure(runs, search("kieng phuoc"))?,
        ),
        (
            "search \"dat\" (common prefix)",
            measure(runs, search("dat"))?,
        ),
        (
            "search \"luoi cao dien\"",
            measure(runs, search("luoi cao dien"))?,
        ),
        (
            "search \"ngheu giong\"",
            measure(runs, search("ngheu giong"))?,
        ),
        (
            "search rare \"khong co tu nay\"",
            measure(runs, search("khong co tu nay"))?,
        ),
    ];
    let actor = client.identity().actor.clone();
    drop(client);

    // Compaction: every document rewritten as one snapshot, in batches.
    let path = dir.join(tidemark_client::STORE_FILE);
    let t = Instant::now();
    let compacted = compact_all(&path, &actor)?;
    let compaction = t.elapsed();
    let size_compacted = files_size(&dir, tidemark_client::STORE_FILE);

    let mut q = Table::new(
        &format!("{records} records (patrols with 100–300 GPS points, exchanges, activities, the plan), {runs} runs per query:"),
        &["query", "p50", "p95", "max", "rows", "p95 ≤ 20 ms"],
    );
    let mut worst = 0.0f64;
    for (name, (p50, p95, max, rows)) in &cases {
        if !name.starts_with("baseline") {
            worst = worst.max(*p95);
        }
        q.row(vec![
            name.to_string(),
            format!("{p50:.2} ms"),
            format!("{p95:.2} ms"),
            format!("{max:.2} ms"),
            rows.to_string(),
            crate::report::mark(*p95 <= 20.0).to_string(),
        ]);
    }
    out.tables.push(q);
    let mut s = Table::new(
        "Store:",
        &[
            "import",
            "open (median / worst of 5)",
            "compaction",
            "size after import",
            "size after compaction",
            "jsonl",
            "jsonl.zst",
            "store ÷ jsonl",
        ],
    );
    let open_median = percentile(&opens, 50.0);
    let open_worst = percentile(&opens, 100.0);
    s.row(vec![
        format!(
            "{:.1} s ({:.0} records/s)",
            import.as_secs_f64(),
            records as f64 / import.as_secs_f64().max(1e-9)
        ),
        format!("{open_median:.1} / {open_worst:.1} ms"),
        format!(
            "{:.1} s ({compacted} documents, {:.2} ms each)",
            compaction.as_secs_f64(),
            ms(compaction) / compacted.max(1) as f64
        ),
        human_bytes(size_imported as f64),
        human_bytes(size_compacted as f64),
        human_bytes(jsonl.len() as f64),
        human_bytes(jsonl_zst as f64),
        format!("{:.2}×", size_compacted as f64 / jsonl.len().max(1) as f64),
    ]);
    out.tables.push(s);
    for (name, (p50, p95, _, _)) in &cases {
        let key = name
            .split(':')
            .next()
            .unwrap_or(name)
            .replace(['"', ' '], "_");
        out.metric(&format!("{key}.p50_ms"), *p50);
        out.metric(&format!("{key}.p95_ms"), *p95);
    }
    out.metric("worst_p95_ms", worst);
    out.metric("import_secs", import.as_secs_f64());
    out.metric("open_median_ms", open_median);
    out.metric("open_worst_ms", open_worst);
    out.metric("compaction_secs", compaction.as_secs_f64());
    out.metric("size_imported", size_imported as f64);
    out.metric("size_compacted", size_compacted as f64);
    out.metric("jsonl", jsonl.len() as f64);
    out.metric("jsonl_zst", jsonl_zst as f64);
    out.targets.push(Target::new(
        "worst p95 of list / filter / search",
        "< 20 ms",
        format!("{worst:.2} ms"),
        worst < 20.0,
    ));
    out.notes.push(
        "Compaction rewrites every document as one fresh snapshot (what the store does after 64 \
         chunks), 1,000 documents per transaction. Sizes are the database file after the last \
         connection closed (WAL checkpointed)."
            .into(),
    );
    Ok(out)
}

/// Rewrites every document in the store at `path` as one snapshot; returns how many.
fn compact_all(path: &std::path::Path, actor: &automerge::ActorId) -> Result<usize> {
    let mut store = Store::open(path)?;
    let ids = store.doc_ids()?;
    let now = tidemark_client::now_secs();
    for chunk in ids.chunks(COMPACT_BATCH) {
        let tx = store.begin()?;
        for id in chunk {
            let Some(bytes) = tx.load_doc(id)? else {
                continue;
            };
            let mut doc = RecordDoc::load(&bytes, actor)?;
            tx.compact(id, &doc.save(), now)?;
        }
        tx.commit()?;
    }
    drop(store);
    // Let the file settle before it is measured.
    std::thread::sleep(Duration::from_millis(10));
    Ok(ids.len())
}
