//! The `tidemark-server` binary as a separate process: admin commands, and a relay killed
//! with SIGKILL that keeps every change it acknowledged.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{vietnamese_doc_text, Peer};

const BIN: &str = env!("CARGO_BIN_EXE_tidemark-server");

/// Runs an admin command and returns its stdout; fails the test if it fails.
fn admin(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The one-time code: `device enroll` prints it alone on its last line.
fn enroll_code(dir: &Path, unit: &str) -> String {
    let out = admin(
        dir,
        &[
            "device",
            "enroll",
            "--unit",
            unit,
            "--name",
            "máy tính bảng",
        ],
    );
    out.lines().last().unwrap().trim().to_string()
}

/// Starts `serve` on port 0 and waits for its "listening on" line (no sleeps).
fn start(dir: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("tidemark-server listening on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{addr}"))
}

#[tokio::test]
async fn a_relay_killed_with_sigkill_keeps_every_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    admin(dir.path(), &["unit", "add", "HQ"]);
    admin(
        dir.path(),
        &["unit", "add", "Đồn Biên phòng Tân Thành", "--parent", "HQ"],
    );
    let station = "Đồn Biên phòng Tân Thành";
    let (code_a, code_b) = (
        enroll_code(dir.path(), station),
        enroll_code(dir.path(), station),
    );
    let (mut child, url) = start(dir.path());
    let mut a = Peer::enroll(&url, &code_a).await;
    let id = "patrol:TT:20250110:01";
    a.create(id, station, serde_json::json!([]), vietnamese_doc_text())
        .await;
    for i in 0..5 {
        a.append(id, &format!("Điểm kiểm tra số {i}. "));
        a.sync_until_quiet().await;
    }
    let expected = a.notes(id);
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, url) = start(dir.path());
    let mut b = Peer::enroll(&url, &code_b).await;
    b.follow(id);
    b.sync_until_quiet().await;
    assert_eq!(b.notes(id), expected);

    let list = admin(dir.path(), &["device", "list"]);
    let ids: Vec<&str> = list
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.id.as_str()) && ids.contains(&b.id.as_str()));
    admin(dir.path(), &["device", "revoke", &a.id]);
    a.url = url.clone();
    let resp = a.get("/v1/feed").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn example_config_and_bad_commands() {
    let out = Command::new(BIN).arg("example-config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:8787\""));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["unit", "add", "TT", "--parent", "Nowhere"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unit not found"));
}

#[tokio::test]
async fn sigterm_stops_the_relay_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    admin(dir.path(), &["unit", "add", "HQ"]);
    let (mut child, url) = start(dir.path());
    let health = reqwest::get(format!("{url}/v1/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}
