//! Signed changes on the device (issue 10, item 4): every change this device makes is signed
//! in the transaction that stores it, its history says so entry by entry, changes that came
//! without a signature say that, and a store from before signing gets a key on first open that
//! signs everything it made before.

use tidemark_client::Client;

const DEMO: &str = include_str!("../../../fixtures/demo.jsonl");
const PATROL: &str = "patrol:TT:20250101:01";

fn verdicts(c: &Client, id: &str) -> Vec<&'static str> {
    c.history(id)
        .expect("history")
        .iter()
        .map(|e| e.signature.expect("checked"))
        .collect()
}

#[test]
fn every_change_made_here_verifies_and_one_that_came_unsigned_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hq = Client::init(
        dir.path(),
        "Bộ Chỉ huy BĐBP tỉnh Tiền Giang",
        "Thiếu tá Phạm Quang Huy",
    )
    .expect("init");
    hq.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    hq.splice(PATROL, "notes", 0, 0, "Chỉ huy đã duyệt. ")
        .expect("edit");
    let mine = verdicts(&hq, PATROL);
    assert!(mine.len() >= 2);
    assert!(mine.iter().all(|v| *v == "verified"), "{mine:?}");

    // Another device gets the document as raw changes, without their signatures: it cannot
    // vouch for them, and says so; its own edit on top verifies.
    let other = tempfile::tempdir().expect("tempdir");
    let mut station = Client::init(
        other.path(),
        "Đồn Biên phòng Tân Thành",
        "Trung úy Lê Quốc Vũ",
    )
    .expect("init");
    let bytes = hq.document_bytes(PATROL).expect("bytes");
    station.apply_changes(PATROL, &bytes).expect("apply");
    station
        .splice(PATROL, "notes", 0, 0, "Đồn đã nhận. ")
        .expect("edit");
    let seen = verdicts(&station, PATROL);
    assert_eq!(seen.last(), Some(&"verified"), "{seen:?}");
    assert!(
        seen[..seen.len() - 1].iter().all(|v| *v == "unsigned"),
        "{seen:?}"
    );
}

#[test]
fn a_store_from_before_signing_gets_a_key_that_signs_what_it_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_before = {
        let mut c = Client::init(
            dir.path(),
            "Đồn Biên phòng Tân Thành",
            "Trung úy Lê Quốc Vũ",
        )
        .expect("init");
        c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
            .expect("import");
        c.splice(PATROL, "notes", 0, 0, "Biển lặng. ")
            .expect("edit");
        c.sign_public_key().expect("key")
    };
    // What a store written by the previous version looks like: no key, no signatures.
    {
        let conn =
            rusqlite::Connection::open(dir.path().join(tidemark_client::STORE_FILE)).expect("open");
        conn.execute_batch(
            "DELETE FROM meta WHERE key = 'sign_seed'; DELETE FROM change_signatures;",
        )
        .expect("strip");
    }
    let c = Client::open(dir.path()).expect("open");
    assert_ne!(c.sign_public_key().expect("key"), key_before, "a new key");
    let all = verdicts(&c, PATROL);
    assert!(all.iter().all(|v| *v == "verified"), "{all:?}");
    // Opening again keeps the key.
    let key = c.sign_public_key().expect("key");
    drop(c);
    assert_eq!(
        Client::open(dir.path())
            .expect("open")
            .sign_public_key()
            .expect("key"),
        key
    );
}
