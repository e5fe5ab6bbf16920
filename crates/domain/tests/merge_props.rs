//! Property tests: two replicas edit the same patrol and the same plan item offline with
//! arbitrary Vietnamese text and values, then merge. Both text edits are present, differing
//! scalar values are both visible as a conflict with their authors, and nothing else is lost.

mod common;

use common::{actor, meta, patrol, plan_item};
use proptest::prelude::*;
use tidemark_domain::{conflicts, document::RecordDoc, Record};

fn viet() -> impl Strategy<Value = String> {
    "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐ ,.]{1,30}"
}

fn text_of(record: &Record, field: &str) -> String {
    serde_json::to_value(record).expect("json")[field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Edits `field` (text) and `scalar` on two replicas of `record`, merges, and checks the result.
fn check_merge(
    record: Record,
    text_field: &str,
    scalar: &str,
    (a_pos, a_text, a_value): (usize, &str, &str),
    (b_pos, b_text, b_value): (usize, &str, &str),
) -> Result<(), TestCaseError> {
    let ma = meta(
        "Lê Quốc Vũ",
        "Đồn Biên phòng Tân Thành",
        "dev-a",
        1_735_710_000,
    );
    let mb = meta(
        "Phạm Thị Hoa",
        "Huyện ủy Gò Công Đông",
        "dev-b",
        1_735_720_000,
    );
    let mut a = RecordDoc::create(&record, &actor(1), &ma).expect("create");
    let mut b = RecordDoc::load(&a.save(), &actor(2)).expect("load");
    let original = text_of(&record, text_field);
    let len = original.chars().count();
    let (a_pos, b_pos) = (a_pos % (len + 1), b_pos % (len + 1));

    a.splice(text_field, a_pos, 0, a_text, &ma)
        .expect("splice a");
    b.splice(text_field, b_pos, 0, b_text, &mb)
        .expect("splice b");
    a.set_field(scalar, a_value, &ma).expect("set a");
    b.set_field(scalar, b_value, &mb).expect("set b");
    a.merge(&mut b).expect("merge");
    b.merge(&mut a).expect("merge back");

    let merged_a = a.read().expect("read a");
    prop_assert_eq!(&merged_a, &b.read().expect("read b"), "replicas converge");
    let merged = text_of(&merged_a, text_field);
    prop_assert!(merged.contains(a_text), "{merged:?} lacks {a_text:?}");
    prop_assert!(merged.contains(b_text), "{merged:?} lacks {b_text:?}");
    prop_assert_eq!(
        merged.chars().count(),
        len + a_text.chars().count() + b_text.chars().count()
    );

    let found = conflicts::conflicts(&mut a).expect("conflicts");
    let original_value = serde_json::to_value(&record).expect("json")[scalar].clone();
    let a_changed = serde_json::Value::String(a_value.into()) != original_value;
    let b_changed = serde_json::Value::String(b_value.into()) != original_value;
    if a_value != b_value && a_changed && b_changed {
        prop_assert_eq!(found.len(), 1, "{:?}", found);
        prop_assert_eq!(&found[0].field, scalar);
        let mut seen: Vec<(String, String)> = found[0]
            .values
            .iter()
            .map(|v| {
                (
                    v.value.as_str().unwrap_or_default().to_string(),
                    v.author.device.clone(),
                )
            })
            .collect();
        seen.sort();
        let mut want = vec![
            (a_value.to_string(), "dev-a".to_string()),
            (b_value.to_string(), "dev-b".to_string()),
        ];
        want.sort();
        prop_assert_eq!(seen, want);
    } else {
        prop_assert!(found.is_empty(), "{:?}", found);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn patrol_notes_and_vessel_merge_without_loss(
        a_pos in 0usize..200, a_text in viet(), a_vessel in viet(),
        b_pos in 0usize..200, b_text in viet(), b_vessel in viet(),
    ) {
        check_merge(patrol(), "notes", "vessel", (a_pos, &a_text, &a_vessel), (b_pos, &b_text, &b_vessel))?;
    }

    #[test]
    fn plan_item_content_and_status_merge_without_loss(
        a_pos in 0usize..200, a_text in viet(), a_status in prop::sample::select(vec!["mới", "hoàn thành", "tạm hoãn", "hủy"]),
        b_pos in 0usize..200, b_text in viet(), b_status in prop::sample::select(vec!["mới", "hoàn thành", "tạm hoãn", "hủy"]),
    ) {
        // Status values go through the codes: compare codes, not labels.
        let code = |s: &str| tidemark_domain::records::PlanStatus::parse(s).map(|p| p.code()).unwrap_or("new");
        check_merge(plan_item(), "content", "status", (a_pos, &a_text, code(a_status)), (b_pos, &b_text, code(b_status)))?;
    }
}
