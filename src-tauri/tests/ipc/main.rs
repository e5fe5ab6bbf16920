//! The shell through real IPC, without a display: Tauri's mock runtime, the app's own
//! `tauri.conf.json` and capability files (so grants are enforced), a real device store.

mod attachments;
mod encryption;

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use tidemark_app::{configure, Shell};

fn app(
    dir: &std::path::Path,
) -> (
    App<tauri::test::MockRuntime>,
    WebviewWindow<tauri::test::MockRuntime>,
) {
    app_with(Shell::new(dir.to_path_buf()))
}

fn app_with(
    shell: Shell,
) -> (
    App<tauri::test::MockRuntime>,
    WebviewWindow<tauri::test::MockRuntime>,
) {
    let app = configure(mock_builder(), shell)
        .build(tauri::generate_context!())
        .expect("app");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("webview");
    (app, webview)
}

fn call(
    w: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    call_raw(w, cmd, InvokeBody::Json(args), &[])
}

/// A command whose body is raw bytes, with headers (`attach_file`).
fn call_raw(
    w: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: InvokeBody,
    headers: &[(&str, &str)],
) -> Result<Value, Value> {
    let mut map = tauri::http::HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            tauri::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            tauri::http::HeaderValue::from_str(v).expect("header value"),
        );
    }
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body,
            headers: map,
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().expect("json body"))
}

/// Tests that set process-wide environment variables (the export folder) take turns.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ok(w: &WebviewWindow<tauri::test::MockRuntime>, cmd: &str, args: Value) -> Value {
    call(w, cmd, args.clone()).unwrap_or_else(|e| panic!("{cmd} {args}: {e}"))
}

const STATION: &str = "Đồn Biên phòng Tân Thành";

/// The passphrase the first-run screen protects the store with in these tests.
const PASS: &str = "Biển đảo Tổ quốc 2025";

/// First run: the store, encrypted under [`PASS`].
fn set_up(w: &WebviewWindow<tauri::test::MockRuntime>) -> Value {
    ok(
        w,
        "set_up",
        json!({"unit": STATION, "user": "Trung úy Lê Quốc Vũ", "passphrase": PASS}),
    )
}

fn patrol(id: &str, vessel: &str) -> Value {
    json!({"type": "patrol", "id": id, "station": STATION,
           "start": "2025-03-01T05:00:00+07:00", "end": "2025-03-01T11:30:00+07:00",
           "sea_area": "Cửa Soài Rạp", "vessel": vessel, "commander": "Trung úy Lê Quốc Vũ",
           "notes": "Sóng cấp 3, tàu cá Kiểng Phước về bến an toàn."})
}

#[test]
fn first_run_save_search_edit_history_through_ipc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(&dir.path().join("store"));

    let info = ok(&w, "app_info", json!({}));
    assert_eq!(info["set_up"], false);
    // Before set-up, record commands say so.
    let err = call(&w, "list_records", json!({})).expect_err("not set up");
    assert_eq!(err["kind"], "not_set_up");

    let info = set_up(&w);
    assert_eq!(info["set_up"], true);
    assert_eq!(info["locked"], false);
    assert_eq!(info["encrypted"], true);
    assert_eq!(info["enrolled"], false);
    assert_eq!(info["lang"], "vi");

    assert_eq!(
        ok(
            &w,
            "save_record",
            json!({"record": patrol("patrol:TT:20250301:01", "BP-15-01")})
        ),
        "created"
    );
    // Validation problems come back by field, in both languages.
    let mut bad = patrol("patrol:TT:20250301:02", "BP-15-02");
    bad["end"] = json!("2025-03-01T04:00:00+07:00");
    let err = call(&w, "save_record", json!({"record": bad})).expect_err("invalid");
    assert_eq!(err["kind"], "invalid");
    let problems = err["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p["field"] == "end" && p["vi"].as_str().is_some_and(|s| !s.is_empty())),
        "{err}"
    );

    // Search ignores diacritics.
    let hits = ok(&w, "search_records", json!({"text": "kieng phuoc"}));
    assert_eq!(hits.as_array().expect("hits").len(), 1);
    assert_eq!(hits[0]["id"], "patrol:TT:20250301:01");
    let page = ok(&w, "list_records", json!({"q": {"kind": "patrol"}}));
    assert_eq!(page["total"], 1);

    assert_eq!(
        ok(
            &w,
            "edit_field",
            json!({"id": "patrol:TT:20250301:01", "field": "vessel", "value": "Xuồng CQ-07"})
        ),
        "updated"
    );
    assert_eq!(
        ok(
            &w,
            "splice_text",
            json!({"id": "patrol:TT:20250301:01", "field": "notes", "pos": 0, "delete": 0, "text": "Đã duyệt. "})
        ),
        "updated"
    );
    let rec = ok(&w, "get_record", json!({"id": "patrol:TT:20250301:01"}));
    assert_eq!(rec["record"]["vessel"], "Xuồng CQ-07");
    assert!(rec["record"]["notes"]
        .as_str()
        .expect("notes")
        .starts_with("Đã duyệt. "));
    assert_eq!(rec["delivery"]["stage"], "saved_here");
    assert_eq!(rec["delivery"]["enrolled"], false);
    let history = ok(&w, "record_history", json!({"id": "patrol:TT:20250301:01"}));
    assert_eq!(history.as_array().expect("history").len(), 3);

    let nmea = "$GPRMC,010000,A,1020.000,N,10640.000,E,5.0,90.0,010325,,,A*6B\n$GPRMC,011000,A,1020.500,N,10641.000,E,5.0,90.0,010325,,,A*6C\n";
    let r = call(
        &w,
        "import_track",
        json!({"id": "patrol:TT:20250301:01", "fileName": "hanh-trinh.nmea", "text": nmea}),
    );
    if let Ok(r) = &r {
        let rec = ok(&w, "get_record", json!({"id": "patrol:TT:20250301:01"}));
        assert_eq!(
            rec["track"].as_array().expect("track").len() as u64,
            r["points"].as_u64().expect("points")
        );
    }

    assert_eq!(ok(&w, "list_conflicts", json!({})), json!([]));
    assert_eq!(ok(&w, "sync_status", json!({}))["state"], "idle");
    let summary = ok(&w, "sync_summary", json!({}));
    assert!(summary["relay"].is_null());
    ok(&w, "set_lang", json!({"lang": "en"}));
    assert_eq!(ok(&w, "app_info", json!({}))["lang"], "en");
    // The dashboard counts what the store holds.
    let dash = ok(&w, "dashboard", json!({"q": {}}));
    assert!(
        dash["counts"]
            .as_array()
            .expect("counts")
            .iter()
            .any(|c| c["kind"] == "patrol" && c["count"] == 1),
        "{dash}"
    );
}

