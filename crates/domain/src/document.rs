//! One record in one Automerge document: create, load, read, write, splice, merge.
//!
//! Every document is created *and* loaded with [`TextEncoding::Utf8CodeUnit`] (architecture
//! decision 2): autosurgeon's `Text` counts in UTF-8 bytes, and any other encoding puts edits in
//! the wrong place in Vietnamese text. Writes hydrate the current state, change it and reconcile
//! in one step on the same document, so no merge can slip between view and write (decision 3).
//! Every commit carries [`CommitMeta`] (decision 5).

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, AutoCommit, ChangeHash, LoadOptions, ObjType, ReadDoc, ScalarValue, TextEncoding,
    Value, ROOT,
};
use autosurgeon::{hydrate, reconcile, Text};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::records::{Record, RecordKind};

/// Who made a change and when; written into every commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMeta {
    /// Unix seconds.
    #[serde(skip)]
    pub time: i64,
    /// User name.
    pub user: String,
    /// The user's unit.
    pub unit: String,
    /// Device id.
    pub device: String,
    /// What kind of change (`create`, `edit`, `import`, `resolve`, `splice`, `track`…).
    #[serde(default)]
    pub op: String,
}

impl CommitMeta {
    /// The same author with another operation name.
    pub fn with_op(&self, op: &str) -> CommitMeta {
        CommitMeta {
            op: op.to_string(),
            ..self.clone()
        }
    }

    fn options(&self) -> CommitOptions {
        let message = serde_json::to_string(self).unwrap_or_default();
        CommitOptions::default()
            .with_message(message)
            .with_time(self.time)
    }

    /// Reads the author back from a commit message and time.
    pub fn from_commit(message: Option<&str>, time: i64) -> CommitMeta {
        let mut meta: CommitMeta = message
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(CommitMeta {
                time,
                user: String::new(),
                unit: String::new(),
                device: String::new(),
                op: String::new(),
            });
        meta.time = time;
        meta
    }
}

/// A record's Automerge document.
pub struct RecordDoc {
    doc: AutoCommit,
}

impl std::fmt::Debug for RecordDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDoc").finish_non_exhaustive()
    }
}

fn load_options() -> LoadOptions<'static> {
    LoadOptions::new().text_encoding(TextEncoding::Utf8CodeUnit)
}

