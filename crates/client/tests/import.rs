//! Import and export through the client API on real SQLite files.

use std::io::Cursor;

use tidemark_client::{Client, ExportFormat, ImportReport};
use tidemark_domain::{records::Record, RecordKind};
use tidemark_store::ListFilter;

fn store(unit: &str) -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = Client::init(dir.path(), unit, "Thiếu tá Phạm Quang Huy").expect("init");
    (dir, client)
}

fn import(client: &mut Client, text: &str) -> ImportReport {
    client
        .import_jsonl(Cursor::new(text.as_bytes().to_vec()), &mut |_| {})
        .expect("import runs")
}

const DEMO: &str = include_str!("../../../fixtures/demo.jsonl");

fn count(client: &Client, kind: Option<RecordKind>) -> usize {
    client
        .store()
        .list(&ListFilter {
            kind,
            ..ListFilter::default()
        })
        .expect("list")
        .1
}

#[test]
fn demo_fixture_imports_without_problems() {
    let (_d, mut c) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    let report = import(&mut c, DEMO);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // HQ's own unit was created at `init`; the fixture's HQ line updates it instead of adding a
    // second unit of the same name.
    assert_eq!(
        (report.created, report.updated),
        (DEMO.lines().count() - 1, 1)
    );
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0]
        .reason
        .contains("đã có với mã `unit:bo-chi-huy-bdbp-tinh-tien-giang`"));
    assert_eq!(count(&c, Some(RecordKind::Patrol)), 3);
    assert_eq!(count(&c, Some(RecordKind::Unit)), 9);
}

