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

/// The relay is killed with SIGKILL at a random moment while a device writes and syncs, 50
/// times over one data directory. After every kill the database passes `integrity_check`, the
/// relay starts normally, and a new device receives every change the relay ever acknowledged.
/// `TIDEMARK_CRASH_SEED` replays a run.
#[tokio::test]
async fn fifty_sigkills_at_random_moments_lose_no_acknowledged_change() {
    use rand::{Rng, SeedableRng};
    let seed = std::env::var("TIDEMARK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("seed {seed} (replay with TIDEMARK_CRASH_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let station = "Đồn Biên phòng Tân Thành";
    admin(dir.path(), &["unit", "add", "HQ"]);
    admin(dir.path(), &["unit", "add", station, "--parent", "HQ"]);
    let id = "patrol:TT:20250301:01";
    let mut acked: Vec<String> = Vec::new();
    let (mut interrupted, mut created) = (0, false);
    for round in 0..50 {
        let code = enroll_code(dir.path(), station);
        let (mut child, url) = start(dir.path());
        let mut w = Peer::enroll(&url, &code).await;
        if created {
            // Whatever the last kill interrupted, everything acknowledged is here.
            w.follow(id);
            w.sync_until_quiet().await;
            let notes = w.notes(id);
            for m in &acked {
                assert!(
                    notes.contains(m.as_str()),
                    "seed {seed} round {round}: {m} lost"
                );
            }
        } else {
            w.create(id, station, serde_json::json!([]), vietnamese_doc_text())
                .await;
            // The document's first content is acknowledged before any kill, so every later
            // device finds its text.
            w.sync_until_quiet().await;
            created = true;
        }
        let kill_after = std::time::Duration::from_millis(rng.random_range(1..40));
        let writing = async {
            for n in 0.. {
                let marker = format!("[vòng {round} lần {n}: đã kiểm tra tàu cá] ");
                w.append(id, &marker);
                w.sync_until_quiet().await;
                acked.push(marker);
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(kill_after) => interrupted += 1,
            _ = writing => {}
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let db = rusqlite::Connection::open(dir.path().join("relay.sqlite3")).unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "seed {seed} round {round}");
    }
    let (mut child, url) = start(dir.path());
    let mut r = Peer::enroll(&url, &enroll_code(dir.path(), station)).await;
    r.follow(id);
    r.sync_until_quiet().await;
    let notes = r.notes(id);
    assert!(acked.iter().all(|m| notes.contains(m.as_str())));
    eprintln!(
        "50 kills ({interrupted} during writes), {} acknowledged changes, all present",
        acked.len()
    );
    assert!(
        acked.len() > 50,
        "too few writes between kills: {}",
        acked.len()
    );
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
