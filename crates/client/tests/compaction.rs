//! Many small edits are compacted into a snapshot without losing a change.

use tidemark_client::Client;
use tidemark_domain::records::Record;

#[test]
fn a_document_with_many_edits_is_compacted_and_keeps_its_whole_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Client::init(
        dir.path(),
        "Đồn Biên phòng Tân Thành",
        "Trung úy Lê Quốc Vũ",
    )
    .expect("init");
    c.import_jsonl(
        std::io::Cursor::new(
            r#"{"type":"patrol","id":"p:1","station":"Đồn Biên phòng Tân Thành","start":"2025-01-01T06:00:00+07:00","notes":"Bắt đầu."}"#
                .as_bytes()
                .to_vec(),
        ),
        &mut |_| {},
    )
    .expect("import");
    let mut expected = String::from("Bắt đầu.");
    let mut max_chunks = 0;
    for i in 0..150 {
        let line = format!(" Ghi chú {i}: đã kiểm tra.");
        let at = expected.chars().count();
        c.splice("p:1", "notes", at, 0, &line).expect("splice");
        expected.push_str(&line);
        let stats = c.store().doc_stats("p:1").expect("stats").expect("exists");
        max_chunks = max_chunks.max(stats.chunk_count);
    }
    // Compaction kept the chunk list short...
    assert!(max_chunks <= 65, "chunks grew to {max_chunks}");
    assert!(
        c.store()
            .doc_stats("p:1")
            .expect("stats")
            .expect("exists")
            .chunk_count
            < 65
    );
    // ...and lost nothing: content, every change, and the same after reopening.
    drop(c);
    let c = Client::open(dir.path()).expect("reopen");
    let view = c.show("p:1").expect("show");
    let Record::Patrol(p) = view.record else {
        panic!("not a patrol")
    };
    assert_eq!(p.notes.as_str(), expected);
    assert_eq!(view.changes, 151);
    assert_eq!(c.history("p:1").expect("history").len(), 151);
    assert!(c
        .store()
        .search("ghi chu 149", None, 5)
        .expect("search")
        .iter()
        .any(|h| h.id == "p:1"));
}
