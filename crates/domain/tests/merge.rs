//! Two replicas edit the same record offline, then merge: both text edits survive, conflicting
//! scalars stay visible with their authors, and resolving supersedes them all.

mod common;

use common::{actor, meta, patrol, plan_item};
use tidemark_domain::{conflicts, document::RecordDoc, history, Record};

fn replicas(record: &Record) -> (RecordDoc, RecordDoc) {
    let mut a = RecordDoc::create(
        record,
        &actor(1),
        &meta(
            "Lê Quốc Vũ",
            "Đồn Biên phòng Tân Thành",
            "dev-a",
            1_735_700_000,
        ),
    )
    .expect("create");
    let b = RecordDoc::load(&a.save(), &actor(2)).expect("load");
    (a, b)
}

#[test]
fn concurrent_patrol_edits_merge_text_and_keep_both_scalars() {
    let (mut a, mut b) = replicas(&patrol());
    let ma = meta(
        "Lê Quốc Vũ",
        "Đồn Biên phòng Tân Thành",
        "dev-a",
        1_735_710_000,
    );
    let mb = meta(
        "Nguyễn Văn Bình",
        "Bộ Chỉ huy BĐBP tỉnh Tiền Giang",
        "dev-b",
        1_735_720_000,
    );

    // A appends to the notes and changes the vessel; B prepends to the notes and changes the
    // vessel differently. Both offline.
    let Record::Patrol(mut pa) = a.read().expect("read") else {
        panic!()
    };
    pa.notes
        .update(format!("{} Đã về bến an toàn.", pa.notes.as_str()));
    pa.vessel = Some("Tàu BP-15-01".into());
    a.write(&Record::Patrol(pa), &ma).expect("write a");

    b.splice("notes", 0, 0, "Ghi chú của Chỉ huy: ", &mb)
        .expect("splice b");
    b.set_field("vessel", "Xuồng CQ-07", &mb).expect("edit b");

    a.merge(&mut b).expect("merge");
    let Record::Patrol(merged) = a.read().expect("read merged") else {
        panic!()
    };
    assert_eq!(
        merged.notes.as_str(),
        "Ghi chú của Chỉ huy: Thời tiết trời quang, gió cấp 4, biển động nhẹ. Đã về bến an toàn."
    );

    let found = conflicts::conflicts(&mut a).expect("conflicts");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].field, "vessel");
    let mut values: Vec<(String, String)> = found[0]
        .values
        .iter()
        .map(|v| {
            (
                v.value.as_str().unwrap_or_default().to_string(),
                v.author.user.clone(),
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![
            ("Tàu BP-15-01".to_string(), "Lê Quốc Vũ".to_string()),
            ("Xuồng CQ-07".to_string(), "Nguyễn Văn Bình".to_string())
        ]
    );
    assert!(found[0].values.iter().all(|v| v.time >= 1_735_710_000));

    // Resolving writes one value over both; the conflict disappears on every replica.
    conflicts::resolve(
        &mut a,
        "vessel",
        "Xuồng CQ-07",
        &meta(
            "Trần Văn Cường",
            "Bộ Chỉ huy BĐBP tỉnh Tiền Giang",
            "dev-c",
            1_735_730_000,
        ),
    )
    .expect("resolve");
    assert!(conflicts::conflicts(&mut a).expect("conflicts").is_empty());
    b.merge(&mut a).expect("merge back");
    assert!(conflicts::conflicts(&mut b).expect("conflicts").is_empty());
    let Record::Patrol(after) = b.read().expect("read") else {
        panic!()
    };
    assert_eq!(after.vessel.as_deref(), Some("Xuồng CQ-07"));
}

#[test]
fn concurrent_plan_item_edits_merge_and_status_conflict_is_visible() {
    let (mut a, mut b) = replicas(&plan_item());
    let ma = meta(
        "Phạm Thị Hoa",
        "Huyện ủy Gò Công Đông",
        "dev-a",
        1_735_710_000,
    );
    let mb = meta(
        "Võ Minh Đức",
        "Đồn Biên phòng Vàm Láng",
        "dev-b",
        1_735_720_000,
    );

    // Two units splice into the same Vietnamese sentence at different places.
    a.splice("content", 0, 0, "Phối hợp: ", &ma)
        .expect("splice a");
    let len = "Tổ chức lực lượng tuần tra, kiểm soát vùng nuôi nghêu"
        .chars()
        .count();
    b.splice("content", len, 0, " ở xã Tân Thành", &mb)
        .expect("splice b");
    a.set_field("status", "hoàn thành", &ma).expect("status a");
    b.set_field("status", "tạm hoãn", &mb).expect("status b");

    a.merge(&mut b).expect("merge");
    let Record::PlanItem(item) = a.read().expect("read") else {
        panic!()
    };
    assert_eq!(
        item.content.as_str(),
        "Phối hợp: Tổ chức lực lượng tuần tra, kiểm soát vùng nuôi nghêu ở xã Tân Thành."
    );
    let found = conflicts::conflicts(&mut a).expect("conflicts");
    assert_eq!(
        found.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
        vec!["status"]
    );
    assert_eq!(found[0].values.len(), 2);
}

#[test]
fn history_names_author_field_and_old_and_new_values() {
    let (mut a, _) = replicas(&plan_item());
    a.set_field(
        "deadline",
        "2025-07-01",
        &meta(
            "Phạm Thị Hoa",
            "Huyện ủy Gò Công Đông",
            "dev-a",
            1_735_800_000,
        ),
    )
    .expect("edit");
    let h = history::history(&mut a).expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].author.op, "create");
    assert!(h[0]
        .fields
        .iter()
        .any(|f| f.field == "title" && f.old.is_none()));
    let last = &h[1];
    assert_eq!(last.author.user, "Phạm Thị Hoa");
    assert_eq!(last.author.unit, "Huyện ủy Gò Công Đông");
    assert_eq!(last.time, 1_735_800_000);
    assert_eq!(last.fields.len(), 1, "{:?}", last.fields);
    assert_eq!(last.fields[0].field, "deadline");
    assert_eq!(last.fields[0].old, Some(serde_json::json!("2025-06-16")));
    assert_eq!(last.fields[0].new, Some(serde_json::json!("2025-07-01")));
}

