//! `tidemark attach`, `attachment list` and `attachment get`, as a user runs them.

mod common;
use common::{demo_store, json, ok, tm};

const PATROL: &str = "patrol:KP:20250102:01";

fn ready() -> tempfile::TempDir {
    demo_store("Đồn Biên phòng Kiểng Phước", "Đại úy Trần Minh Đức")
}

#[test]
fn attach_list_and_get_round_trip_a_file_by_name() {
    let d = ready();
    let p = d.path();
    let files = tempfile::tempdir().expect("files");
    let src = files.path().join("biên bản vi phạm TG-90512.pdf");
    let content = "%PDF-1.4\nBiên bản vi phạm hành chính: thiếu sổ danh bạ thuyền viên.\n";
    std::fs::write(&src, content).expect("write");

    let out = ok(
        p,
        &[
            "attach",
            PATROL,
            src.to_str().expect("utf8"),
            "--violation",
            "1",
        ],
    );
    assert!(
        out.contains("Đã đính kèm biên bản vi phạm TG-90512.pdf"),
        "{out}"
    );
    assert!(out.contains("violations[0].attachments"), "{out}");

    let rows = json(p, &["attachment", "list", PATROL, "--json"]);
    assert_eq!(rows[0]["name"], "biên bản vi phạm TG-90512.pdf");
    assert_eq!(rows[0]["mime"], "application/pdf");
    assert_eq!(rows[0]["present"], true);
    assert_eq!(rows[0]["place"], "violations[0].attachments");
    let text = ok(p, &["attachment", "list", PATROL]);
    assert!(text.contains("[có trên máy]"), "{text}");

    let dest = files.path().join("bản sao.pdf");
    ok(
        p,
        &[
            "attachment",
            "get",
            PATROL,
            "biên bản vi phạm TG-90512.pdf",
            "--out",
            dest.to_str().expect("utf8"),
        ],
    );
    assert_eq!(std::fs::read_to_string(&dest).expect("read"), content);

    // Attaching it again says so and changes nothing; JSON output says it was deduplicated.
    let again = json(
        p,
        &[
            "attach",
            PATROL,
            src.to_str().expect("utf8"),
            "--violation",
            "1",
            "--json",
        ],
    );
    assert_eq!(again["added"], false);
    assert_eq!(again["deduplicated"], true);
}

#[test]
fn mistakes_get_clear_errors_and_exit_1() {
    let d = ready();
    let p = d.path();
    let files = tempfile::tempdir().expect("files");
    let src = files.path().join("ảnh.jpg");
    std::fs::write(&src, b"\xFF\xD8\xFF not really a jpeg").expect("write");
    let src = src.to_str().expect("utf8");

    let cases: [(&[&str], &str); 5] = [
        (
            &["attach", PATROL, src, "--violation", "9"],
            "violations[8]",
        ),
        (&["attach", "plan:item:001", src], "takes no files"),
        (
            &["attach", PATROL, "/không/có/tệp.jpg"],
            "/không/có/tệp.jpg",
        ),
        (
            &[
                "attachment",
                "get",
                PATROL,
                "không có.jpg",
                "--out",
                "/tmp/x",
            ],
            "không có.jpg",
        ),
        (&["attach", PATROL, src, "--inspection", "0"], "1"),
    ];
    for (args, needle) in cases {
        let out = tm(p, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // An image that does not decode is still attached, without a thumbnail.
    let rows = json(p, &["attach", PATROL, src, "--json"]);
    assert_eq!(rows["attachment"]["mime"], "image/jpeg");
    assert!(rows["attachment"]["thumb"].is_null());
}
