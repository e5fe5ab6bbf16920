//! Append-only migrations: fresh stores, stores written by an older version, and stores from a
//! newer version.

use tidemark_store::{latest_schema_version, Store, StoreError};

fn user_version(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}

#[test]
fn a_fresh_store_runs_every_migration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    Store::open(&path).expect("open");
    assert_eq!(user_version(&path), latest_schema_version());
}

#[test]
fn reopening_keeps_data_and_reruns_no_migration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    {
        let mut s = Store::open(&path).expect("open");
        s.set_meta("unit", "Đồn Biên phòng Vàm Láng").expect("meta");
        let tx = s.begin().expect("tx");
        tx.append_chunk("patrol:1", "patrol", b"bytes", 1)
            .expect("chunk");
        tx.commit().expect("commit");
    }
    // Schema 1 is the only one so far; when migration 2 lands, this test gains a store file
    // written at schema 1 (kept under tests/) to upgrade.
    let s = Store::open(&path).expect("reopen");
    assert_eq!(
        s.meta("unit").expect("meta").as_deref(),
        Some("Đồn Biên phòng Vàm Láng")
    );
    assert_eq!(
        s.load_doc("patrol:1").expect("load"),
        Some(b"bytes".to_vec())
    );
    assert_eq!(user_version(&path), latest_schema_version());
}

#[test]
fn a_store_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    Store::open(&path).expect("open");
    {
        let conn = rusqlite::Connection::open(&path).expect("open raw");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    let err = Store::open(&path).expect_err("newer");
    assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }));
    assert!(err.to_string().contains("newer Tidemark"));
    assert_eq!(user_version(&path), 99);
}

#[test]
fn a_file_that_is_not_a_database_is_reported_as_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    std::fs::write(&path, vec![0x42u8; 8192]).expect("write junk");
    let err = Store::open(&path).expect_err("junk");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

/// The app and the command line may open a fresh store at the same moment; SQLite answers
/// some of those lock conflicts with "busy" at once, and opening must ride over them.
#[test]
fn many_processes_opening_a_fresh_store_at_once_all_succeed() {
    for round in 0..60 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tidemark.sqlite3");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|i| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for j in 0..5 {
                        let mut store = Store::open(&path)?;
                        store.set_meta(&format!("trạm-{i}-{j}"), "Đồn Biên phòng")?;
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        for opener in openers {
            opener
                .join()
                .expect("opener thread")
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        assert_eq!(user_version(&path), latest_schema_version());
    }
}
