//! Bundle and receipt codec tests: round trips, stable layout, and damaged files refused with
//! the right code, never a panic.

use super::*;
use proptest::prelude::*;

fn header() -> BundleHeader {
    BundleHeader {
        format: BUNDLE_FORMAT.into(),
        version: 1,
        bundle_id: "bundle-Tân-Thành-0001".into(),
        created_at: 1_735_687_181,
        from_unit: "Đồn Biên phòng Tân Thành".into(),
        from_device: "dev-0123456789ab".into(),
        for_unit: Some("Bộ Chỉ huy Bộ đội Biên phòng tỉnh Tiền Giang".into()),
        since: None,
    }
}

fn sample() -> Bundle {
    Bundle {
        header: header(),
        docs: vec![
            BundleDoc {
                meta: BundleDocMeta {
                    id: "patrol:TT:20250101:01".into(),
                    kind: "patrol".into(),
                    owner_unit: "Đồn Biên phòng Tân Thành".into(),
                    parties: Vec::new(),
                    heads: vec!["ab".repeat(32)],
                    signatures: Default::default(),
                },
                data: b"Tu\xe1\xba\xa7n tra khu v\xe1\xbb\xb1c Ki\xe1\xbb\x83ng Ph\xc6\xb0\xe1\xbb\x9bc".to_vec(),
            },
            BundleDoc {
                meta: BundleDocMeta {
                    id: "info:TT:20250101:01".into(),
                    kind: "info_exchange".into(),
                    owner_unit: "Đồn Biên phòng Tân Thành".into(),
                    parties: vec!["Huyện ủy Gò Công Đông".into()],
                    heads: Vec::new(),
                    signatures: Default::default(),
                },
                data: Vec::new(),
            },
        ],
    }
}

fn code(r: Result<Bundle, BundleError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// A body with a correct checksum appended, to reach the parser with arbitrary content.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&Sha256::digest(body));
    out
}

#[test]
fn bundle_round_trips_with_vietnamese_text() {
    let b = sample();
    let bytes = encode_bundle(&b);
    assert_eq!(decode_bundle(&bytes, &BundleLimits::default()), Ok(b));
    assert_eq!(bundle_sha256_hex(&bytes).len(), 64);
}

#[test]
fn wire_layout_is_stable() {
    let bytes = encode_bundle(&sample());
    assert_eq!(&bytes[..4], b"TMB\x01");
    let mut pos = 4;
    let header_len = varint::get(&bytes, &mut pos).expect("header length") as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[pos..pos + header_len]).expect("header json");
    assert_eq!(header["format"], "tidemark-bundle");
    assert_eq!(header["from_unit"], "Đồn Biên phòng Tân Thành");
    assert!(header.get("since").is_none(), "None is left out");
    pos += header_len;
    assert_eq!(varint::get(&bytes, &mut pos), Some(2));
    let body = &bytes[..bytes.len() - 32];
    assert_eq!(&bytes[bytes.len() - 32..], Sha256::digest(body).as_slice());
}

#[test]
fn damage_is_named_by_code() {
    let good = encode_bundle(&sample());
    let limits = BundleLimits::default();
    assert_eq!(code(decode_bundle(b"", &limits)), "not_a_bundle");
    assert_eq!(
        code(decode_bundle(b"PK\x03\x04zip", &limits)),
        "not_a_bundle"
    );
    assert_eq!(code(decode_bundle(b"TM", &limits)), "truncated");
    assert_eq!(code(decode_bundle(b"TMB\x01", &limits)), "truncated");
    let mut v2 = good.clone();
    v2[3] = 2;
    assert_eq!(
        decode_bundle(&v2, &limits),
        Err(BundleError::UnsupportedVersion(2))
    );
    let cut = &good[..good.len() - 40];
    assert_eq!(code(decode_bundle(cut, &limits)), "truncated");
    let mut flipped = good.clone();
    let text = "Kiểng".as_bytes();
    let at = good
        .windows(text.len())
        .position(|w| w == text)
        .expect("document data present");
    flipped[at] ^= 0x20;
    assert_eq!(code(decode_bundle(&flipped, &limits)), "checksum_mismatch");
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(code(decode_bundle(&longer, &limits)), "checksum_mismatch");
}

