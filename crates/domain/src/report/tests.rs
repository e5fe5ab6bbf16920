//! The engine's pieces, without a store: months, joint forces, unit records, refusals.

use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn record(v: serde_json::Value) -> Record {
    serde_json::from_value(v).expect("record")
}

#[test]
fn months_span_year_ends_and_read_as_month_slash_year() {
    assert_eq!(
        months(day("2024-11-20"), day("2025-02-01")),
        ["2024-11", "2024-12", "2025-01", "2025-02"]
    );
    assert_eq!(month_label("2025-03"), "03/2025");
}

#[test]
fn joint_forces_are_told_apart_without_diacritics_or_case() {
    assert_eq!(joint_with(&["CÔNG AN huyện".into()]), (true, false));
    assert_eq!(
        joint_with(&["Dân quân xã Kiểng Phước".into()]),
        (false, true)
    );
    assert_eq!(
        joint_with(&["Ban Chỉ huy Quân sự huyện".into(), "Police".into()]),
        (true, true)
    );
    assert_eq!(joint_with(&["Kiểm ngư".into()]), (false, false));
}

#[test]
fn the_fullest_of_duplicate_unit_records_places_a_unit_under_its_parent() {
    let hq = "Bộ Chỉ huy BĐBP tỉnh Tiền Giang";
    let tt = "Đồn Biên phòng Tân Thành";
    let records = vec![
        record(
            serde_json::json!({"type": "unit", "id": "unit:HQ", "name": hq, "code": "HQ", "kind": "hq"}),
        ),
        record(
            serde_json::json!({"type": "unit", "id": "unit:TT", "name": tt, "code": "TT", "kind": "station", "parent": hq}),
        ),
        // A device's own `init` record for the same unit, with nothing but the name.
        record(
            serde_json::json!({"type": "unit", "id": "unit:tt", "name": tt, "kind": "party_committee"}),
        ),
        record(
            serde_json::json!({"type": "patrol", "id": "patrol:TT:1", "station": tt,
            "start": "2025-03-01T05:00:00+07:00", "end": "2025-03-01T08:30:00+07:00",
            "joint_forces": ["Công an huyện Gò Công Đông"]}),
        ),
    ];
    let params = ReportParams {
        from: day("2025-03-01"),
        to: day("2025-03-31"),
        as_of: day("2025-03-31"),
        units: vec!["hq".into()],
    };
    let report = compute(records, &params).expect("report");
    let patrols = report.table("patrols").expect("patrols");
    let key = fold_for_search(tt);
    assert_eq!(patrols.value(&key, "patrols"), 1.0, "TT is under HQ");
    assert_eq!(patrols.value(&key, "hours"), 3.5);
    assert_eq!(patrols.value(&key, "with_police"), 1.0);
    assert_eq!(report.units, vec![hq.to_string()]);
    assert_eq!(report.sources.len(), 1);
}

#[test]
fn a_backwards_period_or_an_unknown_unit_is_refused() {
    let params = ReportParams {
        from: day("2025-03-31"),
        to: day("2025-03-01"),
        as_of: day("2025-03-31"),
        units: vec![],
    };
    assert!(matches!(
        compute(Vec::new(), &params),
        Err(ReportError::EmptyPeriod { .. })
    ));
    let params = ReportParams {
        from: day("2025-03-01"),
        to: day("2025-03-31"),
        units: vec!["Đồn Không Có".into()],
        ..params
    };
    assert_eq!(
        compute(Vec::new(), &params),
        Err(ReportError::UnknownUnit("Đồn Không Có".into()))
    );
}
