//! A unit's record as every device makes it, the same to the byte: its first change.
//!
//! A device makes a record of its own unit when its store is created, so that what it exports
//! names the unit even before the unit list comes from HQ. Made under each device's own actor,
//! those records were concurrent copies: a station with 33 devices synced 33 first changes of
//! one document, and each new device was sent every copy before it (S5: a sixth of the relay's
//! CPU under 200 devices). Made from the unit's name alone, under one fixed actor, at time 0,
//! with no author, the first change is the same change wherever it is made: one hash, which
//! the relay and every other device already hold after the first device brings it.
//!
//! It carries no one's words, only the name the device was enrolled under, so it has no author
//! to check: the relay accepts it (from a device that may write the document) only after
//! making it again from the name it holds and finding the same hash ([`is_unit_genesis`]).
//! Later edits to the unit record are ordinary changes by the devices that make them.

use automerge::{ActorId, Change, ChangeHash};

use crate::document::{CommitMeta, RecordDoc};
use crate::error::DomainError;
use crate::fold::fold_for_search;
use crate::records::{Record, Unit, UnitKind};

/// The actor of every unit record's first change (an actor id is only unique within its
/// document, and no device is given this one).
pub const GENESIS_ACTOR: &[u8; 16] = b"tidemark:genesis";

/// The operation name its commit carries.
pub const GENESIS_OP: &str = "genesis";

/// The genesis actor as an Automerge actor id.
pub fn genesis_actor() -> ActorId {
    ActorId::from(GENESIS_ACTOR.as_slice())
}