#[test]
fn content_errors_behind_a_good_checksum_are_malformed() {
    let limits = BundleLimits::default();
    let mut dup = sample();
    dup.docs.push(dup.docs[0].clone());
    assert_eq!(
        code(decode_bundle(&encode_bundle(&dup), &limits)),
        "malformed"
    );
    let mut wrong_format = sample();
    wrong_format.header.format = "tidemark-receipt".into();
    let bytes = encode_bundle(&wrong_format);
    assert_eq!(code(decode_bundle(&bytes, &limits)), "malformed");
    let mut empty_id = sample();
    empty_id.docs[0].meta.id.clear();
    let bytes = encode_bundle(&empty_id);
    assert_eq!(code(decode_bundle(&bytes, &limits)), "malformed");
    // Trailing bytes inside the checksummed part.
    let good = encode_bundle(&sample());
    let mut body = good[..good.len() - 32].to_vec();
    body.push(0);
    assert_eq!(code(decode_bundle(&sealed(&body), &limits)), "malformed");
    // Header that is not JSON, header JSON that is not UTF-8.
    for header in [&b"{"[..], b"\xff\xfe"] {
        let mut body = b"TMB\x01".to_vec();
        varint::put(&mut body, header.len() as u64);
        body.extend_from_slice(header);
        body.push(0);
        assert_eq!(code(decode_bundle(&sealed(&body), &limits)), "malformed");
    }
}

#[test]
fn limits_are_enforced_before_allocation() {
    let bytes = encode_bundle(&sample());
    let tight = |f: fn(&mut BundleLimits)| {
        let mut l = BundleLimits::default();
        f(&mut l);
        code(decode_bundle(&bytes, &l))
    };
    assert_eq!(tight(|l| l.max_bytes = 100), "too_large");
    assert_eq!(tight(|l| l.max_docs = 1), "too_large");
    assert_eq!(tight(|l| l.max_doc_bytes = 4), "too_large");
    // A count of 2^40 documents in a tiny file with a valid checksum.
    let mut body = b"TMB\x01".to_vec();
    let h = serde_json::to_vec(&header()).expect("json");
    varint::put(&mut body, h.len() as u64);
    body.extend_from_slice(&h);
    varint::put(&mut body, 1 << 40);
    let huge = BundleLimits {
        max_docs: usize::MAX,
        ..BundleLimits::default()
    };
    assert_eq!(code(decode_bundle(&sealed(&body), &huge)), "malformed");
}

#[test]
fn errors_read_as_sentences_for_users() {
    let e = BundleError::ChecksumMismatch;
    assert_eq!(
        e.to_string(),
        "the bundle is damaged or was changed after it was written (checksum mismatch); ask \
         the sender for a new copy"
    );
    assert!(BundleError::Truncated.to_string().contains("cut short"));
}

