//! `tidemark report` end to end through the binary: every format from one seeded store, the
//! figures traceable with `--details`, the HTML page rendered to PNG and to an A4 PDF by headless
//! Chromium (kept under `target/tmp/report/` to look at), and clear refusals that write nothing.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ok, tm};

/// A store holding the province's units and 40 days of its records.
fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(
        dir.path(),
        &["init", "--unit", "Bộ Chỉ huy BĐBP tỉnh Tiền Giang"],
    );
    let lines = tidemark_testkit::province_lines(11, 40, 2);
    let file = dir.path().join("province.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write fixture");
    ok(dir.path(), &["import", file.to_str().expect("utf8")]);
    dir
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

const PERIOD: [&str; 4] = ["--from", "2025-01-01", "--to", "2025-02-09"];

fn report(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["report"];
    args.extend(PERIOD);
    args.extend(extra);
    ok(dir, &args)
}

#[test]
fn markdown_and_csv_carry_the_same_figures_in_either_language() {
    let dir = store();
    let md = report(dir.path(), &["--as-of", "2025-02-09"]);
    assert!(md.starts_with("# Báo cáo sơ kết công tác phối hợp"), "{md}");
    assert!(
        md.contains("| Đồn Biên phòng Tân Thành | 80 |"),
        "40 days × 2 patrols:\n{md}"
    );
    assert!(md.contains("| **Tổng cộng** | **480** |"), "{md}");
    let en = ok(
        dir.path(),
        &[
            "--lang", "en", "report", PERIOD[0], PERIOD[1], PERIOD[2], PERIOD[3],
        ],
    );
    assert!(
        en.contains("## Patrols by unit") && en.contains("| **Total** | **480** |"),
        "{en}"
    );

    let csv = report(dir.path(), &["--format", "csv"]);
    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("csv row")).collect();
    let tt = records
        .iter()
        .find(|r| &r[0] == "Đồn Biên phòng Tân Thành" && r.len() == 9)
        .expect("Tân Thành's patrol row");
    assert_eq!(&tt[1], "80");
    // Fines are plain numbers, so spreadsheets sum them.
    assert!(tt[8].chars().all(|c| c.is_ascii_digit()), "{:?}", &tt[8]);
}

#[test]
fn details_list_the_records_behind_every_figure() {
    let dir = store();
    let md = report(dir.path(), &["--unit", "TT", "--details"]);
    let line = md
        .lines()
        .find(|l| l.starts_with("- Đồn Biên phòng Tân Thành — Số chuyến tuần tra (80):"))
        .expect("the sources of Tân Thành's patrol count");
    assert_eq!(line.matches("patrol:TT:").count(), 80, "{line}");
    assert!(md.contains("## Các bản ghi được tính"));
    assert!(!md.contains("patrol:KP:"), "only the unit asked for");

    let csv = report(
        dir.path(),
        &["--unit", "TT", "--format", "csv", "--details"],
    );
    let sources = csv
        .lines()
        .filter(|l| l.contains(",Số chuyến tuần tra,80,patrol:TT:"))
        .count();
    assert_eq!(
        sources,
        80 * 2,
        "the unit's row and the total row, one line per record"
    );
}

fn unzip(path: &Path, name: &str) -> String {
    let file = std::fs::File::open(path).expect("open xlsx");
    let mut zip = zip::ZipArchive::new(file).expect("an xlsx is a zip");
    let mut out = String::new();
    zip.by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read_to_string(&mut out)
        .expect("read part");
    out
}

