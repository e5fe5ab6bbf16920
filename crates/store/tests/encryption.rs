//! The store encrypted at rest with SQLCipher: no plaintext in the files, a wrong key changes
//! nothing, and an unencrypted store exports to an encrypted copy with everything in it.

use tidemark_store::{is_plaintext_database, Store, StoreError, StoreKey};

const SECRET: &str = "Tàu cá KG-93012-TS chở 2 tấn dầu lậu ở Hòn Đá Bạc";

fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn files_of(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", path.display())))
        .collect()
}

#[test]
fn an_encrypted_store_holds_no_plaintext_and_refuses_a_wrong_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let key = StoreKey([7; 32]);
    {
        let mut store = Store::open_keyed(&path, Some(&key)).expect("open");
        store.set_meta("ghi chú", SECRET).expect("write");
        // Still open: the WAL holds the write too, and must be encrypted as well.
        for f in files_of(&path) {
            assert!(
                !file_contains(&f, "KG-93012"),
                "{} has plaintext",
                f.display()
            );
            assert!(
                !file_contains(&f, "ghi ch"),
                "{} has plaintext",
                f.display()
            );
        }
    }
    assert!(!is_plaintext_database(&path).expect("read"));
    let before = std::fs::read(&path).expect("read");
    match Store::open_keyed(&path, Some(&StoreKey([8; 32]))) {
        Err(StoreError::WrongKey) => {}
        other => panic!("a wrong key must be refused, got {other:?}"),
    }
    match Store::open(&path) {
        Err(StoreError::Encrypted) => {}
        other => panic!("no key must be refused, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "nothing changed"
    );
    let store = Store::open_keyed(&path, Some(&key)).expect("reopen");
    assert_eq!(
        store.meta("ghi chú").expect("read").as_deref(),
        Some(SECRET)
    );
}

#[test]
fn an_unencrypted_store_exports_to_an_encrypted_copy_with_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.db");
    let enc = dir.path().join("enc.db");
    {
        let mut store = Store::open(&plain).expect("open");
        store.set_meta("ghi chú", SECRET).expect("write");
    }
    assert!(is_plaintext_database(&plain).expect("read"));
    assert!(file_contains(&plain, "KG-93012"));
    let key = StoreKey([42; 32]);
    Store::export_encrypted(&plain, &enc, &key).expect("export");
    assert!(!file_contains(&enc, "KG-93012"));
    assert!(!is_plaintext_database(&enc).expect("read"));
    let store = Store::open_keyed(&enc, Some(&key)).expect("open copy");
    assert_eq!(
        store.meta("ghi chú").expect("read").as_deref(),
        Some(SECRET)
    );
    let version: i64 = rusqlite_version(&store);
    assert_eq!(version, tidemark_store::latest_schema_version());
}

fn rusqlite_version(store: &Store) -> i64 {
    store.schema_version().expect("version")
}
