//! Append-only schema migrations, tracked in `PRAGMA user_version`.
//!
//! Never edit or reorder an entry of [`MIGRATIONS`]: stores in the field have run them. Add a new
//! entry at the end instead.

use rusqlite::Connection;

use crate::StoreError;

/// Every migration, oldest first. `user_version` counts how many have run.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: documents, chunks, index tables, full-text search.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE documents (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        snapshot    BLOB,
        next_seq    INTEGER NOT NULL DEFAULT 0,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        chunk_bytes INTEGER NOT NULL DEFAULT 0,
        updated_at  INTEGER NOT NULL
    );
    -- A rowid table: chunks are blobs of hundreds of bytes, which WITHOUT ROWID tables store
    -- poorly (measured: 3x the pages).
    CREATE TABLE chunks (
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        seq    INTEGER NOT NULL,
        data   BLOB NOT NULL
    );
    CREATE UNIQUE INDEX chunks_doc_seq ON chunks(doc_id, seq);
    CREATE TABLE records (
        rowid     INTEGER PRIMARY KEY,
        id        TEXT NOT NULL UNIQUE,
        kind      TEXT NOT NULL,
        unit      TEXT NOT NULL,
        unit_key  TEXT NOT NULL,
        date      TEXT,
        title     TEXT NOT NULL,
        conflicts INTEGER NOT NULL DEFAULT 0,
        json      TEXT NOT NULL
    );
    CREATE INDEX records_kind_date ON records(kind, date, id);
    CREATE INDEX records_unit_date ON records(unit_key, date, id);
    CREATE INDEX records_kind_unit_date ON records(kind, unit_key, date, id);
    CREATE INDEX records_date ON records(date, id);
    CREATE INDEX records_conflicted ON records(conflicts) WHERE conflicts > 0;
    -- Contentless: the folded text is only needed for matching, never read back.
    CREATE VIRTUAL TABLE records_fts USING fts5(
        body, content = '', contentless_delete = 1, prefix = '2 3',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE units (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL,
        name_key TEXT NOT NULL,
        code_key TEXT,
        kind     TEXT NOT NULL,
        parent   TEXT
    );
    CREATE INDEX units_name ON units(name_key);
    CREATE INDEX units_code ON units(code_key);
    CREATE TABLE patrols (
        id       TEXT PRIMARY KEY,
        station  TEXT NOT NULL,
        start_ts INTEGER,
        end_ts   INTEGER,
        joint    INTEGER NOT NULL
    );
    CREATE INDEX patrols_station_start ON patrols(station, start_ts);
    CREATE TABLE inspections (
        record_id    TEXT NOT NULL,
        idx          INTEGER NOT NULL,
        registration TEXT NOT NULL,
        owner        TEXT,
        result       TEXT,
        PRIMARY KEY (record_id, idx)
    );
    CREATE INDEX inspections_registration ON inspections(registration);
    CREATE TABLE violations (
        record_id    TEXT NOT NULL,
        idx          INTEGER NOT NULL,
        registration TEXT NOT NULL,
        violation    TEXT NOT NULL,
        action       TEXT,
        fine_vnd     INTEGER,
        PRIMARY KEY (record_id, idx)
    );
    CREATE INDEX violations_registration ON violations(registration);
    CREATE TABLE plans (
        id          TEXT PRIMARY KEY,
        period_from TEXT NOT NULL,
        period_to   TEXT NOT NULL
    );
    CREATE TABLE plan_items (
        id               TEXT PRIMARY KEY,
        plan             TEXT,
        status           TEXT NOT NULL,
        responsible_unit TEXT NOT NULL,
        deadline         TEXT
    );
    CREATE INDEX plan_items_status ON plan_items(status, deadline);
    CREATE INDEX plan_items_unit ON plan_items(responsible_unit, deadline);
    CREATE TABLE plan_item_units (
        id   TEXT NOT NULL,
        unit TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (id, unit, role)
    );
    CREATE INDEX plan_item_units_unit ON plan_item_units(unit);
    CREATE TABLE exchanges (
        id        TEXT PRIMARY KEY,
        from_unit TEXT NOT NULL,
        sent_at   TEXT NOT NULL
    );
    CREATE TABLE exchange_recipients (
        id       TEXT NOT NULL,
        unit     TEXT NOT NULL,
        acked_at TEXT,
        PRIMARY KEY (id, unit)
    );
    CREATE INDEX exchange_recipients_unit ON exchange_recipients(unit, acked_at);
    CREATE TABLE activities (
        id           TEXT PRIMARY KEY,
        station      TEXT NOT NULL,
        date         TEXT NOT NULL,
        kind         TEXT NOT NULL,
        participants INTEGER NOT NULL
    );
    CREATE INDEX activities_station_date ON activities(station, date);
    "#,
    // 2: sync with a relay — each document's heads, sync states per (relay, document), and
    // delivery receipts (which unit is known to hold which heads, learned from the relay or
    // from a bundle receipt).
    r#"
    ALTER TABLE documents ADD COLUMN heads TEXT;
    CREATE TABLE sync_states (
        relay        TEXT NOT NULL,
        doc_id       TEXT NOT NULL,
        state        BLOB NOT NULL,
        shared_heads TEXT NOT NULL,
        registered   INTEGER NOT NULL DEFAULT 0,
        error        TEXT,
        error_heads  TEXT,
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (relay, doc_id)
    );
    CREATE TABLE receipts (
        doc_id TEXT NOT NULL,
        unit   TEXT NOT NULL,
        via    TEXT NOT NULL CHECK (via IN ('relay', 'bundle')),
        root   INTEGER NOT NULL DEFAULT 0,
        heads  TEXT NOT NULL,
        at     INTEGER NOT NULL,
        PRIMARY KEY (doc_id, unit, via)
    );
    "#,
    // 3: attachments — which record refers to which file (and its thumbnail), which files are
    // on this device (the bytes are files named by hash beside the store), and which ones each
    // relay has confirmed complete.
    r#"
    CREATE TABLE record_attachments (
        record_id TEXT NOT NULL,
        place     TEXT NOT NULL,
        hash      TEXT NOT NULL,
        thumb     TEXT,
        name      TEXT NOT NULL,
        mime      TEXT NOT NULL,
        size      INTEGER NOT NULL,
        PRIMARY KEY (record_id, place, hash)
    );
    CREATE INDEX record_attachments_hash ON record_attachments(hash);
    CREATE INDEX record_attachments_thumb ON record_attachments(thumb);
    CREATE TABLE blobs (
        hash      TEXT PRIMARY KEY,
        size      INTEGER NOT NULL,
        stored_at INTEGER NOT NULL
    );
    CREATE TABLE blob_uploads (
        relay   TEXT NOT NULL,
        hash    TEXT NOT NULL,
        done_at INTEGER NOT NULL,
        PRIMARY KEY (relay, hash)
    );
    "#,
    // 4: signed changes — the signatures known for changes (this device's own and those that
    // came by sync or bundle), and the relay's directory of signing keys by actor.
    r#"
    CREATE TABLE change_signatures (
        hash BLOB NOT NULL,
        sig  BLOB NOT NULL,
        PRIMARY KEY (hash, sig)
    ) WITHOUT ROWID;
    CREATE TABLE sign_keys (
        actor  TEXT PRIMARY KEY,
        key    BLOB NOT NULL,
        device TEXT NOT NULL,
        unit   TEXT NOT NULL
    );
    "#,
];

/// Brings the schema up to date, each migration in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if current > supported {
        return Err(StoreError::NewerSchema {
            found: current,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store migrated");
    }
    Ok(())
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
