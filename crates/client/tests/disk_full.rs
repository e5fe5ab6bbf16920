//! A full disk gives a clear error and changes nothing: simulated with SQLite's page limit
//! (`Store::limit_pages_for_test`), on real store files.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use tidemark_client::{Client, ClientError, ImportProgress, STORE_FILE};
use tidemark_domain::{interchange, Lang, Record, RecordKind};
use tidemark_store::{ListFilter, StoreError};

const UNIT: &str = "Đồn Biên phòng Tân Thành";

/// No limit worth the name: a thousand million pages.
const NO_LIMIT: u32 = 1_000_000_000;

fn patrol_line(id: &str, day: u32, notes: &str) -> String {
    serde_json::json!({
        "type": "patrol",
        "id": id,
        "station": UNIT,
        "station_code": "TT",
        "start": format!("2025-04-{day:02}T06:15:00+07:00"),
        "end": format!("2025-04-{day:02}T10:40:00+07:00"),
        "sea_area": "Cửa Soài Rạp",
        "vessel": "Xuồng CQ-02",
        "commander": "Trung úy Lê Quốc Vũ",
        "crew": ["Đại úy Hoàng Công Long"],
        "notes": notes,
    })
    .to_string()
}

fn patrol(id: &str, day: u32, notes: &str) -> Record {
    interchange::parse_line(&patrol_line(id, day, notes))
        .expect("fixture parses")
        .record
}

fn json(record: &Record) -> serde_json::Value {
    serde_json::to_value(record).expect("records serialise")
}

/// Every record as `show` presents it: values and number of changes.
fn snapshot(client: &Client) -> BTreeMap<String, (serde_json::Value, usize)> {
    client
        .store()
        .doc_ids()
        .expect("document ids")
        .into_iter()
        .map(|id| {
            let view = client.show(&id).expect("every stored record reads back");
            (id, (json(&view.record), view.changes))
        })
        .collect()
}

/// Patrols listed (the unit record `init` creates is not counted).
fn listed(client: &Client) -> usize {
    client
        .store()
        .list(&ListFilter {
            kind: Some(RecordKind::Patrol),
            ..ListFilter::default()
        })
        .expect("list")
        .1
}

fn assert_disk_full(err: &ClientError) {
    assert!(
        matches!(err, ClientError::Store(StoreError::DiskFull)),
        "expected DiskFull, got {err:?}"
    );
    assert!(err.is_user_error(), "a full disk is for the user to fix");
    let en = err.to_string();
    assert!(en.contains("disk is full"), "message: {en}");
    assert!(en.contains("free some space"), "message: {en}");
    let vi = err.localized(Lang::Vi);
    assert!(vi.contains("Ổ đĩa đã đầy"), "Vietnamese message: {vi}");
}

/// About 200 KB of Vietnamese notes, ending with a word found nowhere else.
fn long_notes() -> String {
    let mut notes =
        "Tuần tra khu vực cửa biển, kiểm tra tàu cá, nhắc nhở ngư dân chấp hành quy định \
                     về vùng khai thác; thời tiết gió cấp 5, biển động. "
            .repeat(1400);
    notes.push_str("Kếtthúcđặcbiệt.");
    assert!(notes.len() > 200_000);
    notes
}

#[test]
fn full_disk_gives_clear_error_and_leaves_store_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut client = Client::init(dir.path(), UNIT, "Thiếu tá Phạm Quang Huy").expect("init");
    for day in 1..=5 {
        let notes =
            format!("Ca tuần tra số {day}: gió cấp 4, biển động nhẹ, không phát hiện vi phạm.");
        client
            .save(&patrol(&format!("patrol:TT:2025040{day}:01"), day, &notes))
            .expect("saving before the disk fills");
    }
    let before = snapshot(&client);
    let listed_before = listed(&client);
    assert_eq!(
        before.len(),
        5 + 1,
        "five patrols and the unit record made by init"
    );

    // SQLite never sets the limit below the pages in use, so 1 means "not one page more".
    client.store().limit_pages_for_test(1).expect("limit");
    let big = patrol("patrol:TT:20250410:01", 10, &long_notes());

    let err = client
        .save(&big)
        .expect_err("a 200 KB record cannot fit in a full store");
    assert_disk_full(&err);

    let edited = "patrol:TT:20250402:01";
    let err = client
        .edit(edited, "notes", &long_notes())
        .expect_err("an edit that needs 200 KB cannot fit either");
    assert_disk_full(&err);

    let check_unchanged = |client: &Client| {
        client.store().integrity_check().expect("integrity");
        assert_eq!(snapshot(client), before, "the records saved before changed");
        assert_eq!(listed(client), listed_before);
        assert!(matches!(
            client.show(big.id()),
            Err(ClientError::NotFound(_))
        ));
        assert_eq!(client.store().record_json(big.id()).expect("index"), None);
        assert!(
            client
                .store()
                .search("Kếtthúcđặcbiệt", None, 10)
                .expect("search")
                .is_empty(),
            "the failed writes left search entries"
        );
    };
    check_unchanged(&client);
    drop(client);
    let mut client = Client::open(dir.path()).expect("reopen after the failed writes");
    check_unchanged(&client);

    // With space again, the very same writes go through.
    client
        .store()
        .limit_pages_for_test(NO_LIMIT)
        .expect("lift the limit");
    assert_eq!(
        client.save(&big).expect("saving once there is space"),
        tidemark_client::WriteOutcome::Created
    );
    assert_eq!(
        json(&client.show(big.id()).expect("show").record),
        json(&big)
    );
    client
        .edit(edited, "notes", &long_notes())
        .expect("editing once there is space");
    let view = client.show(edited).expect("show");
    assert_eq!(json(&view.record)["notes"], long_notes().as_str());
    assert_eq!(
        client
            .store()
            .search("Kếtthúcđặcbiệt", None, 10)
            .expect("search")
            .len(),
        2
    );
    client.store().integrity_check().expect("integrity");
}

