//! The store encrypted at rest, as a user meets it: `init` encrypts by default, the files on
//! disk hold no plaintext (database, WAL, attachments), a wrong or missing passphrase changes
//! nothing, `tidemark passphrase` changes it without loss and `tidemark encrypt` converts an
//! unencrypted store in place.

mod common;
use common::{tm_with, DEMO, PASSPHRASE};

const UNIT: &str = "Đồn Biên phòng Kiểng Phước";
const PATROL: &str = "patrol:KP:20250102:01";
/// In the demo records (a violation's vessel registration), so in any plaintext store.
const IN_RECORDS: &str = "TG-90512";
/// In the attached file only.
const IN_FILE: &str = "Biên bản vi phạm: thiếu sổ danh bạ thuyền viên";

fn pass() -> [(&'static str, &'static str); 1] {
    [("TIDEMARK_PASSPHRASE", PASSPHRASE)]
}

fn run_ok(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = tm_with(dir, args, env);
    assert!(
        out.status.success(),
        "tidemark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn run_err(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = tm_with(dir, args, env);
    assert_eq!(out.status.code(), Some(1), "tidemark {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every file under `dir`, with its bytes.
fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    all_files(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(p, _)| p)
        .collect()
}

/// A store with the demo records and one attached file, made with `init_args` and `env`.
fn store_with_a_file(
    init_args: &[&str],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, tempfile::TempDir) {
    let d = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("files");
    let mut args = vec!["init", "--unit", UNIT, "--user", "Đại úy Trần Minh Đức"];
    args.extend_from_slice(init_args);
    run_ok(d.path(), &args, env);
    run_ok(d.path(), &["import", DEMO], env);
    let src = files.path().join("biên bản.txt");
    std::fs::write(&src, IN_FILE).expect("write");
    run_ok(
        d.path(),
        &["attach", PATROL, src.to_str().expect("utf8")],
        env,
    );
    (d, files)
}

/// `attachment get` writes the attached file out as it was.
fn the_file_reads_back(p: &std::path::Path, scratch: &std::path::Path) {
    let out = scratch.join("ra.txt");
    let args = [
        "attachment",
        "get",
        PATROL,
        "biên bản.txt",
        "--out",
        out.to_str().expect("utf8"),
    ];
    run_ok(p, &args, &pass());
    assert_eq!(std::fs::read_to_string(&out).expect("read"), IN_FILE);
}

#[test]
fn an_encrypted_store_keeps_no_plaintext_on_disk_and_a_wrong_passphrase_changes_nothing() {
    let (d, files) = store_with_a_file(&[], &pass());
    let p = d.path();
    assert!(p.join("keyring.json").exists());
    assert_eq!(
        files_containing(p, IN_RECORDS),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_containing(p, "thuyền viên"),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_containing(p, "Kiểng Phước"),
        Vec::<std::path::PathBuf>::new()
    );

    let before = all_files(p);
    let err = run_err(
        p,
        &["list"],
        &[("TIDEMARK_PASSPHRASE", "Đồn Biên phòng 2026")],
    );
    assert!(err.contains("Sai mật khẩu"), "{err}");
    let err = run_err(p, &["list"], &[]);
    assert!(err.contains("TIDEMARK_PASSPHRASE"), "{err}");
    assert_eq!(all_files(p), before, "a refused unlock changes no file");

    // The right passphrase reads everything back, the file included.
    assert!(run_ok(p, &["show", PATROL], &pass()).contains("Kiểng Phước"));
    the_file_reads_back(p, files.path());
}

#[test]
fn changing_the_passphrase_keeps_everything_and_retires_the_old_one() {
    let (d, _files) = store_with_a_file(&[], &pass());
    let p = d.path();
    let listed = run_ok(p, &["list", "--json"], &pass());
    let new = "Trạm Kiểng Phước — mật khẩu mới";
    let err = run_err(
        p,
        &["passphrase"],
        &[
            ("TIDEMARK_PASSPHRASE", "sai rồi nhé"),
            ("TIDEMARK_NEW_PASSPHRASE", new),
        ],
    );
    assert!(err.contains("Sai mật khẩu"), "{err}");
    let err = run_err(
        p,
        &["passphrase"],
        &[
            ("TIDEMARK_PASSPHRASE", PASSPHRASE),
            ("TIDEMARK_NEW_PASSPHRASE", "ngắn"),
        ],
    );
    assert!(err.contains("8"), "{err}");
    run_ok(
        p,
        &["passphrase"],
        &[
            ("TIDEMARK_PASSPHRASE", PASSPHRASE),
            ("TIDEMARK_NEW_PASSPHRASE", new),
        ],
    );
    run_err(p, &["list"], &pass());
    assert_eq!(
        run_ok(p, &["list", "--json"], &[("TIDEMARK_PASSPHRASE", new)]),
        listed
    );
}

#[test]
fn an_unencrypted_store_is_encrypted_in_place_without_loss() {
    let err = run_err(
        tempfile::tempdir().expect("tempdir").path(),
        &["init", "--unit", UNIT],
        &[],
    );
    assert!(err.contains("--unencrypted"), "{err}");

    let (d, files) = store_with_a_file(&["--unencrypted"], &[]);
    let p = d.path();
    // Before: the records and the file are there to read.
    assert!(!files_containing(p, IN_RECORDS).is_empty());
    assert!(!files_containing(p, "thuyền viên").is_empty());
    let listed = run_ok(p, &["list", "--json"], &[]);

    let err = run_err(p, &["encrypt"], &[("TIDEMARK_PASSPHRASE", "ngắn")]);
    assert!(err.contains("8"), "{err}");
    run_ok(p, &["encrypt"], &pass());
    assert_eq!(
        files_containing(p, IN_RECORDS),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_containing(p, "thuyền viên"),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(run_ok(p, &["list", "--json"], &pass()), listed);
    the_file_reads_back(p, files.path());
    let err = run_err(p, &["encrypt"], &pass());
    assert!(err.contains("already encrypted"), "{err}");
}
