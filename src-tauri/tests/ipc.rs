//! The shell through real IPC, without a display: Tauri's mock runtime, the app's own
//! `tauri.conf.json` and capability files (so grants are enforced), a real device store.

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
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().expect("json body"))
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

/// `encodeURIComponent`, as the UI sends header values.
fn uri_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn attach(
    w: &WebviewWindow<tauri::test::MockRuntime>,
    id: &str,
    place: Value,
    name: &str,
    bytes: &[u8],
) -> Result<Value, Value> {
    let (id, place, name) = (
        uri_component(id),
        uri_component(&place.to_string()),
        uri_component(name),
    );
    call_raw(
        w,
        "attach_file",
        InvokeBody::Raw(bytes.to_vec()),
        &[
            ("tidemark-id", &id),
            ("tidemark-place", &place),
            ("tidemark-name", &name),
        ],
    )
}

/// A real photo-like PNG (a gradient), so a thumbnail is made.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn data_url_bytes(url: &Value, prefix: &str) -> Vec<u8> {
    use base64::Engine as _;
    let s = url.as_str().expect("a data URL");
    let b64 = s
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{} does not start with {prefix}", &s[..40.min(s.len())]));
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

#[test]
fn files_are_attached_listed_previewed_saved_and_opened_through_ipc() {
    let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("Tải về");
    std::env::set_var("TIDEMARK_EXPORT_DIR", &exports);
    // `open_attachment` runs this instead of the desktop's default application.
    std::env::set_var("TIDEMARK_OPEN_WITH", "true");
    let store = dir.path().join("store");
    let (_app, w) = app(&store);
    set_up(&w);
    let id = "patrol:TT:20250301:01";
    let mut p = patrol(id, "BP-15-01");
    p["vessels_inspected"] = json!([{"registration": "TG-90123-TS", "result": "Không vi phạm"}]);
    p["violations"] = json!([{"registration": "TG-93096-TS", "violation": "Sử dụng ngư cụ cấm",
                              "action": "Phạt tiền", "fine_vnd": 25_000_000u64}]);
    ok(&w, "save_record", json!({ "record": p }));

    // A photo on the patrol itself: stored, referenced, with a thumbnail.
    let photo = png(640, 480);
    let a = attach(&w, id, json!({"on": "record"}), "ảnh tàu cá.png", &photo).expect("attach");
    assert_eq!(a["added"], true);
    assert_eq!(a["deduplicated"], false);
    assert_eq!(a["attachment"]["name"], "ảnh tàu cá.png");
    assert_eq!(a["attachment"]["mime"], "image/png");
    assert_eq!(a["attachment"]["size"], photo.len() as u64);
    let hash = a["attachment"]["hash"].as_str().expect("hash").to_string();
    let thumb = a["attachment"]["thumb"]
        .as_str()
        .expect("a thumbnail")
        .to_string();
    // The same photo on the inspection is stored once; a text file on the violation, sent as
    // the JSON array Tauri falls back to when the IPC protocol is blocked.
    let again = attach(
        &w,
        id,
        json!({"on": "inspection", "index": 0}),
        "ảnh tàu cá.png",
        &photo,
    )
    .expect("attach again");
    assert_eq!(again["deduplicated"], true);
    let note = "Biên bản vi phạm hành chính số 12/BB-VPHC".as_bytes();
    let headers = [
        ("tidemark-id", uri_component(id)),
        (
            "tidemark-place",
            uri_component(r#"{"on":"violation","index":0}"#),
        ),
        ("tidemark-name", uri_component("biên bản vi phạm.txt")),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = call_raw(&w, "attach_file", InvokeBody::Json(json!(note)), &headers)
        .expect("attach as an array");
    assert_eq!(text["attachment"]["mime"], "text/plain");
    assert!(text["attachment"]["thumb"].is_null());
    let text_hash = text["attachment"]["hash"]
        .as_str()
        .expect("hash")
        .to_string();

    // Places that do not exist are refused, in Vietnamese and English, and store nothing.
    let err = attach(
        &w,
        id,
        json!({"on": "violation", "index": 5}),
        "x.png",
        b"x",
    )
    .expect_err("no sixth violation");
    assert_eq!(err["kind"], "user");
    let msg = err["message"].as_str().expect("message");
    assert!(
        msg.contains("vi phạm thứ 6") && msg.contains("(the patrol has no"),
        "{msg}"
    );
    let unit = ok(&w, "list_records", json!({"q": {"kind": "unit"}}))["rows"][0]["id"].clone();
    let err = attach(
        &w,
        unit.as_str().expect("unit id"),
        json!({"on": "record"}),
        "x.png",
        b"x",
    )
    .expect_err("units take no files");
    assert_eq!(err["kind"], "user");
    let err = attach(&w, id, json!({"on": "roof"}), "x.png", b"x").expect_err("no such place");
    assert_eq!(err["kind"], "user");
    let err = call_raw(
        &w,
        "attach_file",
        InvokeBody::Raw(b"x".to_vec()),
        &[("tidemark-id", id)],
    )
    .expect_err("no name or place");
    assert_eq!(err["kind"], "user");
    let err = attach(
        &w,
        "patrol:TT:20990101:01",
        json!({"on": "record"}),
        "x.png",
        b"x",
    )
    .expect_err("no such record");
    assert_eq!(err["kind"], "not_found");
    let big = vec![0u8; 64 * 1024 * 1024 + 1];
    let err = attach(&w, id, json!({"on": "record"}), "phim.mp4", &big).expect_err("too large");
    assert_eq!(err["kind"], "too_large");
    drop(big);

    // The list: every place, each file here.
    let rows = ok(&w, "attachments", json!({ "id": id }));
    let rows = rows.as_array().expect("rows");
    let mut places: Vec<&str> = rows
        .iter()
        .map(|r| r["place"].as_str().expect("place"))
        .collect();
    places.sort();
    assert_eq!(
        places,
        [
            "attachments",
            "vessels_inspected[0].attachments",
            "violations[0].attachments"
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r["present"] == true && r["record_id"] == id));
    let photo_row = rows
        .iter()
        .find(|r| r["place"] == "attachments")
        .expect("photo");
    assert_eq!(photo_row["thumb_present"], true);
    assert_eq!(photo_row["name"], "ảnh tàu cá.png");
    let err = call(&w, "attachments", json!({"id": "patrol:TT:20990101:01"})).expect_err("none");
    assert_eq!(err["kind"], "not_found");

    // Thumbnails and previews as data: URLs; other files never as a renderable type.
    let t = data_url_bytes(
        &ok(&w, "attachment_data", json!({ "hash": thumb })),
        "data:image/jpeg;base64,",
    );
    assert!(t.starts_with(b"\xFF\xD8\xFF") && t.len() <= 20 * 1024);
    let full = data_url_bytes(
        &ok(&w, "attachment_data", json!({ "hash": hash })),
        "data:image/png;base64,",
    );
    assert_eq!(full, photo);
    let txt = data_url_bytes(
        &ok(&w, "attachment_data", json!({ "hash": text_hash })),
        "data:application/octet-stream;base64,",
    );
    assert_eq!(txt, note);
    let absent = "ab".repeat(32);
    assert_eq!(
        ok(&w, "attachment_data", json!({ "hash": absent })),
        Value::Null
    );
    let err =
        call(&w, "attachment_data", json!({"hash": "../../tidemark.db"})).expect_err("not a hash");
    assert_eq!(err["kind"], "user");

    // Save as: into the export folder under the record's name, never over a file, never
    // outside the folder whatever the name says.
    let saved = ok(
        &w,
        "save_attachment",
        json!({"hash": hash, "name": "ảnh tàu cá.png"}),
    );
    assert_eq!(
        saved["path"].as_str().expect("path"),
        exports.join("ảnh tàu cá.png").display().to_string()
    );
    assert_eq!(saved["bytes"], photo.len() as u64);
    assert_eq!(
        std::fs::read(exports.join("ảnh tàu cá.png")).expect("saved"),
        photo
    );
    let second = ok(
        &w,
        "save_attachment",
        json!({"hash": hash, "name": "ảnh tàu cá.png"}),
    );
    assert_eq!(
        second["path"].as_str().expect("path"),
        exports.join("ảnh tàu cá-2.png").display().to_string()
    );
    for (name, expected) in [
        ("../../x.jpg", "x.jpg".to_string()),
        ("..\\..\\biên bản.txt", "biên bản.txt".to_string()),
        ("/etc/passwd", "passwd".to_string()),
        ("..", format!("{}.png", &hash[..12])),
        ("", format!("{}-2.png", &hash[..12])),
    ] {
        let saved = ok(&w, "save_attachment", json!({"hash": hash, "name": name}));
        let path = std::path::PathBuf::from(saved["path"].as_str().expect("path"));
        assert_eq!(path.parent(), Some(exports.as_path()), "{name}");
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some(expected.as_str()),
            "{name}"
        );
    }
    assert!(
        !dir.path().join("x.jpg").exists() && !store.join("x.jpg").exists(),
        "nothing escaped the export folder"
    );

    // Open: a copy named by hash in the data directory, handed to the system's application.
    let opened = ok(&w, "open_attachment", json!({ "hash": hash }));
    let path = store.join("opened").join(format!("{}.png", &hash[..12]));
    assert_eq!(opened["path"], path.display().to_string());
    assert_eq!(std::fs::read(&path).expect("opened copy"), photo);
    let opened = ok(&w, "open_attachment", json!({ "hash": text_hash }));
    assert!(opened["path"]
        .as_str()
        .expect("path")
        .ends_with(&format!("{}.txt", &text_hash[..12])));

    // A file a record refers to that has not arrived: listed as absent; no data, no copy.
    let mut other = patrol("patrol:TT:20250301:02", "BP-15-02");
    other["attachments"] = json!([{"hash": absent, "name": "ảnh từ đồn khác.jpg",
                                   "mime": "image/jpeg", "size": 123456}]);
    ok(&w, "save_record", json!({ "record": other }));
    let rows = ok(&w, "attachments", json!({"id": "patrol:TT:20250301:02"}));
    assert_eq!(rows[0]["present"], false);
    assert_eq!(rows[0]["thumb_present"], false);
    let err = call(
        &w,
        "save_attachment",
        json!({"hash": absent, "name": "ảnh từ đồn khác.jpg"}),
    )
    .expect_err("not here");
    assert_eq!(err["kind"], "not_here");
    let err = call(&w, "open_attachment", json!({ "hash": absent })).expect_err("not here");
    assert_eq!(err["kind"], "not_here");

    std::env::remove_var("TIDEMARK_EXPORT_DIR");
    std::env::remove_var("TIDEMARK_OPEN_WITH");
}

/// Every file under `dir` (the store, its WAL, the key file, attachments).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The commands that touch records, with arguments that would work on an open store.
fn record_commands() -> Vec<(&'static str, Value)> {
    vec![
        ("units", json!({})),
        ("list_records", json!({})),
        ("search_records", json!({"text": "kieng phuoc"})),
        ("get_record", json!({"id": "patrol:TT:20250301:01"})),
        (
            "save_record",
            json!({"record": patrol("patrol:TT:20250301:09", "BP-15-09")}),
        ),
        (
            "edit_field",
            json!({"id": "patrol:TT:20250301:01", "field": "vessel", "value": "X"}),
        ),
        ("record_history", json!({"id": "patrol:TT:20250301:01"})),
        ("list_conflicts", json!({})),
        ("dashboard", json!({"q": {}})),
        ("sync_summary", json!({})),
        ("set_lang", json!({"lang": "en"})),
        (
            "report",
            json!({"q": {"from": "2025-03-01", "to": "2025-03-31"}}),
        ),
        ("attachments", json!({"id": "patrol:TT:20250301:01"})),
        ("attachment_data", json!({"hash": "ab".repeat(32)})),
        (
            "enroll",
            json!({"server": "http://127.0.0.1:9", "code": "K7Q-2XP"}),
        ),
    ]
}

#[test]
fn first_run_refuses_a_short_passphrase_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let (_app, w) = app(&store);
    let err = call(
        &w,
        "set_up",
        json!({"unit": STATION, "user": "Trung úy Lê Quốc Vũ", "passphrase": "  1234567 "}),
    )
    .expect_err("too short");
    assert_eq!(err["kind"], "invalid", "{err}");
    assert_eq!(err["problems"][0]["field"], "passphrase");
    assert!(
        err["problems"][0]["vi"]
            .as_str()
            .is_some_and(|m| m.contains("ít nhất 8 ký tự")),
        "{err}"
    );
    // The message never repeats what was typed.
    assert!(!err.to_string().contains("1234567"), "{err}");
    assert!(
        call(
            &w,
            "set_up",
            json!({"unit": STATION, "user": "Trung úy Lê Quốc Vũ"})
        )
        .is_err(),
        "a passphrase is required"
    );
    assert!(!tidemark_client::is_encrypted(&store));
    assert_eq!(ok(&w, "app_info", json!({}))["set_up"], false);
}

