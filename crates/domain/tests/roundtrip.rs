//! record → document → record round trips with arbitrary Vietnamese text.

mod common;

use common::{actor, meta};
use proptest::prelude::*;
use tidemark_domain::{document::RecordDoc, interchange, Record};

fn viet_text() -> impl Strategy<Value = String> {
    // Vietnamese letters with every tone mark, spaces and punctuation, plus arbitrary Unicode.
    prop_oneof![
        "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐ ,.:;\\-]{0,80}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn patrol_round_trips_through_its_document(notes in viet_text(), vessel in viet_text(), crew in proptest::collection::vec(viet_text(), 0..4), fine in proptest::option::of(0u64..1_000_000_000)) {
        let Record::Patrol(mut p) = common::patrol() else { unreachable!() };
        p.notes = notes.clone().into();
        p.vessel = Some(vessel);
        p.crew = crew;
        p.violations[0].fine_vnd = fine;
        let record = Record::Patrol(p);
        let mut doc = RecordDoc::create(&record, &actor(7), &meta("Lê Văn Tám", "Đồn Biên phòng Tân Thành", "d", 1)).expect("create");
        let loaded = RecordDoc::load(&doc.save(), &actor(8)).expect("load");
        prop_assert_eq!(loaded.read().expect("read"), record.clone());
        // And through the interchange format.
        let line = interchange::to_line(&record);
        prop_assert_eq!(interchange::parse_line(&line).expect("parse").record, record);
    }

    #[test]
    fn text_edits_replace_whole_values_by_diff(a in viet_text(), b in viet_text()) {
        let Record::Patrol(mut p) = common::patrol() else { unreachable!() };
        p.notes = a.into();
        let mut doc = RecordDoc::create(&Record::Patrol(p.clone()), &actor(1), &meta("u", "Đồn", "d", 1)).expect("create");
        p.notes = b.clone().into();
        doc.write(&Record::Patrol(p), &meta("u", "Đồn", "d", 2)).expect("write");
        let loaded = RecordDoc::load(&doc.save(), &actor(2)).expect("load");
        let Record::Patrol(back) = loaded.read().expect("read") else { unreachable!() };
        prop_assert_eq!(back.notes.as_str(), b.as_str());
    }
}
