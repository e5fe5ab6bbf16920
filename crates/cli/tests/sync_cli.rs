//! `tidemark enroll | sync | status | show | bundle | demo` as a user runs them, against a real
//! relay on loopback.

use std::process::Command;

mod common;
use common::{json, ok, tm};

use tidemark_sync_server::EmbeddedRelay;

const STATION: &str = "Đồn Biên phòng Tân Thành";
const HQ: &str = "Bộ Chỉ huy BĐBP tỉnh Tiền Giang";

const PATROL: &str = r#"{"type":"patrol","id":"patrol:TT:20250301:01","station":"Đồn Biên phòng Tân Thành","start":"2025-03-01T05:00:00+07:00","end":"2025-03-01T11:30:00+07:00","sea_area":"Cửa Soài Rạp","vessel":"BP-15-01","commander":"Trung úy Lê Quốc Vũ","notes":"Sóng cấp 3, tàu cá về bến an toàn."}"#;

#[test]
fn enroll_sync_status_show_and_bundles_from_the_command_line() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = rt
        .block_on(EmbeddedRelay::start(&dir.path().join("relay")))
        .expect("relay");
    relay.add_unit(HQ, None).expect("unit");
    relay.add_unit(STATION, Some(HQ)).expect("unit");
    let code = relay.enrolment_code(STATION, "máy trực ban").expect("code");
    let st = dir.path().join("tt");
    ok(
        &st,
        &["init", "--unit", STATION, "--user", "Trung úy Lê Quốc Vũ"],
    );

    // Not enrolled yet: sync says what to do, exit 1.
    let out = tm(&st, &["sync", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tidemark enroll"));

    // A wrong code is refused clearly; the right one enrols; the token is never printed.
    let out = tm(&st, &["enroll", "--server", &relay.url, "--code", "000000"]);
    assert_eq!(out.status.code(), Some(1));
    let out = tm(&st, &["enroll", "--server", &relay.url, "--code", &code]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("tmk_"), "the token leaked: {all}");

    std::fs::write(dir.path().join("p.jsonl"), PATROL).expect("write");
    ok(
        &st,
        &["import", dir.path().join("p.jsonl").to_str().expect("path")],
    );
    let s = json(&st, &["status", "--json"]);
    assert!(s["pending"].as_u64().expect("pending") >= 1, "{s}");
    assert!(s["last_ok"].is_null());
    let report = json(&st, &["sync", "--once", "--json"]);
    assert!(
        report["changes_sent"].as_u64().expect("sent") >= 1,
        "{report}"
    );
    let s = json(&st, &["status", "--json"]);
    assert_eq!(s["pending"], 0, "{s}");
    assert!(s["last_ok"].as_i64().is_some());
    let text = ok(&st, &["status"]);
    assert!(!text.contains("tmk_"));
    let show = ok(&st, &["show", "patrol:TT:20250301:01"]);
    assert!(show.contains("✓ đã tới máy chủ trung chuyển"), "{show}");
    let shown = json(&st, &["show", "patrol:TT:20250301:01", "--json"]);
    assert_eq!(shown["delivery"]["stage"], "at_relay");

    // A bundle to a device with no link, its receipt back, a tampered copy refused.
    let hq = dir.path().join("hq");
    ok(
        &hq,
        &["init", "--unit", HQ, "--user", "Thiếu tá Phạm Quang Huy"],
    );
    let bundle = dir.path().join("usb.tmb");
    ok(
        &st,
        &["bundle", "export", "--out", bundle.to_str().expect("path")],
    );
    let merged = ok(&hq, &["bundle", "import", bundle.to_str().expect("path")]);
    assert!(merged.contains("Đã hợp nhất gói"), "{merged}");
    let receipt = dir.path().join("usb.tmb.receipt.json");
    assert!(receipt.exists());
    ok(&st, &["bundle", "import", receipt.to_str().expect("path")]);
    let shown = json(&st, &["show", "patrol:TT:20250301:01", "--json"]);
    assert_eq!(shown["delivery"]["stage"], "received_by_hq", "{shown}");
    let mut bytes = std::fs::read(&bundle).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let bad = dir.path().join("bad.tmb");
    std::fs::write(&bad, &bytes).expect("write");
    let out = tm(
        &hq,
        &[
            "--lang",
            "en",
            "bundle",
            "import",
            bad.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum_mismatch"));
    rt.block_on(relay.stop()).expect("stop");
}

#[test]
fn the_demo_tells_the_whole_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_tidemark"))
        .args(["--lang", "en", "demo", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .expect("run demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "HQ holds 8 patrols",
        "received by HQ",
        "status:",
        "Converged: yes",
        "HTTP round trips",
    ] {
        assert!(text.contains(needle), "missing “{needle}” in:\n{text}");
    }
}