#[test]
fn bad_lines_are_reported_with_line_number_and_reason_and_the_rest_imported() {
    let (_d, mut c) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    let units: String = DEMO.lines().take(9).map(|l| format!("{l}\n")).collect();
    let text = format!(
        "{units}{}",
        [
            // 10: malformed JSON
            r#"{"type":"patrol","id":"patrol:x:1","station":"#,
            // 11: wrong type for participants
            r#"{"type":"community_activity","id":"c:1","station":"Đồn Biên phòng Kiểng Phước","date":"2025-01-05","kind":"Khám chữa bệnh","participants":"năm mươi"}"#,
            // 12: unknown unit
            r#"{"type":"patrol","id":"patrol:x:2","station":"Đồn Biên phòng Không Có","start":"2025-01-01T06:00:00+07:00"}"#,
            // 13: end before start
            r#"{"type":"patrol","id":"patrol:x:3","station":"Đồn Biên phòng Tân Thành","start":"2025-01-01T09:00:00+07:00","end":"2025-01-01T06:00:00+07:00"}"#,
            // 14: good
            r#"{"type":"patrol","id":"patrol:x:4","station":"Đồn Biên phòng Tân Thành","start":"2025-01-01T06:00:00+07:00","notes":"Ổn định."}"#,
            // 15: duplicate of line 14
            r#"{"type":"patrol","id":"patrol:x:4","station":"Đồn Biên phòng Tân Thành","start":"2025-01-02T06:00:00+07:00"}"#,
            // 16: unknown type
            r#"{"type":"tau_ca","id":"t:1"}"#,
            // 17: bad registration and coordinates out of range
            r#"{"type":"patrol","id":"patrol:x:5","station":"TT","start":"2025-01-01T06:00:00+07:00","vessels_inspected":[{"registration":"93096","position":[95.0,106.8]}]}"#,
            // 18: missing required start
            r#"{"type":"patrol","id":"patrol:x:6","station":"Đồn Biên phòng Tân Thành"}"#,
            // 19: not an object
            r#"[1,2,3]"#,
            // 20: unknown field (imported, warned)
            r#"{"type":"patrol","id":"patrol:x:7","station":"Đồn Biên phòng Tân Thành","start":"2025-01-01T06:00:00+07:00","mau_tau":"xanh"}"#,
            // 21: deadline outside the plan period (the plan is defined on line 22: not yet known)
            r#"{"type":"plan","id":"plan:p","title":"Kế hoạch","period_from":"2025-01-01","period_to":"2025-12-31"}"#,
            r#"{"type":"plan_item","id":"plan:item:x","plan":"plan:p","title":"Việc","responsible_unit":"Huyện ủy Gò Công Đông","deadline":"2026-03-01","status":"hủy"}"#,
            // 23: bad status
            r#"{"type":"plan_item","id":"plan:item:y","plan":"plan:p","title":"Việc","responsible_unit":"Huyện ủy Gò Công Đông","status":"xong rồi"}"#,
        ]
        .join("\n")
    );
    let report = import(&mut c, &text);
    let lines: Vec<usize> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        vec![10, 11, 12, 13, 15, 16, 17, 18, 19, 22, 23],
        "{:#?}",
        report.problems
    );
    let reason = |line: usize| {
        report
            .problems
            .iter()
            .find(|p| p.line == line)
            .map(|p| p.reason.clone())
            .unwrap_or_default()
    };
    assert!(reason(10).contains("not valid JSON"), "{}", reason(10));
    assert!(reason(11).contains("participants"), "{}", reason(11));
    assert!(
        reason(12).contains("Đồn Biên phòng Không Có"),
        "{}",
        reason(12)
    );
    assert!(reason(13).contains("“end” phải sau"), "{}", reason(13));
    assert!(reason(15).contains("line 14"), "{}", reason(15));
    assert!(
        reason(16).contains("unknown type `tau_ca`"),
        "{}",
        reason(16)
    );
    assert!(
        reason(17).contains("TG-93096-TS") && reason(17).contains("ngoài phạm vi"),
        "{}",
        reason(17)
    );
    assert!(
        reason(18).contains("missing field `start`"),
        "{}",
        reason(18)
    );
    assert!(reason(19).contains("JSON object"), "{}", reason(19));
    assert!(
        reason(22).contains("2026-03-01") && reason(22).contains("2025-12-31"),
        "{}",
        reason(22)
    );
    assert!(
        reason(23).contains("xong rồi") && reason(23).contains("in_progress"),
        "{}",
        reason(23)
    );
    assert!(report.unknown_fields.contains("patrol.mau_tau"));
    assert_eq!(report.created + report.updated, 9 + 3);
    assert!(c.show("patrol:x:4").is_ok());
    assert!(c.show("patrol:x:7").is_ok());
    assert!(c.show("patrol:x:3").is_err());
}

#[test]
fn messages_follow_the_chosen_language() {
    let (_d, mut c) = store("Đồn Biên phòng Tân Thành");
    c.set_lang(tidemark_domain::Lang::En);
    let report = import(
        &mut c,
        r#"{"type":"patrol","id":"p:1","station":"Đồn Biên phòng Tân Thành","start":"2025-01-01T09:00:00+07:00","end":"2025-01-01T06:00:00+07:00"}"#,
    );
    assert!(
        report.problems[0]
            .reason
            .contains("“end” must be after the start"),
        "{:?}",
        report.problems
    );
}

#[test]
fn reimporting_the_same_ids_updates_and_never_duplicates() {
    let (_d, mut c) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    import(&mut c, DEMO);
    let before = count(&c, None);
    let again = import(&mut c, DEMO);
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, DEMO.lines().count())
    );
    let changed = DEMO.replace("Xuồng CQ-02", "Xuồng CQ-09");
    let third = import(&mut c, &changed);
    assert_eq!((third.created, third.updated), (0, 1));
    assert_eq!(count(&c, None), before);
    let Record::Patrol(p) = c.show("patrol:TT:20250101:01").expect("show").record else {
        panic!()
    };
    assert_eq!(p.vessel.as_deref(), Some("Xuồng CQ-09"));
    // The update is one more change in the record's history, not a new record.
    assert_eq!(
        c.history("patrol:TT:20250101:01").expect("history").len(),
        2
    );
}