#[test]
fn an_encrypted_store_starts_locked_refuses_a_wrong_passphrase_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let secret_text = "Kiểng Phước về bến an toàn";
    {
        let (_app, w) = app(&store);
        set_up(&w);
        let mut p = patrol("patrol:TT:20250301:01", "BP-15-01");
        p["notes"] = json!(format!("Sóng cấp 3, tàu cá {secret_text}."));
        ok(&w, "save_record", json!({ "record": p }));
        ok(&w, "set_lang", json!({"lang": "en"}));
    }
    // Encrypted at rest: a key file, and no file holds the record's text or the unit's name.
    assert!(tidemark_client::is_encrypted(&store));
    assert!(store.join("keyring.json").exists());
    let files = files_under(&store);
    assert!(
        files.iter().any(|f| f.ends_with("tidemark.db")),
        "{files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        for text in [secret_text, STATION, PASS] {
            assert!(
                !contains(&bytes, text.as_bytes()),
                "{} holds “{text}” in the clear",
                f.display()
            );
        }
    }

    // The app starts locked: it says so and nothing else.
    let (app, w) = app(&store);
    let info = ok(&w, "app_info", json!({}));
    assert_eq!(info["set_up"], true);
    assert_eq!(info["locked"], true);
    assert!(info["unit"].is_null() && info["user"].is_null() && info["device_id"].is_null());
    assert!(info["relay"].is_null());
    for (cmd, args) in record_commands() {
        let err = call(&w, cmd, args).expect_err(cmd);
        assert_eq!(err["kind"], "locked", "{cmd}: {err}");
    }
    // First run cannot start over on a locked store.
    let err = call(
        &w,
        "set_up",
        json!({"unit": "Đồn khác", "user": "Ai đó", "passphrase": "mot mat khau khac"}),
    )
    .expect_err("locked");
    assert_eq!(err["kind"], "locked");

    // A wrong passphrase: refused, in Vietnamese, and nothing changed on disk.
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = files_under(&store)
        .into_iter()
        .map(|f| {
            let b = std::fs::read(&f).expect("read");
            (f, b)
        })
        .collect();
    let err = call(&w, "unlock", json!({"passphrase": "Biển đảo Tổ quốc 2024"}))
        .expect_err("wrong passphrase");
    assert_eq!(err["kind"], "wrong_passphrase", "{err}");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Sai mật khẩu")),
        "{err}"
    );
    assert!(!err.to_string().contains("2024"), "{err}");
    for (f, b) in &before {
        assert_eq!(
            &std::fs::read(f).expect("read"),
            b,
            "{} changed",
            f.display()
        );
    }
    assert_eq!(files_under(&store).len(), before.len());
    assert_eq!(ok(&w, "app_info", json!({}))["locked"], true);
    assert_eq!(
        call(&w, "list_records", json!({})).expect_err("still locked")["kind"],
        "locked"
    );

    // The right one: everything is back, with the language chosen before.
    let info = ok(&w, "unlock", json!({ "passphrase": PASS }));
    assert_eq!(info["locked"], false);
    assert_eq!(info["unit"], STATION);
    assert_eq!(info["lang"], "en");
    let hits = ok(&w, "search_records", json!({"text": "kieng phuoc ve ben"}));
    assert_eq!(hits[0]["id"], "patrol:TT:20250301:01");
    // Unlocking an open store changes nothing.
    assert_eq!(
        ok(&w, "unlock", json!({"passphrase": "whatever"}))["locked"],
        false
    );

    // Lock: the window is told, records are out of reach, first run stays closed.
    let (tx, rx) = std::sync::mpsc::channel();
    tauri::Listener::listen_any(&app, "locked", move |_| {
        let _ = tx.send(());
    });
    let info = ok(&w, "lock", json!({}));
    assert_eq!(info["locked"], true);
    assert!(info["unit"].is_null());
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("a `locked` event");
    for (cmd, args) in record_commands() {
        let err = call(&w, cmd, args).expect_err(cmd);
        assert_eq!(err["kind"], "locked", "{cmd}: {err}");
    }
    // Locking twice is harmless.
    assert_eq!(ok(&w, "lock", json!({}))["locked"], true);

    // Unlock again: the data are still there and writable.
    ok(&w, "unlock", json!({ "passphrase": PASS }));
    let rec = ok(&w, "get_record", json!({"id": "patrol:TT:20250301:01"}));
    assert!(rec["record"]["notes"]
        .as_str()
        .is_some_and(|n| n.contains(secret_text)));
    assert_eq!(
        ok(
            &w,
            "edit_field",
            json!({"id": "patrol:TT:20250301:01", "field": "vessel", "value": "Xuồng CQ-07"})
        ),
        "updated"
    );
    assert_eq!(
        ok(&w, "list_records", json!({}))["total"],
        2,
        "patrol + unit"
    );
}

