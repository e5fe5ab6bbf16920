//! Attachments on one device: stored once by hash, thumbnails for images, references in the
//! record at the right place, clear refusals, and names that never become paths.

use tidemark_client::Client;
use tidemark_domain::{AttachPlace, Record};
use tidemark_sync_protocol::attachment::sha256_hex;

const DEMO: &str = include_str!("../../../fixtures/demo.jsonl");
const PATROL: &str = "patrol:KP:20250102:01";

fn demo() -> (tempfile::TempDir, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Client::init(dir.path(), "Bộ Chỉ huy BĐBP tỉnh Tiền Giang", "u").expect("init");
    c.import_jsonl(std::io::Cursor::new(DEMO.as_bytes().to_vec()), &mut |_| {})
        .expect("import");
    (dir, c)
}

/// A photo-like PNG: big enough that its thumbnail must be much smaller.
fn photo(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1024, 768, |x, y| {
        image::Rgb([
            (x.wrapping_mul(seed) % 256) as u8,
            (y % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    png
}

fn files_on_disk(dir: &std::path::Path) -> usize {
    let root = dir.join("attachments");
    let Ok(subdirs) = std::fs::read_dir(&root) else {
        return 0;
    };
    subdirs
        .flatten()
        .filter(|d| d.file_name() != "partial")
        .map(|d| std::fs::read_dir(d.path()).map(|r| r.count()).unwrap_or(0))
        .sum()
}

#[test]
fn a_photo_is_stored_once_with_a_thumbnail_and_referenced_by_hash() {
    let (dir, mut c) = demo();
    let png = photo(7);
    let done = c
        .attach(PATROL, AttachPlace::Record, "ảnh tàu cá TG-90512.png", &png)
        .expect("attach");
    assert!(done.added && !done.deduplicated);
    let a = &done.attachment;
    assert_eq!(a.hash, sha256_hex(&png));
    assert_eq!(a.mime, "image/png");
    assert_eq!(a.size, png.len() as u64);
    let thumb = a.thumb.clone().expect("an image gets a thumbnail");
    let thumb_bytes = c.attachment_bytes(&thumb).expect("read").expect("present");
    assert!(thumb_bytes.len() <= 20 * 1024, "{}", thumb_bytes.len());
    assert!(thumb_bytes.len() * 10 < png.len());

    // The record refers to it; the index lists it.
    let Record::Patrol(p) = c.show(PATROL).expect("show").record else {
        panic!("a patrol")
    };
    assert_eq!(p.attachments, vec![a.clone()]);
    let rows = c.attachments(PATROL).expect("list");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].present && rows[0].thumb_present);
    assert_eq!(rows[0].name, "ảnh tàu cá TG-90512.png");

    // The same file on a violation and on another record: stored once, two references.
    let again = c
        .attach(PATROL, AttachPlace::Violation(0), "cùng ảnh.png", &png)
        .expect("attach to violation");
    assert!(again.added && again.deduplicated);
    c.attach(
        "community:KP:20250105",
        AttachPlace::Record,
        "tuyên truyền.png",
        &png,
    )
    .expect("attach to activity");
    assert_eq!(files_on_disk(dir.path()), 2, "the photo and its thumbnail");
    let places: Vec<_> = c
        .attachments(PATROL)
        .expect("list")
        .into_iter()
        .map(|r| r.place)
        .collect();
    assert_eq!(places, vec!["attachments", "violations[0].attachments"]);

    // Attaching the same file at the same place again changes nothing.
    let same = c
        .attach(PATROL, AttachPlace::Record, "ảnh tàu cá TG-90512.png", &png)
        .expect("again");
    assert!(!same.added);

    // Found by name or hash prefix; the bytes come back intact.
    let row = c
        .find_attachment(PATROL, "ảnh tàu cá TG-90512.png")
        .expect("by name");
    assert_eq!(
        c.attachment_bytes(&row.hash).expect("read"),
        Some(png.clone())
    );
    assert_eq!(
        c.find_attachment(PATROL, &a.hash[..10])
            .expect("by hash")
            .hash,
        a.hash
    );
    assert!(c.find_attachment(PATROL, "không có.png").is_err());

    // Search and the record's JSON still work; the reference survives a reopen.
    drop(c);
    let c = Client::open(dir.path()).expect("reopen");
    assert_eq!(c.attachments(PATROL).expect("list").len(), 2);
}

#[test]
fn files_that_are_not_images_have_no_thumbnail_and_names_never_become_paths() {
    let (dir, mut c) = demo();
    let pdf = b"%PDF-1.4\nbi\xc3\xaan b\xe1\xba\xa3n vi ph\xe1\xba\xa1m\n".to_vec();
    let done = c
        .attach(
            "info:TT:20250101:01",
            AttachPlace::Record,
            "../../../etc/biên bản.pdf",
            &pdf,
        )
        .expect("attach");
    assert_eq!(done.attachment.name, "biên bản.pdf");
    assert_eq!(done.attachment.mime, "application/pdf");
    assert_eq!(done.attachment.thumb, None);
    // Nothing was written outside the attachment directory, nothing under the name.
    let path = c.blob_path(&done.attachment.hash).expect("path");
    assert!(path.starts_with(dir.path().join("attachments")));
    assert!(path.exists());
    assert!(!dir.path().join("biên bản.pdf").exists());
    assert!(!std::path::Path::new("/etc/biên bản.pdf").exists());
    assert!(c.blob_path("../../etc/passwd").is_err());
}

#[test]
fn wrong_places_and_kinds_are_refused_and_store_nothing() {
    let (dir, mut c) = demo();
    let bytes = b"ghi ch\xc3\xba".to_vec();
    let err = c
        .attach(PATROL, AttachPlace::Violation(5), "x.txt", &bytes)
        .expect_err("no such violation");
    assert!(err.to_string().contains("violations[5]"), "{err}");
    let err = c
        .attach("plan:item:001", AttachPlace::Record, "x.txt", &bytes)
        .expect_err("plan items take no files");
    assert!(err.to_string().contains("takes no files"), "{err}");
    let err = c
        .attach("patrol:XX:1", AttachPlace::Record, "x.txt", &bytes)
        .expect_err("unknown record");
    assert!(err.to_string().contains("no record"), "{err}");
    let err = c
        .attach(PATROL, AttachPlace::Record, "..", &bytes)
        .expect_err("no name");
    assert!(err.to_string().contains("not a usable file name"), "{err}");
    assert_eq!(files_on_disk(dir.path()), 0);
    assert!(c.attachments(PATROL).expect("list").is_empty());
}

#[test]
fn a_record_from_a_peer_with_a_bad_reference_is_reported_not_trusted() {
    let (_dir, mut c) = demo();
    // An import (the same path as a peer's record) with a traversal name and a non-hash.
    let line = r#"{"type":"community_activity","id":"community:TT:20250301","station":"Đồn Biên phòng Tân Thành","date":"2025-03-01","kind":"Tuyên truyền pháp luật","attachments":[{"hash":"../../x","name":"../a.jpg","mime":"image/jpeg","size":3}]}"#;
    let report = c
        .import_jsonl(std::io::Cursor::new(line.as_bytes().to_vec()), &mut |_| {})
        .expect("import runs");
    assert_eq!(
        report.created, 0,
        "a record with a bad reference is not stored"
    );
    let reasons: String = report.problems.iter().map(|p| p.reason.clone()).collect();
    assert!(reasons.contains("SHA-256"), "{reasons}");
    assert!(
        reasons.contains("Tên tệp") || reasons.contains("name"),
        "{reasons}"
    );
}

#[test]
fn an_oversized_file_is_refused_with_the_limit() {
    let (_dir, mut c) = demo();
    let big = vec![0u8; (tidemark_client::attachments::MAX_ATTACHMENT_BYTES + 1) as usize];
    let err = c
        .attach(PATROL, AttachPlace::Record, "video.mp4", &big)
        .expect_err("too big");
    assert!(
        err.to_string().contains("largest attachment is 64 MB"),
        "{err}"
    );
}

#[test]
fn saving_a_whole_record_that_does_not_know_of_a_file_keeps_it() {
    let (_dir, mut c) = demo();
    let before = c.show(PATROL).expect("show").record;
    c.attach(PATROL, AttachPlace::Record, "ảnh 1.png", &photo(3))
        .expect("attach");
    c.attach(
        PATROL,
        AttachPlace::Violation(0),
        "biên bản.pdf",
        b"%PDF-1.4 x",
    )
    .expect("attach to violation");
    // A form opened before the files arrived saves its copy, with a changed vessel.
    let Record::Patrol(mut stale) = before.clone() else {
        panic!("a patrol")
    };
    stale.vessel = Some("Tàu BP-15-02".into());
    c.save(&Record::Patrol(stale)).expect("save");
    let Record::Patrol(now) = c.show(PATROL).expect("show").record else {
        panic!("a patrol")
    };
    assert_eq!(now.vessel.as_deref(), Some("Tàu BP-15-02"));
    assert_eq!(now.attachments.len(), 1, "the patrol's photo stayed");
    assert_eq!(
        now.violations[0].attachments.len(),
        1,
        "the violation's file stayed"
    );
    // Re-importing the original line changes the vessel back and keeps both files.
    let line = DEMO
        .lines()
        .find(|l| l.contains(PATROL))
        .expect("demo line")
        .to_string();
    c.import_jsonl(std::io::Cursor::new(line.into_bytes()), &mut |_| {})
        .expect("import");
    assert_eq!(c.attachments(PATROL).expect("rows").len(), 2);
}