impl RecordDoc {
    /// An empty document for this device's actor.
    pub fn empty(actor: &ActorId) -> RecordDoc {
        let doc =
            AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit).with_actor(actor.clone());
        RecordDoc { doc }
    }

    /// Creates a document holding `record`, in one commit.
    pub fn create(
        record: &Record,
        actor: &ActorId,
        meta: &CommitMeta,
    ) -> Result<RecordDoc, DomainError> {
        let mut d = RecordDoc::empty(actor);
        d.write(record, &meta.with_op("create"))?;
        Ok(d)
    }

    /// Loads saved bytes (a snapshot, chunks, or both concatenated).
    pub fn load(bytes: &[u8], actor: &ActorId) -> Result<RecordDoc, DomainError> {
        let doc = AutoCommit::load_with_options(bytes, load_options())
            .map_err(|e| DomainError::Corrupt(e.to_string()))?
            .with_actor(actor.clone());
        Ok(RecordDoc { doc })
    }

    /// Applies saved bytes or changes from elsewhere (a peer, a bundle). Returns the number of
    /// operations applied.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<usize, DomainError> {
        if bytes.is_empty() {
            return Ok(0);
        }
        // `load_incremental` quietly keeps whatever prefix of the bytes parses. Load this
        // document's own save followed by the bytes strictly instead: junk, or changes whose
        // dependencies are missing, is an error and this document stays as it was.
        let before = self.doc.get_heads();
        let actor = self.doc.get_actor().clone();
        let mut all = self.doc.save();
        all.extend_from_slice(bytes);
        let loaded = AutoCommit::load_with_options(
            &all,
            load_options().on_partial_load(automerge::OnPartialLoad::Error),
        )
        .map_err(|e| DomainError::Corrupt(e.to_string()))?
        .with_actor(actor);
        self.doc = loaded;
        Ok(self.doc.get_changes_meta(&before).len())
    }

    /// The next sync message for a peer whose state is `state`, if there is anything to say.
    pub fn generate_sync_message(
        &mut self,
        state: &mut automerge::sync::State,
    ) -> Option<automerge::sync::Message> {
        use automerge::sync::SyncDoc;
        self.doc.sync().generate_sync_message(state)
    }

    /// Applies a peer's sync message. The changes are applied to a copy first, so a message
    /// that fails part-way leaves this document and `state` as they were. Returns the number of
    /// changes that were new.
    pub fn receive_sync_message(
        &mut self,
        state: &mut automerge::sync::State,
        message: automerge::sync::Message,
    ) -> Result<usize, DomainError> {
        use automerge::sync::SyncDoc;
        let before = self.doc.get_heads();
        let actor = self.doc.get_actor().clone();
        let mut scratch = self.doc.fork().with_actor(actor);
        let mut scratch_state = state.clone();
        scratch
            .sync()
            .receive_sync_message(&mut scratch_state, message)
            .map_err(|e| DomainError::Corrupt(format!("sync message does not apply: {e}")))?;
        let new = scratch.get_changes_meta(&before).len();
        self.doc = scratch;
        *state = scratch_state;
        Ok(new)
    }

    /// Whether every change in `heads` (hex) is known here.
    pub fn has_heads(&mut self, heads: &[ChangeHash]) -> bool {
        heads
            .iter()
            .all(|h| self.doc.get_change_meta_by_hash(h).is_some())
    }

    /// Whether the history up to `theirs` includes every change up to `ours`: `theirs` covers
    /// `ours`. Hashes of `theirs` unknown here are ignored (they can only add to the history).
    pub fn covers(&mut self, theirs: &[ChangeHash], ours: &[ChangeHash]) -> bool {
        let known: Vec<ChangeHash> = theirs
            .iter()
            .copied()
            .filter(|h| self.doc.get_change_meta_by_hash(h).is_some())
            .collect();
        if ours.iter().all(|h| known.contains(h)) {
            return true;
        }
        let missing: std::collections::HashSet<ChangeHash> = self
            .doc
            .get_changes_meta(&known)
            .iter()
            .map(|c| c.hash)
            .collect();
        ours.iter().all(|h| !missing.contains(h))
    }

    /// Merges another replica of the same document.
    pub fn merge(&mut self, other: &mut RecordDoc) -> Result<(), DomainError> {
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// The Automerge document, for sync and inspection.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// Current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Full compacted save.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Changes made after `heads` (what a caller persists after an edit or a merge).
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Changes since the last save or incremental save.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    /// The kind stored in the document.
    pub fn kind(&self) -> Result<RecordKind, DomainError> {
        match self.doc.get(ROOT, "type")? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(t) => RecordKind::parse(t)
                    .ok_or_else(|| DomainError::Unreadable(format!("unknown type `{t}`"))),
                _ => Err(DomainError::Unreadable("`type` is not a string".into())),
            },
            _ => Err(DomainError::Unreadable("document has no `type`".into())),
        }
    }

    /// The record as it stands (conflicting scalars show one deterministic winner; see
    /// [`crate::conflicts`] for all of them).
    pub fn read(&self) -> Result<Record, DomainError> {
        let un = |e: autosurgeon::HydrateError| DomainError::Unreadable(e.to_string());
        Ok(match self.kind()? {
            RecordKind::Unit => Record::Unit(hydrate(&self.doc).map_err(un)?),
            RecordKind::Patrol => Record::Patrol(hydrate(&self.doc).map_err(un)?),
            RecordKind::Plan => Record::Plan(hydrate(&self.doc).map_err(un)?),
            RecordKind::PlanItem => Record::PlanItem(hydrate(&self.doc).map_err(un)?),
            RecordKind::InfoExchange => Record::InfoExchange(hydrate(&self.doc).map_err(un)?),
            RecordKind::CommunityActivity => {
                Record::CommunityActivity(hydrate(&self.doc).map_err(un)?)
            }
            RecordKind::ReviewMeeting => Record::ReviewMeeting(hydrate(&self.doc).map_err(un)?),
        })
    }

    /// Writes `new` over the current state and commits. Only fields that differ produce
    /// operations; text fields become character splices. Returns `None` when nothing changed.
    pub fn write(
        &mut self,
        new: &Record,
        meta: &CommitMeta,
    ) -> Result<Option<ChangeHash>, DomainError> {
        let mut new = new.clone();
        if self.doc.get(ROOT, "type")?.is_some() {
            let old = self.read()?;
            if old.kind() != new.kind() {
                return Err(DomainError::BadValue {
                    field: "type".into(),
                    reason: format!(
                        "record {} is a {}, not a {}",
                        old.id(),
                        old.kind(),
                        new.kind()
                    ),
                });
            }
            carry_texts(&old, &mut new);
            carry_attachments(&old, &mut new);
        } else {
            self.doc.put(ROOT, "type", new.kind().as_str())?;
        }
        let result = crate::records::with_inner!(&new, r => reconcile(&mut self.doc, r));
        if let Err(e) = result {
            self.doc.rollback();
            return Err(e.into());
        }
        Ok(self.commit(meta))
    }

    /// Commits pending operations with metadata (`None` when there were none).
    pub(crate) fn commit(&mut self, meta: &CommitMeta) -> Option<ChangeHash> {
        if self.doc.pending_ops() == 0 {
            self.doc.rollback();
            return None;
        }
        self.doc.commit_with(meta.options())
    }

    /// Replaces `delete` characters at character position `pos` of the text field `field`
    /// with `insert`, as one splice (concurrent splices elsewhere in the text merge).
    pub fn splice(
        &mut self,
        field: &str,
        pos: usize,
        delete: usize,
        insert: &str,
        meta: &CommitMeta,
    ) -> Result<Option<ChangeHash>, DomainError> {
        let kind = self.kind()?;
        let not_text = || DomainError::BadValue {
            field: field.into(),
            reason: format!(
                "not a text field of {kind}; text fields: {}{}",
                text_fields(kind).join(", "),
                if kind == RecordKind::Plan {
                    " and sections[N].body"
                } else {
                    ""
                }
            ),
        };
        let obj = if field.contains('[') || field.contains('.') {
            // A text inside a list of maps, e.g. a plan's `sections[1].body`.
            self.text_at_path(field).ok_or_else(not_text)?
        } else {
            if !text_fields(kind).contains(&field) {
                return Err(not_text());
            }
            match self.doc.get(ROOT, field)? {
                Some((Value::Object(ObjType::Text), id)) => id,
                _ => {
                    return Err(DomainError::Unreadable(format!(
                        "`{field}` holds no text object"
                    )));
                }
            }
        };
        let current = self.doc.text(&obj)?;
        let len = current.chars().count();
        if pos > len || pos + delete > len {
            return Err(DomainError::OutOfBounds { pos, delete, len });
        }
        // The document counts UTF-8 bytes; the caller counts characters.
        let byte_at = |chars: usize| {
            current
                .char_indices()
                .nth(chars)
                .map_or(current.len(), |(b, _)| b)
        };
        let start = byte_at(pos);
        let del_bytes = byte_at(pos + delete) - start;
        self.doc
            .splice_text(&obj, start, del_bytes as isize, insert)?;
        Ok(self.commit(&meta.with_op("splice")))
    }

    /// The text object at a path like `sections[1].body` (keys and list indexes), if the path
    /// exists and ends at a text object.
    fn text_at_path(&self, path: &str) -> Option<automerge::ObjId> {
        let mut obj = ROOT;
        let mut rest = path;
        while !rest.is_empty() {
            let (key, index, tail) = {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                let key = &rest[..end];
                let mut tail = &rest[end..];
                let mut index = None;
                if let Some(after) = tail.strip_prefix('[') {
                    let close = after.find(']')?;
                    index = Some(after[..close].parse::<usize>().ok()?);
                    tail = &after[close + 1..];
                }
                (key, index, tail.strip_prefix('.').unwrap_or(tail))
            };
            if key.is_empty() {
                return None;
            }
            let (value, id) = self.doc.get(&obj, key).ok()??;
            obj = match (value, index) {
                (Value::Object(ObjType::List), Some(i)) => match self.doc.get(&id, i).ok()?? {
                    (Value::Object(_), item) => item,
                    _ => return None,
                },
                (Value::Object(_), None) => id,
                _ => return None,
            };
            rest = tail;
        }
        match self.doc.object_type(&obj) {
            Ok(ObjType::Text) => Some(obj),
            _ => None,
        }
    }

    /// Sets one top-level field from a JSON value (a bare string is taken as a string).
    pub fn set_field(
        &mut self,
        field: &str,
        raw: &str,
        meta: &CommitMeta,
    ) -> Result<Option<ChangeHash>, DomainError> {
        let updated = with_field(&self.read()?, field, raw)?;
        self.write(&updated, meta)
    }
}

