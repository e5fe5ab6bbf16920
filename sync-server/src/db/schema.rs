//! Append-only migrations, numbered by `PRAGMA user_version`. Never edit a shipped step: add one.

use rusqlite::{Connection, TransactionBehavior};

/// Migration steps; step `i` moves the database from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    // 1: identity, documents, access, sync data, feed, audit.
    "CREATE TABLE units (
        name TEXT PRIMARY KEY,
        parent TEXT REFERENCES units(name),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        unit TEXT NOT NULL REFERENCES units(name),
        name TEXT NOT NULL,
        token_sha256 TEXT UNIQUE,
        enrolled_at INTEGER,
        revoked_at INTEGER
    );
    CREATE TABLE device_actors (
        actor_hex TEXT PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id)
    );
    CREATE TABLE enrol_codes (
        code_sha256 TEXT PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id),
        expires_at INTEGER NOT NULL,
        used_at INTEGER
    );
    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        owner_unit TEXT NOT NULL REFERENCES units(name),
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE grants (
        doc_id TEXT NOT NULL REFERENCES documents(id),
        unit TEXT NOT NULL REFERENCES units(name),
        access TEXT NOT NULL CHECK (access IN ('read', 'write')),
        PRIMARY KEY (doc_id, unit)
    );
    CREATE TABLE chunks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL REFERENCES documents(id),
        bytes BLOB NOT NULL
    );
    CREATE INDEX chunks_doc ON chunks(doc_id, seq);
    CREATE TABLE sync_states (
        doc_id TEXT NOT NULL REFERENCES documents(id),
        device_id TEXT NOT NULL REFERENCES devices(id),
        state BLOB NOT NULL,
        PRIMARY KEY (doc_id, device_id)
    );
    CREATE TABLE feed (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL REFERENCES documents(id),
        heads TEXT NOT NULL
    );
    CREATE INDEX feed_doc ON feed(doc_id);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL
    );",
    // 2: when each sync state was last written, for delivery receipts (`POST /v1/receipts`).
    "ALTER TABLE sync_states ADD COLUMN updated_at INTEGER;",
    // 3: attachments (content-addressed files in chunks), charged to the uploader's unit, and
    // the references documents make to them (re-read whenever a document's changes persist;
    // documents stored before this step are read once, see `references::backfill`).
    "CREATE TABLE attachments (
        hash TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mime TEXT NOT NULL,
        chunks TEXT NOT NULL,
        unit TEXT NOT NULL REFERENCES units(name),
        device_id TEXT NOT NULL REFERENCES devices(id),
        created_at INTEGER NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attachments_unit ON attachments(unit);
    CREATE TABLE attachment_chunks (
        hash TEXT NOT NULL REFERENCES attachments(hash),
        idx INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (hash, idx)
    );
    CREATE TABLE attachment_refs (
        hash TEXT NOT NULL,
        doc_id TEXT NOT NULL REFERENCES documents(id),
        PRIMARY KEY (hash, doc_id)
    );
    CREATE INDEX attachment_refs_doc ON attachment_refs(doc_id);
    CREATE TABLE attachment_refs_pending (
        doc_id TEXT PRIMARY KEY REFERENCES documents(id)
    );
    INSERT INTO attachment_refs_pending (doc_id) SELECT id FROM documents;",
    // 4: changes held back for review: made by a revoked device's actor after its revocation
    // (or depending on such a change), arriving later through another device or a bundle.
    "CREATE TABLE held_changes (
        hash TEXT PRIMARY KEY,
        doc_id TEXT NOT NULL,
        actor_hex TEXT NOT NULL,
        device_id TEXT,
        made_at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        via TEXT NOT NULL,
        via_device TEXT,
        held_at INTEGER NOT NULL,
        bytes BLOB NOT NULL
    );
    CREATE INDEX held_changes_doc ON held_changes(doc_id);",
    // 5: signed changes: each device's Ed25519 public key (registered at enrolment, or once
    // later by a device enrolled before signing existed) and the signatures of the changes the
    // relay holds, keyed by change hash. A signature whose change has not arrived yet is kept
    // too (it is checked when the change lands).
    "ALTER TABLE device_actors ADD COLUMN sign_key BLOB;
    ALTER TABLE device_actors ADD COLUMN key_registered_at INTEGER;
    CREATE TABLE change_signatures (
        hash TEXT NOT NULL,
        sig BLOB NOT NULL,
        PRIMARY KEY (hash, sig)
    ) WITHOUT ROWID;",
    // 6: the order keys were registered in, so a device reads only the keys after the last one
    // it has (`seq`), not the whole directory whenever it grows. Keys already registered are
    // numbered by registration time, then actor.
    "CREATE TABLE key_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        actor_hex TEXT NOT NULL UNIQUE
    );
    INSERT INTO key_log (actor_hex)
        SELECT actor_hex FROM device_actors WHERE sign_key IS NOT NULL
        ORDER BY key_registered_at, actor_hex;",
    // 7: each feed row names its document's owner (a document never changes owner), so that a
    // unit's feed is read without looking up every document in it; rows already there are
    // filled from `documents`.
    "ALTER TABLE feed ADD COLUMN owner_unit TEXT;
    UPDATE feed SET owner_unit = (SELECT owner_unit FROM documents WHERE documents.id = feed.doc_id);",
];

