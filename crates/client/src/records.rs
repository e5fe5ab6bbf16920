//! Creating, editing and reading records; conflicts and history; changes from elsewhere.

use serde::Serialize;
use tidemark_domain::{
    conflicts::{self, Conflict},
    document::RecordDoc,
    genesis, history,
    records::{track_points, Record, RecordKind},
    validate::{validate, Context},
    CommitMeta, HistoryEntry,
};
use tidemark_store::{StoreError, Tx};

use crate::{now_secs, Client, ClientError, COMPACT_AFTER_CHUNKS};

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// A new record was stored.
    Created,
    /// An existing record changed.
    Updated,
    /// The record already held these values; nothing was written.
    Unchanged,
}

/// A record as `show` presents it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    /// The record's current values (winners where fields conflict).
    pub record: Record,
    /// Fields with concurrent values.
    pub conflicts: Vec<Conflict>,
    /// Points in the GPS track (patrols).
    pub track_points: usize,
    /// Number of changes in the record's history.
    pub changes: usize,
}

/// Persists a document's new changes and its index rows inside `tx`. `created_here` says the
/// document was made from nothing by this device in one change, so it holds no conflicts.
pub(crate) fn persist(
    tx: &Tx<'_>,
    doc: &mut RecordDoc,
    heads: &[automerge::ChangeHash],
    created_here: bool,
) -> Result<Record, ClientError> {
    let record = doc.read()?;
    persist_read(tx, doc, record, heads, created_here, None)
}

/// [`persist`] for a caller that has read `record` from `doc` already. `chunk`, when given,
/// is what the store keeps for the changes after `heads` instead of encoding them again: bytes
/// that `Automerge::load` reads as exactly those changes (a whole document received into an
/// empty one).
pub(crate) fn persist_read(
    tx: &Tx<'_>,
    doc: &mut RecordDoc,
    record: Record,
    heads: &[automerge::ChangeHash],
    created_here: bool,
    chunk: Option<Vec<u8>>,
) -> Result<Record, ClientError> {
    crate::signing::sign_new(tx, doc, heads)?;
    let chunk = chunk.unwrap_or_else(|| doc.save_after(heads));
    let now = now_secs();
    let stats = tx.append_chunk(record.id(), record.kind().as_str(), &chunk, now)?;
    if stats.chunk_count > COMPACT_AFTER_CHUNKS {
        tx.compact(record.id(), &doc.save(), now)?;
    }
    tx.set_heads(record.id(), &heads_of(doc))?;
    // A document this device just created in one change cannot hold concurrent values.
    let conflicts = if created_here {
        0
    } else {
        conflicts::conflicts(doc)?.len()
    };
    tx.index_record(&record, conflicts)?;
    Ok(record)
}

/// A document's current heads in the store's canonical form.
pub(crate) fn heads_of(doc: &mut RecordDoc) -> String {
    let hex: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
    tidemark_store::heads_key(&hex)
}

/// Checks a record against the context, as an error listing every problem.
pub(crate) fn check(record: &Record, ctx: &Context) -> Result<(), ClientError> {
    let problems = validate(record, ctx);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Invalid(problems))
    }
}

/// Creates or updates `record` inside `tx` (no validation: the caller has checked it).
pub(crate) fn upsert_in(
    tx: &Tx<'_>,
    record: &Record,
    identity: &crate::Identity,
    meta: &CommitMeta,
) -> Result<WriteOutcome, ClientError> {
    match tx.load_doc(record.id())? {
        None => {
            let mut doc = RecordDoc::create(record, &identity.actor, meta)?;
            persist(tx, &mut doc, &[], true)?;
            Ok(WriteOutcome::Created)
        }
        Some(bytes) => {
            let mut doc = RecordDoc::load(&bytes, &identity.actor)?;
            let heads = doc.heads();
            if doc.write(record, meta)?.is_none() {
                return Ok(WriteOutcome::Unchanged);
            }
            persist(tx, &mut doc, &heads, false)?;
            Ok(WriteOutcome::Updated)
        }
    }
}

