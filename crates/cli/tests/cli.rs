//! The `tidemark` binary end to end: commands, `--json` output, exit codes 0/1/2, languages.

use std::process::Command;

mod common;
use common::{demo_store, json, ok, tm};

fn ready() -> tempfile::TempDir {
    demo_store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "Thiếu tá Phạm Quang Huy")
}

#[test]
fn every_read_command_speaks_json() {
    let d = ready();
    let p = d.path();
    let list = json(p, &["list", "--type", "patrol", "--json"]);
    assert_eq!(list["total"], 3);
    assert_eq!(list["records"].as_array().map(Vec::len), Some(3));
    let show = json(p, &["show", "patrol:TT:20250101:01", "--json"]);
    assert_eq!(show["record"]["station"], "Đồn Biên phòng Tân Thành");
    assert_eq!(show["track_points"], 3);
    let hits = json(p, &["search", "kieng phuoc", "--json"]);
    assert!(hits
        .as_array()
        .is_some_and(|h| h.iter().any(|x| x["id"] == "patrol:KP:20250102:01")));
    let history = json(p, &["history", "plan:item:001", "--json"]);
    assert_eq!(history[0]["author"]["user"], "Thiếu tá Phạm Quang Huy");
    assert_eq!(json(p, &["conflicts", "--json"]), serde_json::json!([]));
    let info = json(p, &["info", "--json"]);
    assert_eq!(info["records"]["patrol"], 3);
}

#[test]
fn a_unit_record_begins_with_the_change_every_device_of_the_unit_makes() {
    let d = ready();
    let id = "unit:bo-chi-huy-bdbp-tinh-tien-giang";
    let text = ok(d.path(), &["history", id]);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.starts_with("tạo từ tên đơn vị, như nhau trên mọi máy")),
        "{text}"
    );
    let first = &json(d.path(), &["history", id, "--json"])[0];
    assert_eq!(first["author"]["op"], "genesis");
    assert_eq!(first["author"]["user"], "");
    // Another device of the same unit, another officer: the same first change.
    let other = demo_store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "Đại úy Trần Minh Tâm");
    let theirs = &json(other.path(), &["history", id, "--json"])[0];
    assert_eq!(first["change"], theirs["change"]);
}

#[test]
fn edits_show_in_history_and_the_splice_lands_at_a_character_position() {
    let d = ready();
    let p = d.path();
    assert!(ok(p, &["edit", "plan:item:002", "status", "in_progress"]).contains("đã lưu trên máy"));
    ok(
        p,
        &["splice", "plan:item:002", "content", "0", "2", "Tổ chức mở"],
    );
    let show = json(p, &["show", "plan:item:002", "--json"]);
    assert_eq!(show["record"]["status"], "in_progress");
    assert!(show["record"]["content"]
        .as_str()
        .is_some_and(|c| c.starts_with("Tổ chức mở 12 buổi")));
    let history = json(p, &["history", "plan:item:002", "--json"]);
    let last = &history[2]["fields"][0];
    assert_eq!(last["field"], "content");
    assert_eq!(history[1]["fields"][0]["old"], "new");
    assert_eq!(history[1]["fields"][0]["new"], "in_progress");
    // Every entry made here is signed with this device's key and says so.
    assert!(history
        .as_array()
        .is_some_and(|h| h.iter().all(|e| e["signature"] == "verified")));
    let text = ok(p, &["history", "plan:item:002"]);
    assert_eq!(text.matches("✓ đã xác minh").count(), 3, "{text}");
}

