//! Running the `tidemark` binary from the tests: with a data directory, output captured,
//! the language left at its default. Each test binary uses some of these helpers, not all.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The passphrase the tests' stores are encrypted with.
pub const PASSPHRASE: &str = "Đồn Biên phòng 2026 — mật khẩu thử";

/// Runs `tidemark --data-dir DIR ARGS…` with the tests' passphrase in `TIDEMARK_PASSPHRASE`.
pub fn tm(dir: &Path, args: &[&str]) -> Output {
    tm_with(dir, args, &[("TIDEMARK_PASSPHRASE", PASSPHRASE)])
}

/// Runs `tidemark --data-dir DIR ARGS…` with exactly the passphrase variables in `env`.
pub fn tm_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidemark"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("TIDEMARK_LANG")
        .env_remove("TIDEMARK_PASSPHRASE")
        .env_remove("TIDEMARK_NEW_PASSPHRASE")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tidemark")
}

/// Runs it, asserts success and returns standard output.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = tm(dir, args);
    assert!(
        out.status.success(),
        "tidemark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

/// Runs it with `--json` output and parses it.
pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(dir, args)).expect("valid JSON output")
}

/// The demo records.
pub const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo.jsonl");

/// A new store for `unit` used by `user`, with the demo records imported.
pub fn demo_store(unit: &str, user: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(dir.path(), &["init", "--unit", unit, "--user", user]);
    ok(dir.path(), &["import", DEMO]);
    dir
}