#[test]
fn xlsx_has_one_sheet_per_table_with_numbers_and_formats() {
    let dir = store();
    let out = artifacts().join("report.xlsx");
    let _ = std::fs::remove_file(&out);
    let mut args = vec!["report"];
    args.extend(PERIOD);
    args.extend([
        "--format",
        "xlsx",
        "--details",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    ok(dir.path(), &args);
    let workbook = unzip(&out, "xl/workbook.xml");
    for sheet in [
        "Tuần tra",
        "Tuần tra theo tháng",
        "Theo tháng",
        "Vi phạm",
        "Trao đổi thông tin",
        "Dân vận theo loại",
        "Dân vận theo đơn vị",
        "Nhiệm vụ kế hoạch",
        "Nguồn số liệu",
    ] {
        assert!(
            workbook.contains(&format!("name=\"{sheet}\"")),
            "{sheet} in {workbook}"
        );
    }
    let styles = unzip(&out, "xl/styles.xml");
    assert!(styles.contains("#,##0.0"), "hours keep one decimal");
    let patrols = unzip(&out, "xl/worksheets/sheet1.xml");
    assert!(patrols.contains("<v>480</v>"), "the total is a number cell");
    assert!(!out.with_extension("partial").exists());

    let refused = tm(
        dir.path(),
        &[
            "report", PERIOD[0], PERIOD[1], PERIOD[2], PERIOD[3], "--format", "xlsx",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--out"));
}

fn chromium(args: &[&str]) {
    let profile = tempfile::tempdir().expect("profile dir");
    let status = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("run chromium (scripts/setup.sh installs it)");
    assert!(
        status.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Standard deviation of the image's pixels (0 for a blank page), by ImageMagick.
fn spread(png: &Path) -> f64 {
    let out = Command::new("identify")
        .args(["-format", "%[fx:standard_deviation]"])
        .arg(png)
        .output()
        .expect("run identify (imagemagick)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn the_html_page_renders_with_charts_and_prints_on_a4() {
    let dir = store();
    let shots = artifacts();
    for (lang, title) in [
        ("vi", "Báo cáo sơ kết công tác phối hợp"),
        ("en", "Coordination review report"),
    ] {
        let html = shots.join(format!("report-{lang}.html"));
        let mut args = vec!["--lang", lang, "report"];
        args.extend(PERIOD);
        args.extend([
            "--format",
            "html",
            "--details",
            "--out",
            html.to_str().expect("utf8"),
        ]);
        ok(dir.path(), &args);
        let page = std::fs::read_to_string(&html).expect("page");
        assert!(page.contains(&format!("<html lang=\"{lang}\">")));
        assert!(page.contains(title));
        assert_eq!(page.matches("<svg").count(), 2, "two charts");
        assert!(
            page.contains("<details id=\"src-0-0-0\">"),
            "figures expand to records"
        );
        assert!(page.contains("@page { size: A4"));
        assert!(
            !page.contains("src=") && !page.contains("<link"),
            "self-contained: nothing fetched from elsewhere"
        );

        let png = shots.join(format!("report-{lang}.png"));
        let _ = std::fs::remove_file(&png);
        let url = format!("file://{}", html.display());
        chromium(&[
            "--window-size=1100,1600",
            &format!("--screenshot={}", png.display()),
            &url,
        ]);
        let size = std::fs::metadata(&png).expect("png written").len();
        assert!(
            size > 20_000,
            "a page with charts and tables, not an empty one ({size} bytes)"
        );
        assert!(spread(&png) > 0.05, "the screenshot is not blank");

        let pdf = shots.join(format!("report-{lang}.pdf"));
        let _ = std::fs::remove_file(&pdf);
        chromium(&[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
            &url,
        ]);
        let bytes = std::fs::read(&pdf).expect("pdf written");
        assert!(bytes.starts_with(b"%PDF"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("/MediaBox [0 0 595") || text.contains("/MediaBox [0 0 594"),
            "A4 pages (595 × 842 points)"
        );
    }
}

#[test]
fn bad_requests_are_refused_clearly_and_write_nothing() {
    let dir = store();
    let out = dir.path().join("never.html");
    let o = out.to_str().expect("utf8");
    for (args, says) in [
        (
            vec![
                "report",
                "--from",
                "2025-13-01",
                "--to",
                "2025-12-31",
                "--out",
                o,
            ],
            "ngày không hợp lệ",
        ),
        (
            vec![
                "report",
                "--from",
                "2025-03-01",
                "--to",
                "2025-02-01",
                "--out",
                o,
            ],
            "kết thúc trước khi bắt đầu",
        ),
        (
            vec![
                "report",
                "--from",
                "2025-01-01",
                "--to",
                "2025-12-31",
                "--unit",
                "XYZ",
                "--out",
                o,
            ],
            "không có đơn vị nào",
        ),
    ] {
        let r = tm(dir.path(), &args);
        assert_eq!(r.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!out.exists(), "nothing written for {args:?}");
    }
}