#[test]
fn commands_outside_the_capability_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_app, w) = app(&dir.path().join("store"));
    for cmd in [
        "plugin:fs|read_file",
        "plugin:shell|execute",
        "plugin:http|fetch",
        "no_such_command",
    ] {
        assert!(call(&w, cmd, json!({})).is_err(), "{cmd} must be refused");
    }
}

#[test]
fn a_report_is_computed_and_exported_through_ipc() {
    let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("Tải về");
    // The export folder is the user's Downloads folder unless this says otherwise.
    std::env::set_var("TIDEMARK_EXPORT_DIR", &exports);
    let (_app, w) = app(&dir.path().join("store"));
    set_up(&w);
    let mut second = patrol("patrol:TT:20250301:02", "Xuồng CQ-05");
    second["violations"] = json!([{"registration": "TG-93096-TS", "violation": "Sử dụng ngư cụ cấm",
                                   "action": "Phạt tiền", "fine_vnd": 25_000_000u64}]);
    for p in [patrol("patrol:TT:20250301:01", "Tàu BP-15-01"), second] {
        ok(&w, "save_record", json!({"record": p}));
    }
    let q =
        json!({"from": "2025-03-01", "to": "2025-03-31", "units": ["Đồn Biên phòng Tân Thành"]});
    let report = ok(&w, "report", json!({"q": q}));
    let patrols = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["key"] == "patrols")
        .expect("patrols table");
    let total = &patrols["total"]["cells"];
    assert_eq!(total[0]["value"], 2.0, "two patrols");
    assert_eq!(total[1]["value"], 13.0, "6.5 hours each");
    assert_eq!(total[7]["value"], 25_000_000.0, "the fine");
    let fine_source = total[7]["sources"][0].as_u64().expect("a source") as usize;
    assert_eq!(
        report["sources"][fine_source]["id"],
        "patrol:TT:20250301:02"
    );

    let first = ok(
        &w,
        "export_report",
        json!({"q": q, "format": "html", "details": true}),
    );
    let second = ok(
        &w,
        "export_report",
        json!({"q": q, "format": "html", "details": false}),
    );
    let path = std::path::PathBuf::from(first["path"].as_str().expect("path"));
    assert_eq!(path, exports.join("bao-cao-2025-03-01-2025-03-31.html"));
    assert_ne!(first["path"], second["path"], "an export never overwrites");
    let page = std::fs::read_to_string(&path).expect("exported page");
    assert!(page.contains("Báo cáo sơ kết công tác phối hợp") && page.contains("<svg"));

    let err = call(
        &w,
        "report",
        json!({"q": {"from": "2025-03-31", "to": "2025-03-01"}}),
    )
    .expect_err("backwards");
    assert_eq!(err["kind"], "user");
    let err = call(
        &w,
        "export_report",
        json!({"q": q, "format": "pdf", "details": false}),
    )
    .expect_err("unknown format");
    assert_eq!(err["kind"], "user");
    std::env::remove_var("TIDEMARK_EXPORT_DIR");
}
