//! Benchmark: the review-meeting report over a province-year — 6 stations × 365 days × 4
//! patrols (8,760 patrols) with their exchanges, activities and 50 plan items — computed, then
//! written in every format. Prints wall time (median of runs) and peak memory, each beside a
//! baseline measured in the same run: reading and parsing the same records from the store,
//! which any report must do at least once. Set `TIDEMARK_BENCH_DAYS` for a shorter year.

use std::io::Cursor;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tidemark_client::report::{render, RenderOptions, ReportFormat};
use tidemark_client::Client;
use tidemark_domain::report::ReportParams;
use tidemark_domain::{Lang, Record};

const RUNS: usize = 7;

fn median(mut f: impl FnMut()) -> Duration {
    f(); // warm the page cache
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// Peak resident set size of this process in MB, from /proc/self/status.
fn peak_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn year() -> ReportParams {
    ReportParams {
        from: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
        to: NaiveDate::from_ymd_opt(2025, 12, 31).expect("date"),
        as_of: NaiveDate::from_ymd_opt(2025, 12, 31).expect("date"),
        units: Vec::new(),
    }
}

/// In a fresh process (so that nothing else has grown the heap): open the store in `dir`, do
/// `step`, print the peak RSS.
fn child(step: &str, dir: &str) {
    let client = Client::open(std::path::Path::new(dir)).expect("open");
    match step {
        "read" => client
            .store()
            .for_each_report_json("2025-01-01", "2025-12-31", |json| {
                let _: Record = serde_json::from_str(json).expect("record");
                Ok::<(), tidemark_store::StoreError>(())
            })
            .expect("read"),
        "report" => {
            client.report(&year()).expect("report");
        }
        _ => {
            let report = client.report(&year()).expect("report");
            let options = RenderOptions {
                lang: Lang::Vi,
                details: true,
            };
            render(&report, ReportFormat::Html, options).expect("render");
        }
    }
    println!("{}", peak_rss());
}

/// Peak RSS in MB of a fresh process doing `step` on the store in `dir`.
fn peak_of(step: &str, dir: &std::path::Path) -> f64 {
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env("TIDEMARK_BENCH_CHILD", format!("{step}:{}", dir.display()))
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("peak")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if let Ok(task) = std::env::var("TIDEMARK_BENCH_CHILD") {
        let (step, dir) = task.split_once(':').expect("step:dir");
        return child(step, dir);
    }
    let days: u32 = std::env::var("TIDEMARK_BENCH_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(365);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut client =
        Client::init(dir.path(), "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "bench").expect("init");
    let lines = tidemark_testkit::province_lines(42, days, 4);
    let t = Instant::now();
    let imported = client
        .import_jsonl(Cursor::new(lines.join("\n").into_bytes()), &mut |_| {})
        .expect("import");
    assert!(
        imported.problems.is_empty(),
        "{:?}",
        imported.problems.first()
    );
    println!(
        "province-year: {} records imported in {:.1} s",
        imported.created,
        t.elapsed().as_secs_f64()
    );

    let params = year();
    let store = client.store();
    let mut read = 0usize;
    let baseline = median(|| {
        read = 0;
        store
            .for_each_report_json("2025-01-01", "2025-12-31", |json| {
                let _: Record = serde_json::from_str(json).expect("record");
                read += 1;
                Ok::<(), tidemark_store::StoreError>(())
            })
            .expect("read");
    });
    let report = client.report(&params).expect("report");
    let compute = median(|| {
        client.report(&params).expect("report");
    });
    let patrols = report
        .table("patrols")
        .and_then(|t| t.cell("total", "patrols"))
        .map_or(0.0, |c| c.value);

    println!(
        "\nreport over {read} records ({patrols} patrols, {} sources), median of {RUNS} runs",
        report.sources.len()
    );
    println!(
        "{:<32} {:>10} {:>10} {:>12}",
        "step", "ms", "bytes", "× baseline"
    );
    println!(
        "{:<32} {:>10.1} {:>10} {:>12}",
        "baseline: read + parse records",
        ms(baseline),
        "",
        "1.00"
    );
    println!(
        "{:<32} {:>10.1} {:>10} {:>12.2}",
        "report (read + compute)",
        ms(compute),
        "",
        compute.as_secs_f64() / baseline.as_secs_f64()
    );
    for (name, format, details) in [
        ("md", ReportFormat::Md, false),
        ("csv", ReportFormat::Csv, false),
        ("xlsx", ReportFormat::Xlsx, false),
        ("html", ReportFormat::Html, false),
        ("html --details", ReportFormat::Html, true),
        ("xlsx --details", ReportFormat::Xlsx, true),
    ] {
        let options = RenderOptions {
            lang: Lang::Vi,
            details,
        };
        let mut size = 0;
        let took = median(|| {
            size = render(&report, format, options).expect("render").len();
        });
        println!(
            "{:<32} {:>10.1} {:>10} {:>12.2}",
            format!("write {name}"),
            ms(took),
            size,
            took.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    let read_peak = peak_of("read", dir.path());
    let report_peak = peak_of("report", dir.path());
    let html_peak = peak_of("html", dir.path());
    println!("\npeak memory, each in a fresh process");
    println!("{:<32} {:>10} {:>12}", "step", "MB", "× baseline");
    for (name, mb) in [
        ("baseline: read + parse records", read_peak),
        ("report (read + compute)", report_peak),
        ("report + html --details", html_peak),
    ] {
        println!("{name:<32} {mb:>10.1} {:>12.2}", mb / read_peak);
    }
}