#[test]
fn user_errors_exit_1_with_a_message_that_says_how_to_fix() {
    let d = ready();
    let p = d.path();
    let cases: &[(&[&str], &str)] = &[
        (&["show", "patrol:khong-co"], "patrol:khong-co"),
        (
            &[
                "edit",
                "patrol:TT:20250101:01",
                "end",
                "2020-01-01T00:00:00+07:00",
            ],
            "phải sau",
        ),
        (
            &["edit", "patrol:TT:20250101:01", "mau_son", "xanh"],
            "unknown field",
        ),
        (
            &["splice", "patrol:TT:20250101:01", "notes", "999", "0", "x"],
            "outside the text",
        ),
        (&["list", "--from", "01/01/2025"], "YYYY-MM-DD"),
        (&["list", "--type", "tau"], "patrol"),
        (
            &["resolve", "patrol:TT:20250101:01", "vessel", "x"],
            "no conflict",
        ),
        (
            &["init", "--unit", "Đồn Biên phòng Vàm Láng"],
            "already holds a store",
        ),
        (
            &[
                "track",
                "import",
                "patrol:TT:20250101:01",
                "/khong/co/file.gpx",
            ],
            "/khong/co/file.gpx",
        ),
    ];
    for (args, needle) in cases {
        let out = tm(p, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A store that was never initialised tells how to create one.
    let empty = tempfile::tempdir().expect("tempdir");
    let out = tm(empty.path(), &["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tidemark init --unit"));
}

#[test]
fn a_damaged_store_is_an_internal_error_exit_2() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("tidemark.db"), vec![7u8; 4096]).expect("junk");
    let out = tm(d.path(), &["list"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn import_with_bad_lines_exits_1_after_importing_the_good_ones() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path();
    ok(p, &["init", "--unit", "Đồn Biên phòng Tân Thành"]);
    let file = p.join("in.jsonl");
    std::fs::write(
        &file,
        "{\"type\":\"patrol\",\"id\":\"p:1\",\"station\":\"Đồn Biên phòng Tân Thành\",\"start\":\"2025-01-01T06:00:00+07:00\"}\n{oops\n",
    )
    .expect("write");
    let out = tm(p, &["import", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dòng 2"));
    assert_eq!(json(p, &["list", "--type", "patrol", "--json"])["total"], 1);
}

#[test]
fn english_messages_on_request() {
    let d = ready();
    let out = Command::new(env!("CARGO_BIN_EXE_tidemark"))
        .env("TIDEMARK_PASSPHRASE", common::PASSPHRASE)
        .args([
            "--data-dir",
            d.path().to_str().expect("path"),
            "edit",
            "patrol:TT:20250101:01",
            "start",
            "sáng nay",
        ])
        .env("TIDEMARK_LANG", "en")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be an ISO-8601 time"));
}

#[test]
fn export_to_a_file_round_trips_through_import_and_csv_opens() {
    let d = ready();
    let out_file = d.path().join("all.jsonl");
    ok(
        d.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--out",
            out_file.to_str().expect("path"),
        ],
    );
    let fresh = tempfile::tempdir().expect("tempdir");
    ok(fresh.path(), &["init", "--unit", "Đồn Biên phòng Vàm Láng"]);
    ok(fresh.path(), &["import", out_file.to_str().expect("path")]);
    assert_eq!(
        json(fresh.path(), &["list", "--limit", "0", "--json"])["total"],
        json(d.path(), &["list", "--limit", "0", "--json"])["total"]
    );
    let csv = ok(
        d.path(),
        &["export", "--format", "csv", "--type", "community_activity"],
    );
    assert!(csv
        .lines()
        .next()
        .is_some_and(|h| h.starts_with("id,station,date,kind")));
    assert!(csv.contains("Khám chữa bệnh"));
}

#[test]
fn documents_move_between_stores_and_conflicts_show_both_authors() {
    let hq = ready();
    let station = tempfile::tempdir().expect("tempdir");
    ok(
        station.path(),
        &[
            "init",
            "--unit",
            "Đồn Biên phòng Tân Thành",
            "--user",
            "Trung úy Lê Quốc Vũ",
        ],
    );
    let file = hq.path().join("doc.bin");
    let f = file.to_str().expect("path");
    let id = "patrol:TT:20250101:01";
    ok(hq.path(), &["doc", "save", id, "--out", f]);
    assert!(ok(station.path(), &["doc", "merge", id, f]).contains("đã hợp nhất"));
    ok(
        hq.path(),
        &["edit", id, "commander", "Đại úy Hoàng Công Long"],
    );
    ok(
        station.path(),
        &["edit", id, "commander", "Thượng úy Phan Văn Đạt"],
    );
    ok(station.path(), &["doc", "save", id, "--out", f]);
    ok(hq.path(), &["doc", "merge", id, f]);
    let conflicts = json(hq.path(), &["conflicts", "--json"]);
    let values = &conflicts[0]["conflicts"][0]["values"];
    let mut users: Vec<&str> = values
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x["author"]["user"].as_str())
                .collect()
        })
        .unwrap_or_default();
    users.sort();
    assert_eq!(
        users,
        vec!["Thiếu tá Phạm Quang Huy", "Trung úy Lê Quốc Vũ"]
    );
    assert!(ok(hq.path(), &["conflicts"]).contains("commander"));
}