#[test]
fn an_encrypted_stores_opened_copies_stay_out_of_the_data_dir_and_go_when_it_locks() {
    let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).expect("runtime dir");
    let runtime_before = std::env::var_os("XDG_RUNTIME_DIR");
    std::env::set_var("XDG_RUNTIME_DIR", &run);
    std::env::set_var("TIDEMARK_OPEN_WITH", "true");
    let store = dir.path().join("store");
    let (app, w) = app(&store);
    set_up(&w);
    let id = "patrol:TT:20250301:01";
    ok(
        &w,
        "save_record",
        json!({ "record": patrol(id, "BP-15-01") }),
    );
    let photo = png(320, 240);
    let a = attach(&w, id, json!({"on": "record"}), "ảnh tàu cá.png", &photo).expect("attach");
    let hash = a["attachment"]["hash"].as_str().expect("hash").to_string();

    // The plaintext copy goes to the private runtime directory, not beside the store.
    let opened = ok(&w, "open_attachment", json!({ "hash": hash }));
    let path = std::path::PathBuf::from(opened["path"].as_str().expect("path"));
    assert!(path.starts_with(&run), "{}", path.display());
    assert_eq!(std::fs::read(&path).expect("opened copy"), photo);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.parent().expect("dir"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert!(!store.join("opened").exists());

    // Locking removes it.
    ok(&w, "lock", json!({}));
    assert!(!path.exists(), "the opened copy outlived the lock");
    drop((app, w));
    match runtime_before {
        Some(v) => std::env::set_var("XDG_RUNTIME_DIR", v),
        None => std::env::remove_var("XDG_RUNTIME_DIR"),
    }
    std::env::remove_var("TIDEMARK_OPEN_WITH");
}

