//! Review-meeting reports over a seeded province whose records arrive at HQ by merge from three
//! station devices, with concurrent edits: every figure is checked against totals the test
//! computes itself, straight from the generated records, and every figure's sources are the
//! records it counts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate};
use serde_json::{json, Value};
use tidemark_client::Client;
use tidemark_domain::records::Record;
use tidemark_domain::report::{Report, ReportParams};

const HQ: &str = "Bộ Chỉ huy BĐBP tỉnh Tiền Giang";
const FROM: &str = "2025-01-15";
const TO: &str = "2025-02-28";
const AS_OF: &str = "2025-02-20";

fn device(unit: &str) -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = Client::init(dir.path(), unit, "Trung úy Lê Quốc Vũ").expect("init");
    (dir, client)
}

fn import(c: &mut Client, values: &[Value]) {
    let text: String = values.iter().map(|v| format!("{v}\n")).collect();
    let report = c
        .import_jsonl(std::io::Cursor::new(text.into_bytes()), &mut |_| {})
        .expect("import");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// Sends every document `from` holds to `to` (as a sync or a bundle would).
fn merge_all(from: &Client, to: &mut Client) {
    for id in from.store().doc_ids().expect("ids") {
        let bytes = from.document_bytes(&id).expect("document");
        to.apply_changes(&id, &bytes).expect("apply");
    }
}

fn send(from: &Client, to: &mut Client, id: &str) {
    let bytes = from.document_bytes(id).expect("document");
    to.apply_changes(id, &bytes).expect("apply");
}

/// HQ's device holding the province's units and its plan.
fn hq_with_units_and_plan() -> (tempfile::TempDir, Client) {
    let (dir, mut hq) = device(HQ);
    let lines: Vec<Value> = tidemark_testkit::unit_lines()
        .into_iter()
        .chain([tidemark_testkit::plan_line()])
        .map(|l| serde_json::from_str(&l).expect("line"))
        .collect();
    import(&mut hq, &lines);
    (dir, hq)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn params(units: &[&str]) -> ReportParams {
    ReportParams {
        from: date(FROM),
        to: date(TO),
        as_of: date(AS_OF),
        units: units.iter().map(|u| u.to_string()).collect(),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn in_period(day: &str) -> bool {
    (FROM..=TO).contains(&day)
}

/// Figures per unit, counted here from the generated values, independently of the engine.
#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    patrols: BTreeSet<String>,
    hours: f64,
    joint: u32,
    police: u32,
    military: u32,
    inspected: u32,
    violations: u32,
    fines: u64,
    by_month: BTreeMap<String, u32>,
    sent: u32,
    deliveries: u32,
    acknowledged: u32,
    received: u32,
    activities: u32,
    people: u64,
    items: BTreeMap<String, u32>,
    overdue: u32,
}

fn expected(values: &[Value]) -> (BTreeMap<String, Expected>, BTreeMap<String, (u32, u64)>) {
    let mut by_unit: BTreeMap<String, Expected> = BTreeMap::new();
    let mut by_type: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for v in values {
        match s(v, "type") {
            "patrol" => {
                let day = &s(v, "start")[..10];
                if !in_period(day) {
                    continue;
                }
                let e = by_unit.entry(s(v, "station").into()).or_default();
                e.patrols.insert(s(v, "id").into());
                let start = DateTime::parse_from_rfc3339(s(v, "start")).expect("start");
                let end = DateTime::parse_from_rfc3339(s(v, "end")).expect("end");
                e.hours += (end - start).num_minutes() as f64 / 60.0;
                let forces: Vec<&str> = v["joint_forces"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                e.joint += u32::from(!forces.is_empty());
                e.police += u32::from(forces.iter().any(|f| f.starts_with("Công an")));
                e.military += u32::from(
                    forces
                        .iter()
                        .any(|f| f.contains("Quân sự") || f.starts_with("Dân quân")),
                );
                e.inspected += v["vessels_inspected"].as_array().map_or(0, Vec::len) as u32;
                for x in v["violations"].as_array().into_iter().flatten() {
                    e.violations += 1;
                    let fine = x["fine_vnd"].as_u64().unwrap_or(0);
                    e.fines += fine;
                    let t = by_type.entry(s(x, "violation").into()).or_default();
                    t.0 += 1;
                    t.1 += fine;
                }
                *e.by_month.entry(day[..7].to_string()).or_default() += 1;
            }
            "info_exchange" => {
                if !in_period(&s(v, "sent_at")[..10]) {
                    continue;
                }
                let to: Vec<&str> = v["to_units"]
                    .as_array()
                    .expect("to")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let acked: Vec<&str> = v["acknowledgements"]
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let e = by_unit.entry(s(v, "from_unit").into()).or_default();
                e.sent += 1;
                e.deliveries += to.len() as u32;
                e.acknowledged += to.iter().filter(|u| acked.contains(u)).count() as u32;
                for u in to {
                    by_unit.entry(u.into()).or_default().received += 1;
                }
            }
            "community_activity" => {
                if !in_period(s(v, "date")) {
                    continue;
                }
                let e = by_unit.entry(s(v, "station").into()).or_default();
                e.activities += 1;
                e.people += v["participants"].as_u64().expect("participants");
            }
            "plan_item" => {
                let deadline = s(v, "deadline");
                if !in_period(deadline) {
                    continue;
                }
                let e = by_unit.entry(s(v, "responsible_unit").into()).or_default();
                let status = s(v, "status").to_string();
                if (status == "mới" || status == "đang thực hiện") && deadline < AS_OF {
                    e.overdue += 1;
                }
                *e.items.entry(status).or_default() += 1;
            }
            _ => {}
        }
    }
    (by_unit, by_type)
}

fn ids(report: &Report, table: &str, row: &str, col: &str) -> BTreeSet<String> {
    let cell = report
        .table(table)
        .and_then(|t| t.cell(row, col))
        .unwrap_or_else(|| panic!("{table}/{row}/{col}"));
    cell.sources
        .iter()
        .map(|&i| report.sources[i as usize].id.clone())
        .collect()
}

fn key(name: &str) -> String {
    tidemark_domain::fold_for_search(name)
}

#[test]
fn a_report_over_merged_and_concurrently_edited_records_matches_independent_totals() {
    let mut values = tidemark_testkit::province(6, 75, 2);
    let (_h, mut hq) = hq_with_units_and_plan();
    // Plan items are HQ's; three stations record their own work on their own devices, the
    // other three stations' records reach HQ by import.
    let stations = [
        ("TT", "Đồn Biên phòng Tân Thành"),
        ("KP", "Đồn Biên phòng Kiểng Phước"),
        ("VL", "Đồn Biên phòng Vàm Láng"),
    ];
    let owner = |v: &Value| -> String {
        ["station", "from_unit", "responsible_unit"]
            .iter()
            .map(|k| s(v, k))
            .find(|x| !x.is_empty())
            .unwrap_or("")
            .to_string()
    };
    let mut devices = Vec::new();
    for (_, name) in stations {
        let (dir, mut c) = device(name);
        merge_all(&hq, &mut c);
        let own: Vec<Value> = values
            .iter()
            .filter(|v| owner(v) == name && s(v, "type") != "plan_item")
            .cloned()
            .collect();
        import(&mut c, &own);
        devices.push((dir, c));
    }
    let at_hq: Vec<Value> = values
        .iter()
        .filter(|v| {
            s(v, "type") == "plan_item" || !stations.iter().any(|(_, name)| owner(v) == *name)
        })
        .cloned()
        .collect();
    import(&mut hq, &at_hq);
    for (_, c) in &devices {
        merge_all(c, &mut hq);
    }

    // Concurrent edits, offline on both sides: HQ corrects a Tân Thành patrol's end time while
    // the station adds a violation to it; both hold after the merge. HQ and the station set the
    // same plan item's status differently: one value wins, everywhere.
    let tt = &mut devices[0].1;
    merge_all(&hq, tt);
    let patrol_at = values
        .iter()
        .position(|v| {
            s(v, "type") == "patrol"
                && s(v, "station") == stations[0].1
                && s(v, "start") >= "2025-02-01"
        })
        .expect("a Tân Thành patrol in February");
    let patrol_id = s(&values[patrol_at], "id").to_string();
    let new_end = format!("{}T23:45:00+07:00", &s(&values[patrol_at], "start")[..10]);
    let added = json!([{"registration": "TG-91234-TS", "violation": "Đánh bắt bằng chất nổ",
                        "action": "Phạt tiền", "fine_vnd": 7_000_000u64}]);
    hq.edit(&patrol_id, "end", &new_end).expect("hq edits end");
    tt.edit(&patrol_id, "violations", &added.to_string())
        .expect("station adds a violation");
    values[patrol_at]["end"] = json!(new_end);
    values[patrol_at]["violations"] = added;
    let item_at = values
        .iter()
        .position(|v| {
            s(v, "type") == "plan_item"
                && s(v, "responsible_unit") == stations[0].1
                && in_period(s(v, "deadline"))
        })
        .expect("a Tân Thành plan item due in the period");
    let item_id = s(&values[item_at], "id").to_string();
    // Two values, both different from the current one, so that both edits are real changes.
    let current = s(&values[item_at], "status").to_string();
    let hq_status = ["hoàn thành", "tạm hoãn"]
        .into_iter()
        .find(|x| *x != current)
        .expect("a status");
    let tt_status = ["đang thực hiện", "mới"]
        .into_iter()
        .find(|x| *x != current)
        .expect("a status");
    hq.edit(&item_id, "status", hq_status).expect("hq status");
    tt.edit(&item_id, "status", tt_status)
        .expect("station status");
    send(tt, &mut hq, &patrol_id);
    send(tt, &mut hq, &item_id);
    send(&hq, tt, &patrol_id);
    send(&hq, tt, &item_id);
    let Record::PlanItem(winner) = hq.show(&item_id).expect("item").record else {
        panic!("a plan item")
    };
    assert!(
        !hq.conflicts().expect("conflicts").is_empty(),
        "the status conflict shows"
    );
    values[item_at]["status"] = json!(winner.status.label_vi());

    let report = hq.report(&params(&[])).expect("report");
    let (want, want_types) = expected(&values);

    let patrols = report.table("patrols").expect("patrols table");
    let mut total_patrols = 0;
    for (code, e) in want.iter().filter(|(_, e)| !e.patrols.is_empty()) {
        let k = key(code);
        assert_eq!(
            patrols.value(&k, "patrols"),
            e.patrols.len() as f64,
            "{code}"
        );
        assert!(
            (patrols.value(&k, "hours") - e.hours).abs() < 1e-6,
            "{code} hours"
        );
        assert_eq!(patrols.value(&k, "joint"), f64::from(e.joint), "{code}");
        assert_eq!(
            patrols.value(&k, "with_police"),
            f64::from(e.police),
            "{code}"
        );
        assert_eq!(
            patrols.value(&k, "with_military"),
            f64::from(e.military),
            "{code}"
        );
        assert_eq!(
            patrols.value(&k, "inspected"),
            f64::from(e.inspected),
            "{code}"
        );
        assert_eq!(
            patrols.value(&k, "violations"),
            f64::from(e.violations),
            "{code}"
        );
        assert_eq!(patrols.value(&k, "fines"), e.fines as f64, "{code}");
        assert_eq!(
            ids(&report, "patrols", &k, "patrols"),
            e.patrols,
            "{code} sources"
        );
        for (month, n) in &e.by_month {
            let by_month = report.table("patrols_by_month").expect("by month");
            assert_eq!(by_month.value(&k, month), f64::from(*n), "{code} {month}");
        }
        total_patrols += e.patrols.len();
    }
    assert_eq!(patrols.value("total", "patrols"), total_patrols as f64);
    assert!(want.len() >= 6, "every station has data");
    // Both concurrent edits hold.
    let tt_key = key(stations[0].1);
    assert!(ids(&report, "patrols", &tt_key, "violations").contains(&patrol_id));
    assert_eq!(
        report
            .table("by_month")
            .expect("by month")
            .value("2025-02", "patrols"),
        want.values()
            .map(|e| e.by_month.get("2025-02").copied().unwrap_or(0))
            .sum::<u32>() as f64
    );

    let violations = report.table("violations").expect("violations");
    assert_eq!(violations.rows.len(), want_types.len());
    for (kind, (n, fines)) in &want_types {
        assert_eq!(
            violations.value(&key(kind), "count"),
            f64::from(*n),
            "{kind}"
        );
        assert_eq!(
            violations.value(&key(kind), "fines"),
            *fines as f64,
            "{kind}"
        );
    }
    assert_eq!(
        violations.value(&key("Đánh bắt bằng chất nổ"), "Phạt tiền"),
        1.0
    );

    let exchanges = report.table("exchanges").expect("exchanges");
    let activities = report.table("activities_by_unit").expect("activities");
    let items = report.table("plan_items").expect("plan items");
    for (unit, e) in &want {
        let k = key(unit);
        assert_eq!(exchanges.value(&k, "sent"), f64::from(e.sent), "{unit}");
        assert_eq!(
            exchanges.value(&k, "deliveries"),
            f64::from(e.deliveries),
            "{unit}"
        );
        assert_eq!(
            exchanges.value(&k, "acknowledged"),
            f64::from(e.acknowledged),
            "{unit}"
        );
        assert_eq!(
            exchanges.value(&k, "awaiting"),
            f64::from(e.deliveries - e.acknowledged),
            "{unit}"
        );
        assert_eq!(
            exchanges.value(&k, "received"),
            f64::from(e.received),
            "{unit}"
        );
        assert_eq!(
            activities.value(&k, "activities"),
            f64::from(e.activities),
            "{unit}"
        );
        assert_eq!(activities.value(&k, "people"), e.people as f64, "{unit}");
        let n: u32 = e.items.values().sum();
        assert_eq!(items.value(&k, "total"), f64::from(n), "{unit}");
        for (status, col) in [
            ("mới", "new"),
            ("đang thực hiện", "in_progress"),
            ("hoàn thành", "done"),
            ("tạm hoãn", "postponed"),
            ("hủy", "cancelled"),
        ] {
            let want_n = e.items.get(status).copied().unwrap_or(0);
            assert_eq!(items.value(&k, col), f64::from(want_n), "{unit} {status}");
        }
        assert_eq!(
            items.value(&k, "overdue"),
            f64::from(e.overdue),
            "{unit} overdue"
        );
    }
    let sent: u32 = want.values().map(|e| e.sent).sum();
    assert!(sent > 0 && report.table("activities").expect("kinds").total.is_some());

    // Every figure's sources are records of the right kind, dated in the period.
    for table in &report.tables {
        for row in table.rows.iter().chain(table.total.iter()) {
            for cell in &row.cells {
                assert!(
                    cell.sources.windows(2).all(|w| w[0] < w[1]),
                    "sorted, once each"
                );
                for &i in &cell.sources {
                    let src = &report.sources[i as usize];
                    let d = src.date.as_deref().unwrap_or(FROM);
                    assert!(in_period(d), "{} dated {d}", src.id);
                }
            }
        }
    }

    // A device that receives everything computes the same report: the merge converged.
    let kp = &mut devices[1].1;
    merge_all(&hq, kp);
    assert_eq!(kp.report(&params(&[])).expect("report at KP"), report);
}

#[test]
fn units_select_themselves_and_the_units_under_them() {
    let values = tidemark_testkit::province(7, 60, 1);
    let (_h, mut hq) = hq_with_units_and_plan();
    import(&mut hq, &values);

    let one = hq.report(&params(&["TT"])).expect("by code");
    let rows: Vec<&str> = one
        .table("patrols")
        .expect("t")
        .rows
        .iter()
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(rows, vec![key("Đồn Biên phòng Tân Thành").as_str()]);
    assert_eq!(one.units, vec!["Đồn Biên phòng Tân Thành".to_string()]);
    // Exchanges to HQ from Tân Thành count as sent by Tân Thành only.
    let ex = one.table("exchanges").expect("exchanges");
    assert!(ex
        .rows
        .iter()
        .all(|r| r.key == key("Đồn Biên phòng Tân Thành")));

    let all = hq.report(&params(&[])).expect("all");
    let under_hq = hq.report(&params(&["HQ"])).expect("HQ and below");
    assert_eq!(
        under_hq.table("patrols").expect("t").total,
        all.table("patrols").expect("t").total,
        "every station is under HQ"
    );
    // District committees are not under HQ: they receive exchanges in `all` only.
    let gcd = key("Huyện ủy Gò Công Đông");
    assert!(all.table("exchanges").expect("t").value(&gcd, "received") > 0.0);
    assert!(under_hq
        .table("exchanges")
        .expect("t")
        .cell(&gcd, "received")
        .is_none());

    let by_name = hq
        .report(&params(&["đồn biên phòng tân thành"]))
        .expect("by a name typed without care");
    assert_eq!(by_name.tables, one.tables);

    let err = hq
        .report(&params(&["Đồn Biên phòng Không Có"]))
        .expect_err("an unknown unit is refused");
    assert!(err.to_string().contains("unknown unit"), "{err}");
    let mut backwards = params(&[]);
    backwards.to = date("2025-01-01");
    let err = hq
        .report(&backwards)
        .expect_err("a backwards period is refused");
    assert!(err.to_string().contains("before it starts"), "{err}");
}