impl Client {
    /// Validates and stores a record, creating it or updating the record with the same id.
    pub fn save(&mut self, record: &Record) -> Result<WriteOutcome, ClientError> {
        check(record, &self.context()?)?;
        let meta = self.meta("save");
        let tx = self.store.begin()?;
        let outcome = upsert_in(&tx, record, &self.identity, &meta)?;
        tx.commit()?;
        tracing::info!(id = record.id(), kind = %record.kind(), ?outcome, "record saved");
        Ok(outcome)
    }

    /// Loads a record's document, lets `change` edit it, validates the result and stores the
    /// new changes with the index, all in one transaction. Nothing is stored on any error.
    pub fn mutate(
        &mut self,
        id: &str,
        validate_result: bool,
        change: impl FnOnce(&mut RecordDoc) -> Result<(), ClientError>,
    ) -> Result<WriteOutcome, ClientError> {
        let ctx = if validate_result {
            Some(self.context()?)
        } else {
            None
        };
        let tx = self.store.begin()?;
        let bytes = tx
            .load_doc(id)?
            .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
        let mut doc = RecordDoc::load(&bytes, &self.identity.actor)?;
        let heads = doc.heads();
        let before = if ctx.is_some() {
            Some(doc.read()?)
        } else {
            None
        };
        change(&mut doc)?;
        if doc.heads() == heads {
            return Ok(WriteOutcome::Unchanged);
        }
        if let (Some(ctx), Some(before)) = (ctx, before) {
            // An edit is refused only for problems it brings in: a record that arrived from
            // another unit may name units this device has not heard of yet, and changing its
            // status must still work.
            let existing = validate(&before, &ctx);
            let introduced: Vec<_> = validate(&doc.read()?, &ctx)
                .into_iter()
                .filter(|m| !existing.contains(m))
                .collect();
            if !introduced.is_empty() {
                return Err(ClientError::Invalid(introduced));
            }
        }
        persist(&tx, &mut doc, &heads, false)?;
        tx.commit()?;
        tracing::info!(id, "record changed");
        Ok(WriteOutcome::Updated)
    }