#[test]
fn receipt_round_trips_and_refuses_other_json() {
    let r = Receipt {
        format: RECEIPT_FORMAT.into(),
        version: 1,
        bundle_id: "bundle-Tân-Thành-0001".into(),
        bundle_sha256: "00".repeat(32),
        imported_at: 1_735_690_000,
        by_unit: "Bộ Chỉ huy Bộ đội Biên phòng tỉnh Tiền Giang".into(),
        by_device: "admin".into(),
        documents: vec![
            ReceiptDoc {
                id: "patrol:TT:20250101:01".into(),
                status: "ok".into(),
                accepted: 3,
                heads: vec!["ab".repeat(32)],
                message: None,
            },
            ReceiptDoc {
                id: "patrol:KP:1".into(),
                status: "forged_author".into(),
                accepted: 0,
                heads: Vec::new(),
                message: Some("một thay đổi không hợp lệ".into()),
            },
        ],
    };
    let json = r.to_json();
    assert_eq!(Receipt::from_json(&json), Ok(r));
    let text = String::from_utf8(json).expect("utf-8");
    assert_eq!(text.matches("\"message\"").count(), 1, "None is left out");
    let code = |b: &[u8]| Receipt::from_json(b).map_err(|e| e.code());
    assert_eq!(code(b"{"), Err("malformed"));
    assert_eq!(
        code(br#"{"format":"tidemark-bundle"}"#),
        Err("not_a_receipt")
    );
    assert_eq!(code(b"[1,2]"), Err("not_a_receipt"));
    assert_eq!(code(br#"{"format":"tidemark-receipt"}"#), Err("malformed"));
}

fn doc_strategy() -> impl Strategy<Value = (String, BundleDoc)> {
    (
        "[a-zđĐơư:0-9-]{1,24}",
        "[A-Za-zĐồnBiênphòng ]{1,24}",
        proptest::collection::vec("[a-zàảãạ ]{0,12}", 0..3),
        proptest::collection::vec("[0-9a-f]{64}", 0..3),
        proptest::collection::vec(any::<u8>(), 0..96),
    )
        .prop_map(|(id, owner_unit, parties, heads, data)| {
            let meta = BundleDocMeta {
                id: id.clone(),
                kind: "patrol".into(),
                owner_unit,
                parties,
                heads,
                signatures: Default::default(),
            };
            (id, BundleDoc { meta, data })
        })
}

fn bundle_strategy() -> impl Strategy<Value = Bundle> {
    (
        proptest::collection::btree_map("[a-z:0-9]{1,16}", doc_strategy(), 0..5),
        any::<i64>(),
        proptest::option::of("[a-zđ0-9-]{1,20}"),
    )
        .prop_map(|(docs, created_at, since)| Bundle {
            header: BundleHeader {
                created_at,
                since,
                ..header()
            },
            // Keyed by a separate id in the map, so ids may still collide: keep the first.
            docs: {
                let mut seen = HashSet::new();
                docs.into_values()
                    .map(|(_, d)| d)
                    .filter(|d| seen.insert(d.meta.id.clone()))
                    .collect()
            },
        })
}

proptest! {
    #[test]
    fn any_bundle_round_trips(b in bundle_strategy()) {
        prop_assert_eq!(decode_bundle(&encode_bundle(&b), &BundleLimits::default()), Ok(b));
    }

    #[test]
    fn every_truncation_is_refused(b in bundle_strategy()) {
        let bytes = encode_bundle(&b);
        for cut in 0..bytes.len() {
            let r = decode_bundle(&bytes[..cut], &BundleLimits::default());
            prop_assert!(r.is_err(), "cut at {}", cut);
        }
    }

    #[test]
    fn flipping_any_byte_is_refused(b in bundle_strategy(), mask in 1u8..=255) {
        let bytes = encode_bundle(&b);
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= mask;
            let r = decode_bundle(&damaged, &BundleLimits::default());
            prop_assert!(r.is_err(), "flip at {}", at);
            if at >= 4 {
                let c = r.map_err(|e| e.code()).err();
                prop_assert!(matches!(c, Some("checksum_mismatch" | "truncated")), "flip at {} gave {:?}", at, c);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let limits = BundleLimits::default();
        let _ = decode_bundle(&bytes, &limits);
        let mut body = b"TMB\x01".to_vec();
        body.extend_from_slice(&bytes);
        let _ = decode_bundle(&body, &limits);
        // With a valid checksum the parser itself sees the random bytes.
        let _ = decode_bundle(&sealed(&body), &limits);
        let _ = Receipt::from_json(&bytes);
    }

    #[test]
    fn resealed_damage_never_panics(b in bundle_strategy(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let bytes = encode_bundle(&b);
        let mut body = bytes[..bytes.len() - 32].to_vec();
        for (at, byte) in edits {
            let at = 4 + at % (body.len() - 4);
            body[at] = byte;
        }
        let _ = decode_bundle(&sealed(&body), &BundleLimits::default());
    }
}
