//! The full-text rows of a transaction are written at its commit, together: a record indexed
//! twice in one transaction is found once, a rolled-back transaction leaves none, and search
//! still ignores diacritics.

use tidemark_domain::interchange::parse_line;
use tidemark_domain::records::Record;
use tidemark_store::Store;

fn unit(code: &str, name: &str) -> Record {
    let line = serde_json::json!({
        "type": "unit", "id": format!("unit:{code}"), "name": name, "code": code,
        "kind": "station", "parent": "Bộ Chỉ huy Bộ đội Biên phòng tỉnh Tiền Giang"
    })
    .to_string();
    parse_line(&line).expect("unit line").record
}

fn found(store: &Store, text: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .search(text, None, 100)
        .expect("search")
        .into_iter()
        .map(|h| h.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn search_rows_written_at_commit_are_found_once_and_a_rollback_leaves_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("s.db")).expect("store");

    let tx = store.begin().expect("begin");
    tx.index_record(&unit("TT", "Đồn Biên phòng Tân Thành"), 0)
        .expect("index");
    tx.index_record(&unit("KP", "Đồn Biên phòng Kiểng Phước"), 0)
        .expect("index");
    // Renamed in the same transaction: only the new name may be found, once.
    tx.index_record(&unit("TT", "Đồn Biên phòng Gò Công"), 0)
        .expect("index again");
    tx.commit().expect("commit");
    assert_eq!(found(&store, "don bien phong"), vec!["unit:KP", "unit:TT"]);
    assert_eq!(found(&store, "go cong"), vec!["unit:TT"]);
    assert!(found(&store, "tan thanh").is_empty());

    // Renamed again in a later transaction: the committed row goes, the new one comes.
    let tx = store.begin().expect("begin");
    tx.index_record(&unit("TT", "Đồn Biên phòng Tân Thành"), 0)
        .expect("index");
    tx.commit().expect("commit");
    assert_eq!(found(&store, "tan thanh"), vec!["unit:TT"]);
    assert!(found(&store, "go cong").is_empty());

    // A transaction dropped without commit writes nothing.
    let tx = store.begin().expect("begin");
    tx.index_record(&unit("VL", "Đồn Biên phòng Vàm Láng"), 0)
        .expect("index");
    drop(tx);
    assert!(found(&store, "vam lang").is_empty());

    // Many in one transaction (more than one insert statement's worth).
    let tx = store.begin().expect("begin");
    for i in 0..1000 {
        tx.index_record(
            &unit(&format!("X{i}"), &format!("Trạm kiểm soát số {i}")),
            0,
        )
        .expect("index");
    }
    tx.commit().expect("commit");
    assert_eq!(
        store
            .search("tram kiem soat", None, 5000)
            .expect("search")
            .len(),
        1000
    );
    store.integrity_check().expect("sound");
}