    /// Sets one field (`edit ID FIELD VALUE`).
    pub fn edit(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<WriteOutcome, ClientError> {
        let meta = self.meta("edit");
        self.mutate(id, true, |doc| {
            doc.set_field(field, value, &meta)?;
            Ok(())
        })
    }

    /// Splices text at a character position (`splice ID FIELD POS DELETE TEXT`).
    pub fn splice(
        &mut self,
        id: &str,
        field: &str,
        pos: usize,
        delete: usize,
        text: &str,
    ) -> Result<WriteOutcome, ClientError> {
        let meta = self.meta("splice");
        self.mutate(id, false, |doc| {
            doc.splice(field, pos, delete, text, &meta)?;
            Ok(())
        })
    }

    /// Resolves a conflicted top-level field by writing `value` over every concurrent value.
    pub fn resolve(
        &mut self,
        id: &str,
        field: &str,
        value: &str,
    ) -> Result<WriteOutcome, ClientError> {
        let meta = self.meta("resolve");
        self.mutate(id, true, |doc| {
            if !conflicts::conflicts(doc)?.iter().any(|c| c.field == field) {
                return Err(ClientError::User(format!(
                    "field `{field}` of {id} has no conflict; use `tidemark edit` to change it"
                )));
            }
            conflicts::resolve(doc, field, value, &meta)?;
            Ok(())
        })
    }

    /// Applies changes from another replica (a peer, a bundle, the relay) to a record, and
    /// re-indexes it. Malformed bytes change nothing. Returns whether anything was new.
    pub fn apply_changes(&mut self, id: &str, bytes: &[u8]) -> Result<bool, ClientError> {
        let tx = self.store.begin()?;
        let mut doc = match tx.load_doc(id)? {
            Some(existing) => RecordDoc::load(&existing, &self.identity.actor)?,
            None => RecordDoc::empty(&self.identity.actor),
        };
        let heads = doc.heads();
        doc.apply(bytes)?;
        if doc.heads() == heads {
            return Ok(false);
        }
        let record = persist(&tx, &mut doc, &heads, false)?;
        if record.id() != id {
            return Err(ClientError::User(format!(
                "the changes given for {id} hold record {}; nothing applied",
                record.id()
            )));
        }
        tx.commit()?;
        tracing::info!(id, "changes merged");
        Ok(true)
    }

    /// The full saved document of a record (for peers and bundles).
    pub fn document_bytes(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        let bytes = self
            .store
            .load_doc(id)?
            .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
        Ok(RecordDoc::load(&bytes, &self.identity.actor)?.save())
    }

    pub(crate) fn load(&self, id: &str) -> Result<RecordDoc, ClientError> {
        let bytes = self
            .store
            .load_doc(id)?
            .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
        Ok(RecordDoc::load(&bytes, &self.identity.actor)?)
    }

    /// A record with its conflicts.
    pub fn show(&self, id: &str) -> Result<RecordView, ClientError> {
        let mut doc = self.load(id)?;
        let record = doc.read()?;
        let conflicts = conflicts::conflicts(&mut doc)?;
        let track_points = match &record {
            Record::Patrol(p) => track_points(&p.track).0.len(),
            _ => 0,
        };
        let changes = doc.automerge().get_changes_meta(&[]).len();
        Ok(RecordView {
            record,
            conflicts,
            track_points,
            changes,
        })
    }

    /// Field-level history of a record, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, ClientError> {
        let mut doc = self.load(id)?;
        let mut entries = history::history(&mut doc)?;
        let changes = doc.automerge().get_changes(&[]);
        let verdicts = crate::signing::Judge::new(self)?.judge(&self.store, &changes)?;
        for e in &mut entries {
            e.signature = verdicts.get(&e.change).map(|v| v.as_str());
        }
        Ok(entries)
    }

    /// Every record with conflicts, with the conflicting fields.
    pub fn conflicts(&self) -> Result<Vec<(String, Vec<Conflict>)>, ClientError> {
        let mut out = Vec::new();
        for row in self.store.conflicted()? {
            let mut doc = self.load(&row.id)?;
            out.push((row.id, conflicts::conflicts(&mut doc)?));
        }
        Ok(out)
    }

    /// The full name of a unit given by name or code.
    pub fn unit_name(&self, name_or_code: &str) -> Result<Option<String>, ClientError> {
        Ok(self.store.unit_name(name_or_code)?)
    }

    /// Creates a record of this device's own unit (so that exports name it and import into
    /// other stores), unless a unit of that name is already known. Every device of the unit
    /// makes it the same to the byte (`tidemark_domain::genesis`), so the copies its devices
    /// bring are one change, not one concurrent copy each.
    pub(crate) fn ensure_own_unit(&mut self) -> Result<(), ClientError> {
        let name = self.identity.unit.clone();
        if self.store.unit_name(&name)?.is_some() {
            return Ok(());
        }
        let id = genesis::unit_id_for(&name);
        let tx = self.store.begin()?;
        if tx.load_doc(&id)?.is_none() {
            let mut doc = genesis::unit_genesis(&name, &self.identity.actor)?;
            persist(&tx, &mut doc, &[], true)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Counts of records by kind.
    pub fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.store.counts()
    }

    /// Parses a record kind name, with the list of kinds in the error.
    pub fn parse_kind(name: &str) -> Result<RecordKind, ClientError> {
        RecordKind::parse(name).ok_or_else(|| {
            ClientError::User(format!(
                "unknown record type `{name}`; use one of: {}",
                RecordKind::ALL.map(RecordKind::as_str).join(", ")
            ))
        })
    }
}
