//! Attachments through IPC: attach, list, preview, save a copy, open.

use serde_json::{json, Value};
use tauri::ipc::InvokeBody;
use tauri::WebviewWindow;

use super::{app, call, call_raw, ok, patrol, set_up, ENV};

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

pub(super) fn attach(
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
pub(super) fn png(w: u32, h: u32) -> Vec<u8> {
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