#[test]
fn rewriting_the_same_record_commits_nothing() {
    let (mut a, _) = replicas(&patrol());
    let record = a.read().expect("read");
    let heads = a.heads();
    let change = a.write(&record, &meta("x", "y", "z", 1)).expect("write");
    assert!(change.is_none());
    assert_eq!(a.heads(), heads);
}

#[test]
fn utf8_text_splices_land_at_character_positions() {
    let (mut a, mut b) = replicas(&patrol());
    // "Thời tiết" — insert after the 9th character on one side, delete "Thời " on the other.
    a.splice("notes", 9, 0, " đẹp", &meta("a", "u", "d", 2))
        .expect("a");
    b.splice("notes", 0, 5, "", &meta("b", "u", "d", 3))
        .expect("b");
    a.merge(&mut b).expect("merge");
    let Record::Patrol(p) = a.read().expect("read") else {
        panic!()
    };
    assert!(
        p.notes.as_str().starts_with("tiết đẹp trời quang"),
        "{}",
        p.notes.as_str()
    );
}

#[test]
fn splice_outside_the_text_is_refused_and_changes_nothing() {
    let (mut a, _) = replicas(&patrol());
    let heads = a.heads();
    let err = a
        .splice("notes", 1000, 0, "x", &meta("a", "u", "d", 2))
        .expect_err("refused");
    assert!(err.to_string().contains("outside the text"), "{err}");
    assert_eq!(a.heads(), heads);
}

#[test]
fn malformed_bytes_are_refused_and_leave_the_document_unchanged() {
    let (mut a, _) = replicas(&patrol());
    let before = a.read().expect("read");
    let heads = a.heads();
    for junk in [
        &b"not automerge"[..],
        &[0x85, 0x6f, 0x4a, 0x83, 1, 2, 3][..],
    ] {
        assert!(a.apply(junk).is_err());
    }
    assert_eq!(a.heads(), heads);
    assert_eq!(a.read().expect("read"), before);
}

#[test]
fn plan_sections_merge_character_edits_from_two_units() {
    let plan = tidemark_domain::interchange::parse_line(
        r#"{"type":"plan","id":"plan:2025","title":"Kế hoạch phối hợp năm 2025","period_from":"2025-01-01","period_to":"2025-12-31","parties":["Đồn Biên phòng Tân Thành"],"sections":[{"heading":"I. Mục đích","body":"Phối hợp bảo vệ chủ quyền."},{"heading":"II. Nội dung","body":"Tuần tra chung trên biển."}]}"#,
    )
    .expect("plan")
    .record;
    let (mut a, mut b) = replicas(&plan);
    a.splice(
        "sections[1].body",
        0,
        0,
        "Huyện ủy: ",
        &meta("a", "u", "d", 2),
    )
    .expect("a");
    b.splice(
        "sections[1].body",
        25,
        0,
        " Đồn bố trí 2 tàu.",
        &meta("b", "u", "d", 3),
    )
    .expect("b");
    a.merge(&mut b).expect("merge");
    let Record::Plan(p) = a.read().expect("read") else {
        panic!()
    };
    assert_eq!(
        p.sections[1].body.as_str(),
        "Huyện ủy: Tuần tra chung trên biển. Đồn bố trí 2 tàu."
    );
    assert_eq!(p.sections[0].body.as_str(), "Phối hợp bảo vệ chủ quyền.");
    // Paths that do not end at a text are refused.
    for bad in [
        "sections[9].body",
        "sections[1].heading",
        "sections.body",
        "title[0]",
    ] {
        assert!(
            a.splice(bad, 0, 0, "x", &meta("a", "u", "d", 4)).is_err(),
            "{bad}"
        );
    }
}

/// After a merge, a later edit on top leaves one head again; the history is no longer one
/// chain (the edit builds on both sides), so the conflict stays visible. A record one writer
/// edited many times has one chain and no conflict.
#[test]
fn a_conflict_stays_visible_after_a_later_edit_gives_one_head() {
    let (mut a, mut b) = replicas(&plan_item());
    let ma = meta(
        "Phạm Thị Hoa",
        "Huyện ủy Gò Công Đông",
        "dev-a",
        1_735_710_000,
    );
    let mb = meta(
        "Võ Minh Đức",
        "Đồn Biên phòng Vàm Láng",
        "dev-b",
        1_735_720_000,
    );
    a.set_field("status", "hoàn thành", &ma).expect("status a");
    b.set_field("status", "tạm hoãn", &mb).expect("status b");
    a.merge(&mut b).expect("merge");
    a.splice("content", 0, 0, "Đã rà soát: ", &ma)
        .expect("edit after merge");
    assert_eq!(a.heads().len(), 1);
    let found = conflicts::conflicts(&mut a).expect("conflicts");
    assert_eq!(
        found.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
        vec!["status"]
    );

    let (mut solo, _) = replicas(&plan_item());
    for status in ["đang thực hiện", "tạm hoãn", "hoàn thành"] {
        solo.set_field("status", status, &ma).expect("solo edit");
    }
    assert!(conflicts::conflicts(&mut solo)
        .expect("conflicts")
        .is_empty());
}