/// The id of the record made for a unit from its name alone: `unit:` and the folded name, its
/// runs of other characters as `-` (`Đồn Biên phòng Tân Thành` → `unit:don-bien-phong-tan-thanh`).
pub fn unit_id_for(name: &str) -> String {
    let slug: String = fold_for_search(name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("unit:{}", slug.trim_matches('-'))
}

/// The unit record made from `name` alone: a station, with no code and no parent.
fn unit_from_name(name: &str) -> Unit {
    Unit {
        id: unit_id_for(name),
        name: name.to_string(),
        code: None,
        kind: UnitKind::Station,
        parent: None,
    }
}

/// The document of unit `name` holding only its first change, ready for `actor` (the device)
/// to edit: its own changes come under its own actor.
pub fn unit_genesis(name: &str, actor: &ActorId) -> Result<RecordDoc, DomainError> {
    let meta = CommitMeta {
        time: 0,
        user: String::new(),
        unit: String::new(),
        device: String::new(),
        op: GENESIS_OP.to_string(),
    };
    // Not `RecordDoc::create`, which names the operation `create`.
    let mut doc = RecordDoc::empty(&genesis_actor());
    doc.write(&Record::Unit(unit_from_name(name)), &meta)?;
    doc.automerge().set_actor(actor.clone());
    Ok(doc)
}

/// The hash of unit `name`'s first change.
pub fn unit_genesis_hash(name: &str) -> Result<ChangeHash, DomainError> {
    let mut doc = unit_genesis(name, &genesis_actor())?;
    doc.heads()
        .first()
        .copied()
        .ok_or_else(|| DomainError::Unreadable("a genesis without a change".into()))
}

/// Whether `change` is exactly the first change of the unit record `doc_id` as [`unit_genesis`]
/// makes it: by the genesis actor, first of its actor and resting on nothing, holding a unit
/// whose id is `doc_id`, and of the same hash as the genesis made again from that unit's name.
/// Anything else by the genesis actor (another name, a field more, another time) is not.
pub fn is_unit_genesis(doc_id: &str, change: &Change) -> bool {
    if change.actor_id().to_bytes() != GENESIS_ACTOR.as_slice()
        || change.seq() != 1
        || !change.deps().is_empty()
        || !doc_id.starts_with("unit:")
    {
        return false;
    }
    let Ok(doc) = RecordDoc::load(change.raw_bytes(), &genesis_actor()) else {
        return false;
    };
    let name = match doc.read() {
        Ok(Record::Unit(unit)) if unit.id == doc_id => unit.name,
        _ => return false,
    };
    unit_genesis_hash(&name).is_ok_and(|hash| hash == change.hash())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::ROOT;

    use super::*;

    const NAME: &str = "Đồn Biên phòng Tân Thành";

    fn device() -> ActorId {
        ActorId::random()
    }

    fn first_change(doc: &mut RecordDoc) -> Change {
        let changes = doc.automerge().get_changes(&[]);
        assert_eq!(changes.len(), 1);
        changes[0].clone()
    }

    #[test]
    fn every_device_makes_the_same_first_change() {
        let mut a = unit_genesis(NAME, &device()).unwrap();
        let mut b = unit_genesis(NAME, &device()).unwrap();
        assert_eq!(a.heads(), b.heads());
        assert_eq!(a.save(), b.save(), "the same bytes");
        assert_eq!(a.heads()[0], unit_genesis_hash(NAME).unwrap());
        match a.read().unwrap() {
            Record::Unit(u) => {
                assert_eq!(u.id, "unit:don-bien-phong-tan-thanh");
                assert_eq!(u.name, NAME);
                assert_eq!((u.kind, u.code, u.parent), (UnitKind::Station, None, None));
            }
            other => panic!("not a unit: {other:?}"),
        }
        let meta = a.automerge().get_changes(&[])[0].clone();
        assert_eq!(
            (meta.timestamp(), meta.message()),
            (
                0,
                Some("{\"user\":\"\",\"unit\":\"\",\"device\":\"\",\"op\":\"genesis\"}")
            )
        );
        // Merged, the two are one change: nothing concurrent, nothing to surface.
        a.merge(&mut b).unwrap();
        assert_eq!(a.automerge().get_changes(&[]).len(), 1);
        assert!(crate::conflicts::conflicts(&mut a).unwrap().is_empty());
        // Another unit's first change differs.
        assert_ne!(
            unit_genesis_hash("Đồn Biên phòng Kiểng Phước").unwrap(),
            a.heads()[0]
        );
    }

    #[test]
    fn a_device_edits_the_unit_under_its_own_actor() {
        let actor = device();
        let mut doc = unit_genesis(NAME, &actor).unwrap();
        let mut unit = match doc.read().unwrap() {
            Record::Unit(u) => u,
            other => panic!("not a unit: {other:?}"),
        };
        unit.code = Some("TT".into());
        let meta = CommitMeta {
            time: 1_790_000_000,
            user: "Nguyễn Văn An".into(),
            unit: NAME.into(),
            device: "dev-1".into(),
            op: "edit".into(),
        };
        doc.write(&Record::Unit(unit), &meta).unwrap();
        let changes = doc.automerge().get_changes(&[]);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].actor_id(), &genesis_actor());
        assert_eq!(changes[1].actor_id(), &actor);
    }

    #[test]
    fn only_the_genesis_made_again_from_its_name_is_recognised() {
        let mut doc = unit_genesis(NAME, &device()).unwrap();
        let change = first_change(&mut doc);
        let id = unit_id_for(NAME);
        assert!(is_unit_genesis(&id, &change));
        assert!(
            !is_unit_genesis("unit:don-bien-phong-kieng-phuoc", &change),
            "another id"
        );
        assert!(!is_unit_genesis("patrol:TT:1", &change));

        // The genesis actor with anything else: another kind, an extra field, a real time, a
        // device's actor with the same content.
        let forged = |edit: &dyn Fn(&mut automerge::AutoCommit), time: i64, actor: ActorId| {
            let mut d =
                automerge::AutoCommit::new_with_encoding(automerge::TextEncoding::Utf8CodeUnit)
                    .with_actor(actor);
            d.put(ROOT, "type", "unit").unwrap();
            d.put(ROOT, "id", id.as_str()).unwrap();
            d.put(ROOT, "name", NAME).unwrap();
            edit(&mut d);
            let options = automerge::transaction::CommitOptions::default()
                .with_message(format!("{{\"op\":\"{GENESIS_OP}\"}}"))
                .with_time(time);
            d.commit_with(options);
            d.get_changes(&[])[0].clone()
        };
        let none = |_: &mut automerge::AutoCommit| {};
        let extra = |d: &mut automerge::AutoCommit| {
            d.put(ROOT, "ghi_chú", "đã giải thể").unwrap();
        };
        assert!(!is_unit_genesis(&id, &forged(&none, 0, genesis_actor())));
        assert!(!is_unit_genesis(&id, &forged(&extra, 0, genesis_actor())));
        assert!(!is_unit_genesis(
            &id,
            &forged(&none, 1_790_000_000, genesis_actor())
        ));
        assert!(!is_unit_genesis(&id, &forged(&none, 0, device())));

        // Its own bytes as another device made them: recognised.
        let mut again = unit_genesis(NAME, &device()).unwrap();
        assert!(is_unit_genesis(&id, &first_change(&mut again)));
    }

    #[test]
    fn ids_fold_vietnamese_names() {
        assert_eq!(
            unit_id_for("Đồn Biên phòng Cửa Tiểu"),
            "unit:don-bien-phong-cua-tieu"
        );
        assert_eq!(
            unit_id_for("  Bộ Chỉ huy BĐBP tỉnh  "),
            "unit:bo-chi-huy-bdbp-tinh"
        );
    }
}
