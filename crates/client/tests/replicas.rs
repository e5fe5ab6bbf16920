//! Two devices with their own stores edit the same records offline, then exchange documents:
//! text edits from both survive, conflicting fields show in `conflicts` with their authors, the
//! index follows the merge, and resolving clears the conflict everywhere.

use tidemark_client::Client;
use tidemark_domain::records::Record;

const DEMO: &str = include_str!("../../../fixtures/demo.jsonl");

fn device(unit: &str, user: &str) -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = Client::init(dir.path(), unit, user).expect("init");
    (dir, client)
}

fn send(from: &Client, to: &mut Client, id: &str) -> bool {
    let bytes = from.document_bytes(id).expect("document");
    to.apply_changes(id, &bytes).expect("apply")
}

#[test]
fn offline_edits_on_two_devices_merge_with_conflicts_visible_and_resolvable() {
    let (_a_dir, mut hq) = device("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "Thiếu tá Phạm Quang Huy");
    let (_b_dir, mut station) = device("Đồn Biên phòng Tân Thành", "Trung úy Lê Quốc Vũ");
    hq.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    for id in hq.store().doc_ids().expect("ids") {
        assert!(send(&hq, &mut station, &id));
    }

    let patrol = "patrol:TT:20250101:01";
    let item = "plan:item:001";
    // Offline on both sides.
    hq.edit(patrol, "vessel", "Tàu BP-15-01")
        .expect("hq vessel");
    hq.splice(patrol, "notes", 0, 0, "Chỉ huy đã duyệt. ")
        .expect("hq notes");
    station
        .edit(patrol, "vessel", "Xuồng CQ-07")
        .expect("station vessel");
    let notes_len = "Thời tiết trời quang, gió cấp 4, biển động nhẹ."
        .chars()
        .count();
    station
        .splice(patrol, "notes", notes_len, 0, " Về bến lúc 9 giờ.")
        .expect("station notes");
    hq.edit(item, "status", "hoàn thành").expect("hq status");
    station
        .edit(item, "status", "tạm hoãn")
        .expect("station status");
    station
        .splice(item, "content", 0, 0, "Đồn Tân Thành hỗ trợ: ")
        .expect("station content");

    // Reconnect: both directions.
    for id in [patrol, item] {
        send(&station, &mut hq, id);
        send(&hq, &mut station, id);
    }
    for c in [&hq, &station] {
        let Record::Patrol(p) = c.show(patrol).expect("show").record else {
            panic!()
        };
        assert_eq!(
            p.notes.as_str(),
            "Chỉ huy đã duyệt. Thời tiết trời quang, gió cấp 4, biển động nhẹ. Về bến lúc 9 giờ."
        );
        let Record::PlanItem(i) = c.show(item).expect("show").record else {
            panic!()
        };
        assert!(i
            .content
            .as_str()
            .starts_with("Đồn Tân Thành hỗ trợ: Tổ chức"));
        let conflicts = c.conflicts().expect("conflicts");
        let mut fields: Vec<(String, String, usize)> = conflicts
            .iter()
            .flat_map(|(id, cs)| {
                cs.iter()
                    .map(move |c| (id.clone(), c.field.clone(), c.values.len()))
            })
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                (patrol.to_string(), "vessel".to_string(), 2),
                (item.to_string(), "status".to_string(), 2)
            ]
        );
        let users: Vec<&str> = conflicts
            .iter()
            .find(|(id, _)| id == patrol)
            .map(|(_, cs)| {
                cs[0]
                    .values
                    .iter()
                    .map(|v| v.author.user.as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            users.contains(&"Thiếu tá Phạm Quang Huy") && users.contains(&"Trung úy Lê Quốc Vũ")
        );
        // The merged text is searchable on both devices.
        let hits = c
            .store()
            .search("ve ben luc 9 gio", None, 10)
            .expect("search");
        assert_eq!(
            hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            vec![patrol]
        );
    }

    // Resolving on HQ clears the conflict on HQ, and on the station once it has HQ's change.
    hq.resolve(patrol, "vessel", "Xuồng CQ-07")
        .expect("resolve");
    hq.resolve(item, "status", "hoàn thành")
        .expect("resolve status");
    assert!(hq.conflicts().expect("conflicts").is_empty());
    send(&hq, &mut station, patrol);
    send(&hq, &mut station, item);
    assert!(station.conflicts().expect("conflicts").is_empty());
    let Record::Patrol(p) = station.show(patrol).expect("show").record else {
        panic!()
    };
    assert_eq!(p.vessel.as_deref(), Some("Xuồng CQ-07"));
    // History on the station tells who changed the vessel, and that HQ resolved it.
    let history = station.history(patrol).expect("history");
    let last = history.last().expect("entries");
    assert_eq!(last.author.op, "resolve");
    assert_eq!(last.author.user, "Thiếu tá Phạm Quang Huy");
}

#[test]
fn resolving_a_field_without_conflict_is_a_user_error() {
    let (_d, mut c) = device("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u");
    c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    let err = c
        .resolve("patrol:TT:20250101:01", "vessel", "x")
        .expect_err("no conflict");
    assert!(err.is_user_error());
    assert!(err.to_string().contains("has no conflict"));
}

#[test]
fn malformed_changes_from_a_peer_change_nothing() {
    let (_d, mut c) = device("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u");
    c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    let id = "patrol:TT:20250101:01";
    let before = c.document_bytes(id).expect("bytes");
    let mut corrupted = before.clone();
    let mid = corrupted.len() / 2;
    corrupted[mid] ^= 0xff;
    for junk in [
        b"garbage".to_vec(),
        corrupted,
        before[..before.len() / 3].to_vec(),
    ] {
        assert!(c.apply_changes(id, &junk).is_err());
    }
    assert_eq!(c.document_bytes(id).expect("bytes"), before);
    assert!(c.store().integrity_check().is_ok());
    // Changes for another record cannot be filed under this id.
    let other = c.document_bytes("patrol:KP:20250102:01").expect("other");
    let (_d2, mut fresh) = device("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u");
    let err = fresh.apply_changes(id, &other).expect_err("wrong id");
    assert!(err.to_string().contains("nothing applied"));
    assert!(fresh.show(id).is_err());
}

#[test]
fn edits_that_break_validation_are_refused_and_nothing_is_stored() {
    let (_d, mut c) = device("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u");
    c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    let id = "patrol:TT:20250101:01";
    let before = c.document_bytes(id).expect("bytes");
    let err = c
        .edit(id, "end", "2024-12-31T00:00:00+07:00")
        .expect_err("end before start");
    assert!(err.is_user_error());
    assert!(err
        .localized(tidemark_domain::Lang::Vi)
        .contains("phải sau"));
    let err = c.edit(id, "khong_co", "x").expect_err("unknown field");
    assert!(err.to_string().contains("unknown field"));
    let err = c.edit(id, "crew", "{\"a\":1}").expect_err("wrong shape");
    assert!(err.is_user_error());
    assert_eq!(c.document_bytes(id).expect("bytes"), before);
}

#[test]
fn a_record_naming_units_this_device_does_not_know_can_still_be_edited() {
    let (_a, mut hq) = device("Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u");
    hq.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    // The station knows only its own unit; the plan item names two others.
    let (_b, mut station) = device("Đồn Biên phòng Tân Thành", "v");
    send(&hq, &mut station, "plan:item:001");
    station
        .edit("plan:item:001", "status", "hoàn thành")
        .expect("status edit is allowed");
    // But an edit that brings in a new unknown unit is still refused.
    let err = station
        .edit(
            "plan:item:001",
            "responsible_unit",
            "Đồn Biên phòng Không Có",
        )
        .expect_err("new unknown unit");
    assert!(err
        .localized(tidemark_domain::Lang::En)
        .contains("Đồn Biên phòng Không Có"));
}