/// Import lines `first..first + n`: small patrols with distinct ids and notes.
fn import_lines(first: usize, n: usize) -> Vec<(String, String)> {
    (first..first + n)
        .map(|i| {
            let id = format!("patrol:TT:import:{i:05}");
            let notes = format!(
                "Tuần tra số {i}: kiểm tra {} tàu cá tại Cửa Soài Rạp, ngư dân chấp hành tốt quy định.",
                i % 9
            );
            let line = patrol_line(&id, 1 + (i % 28) as u32, &notes);
            (id, line)
        })
        .collect()
}

fn import(
    client: &mut Client,
    lines: &[(String, String)],
    done: &mut usize,
) -> Result<tidemark_client::ImportReport, ClientError> {
    let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    client.import_jsonl(Cursor::new(text.into_bytes()), &mut |p: ImportProgress| {
        *done = p.records_done
    })
}

/// Pages the closed store at `dir` holds (a closed store has no WAL: it is checkpointed).
fn pages_of_closed_store(dir: &Path) -> u32 {
    let path = dir.join(STORE_FILE);
    assert!(
        !dir.join(format!("{STORE_FILE}-wal")).exists(),
        "the store was closed: its WAL is checkpointed and gone"
    );
    let bytes = std::fs::read(&path).expect("read the store file");
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    u32::try_from(bytes.len() as u64 / page_size).expect("page count fits u32")
}

#[test]
fn import_hitting_a_full_disk_keeps_whole_batches_and_reports_disk_full() {
    const BATCH: usize = 500; // the batch size of `Client::import_jsonl`
    let dir = tempfile::tempdir().expect("temp dir");
    drop(Client::init(dir.path(), UNIT, "Thiếu tá Phạm Quang Huy").expect("init"));
    let empty_pages = pages_of_closed_store(dir.path());

    // One batch, to learn how many pages a batch of these records takes.
    let mut client = Client::open(dir.path()).expect("open");
    let mut done = 0;
    let first = import_lines(0, BATCH);
    let report = import(&mut client, &first, &mut done).expect("import with space");
    assert_eq!(report.created, BATCH);
    drop(client);
    let one_batch_pages = pages_of_closed_store(dir.path());
    let per_batch = one_batch_pages - empty_pages;
    assert!(
        per_batch > 20,
        "a batch of 500 patrols takes {per_batch} pages?"
    );

    // Room for one and a half more batches; the import brings three.
    let mut client = Client::open(dir.path()).expect("open");
    client
        .store()
        .limit_pages_for_test(one_batch_pages + per_batch * 3 / 2)
        .expect("limit");
    let second = import_lines(BATCH, 3 * BATCH);
    let mut done = 0;
    let err = import(&mut client, &second, &mut done).expect_err("the import outgrows the limit");
    assert_disk_full(&err);

    let check = |client: &Client, done: usize| {
        client.store().integrity_check().expect("integrity");
        // Whole batches only: what progress reported as written is exactly what is stored.
        assert_eq!(done % BATCH, 0, "progress reports whole batches");
        assert_eq!(
            done, BATCH,
            "the first batch fits in the room left, the second does not"
        );
        assert_eq!(listed(client), BATCH + done);
        for (n, (id, line)) in first.iter().chain(&second).enumerate() {
            match client.show(id) {
                Ok(view) => {
                    assert!(n < BATCH + done, "{id} from a rolled-back batch is stored");
                    let want = interchange::parse_line(line).expect("parses").record;
                    assert_eq!(json(&view.record), json(&want), "{id} differs");
                }
                Err(ClientError::NotFound(_)) => {
                    assert!(n >= BATCH + done, "{id} from a committed batch is missing")
                }
                Err(e) => panic!("{id} is unreadable: {e}"),
            }
        }
        let (rows, total) = client
            .store()
            .list(&ListFilter {
                kind: Some(RecordKind::Patrol),
                ..ListFilter::default()
            })
            .expect("list");
        assert_eq!(total, BATCH + done);
        for row in rows {
            client
                .show(&row.id)
                .expect("every listed record reads back");
        }
    };
    check(&client, done);
    drop(client);
    let mut client = Client::open(dir.path()).expect("reopen after the failed import");
    check(&client, done);

    // With space again, importing the same file again finishes the job.
    client
        .store()
        .limit_pages_for_test(NO_LIMIT)
        .expect("lift the limit");
    let mut again = 0;
    let report = import(&mut client, &second, &mut again).expect("import with space");
    assert_eq!(report.unchanged, done);
    assert_eq!(report.created, 3 * BATCH - done);
    assert_eq!(listed(&client), 4 * BATCH);
    client.store().integrity_check().expect("integrity");
}
