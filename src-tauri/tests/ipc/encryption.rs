//! The encrypted store through IPC: first run, locking, unlocking, the idle lock, and no
//! readable copy left behind.

use serde_json::{json, Value};
use tauri::WebviewWindow;
use tidemark_app::Shell;

use super::attachments::{attach, png};
use super::{app, app_with, call, ok, patrol, set_up, ENV, PASS, STATION};

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