#[test]
fn export_then_import_into_an_empty_store_reproduces_the_records() {
    let (_d, mut a) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    import(&mut a, DEMO);
    a.splice("patrol:TT:20250101:01", "notes", 0, 0, "Đã kiểm tra: ")
        .expect("splice");
    let mut out = Vec::new();
    let n = a
        .export(ExportFormat::Jsonl, None, &mut out, &mut |_| {})
        .expect("export");
    assert_eq!(n, DEMO.lines().count());

    // B's own unit is not in A's data: B's export is A's plus that one unit line.
    let (_d2, mut b) = store("Đồn Biên phòng Phú Tân");
    let report = import(&mut b, std::str::from_utf8(&out).expect("utf8"));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let mut again = Vec::new();
    b.export(ExportFormat::Jsonl, None, &mut again, &mut |_| {})
        .expect("export b");
    let again = String::from_utf8(again).expect("utf8");
    let out = String::from_utf8(out).expect("utf8");
    let extra: Vec<&str> = again
        .lines()
        .filter(|l| !out.lines().any(|o| o == *l))
        .collect();
    assert_eq!(extra.len(), 1, "{extra:?}");
    assert!(extra[0].contains("Đồn Biên phòng Phú Tân"));
    assert_eq!(again.lines().count(), out.lines().count() + 1);
}

#[test]
fn csv_export_has_one_column_per_field_and_vietnamese_intact() {
    let (_d, mut c) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    import(&mut c, DEMO);
    let mut out = Vec::new();
    c.export(
        ExportFormat::Csv,
        Some(RecordKind::Patrol),
        &mut out,
        &mut |_| {},
    )
    .expect("csv");
    let text = String::from_utf8(out).expect("utf8");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(&headers[0], "id");
    assert!(headers.iter().any(|h| h == "notes"));
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 3);
    let crew_col = headers
        .iter()
        .position(|h| h == "crew")
        .expect("crew column");
    let tt = rows
        .iter()
        .find(|r| &r[0] == "patrol:TT:20250101:01")
        .expect("row");
    assert_eq!(
        &tt[crew_col],
        "Đại úy Hoàng Công Long; Thượng sĩ Phan Văn Đạt"
    );
}

#[test]
fn search_ignores_diacritics_including_d_stroke() {
    let (_d, mut c) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    import(&mut c, DEMO);
    let ids = |q: &str| -> Vec<String> {
        let mut v: Vec<String> = c
            .store()
            .search(q, None, 50)
            .expect("search")
            .into_iter()
            .map(|h| h.id)
            .collect();
        v.sort();
        v
    };
    assert!(ids("kieng phuoc").contains(&"patrol:KP:20250102:01".to_string()));
    assert_eq!(ids("kieng phuoc"), ids("KIỂNG PHƯỚC"));
    // "dat" finds "Đạt", "duc" finds "Đức".
    assert_eq!(ids("dat"), vec!["patrol:TT:20250101:01".to_string()]);
    assert!(ids("tran minh duc").contains(&"patrol:KP:20250102:01".to_string()));
    // Prefixes match, words in any order, all required.
    assert!(ids("nghe vam").contains(&"patrol:VL:20250103:01".to_string()));
    assert!(ids("khong-co-tu-nay").is_empty());
    assert!(ids("  ").is_empty());
}

#[test]
fn list_filters_by_type_unit_code_and_dates() {
    let (_d, mut c) = store("Bộ Chỉ huy BĐBP tỉnh Tiền Giang");
    import(&mut c, DEMO);
    let unit = c.unit_name("kp").expect("unit").expect("known");
    assert_eq!(unit, "Đồn Biên phòng Kiểng Phước");
    let (rows, total) = c
        .store()
        .list(&ListFilter {
            unit: Some(unit),
            from: Some("2025-01-01".into()),
            to: Some("2025-01-31".into()),
            ..ListFilter::default()
        })
        .expect("list");
    assert_eq!(total, 2);
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["community:KP:20250105", "patrol:KP:20250102:01"]);
}
