//! The workload generator is deterministic per seed and realistic enough to import; the shared
//! plan scenario at a tiny size loses no edit and surfaces every same-field conflict, and its
//! checker does notice edits that never arrived.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use tidemark_bench::edits::{boundaries, plan_edits, PlanEdit};
use tidemark_bench::harness::{Device, RelayMode};
use tidemark_bench::scenarios::plan::{apply, check, editors, run_plan};
use tidemark_bench::scenarios::{Ctx, Sizes};
use tidemark_bench::workload::{plan, province_lines, station_day, unit_lines, ROUTE_POINTS};
use tidemark_client::Client;
use tidemark_domain::interchange::parse_line;

#[test]
fn the_same_seed_gives_the_same_province_and_another_seed_another() {
    assert_eq!(province_lines(7, 3), province_lines(7, 3));
    assert_ne!(province_lines(7, 3), province_lines(8, 3));
    // A day does not depend on the days before it.
    assert_eq!(station_day(7, 2, 40), station_day(7, 2, 40));
    assert_ne!(station_day(7, 2, 40), station_day(7, 3, 40));
    assert_eq!(plan_edits(7, 3, 20, 50), plan_edits(7, 3, 20, 50));
    assert_ne!(plan_edits(7, 3, 20, 50), plan_edits(9, 3, 20, 50));
}

#[test]
fn every_patrol_has_100_to_300_points_in_time_order_and_vietnamese_text() {
    let lines = province_lines(11, 20);
    let mut patrols = 0;
    let (mut fewest, mut most) = (usize::MAX, 0);
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] != "patrol" {
            continue;
        }
        patrols += 1;
        let route = v["route"].as_array().unwrap();
        fewest = fewest.min(route.len());
        most = most.max(route.len());
        let times: Vec<i64> = route.iter().map(|p| p[2].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{}", v["id"]);
        // The coast of Tiền Giang and its sea.
        assert!(route.iter().all(|p| {
            (9.6..10.9).contains(&p[0].as_f64().unwrap())
                && (106.2..107.3).contains(&p[1].as_f64().unwrap())
        }));
    }
    assert_eq!(patrols, 6 * 20 * 4);
    assert!(fewest >= ROUTE_POINTS.0 as usize && most <= ROUTE_POINTS.1 as usize);
    assert!(
        most - fewest > 100,
        "route lengths barely vary: {fewest}..{most}"
    );
    let text = lines.join("\n");
    for word in [
        "Đồn Biên phòng",
        "tuần tra",
        "Huyện ủy",
        "vi phạm",
        "ngư dân",
    ] {
        assert!(text.contains(word), "no “{word}”");
    }
    for kind in ["info_exchange", "community_activity", "plan_item", "unit"] {
        assert!(text.contains(&format!("\"type\":\"{kind}\"")), "no {kind}");
    }
}

#[test]
fn the_province_imports_without_a_single_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Client::init(dir.path(), "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "thử").unwrap();
    let lines = province_lines(3, 4);
    for line in &lines {
        parse_line(line).unwrap();
    }
    let report = c
        .import_jsonl(std::io::Cursor::new(lines.join("\n")), &mut |_| {})
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report.unknown_fields.is_empty(),
        "{:?}",
        report.unknown_fields
    );
    assert_eq!(report.created + report.updated, lines.len());
}

#[test]
fn markers_go_only_between_earlier_markers() {
    assert_eq!(boundaries(""), vec![0]);
    assert_eq!(boundaries("Đã triển khai."), vec![0, 14]);
    assert_eq!(boundaries("A. [x] b"), vec![0, 2, 6, 8]);
}

fn ctx(root: &std::path::Path) -> Ctx {
    Ctx {
        quick: true,
        relay: RelayMode::InProcess,
        root: root.to_path_buf(),
        ram_root: root.join("ram"),
        seed: 5,
        sizes: Sizes::quick(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_plan_at_a_tiny_size_loses_no_edit_and_shows_every_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_plan(&ctx(dir.path()), 20, 4).await.unwrap();
    let c = &r.check;
    assert_eq!(c.lost, 0, "{c:?}");
    assert!(c.converged, "{c:?}");
    assert!(
        c.same_field_conflicts > 0,
        "the stream made no conflict: {c:?}"
    );
    assert_eq!(c.surfaced, c.same_field_conflicts, "{c:?}");
    assert_eq!(c.spurious, 0, "{c:?}");
    assert!(r.requests > 0 && r.socket.0 > 0 && r.socket.1 > 0);
}

#[test]
fn the_checker_notices_edits_that_never_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let plan_lines: Vec<String> = plan(5).iter().map(|v| v.to_string()).collect();
    let edits = plan_edits(5, 3, 10, 3);
    let mut devices = Vec::new();
    for (i, unit) in editors().iter().enumerate() {
        let d = dir.path().join(format!("u{i}"));
        let device = Device {
            unit: unit.to_string(),
            dir: d.clone(),
            client: Arc::new(Mutex::new(Client::init(&d, unit, "thử").unwrap())),
        };
        device.import(&unit_lines()).unwrap();
        device.import(&plan_lines).unwrap();
        device.with(|c| {
            for e in &edits[i] {
                apply(c, e).unwrap();
            }
        });
        devices.push(device);
    }
    let refs: Vec<&Device> = devices.iter().collect();
    let c = check(&refs, &edits).unwrap();
    let inserts = edits
        .iter()
        .flatten()
        .filter(|e| matches!(e, PlanEdit::Insert { .. }))
        .count();
    // Each device misses the other two units' insertions, at least.
    assert!(c.lost >= inserts * 2 / 3, "{c:?}");
    assert!(!c.converged);
}