/// `record` with `field` set from `raw` (JSON, or a bare string), checked by deserialising.
pub fn with_field(record: &Record, field: &str, raw: &str) -> Result<Record, DomainError> {
    let kind = record.kind();
    if field == "id" || field == "type" || !field_names(kind).contains(&field) {
        return Err(DomainError::UnknownField {
            kind: kind.as_str(),
            field: field.to_string(),
        });
    }
    let mut value =
        serde_json::to_value(record).map_err(|e| DomainError::Unreadable(e.to_string()))?;
    let attempt = |v: serde_json::Value, value: &mut serde_json::Value| -> Result<Record, String> {
        value[field] = v;
        serde_json::from_value::<Record>(value.clone()).map_err(|e| e.to_string())
    };
    let parsed = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .filter(|v| !v.is_string());
    let as_string = serde_json::Value::String(raw.to_string());
    match parsed {
        Some(v) => attempt(v, &mut value).or_else(|_| attempt(as_string, &mut value)),
        None => attempt(as_string, &mut value),
    }
    .map_err(|reason| DomainError::BadValue {
        field: field.to_string(),
        reason,
    })
}

/// The fields a kind has, as named in the interchange format.
pub fn field_names(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Unit => &["id", "name", "code", "kind", "parent"],
        RecordKind::Patrol => &[
            "id",
            "station",
            "station_code",
            "start",
            "end",
            "sea_area",
            "vessel",
            "commander",
            "crew",
            "joint_forces",
            "route",
            "vessels_inspected",
            "violations",
            "incidents",
            "notes",
        ],
        RecordKind::Plan => &[
            "id",
            "title",
            "period_from",
            "period_to",
            "parties",
            "sections",
        ],
        RecordKind::PlanItem => &[
            "id",
            "plan",
            "title",
            "content",
            "measures",
            "responsible_unit",
            "supporting_units",
            "deadline",
            "status",
            "progress_notes",
        ],
        RecordKind::InfoExchange => &[
            "id",
            "from_unit",
            "to_units",
            "sent_at",
            "subject",
            "body",
            "classification",
            "acknowledgements",
        ],
        RecordKind::CommunityActivity => &[
            "id",
            "station",
            "date",
            "kind",
            "location",
            "participants",
            "officers",
            "participating_units",
            "description",
        ],
        RecordKind::ReviewMeeting => &[
            "id",
            "date",
            "location",
            "units",
            "period_from",
            "period_to",
            "conclusions",
        ],
    }
}