/// The schema version this build writes.
pub const CURRENT: u32 = STEPS.len() as u32;

/// Brings the database up to [`CURRENT`], one transaction per step.
///
/// Each step takes the write lock first (`BEGIN IMMEDIATE`) and reads the version inside it:
/// the relay and an admin command may open the same fresh database at the same moment, and
/// only one of them must run a given step.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(step) = STEPS.get(version as usize) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_reaches_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.sqlite3");
        for _ in 0..2 {
            let mut conn = Connection::open(&path).expect("open");
            migrate(&mut conn).expect("migrate");
            let v: u32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .expect("version");
            assert_eq!(v, CURRENT);
        }
    }

    #[test]
    fn keys_registered_before_the_key_log_are_numbered_in_registration_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("relay.sqlite3")).expect("open");
        for step in &STEPS[..5] {
            conn.execute_batch(step).expect("old step");
        }
        conn.execute_batch(
            "PRAGMA user_version = 5;
             INSERT INTO units (name, created_at) VALUES ('Đồn Biên phòng Tân Thành', 0);
             INSERT INTO devices (id, unit, name) VALUES ('dev-1', 'Đồn Biên phòng Tân Thành', 'máy 1');
             INSERT INTO devices (id, unit, name) VALUES ('dev-2', 'Đồn Biên phòng Tân Thành', 'máy 2');
             INSERT INTO devices (id, unit, name) VALUES ('dev-3', 'Đồn Biên phòng Tân Thành', 'máy 3');
             INSERT INTO device_actors (actor_hex, device_id, sign_key, key_registered_at)
                 VALUES ('aa', 'dev-1', x'01', 20), ('bb', 'dev-2', x'02', 10), ('cc', 'dev-3', NULL, NULL);",
        )
        .expect("version 5 data");
        migrate(&mut conn).expect("migrate");
        let order: Vec<(i64, String)> = conn
            .prepare("SELECT seq, actor_hex FROM key_log ORDER BY seq")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(order, vec![(1, "bb".to_string()), (2, "aa".to_string())]);
    }

    #[test]
    fn feed_rows_written_before_version_7_name_their_documents_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.sqlite3");
        let mut conn = Connection::open(&path).expect("open");
        for step in &STEPS[..6] {
            conn.execute_batch(step).expect("old step");
        }
        conn.execute_batch(
            "PRAGMA user_version = 6;
             INSERT INTO units (name, parent, created_at) VALUES ('Bộ Chỉ huy', NULL, 0);
             INSERT INTO units (name, parent, created_at) VALUES ('Đồn Tân Thành', 'Bộ Chỉ huy', 0);
             INSERT INTO units (name, parent, created_at) VALUES ('Đồn Cửa Tiểu', 'Bộ Chỉ huy', 0);
             INSERT INTO documents (id, owner_unit, created_by, created_at)
                 VALUES ('patrol:TT:1', 'Đồn Tân Thành', 'dev-1', 0),
                        ('plan:2026', 'Bộ Chỉ huy', 'dev-2', 0),
                        ('patrol:CT:1', 'Đồn Cửa Tiểu', 'dev-3', 0);
             INSERT INTO grants (doc_id, unit, access) VALUES ('plan:2026', 'Đồn Tân Thành', 'write');
             INSERT INTO feed (doc_id, heads) VALUES ('patrol:TT:1', ''), ('plan:2026', ''),
                 ('patrol:CT:1', ''), ('patrol:TT:1', 'aa');",
        )
        .expect("version 6 data");
        migrate(&mut conn).expect("migrate");
        let owners: Vec<String> = conn
            .prepare("SELECT owner_unit FROM feed ORDER BY seq")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            owners,
            [
                "Đồn Tân Thành",
                "Bộ Chỉ huy",
                "Đồn Cửa Tiểu",
                "Đồn Tân Thành"
            ]
        );
        drop(conn);

        // Each unit's feed as the relay reads it: its own documents, those granted to it, and
        // (headquarters) those of the units below it.
        let db = crate::db::Db::open(&path).expect("db");
        let read = |unit: &str| {
            let (rows, cursor) = db.feed_after(0, 10, unit).expect("feed");
            assert_eq!(cursor, 4);
            rows.into_iter()
                .map(|r| (r.seq, r.doc_id, r.owner, r.inherited))
                .collect::<Vec<_>>()
        };
        let own = |seq: i64, id: &str, owner: &str, inherited: bool| {
            (seq, id.to_string(), owner.to_string(), inherited)
        };
        assert_eq!(
            read("Đồn Tân Thành"),
            [
                own(1, "patrol:TT:1", "Đồn Tân Thành", true),
                own(2, "plan:2026", "Bộ Chỉ huy", false),
                own(4, "patrol:TT:1", "Đồn Tân Thành", true),
            ]
        );
        assert_eq!(
            read("Đồn Cửa Tiểu"),
            [own(3, "patrol:CT:1", "Đồn Cửa Tiểu", true)]
        );
        assert_eq!(read("Bộ Chỉ huy").len(), 4);
    }

    #[test]
    fn a_version_1_database_keeps_its_sync_states_without_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("relay.sqlite3")).expect("open");
        conn.execute_batch(STEPS[0]).expect("step 1");
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO units (name, created_at) VALUES ('Đồn Biên phòng Tân Thành', 0);
             INSERT INTO devices (id, unit, name) VALUES ('dev-1', 'Đồn Biên phòng Tân Thành', 'máy');
             INSERT INTO documents (id, owner_unit, created_by, created_at)
                 VALUES ('patrol:TT:1', 'Đồn Biên phòng Tân Thành', 'dev-1', 0);
             INSERT INTO sync_states (doc_id, device_id, state) VALUES ('patrol:TT:1', 'dev-1', x'00');",
        )
        .expect("version 1 data");
        migrate(&mut conn).expect("migrate");
        let at: Option<i64> = conn
            .query_row("SELECT updated_at FROM sync_states", [], |r| r.get(0))
            .expect("row kept");
        assert_eq!(at, None);
    }

    #[test]
    fn documents_stored_before_attachments_get_their_references_read_once() {
        use automerge::transaction::Transactable;
        use automerge::{AutoCommit, ObjType, ROOT};
        use tidemark_sync_protocol::attachment::sha256_hex;

        let hash = sha256_hex("ảnh tàu cá".as_bytes());
        let mut doc = AutoCommit::new();
        let list = doc
            .put_object(ROOT, "attachments", ObjType::List)
            .expect("list");
        let entry = doc.insert_object(&list, 0, ObjType::Map).expect("entry");
        doc.put(&entry, "hash", hash.as_str()).expect("hash");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relay.sqlite3");
        let mut conn = Connection::open(&path).expect("open");
        for step in &STEPS[..2] {
            conn.execute_batch(step).expect("old step");
        }
        conn.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO units (name, created_at) VALUES ('Đồn Biên phòng Tân Thành', 0);
             INSERT INTO documents (id, owner_unit, created_by, created_at)
                 VALUES ('patrol:TT:1', 'Đồn Biên phòng Tân Thành', 'dev-1', 0);",
        )
        .expect("version 2 data");
        conn.execute(
            "INSERT INTO chunks (doc_id, bytes) VALUES ('patrol:TT:1', ?1)",
            [doc.save()],
        )
        .expect("chunk");
        migrate(&mut conn).expect("migrate");
        drop(conn);

        let db = crate::db::Db::open(&path).expect("db");
        assert_eq!(crate::references::backfill(&db).expect("backfill"), 1);
        let refs = db.attachment_refs("patrol:TT:1").expect("refs");
        assert_eq!(refs.into_iter().collect::<Vec<_>>(), vec![hash]);
        assert_eq!(crate::references::backfill(&db).expect("again"), 0);
    }
}
