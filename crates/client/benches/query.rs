//! Benchmark: list, filter and search over a store of 100,000 records (set
//! `TIDEMARK_BENCH_RECORDS` to change the size). Prints p50/p95/max per query and each query's
//! p95 as a multiple of a baseline measured in the same run (a lookup of one record by id), so
//! the numbers stay comparable on a shared, noisy machine. Target: p95 under 20 ms.

use std::io::Cursor;
use std::time::{Duration, Instant};

use tidemark_client::Client;
use tidemark_domain::RecordKind;
use tidemark_store::ListFilter;

const RUNS: usize = 200;

struct Stats {
    p50: Duration,
    p95: Duration,
    max: Duration,
    rows: usize,
}

fn measure(mut f: impl FnMut() -> usize) -> Stats {
    let mut times = Vec::with_capacity(RUNS);
    let mut rows = 0;
    f(); // warm the page cache and prepared statements
    for _ in 0..RUNS {
        let t = Instant::now();
        rows = f();
        times.push(t.elapsed());
    }
    times.sort();
    Stats {
        p50: times[RUNS / 2],
        p95: times[RUNS * 95 / 100],
        max: times[RUNS - 1],
        rows,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let records: usize = std::env::var("TIDEMARK_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client =
        Client::init(dir.path(), "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "bench").expect("init");
    let corpus = tidemark_testkit::corpus(42, records).join("\n");

    let t = Instant::now();
    let report = client
        .import_jsonl(Cursor::new(corpus.into_bytes()), &mut |_| {})
        .expect("import");
    let import = t.elapsed();
    assert!(
        report.problems.is_empty(),
        "{:?}",
        &report.problems[..report.problems.len().min(3)]
    );
    let db_size = std::fs::metadata(dir.path().join(tidemark_client::STORE_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "import: {} records in {:.1} s ({:.0} records/s), store {:.1} MB",
        report.created,
        import.as_secs_f64(),
        report.created as f64 / import.as_secs_f64(),
        db_size as f64 / 1e6
    );

    let store = client.store();
    let list = |f: ListFilter| move || store.list(&f).expect("list").0.len();
    let search = |q: &'static str| move || store.search(q, None, 50).expect("search").len();
    let baseline = measure(|| {
        store
            .record_json("patrol:KP:20250315:02")
            .expect("get")
            .map_or(0, |_| 1)
    });
    let cases: Vec<(&str, Stats)> = vec![
        (
            "list newest 100",
            measure(list(ListFilter {
                limit: 100,
                ..ListFilter::default()
            })),
        ),
        (
            "list patrols of one station",
            measure(list(ListFilter {
                kind: Some(RecordKind::Patrol),
                unit: Some("Đồn Biên phòng Kiểng Phước".into()),
                limit: 100,
                ..ListFilter::default()
            })),
        ),
        (
            "list one month, all kinds",
            measure(list(ListFilter {
                from: Some("2025-03-01".into()),
                to: Some("2025-03-31".into()),
                limit: 100,
                ..ListFilter::default()
            })),
        ),
        (
            "list station + kind + month",
            measure(list(ListFilter {
                kind: Some(RecordKind::Patrol),
                unit: Some("Đồn Biên phòng Vàm Láng".into()),
                from: Some("2025-06-01".into()),
                to: Some("2025-06-30".into()),
                limit: 100,
                ..ListFilter::default()
            })),
        ),
        ("search \"kieng phuoc\"", measure(search("kieng phuoc"))),
        ("search \"dat\" (common prefix)", measure(search("dat"))),
        ("search \"luoi cao dien\"", measure(search("luoi cao dien"))),
        (
            "search registration \"TG-90512\"",
            measure(search("TG-90512")),
        ),
        (
            "search rare \"khong co tu nay\"",
            measure(search("khong co tu nay")),
        ),
    ];

    println!("\n{records} records, {RUNS} runs each");
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>6} {:>12}",
        "query", "p50 ms", "p95 ms", "max ms", "rows", "p95/baseline"
    );
    println!(
        "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>6} {:>12}",
        "baseline: get one record by id",
        ms(baseline.p50),
        ms(baseline.p95),
        ms(baseline.max),
        baseline.rows,
        "1.0"
    );
    let mut worst = Duration::ZERO;
    for (name, s) in &cases {
        worst = worst.max(s.p95);
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>6} {:>12.1}",
            name,
            ms(s.p50),
            ms(s.p95),
            ms(s.max),
            s.rows,
            s.p95.as_secs_f64() / baseline.p95.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "\nworst p95: {:.2} ms (target < 20 ms): {}",
        ms(worst),
        if worst < Duration::from_millis(20) {
            "met"
        } else {
            "NOT MET"
        }
    );
}
