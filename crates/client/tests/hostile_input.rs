//! Input made to break things: SQL and FTS5 metacharacters in search and filters, JSON nested
//! thousands deep, and a line of many megabytes. Each gets an answer or a clear error, never a
//! panic, and the store is unchanged and sound afterwards.

use tidemark_client::Client;
use tidemark_store::ListFilter;

const DEMO: &str = include_str!("../../../fixtures/demo.jsonl");

fn demo() -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Client::init(dir.path(), "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u").expect("init");
    c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    (dir, c)
}

const HOSTILE: &[&str] = &[
    "'; DROP TABLE records; --",
    "\" OR 1=1 --",
    "kieng\" phuoc",
    "\"unterminated",
    "NEAR(kiểng phước, 5)",
    "patrol* OR NOT unit",
    "%_%",
    "*",
    "\\",
    "^tân",
    "body:tân",
    "(((((",
    "{col1 col2}: x",
    "\u{0}",
    "đ'ồ\"n; SELECT * FROM meta",
];

#[test]
fn search_and_filters_treat_metacharacters_as_text() {
    let (_dir, c) = demo();
    let (_, before) = c.store().list(&ListFilter::default()).expect("list");
    for q in HOSTILE {
        // Either results or a clear error; no panic, no SQL executed from the text.
        let _ = c.store().search(q, None, 50);
        let f = ListFilter {
            unit: Some((*q).to_string()),
            ..ListFilter::default()
        };
        let _ = c.store().list(&f);
    }
    // Words around the metacharacters still find what they name.
    let hits = c
        .store()
        .search("\"kieng\" phuoc'; --", None, 50)
        .expect("search");
    assert!(
        hits.iter().any(|h| h.id == "patrol:KP:20250102:01"),
        "{hits:?}"
    );
    let (_, after) = c.store().list(&ListFilter::default()).expect("list");
    assert_eq!(before, after, "nothing was dropped or added");
    c.store().integrity_check().expect("sound");
}

#[test]
fn json_nested_thousands_deep_is_refused_and_a_megabyte_line_does_not_stop_the_import() {
    let (_dir, mut c) = demo();
    let deep = format!(
        "{{\"type\":\"patrol\",\"id\":\"patrol:TT:x\",\"station\":\"Đồn\",\"start\":\"2025-01-01T06:00:00+07:00\",\"notes\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let huge = format!(
        "{{\"type\":\"community_activity\",\"id\":\"community:TT:huge\",\"station\":\"Đồn Biên phòng Tân Thành\",\"date\":\"2025-01-05\",\"kind\":\"Tuyên truyền\",\"description\":\"{}\"}}",
        "Tuyên truyền pháp luật cho ngư dân. ".repeat(40_000)
    );
    let good = r#"{"type":"community_activity","id":"community:TT:ok","station":"Đồn Biên phòng Tân Thành","date":"2025-01-06","kind":"Khám chữa bệnh","participants":40}"#;
    let text = [deep.as_str(), huge.as_str(), good].join("\n");
    let report = c
        .import_jsonl(std::io::Cursor::new(text.into_bytes()), &mut |_| {})
        .expect("the import runs");
    assert_eq!(report.lines, 3);
    assert!(
        report.problems.iter().any(|p| p.line == 1),
        "the deep line is refused: {:?}",
        report.problems
    );
    assert!(c
        .store()
        .record_json("community:TT:ok")
        .expect("read")
        .is_some());
    c.store().integrity_check().expect("sound");
}