/// Polls `app_info` (a read: it does not count as activity) until `locked` is `want`.
fn wait_locked(w: &WebviewWindow<tauri::test::MockRuntime>, want: bool, within: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(within);
    while std::time::Instant::now() < deadline {
        if ok(w, "app_info", json!({}))["locked"] == want {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

#[test]
fn the_app_locks_itself_after_the_idle_time_and_activity_postpones_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let idle = std::time::Duration::from_secs(3);
    let (app, w) = app_with(Shell::new(store.clone()).with_idle_lock(Some(idle)));
    let (tx, rx) = std::sync::mpsc::channel();
    tauri::Listener::listen_any(&app, "locked", move |_| {
        let _ = tx.send(());
    });
    let info = set_up(&w);
    assert_eq!(info["idle_lock_secs"], 3);
    ok(
        &w,
        "save_record",
        json!({"record": patrol("patrol:TT:20250301:01", "BP-15-01")}),
    );

    // The window's pings keep it open well past the idle time.
    let until = std::time::Instant::now() + idle * 2;
    while std::time::Instant::now() < until {
        ok(&w, "activity", json!({}));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(ok(&w, "app_info", json!({}))["locked"], false);
    // Reads alone (what the window does on its own when sync brings news) do not.
    let start = std::time::Instant::now();
    let mut reads_while_open = 0;
    while ok(&w, "app_info", json!({}))["locked"] == false {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the idle lock never came"
        );
        if call(&w, "list_conflicts", json!({})).is_ok() {
            reads_while_open += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(reads_while_open > 0);
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("a `locked` event");
    assert_eq!(
        call(&w, "list_records", json!({})).expect_err("locked")["kind"],
        "locked"
    );

    // Unlocked again, it keeps its data; writes (only a person makes them) postpone the lock
    // like the pings do; left alone, it locks again.
    ok(&w, "unlock", json!({ "passphrase": PASS }));
    assert_eq!(
        ok(&w, "get_record", json!({"id": "patrol:TT:20250301:01"}))["record"]["vessel"],
        "BP-15-01"
    );
    let until = std::time::Instant::now() + idle * 2;
    let mut n = 0;
    while std::time::Instant::now() < until {
        n += 1;
        ok(
            &w,
            "edit_field",
            json!({"id": "patrol:TT:20250301:01", "field": "vessel", "value": format!("BP-15-{n:02}")}),
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(ok(&w, "app_info", json!({}))["locked"], false);
    assert!(wait_locked(&w, true, 30), "no second idle lock");
}

#[test]
fn the_idle_time_comes_from_the_environment_variable() {
    use std::time::Duration;
    use tidemark_app::{idle_lock_from, DEFAULT_IDLE_LOCK};
    assert_eq!(DEFAULT_IDLE_LOCK, Duration::from_secs(600));
    assert_eq!(idle_lock_from(None), Some(DEFAULT_IDLE_LOCK));
    assert_eq!(idle_lock_from(Some("")), Some(DEFAULT_IDLE_LOCK));
    assert_eq!(idle_lock_from(Some("5")), Some(Duration::from_secs(5)));
    assert_eq!(idle_lock_from(Some(" 90 ")), Some(Duration::from_secs(90)));
    assert_eq!(idle_lock_from(Some("0")), None, "0: never");
    assert_eq!(idle_lock_from(Some("mười")), Some(DEFAULT_IDLE_LOCK));
    assert_eq!(idle_lock_from(Some("-1")), Some(DEFAULT_IDLE_LOCK));
}