/// The top-level fields of a kind that are Automerge text.
pub fn text_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Patrol => &["notes"],
        RecordKind::PlanItem => &["content", "measures", "progress_notes"],
        RecordKind::InfoExchange => &["body"],
        RecordKind::CommunityActivity => &["description"],
        RecordKind::ReviewMeeting => &["conclusions"],
        RecordKind::Unit | RecordKind::Plan => &[],
    }
}

/// Gives `new`'s text fields the identity of `old`'s, updated by diff, so that writing them
/// produces character splices on the existing text objects instead of replacing them (a
/// replacement would turn concurrent text edits into a whole-field conflict).
/// Attachment lists only grow through whole-record writes: a form or an import that does not
/// know of a file attached meanwhile (it arrived by sync while the form was open) keeps it.
/// A file stays with its inspection or violation only while that entry keeps its position and
/// registration.
fn carry_attachments(old: &Record, new: &mut Record) {
    use crate::records::AttachPlace;
    let same_entry = |place: AttachPlace, new: &Record| match (place, old, new) {
        (AttachPlace::Record, _, _) => true,
        (AttachPlace::Inspection(i), Record::Patrol(o), Record::Patrol(n)) => {
            let reg = |p: &crate::records::Patrol| {
                p.vessels_inspected.get(i).map(|v| v.registration.clone())
            };
            reg(o).is_some() && reg(o) == reg(n)
        }
        (AttachPlace::Violation(i), Record::Patrol(o), Record::Patrol(n)) => {
            let reg =
                |p: &crate::records::Patrol| p.violations.get(i).map(|v| v.registration.clone());
            reg(o).is_some() && reg(o) == reg(n)
        }
        _ => false,
    };
    for (place, a) in old.attachments() {
        if !same_entry(place, new) {
            continue;
        }
        if let Ok(list) = new.attachments_mut(place) {
            if !list.iter().any(|x| x.hash == a.hash) {
                list.push(a.clone());
            }
        }
    }
}

fn carry_texts(old: &Record, new: &mut Record) {
    fn carry(old: &Text, new: &mut Text) {
        let mut t = old.clone();
        crate::textdiff::update(&mut t, new.as_str());
        *new = t;
    }
    match (old, new) {
        (Record::Patrol(o), Record::Patrol(n)) => carry(&o.notes, &mut n.notes),
        (Record::PlanItem(o), Record::PlanItem(n)) => {
            carry(&o.content, &mut n.content);
            carry(&o.measures, &mut n.measures);
            carry(&o.progress_notes, &mut n.progress_notes);
        }
        (Record::InfoExchange(o), Record::InfoExchange(n)) => carry(&o.body, &mut n.body),
        (Record::CommunityActivity(o), Record::CommunityActivity(n)) => {
            carry(&o.description, &mut n.description)
        }
        (Record::ReviewMeeting(o), Record::ReviewMeeting(n)) => {
            carry(&o.conclusions, &mut n.conclusions)
        }
        (Record::Plan(o), Record::Plan(n)) => {
            for (os, ns) in o.sections.iter().zip(n.sections.iter_mut()) {
                carry(&os.body, &mut ns.body);
            }
        }
        _ => {}
    }
}
