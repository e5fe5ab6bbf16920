//! The stream of concurrent offline edits to the shared plan: each editing unit, cut off from
//! the others, changes the 50 items many times. Scalar fields (status, deadline, title) are set
//! whole, so two units setting one field to different values is a conflict the app must
//! surface; text fields (progress notes, content, measures) get a marker inserted at a boundary
//! between earlier insertions, so every insertion can be found afterwards exactly once.

use tidemark_testkit::Rng;

use crate::workload::{date, plan_item_id, rng_for};

/// One edit by one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanEdit {
    /// Set a scalar field to a value.
    Set {
        /// Plan item id.
        item: String,
        /// `status`, `deadline` or `title`.
        field: &'static str,
        /// The new value (status as its code).
        value: String,
    },
    /// Insert a marker into a text field, at one of the boundaries (start, end, after an earlier
    /// marker or a full stop) chosen by `at`.
    Insert {
        /// Plan item id.
        item: String,
        /// `progress_notes`, `content` or `measures`.
        field: &'static str,
        /// The marker: unique in the whole stream.
        text: String,
        /// Which boundary (modulo the number of boundaries in the text as the unit sees it).
        at: u64,
    },
}

impl PlanEdit {
    /// The item the edit changes.
    pub fn item(&self) -> &str {
        match self {
            PlanEdit::Set { item, .. } | PlanEdit::Insert { item, .. } => item,
        }
    }

    /// The field the edit changes.
    pub fn field(&self) -> &'static str {
        match self {
            PlanEdit::Set { field, .. } | PlanEdit::Insert { field, .. } => field,
        }
    }
}

const STATUS_CODES: [&str; 5] = ["new", "in_progress", "done", "postponed", "cancelled"];
const NOTES: &[&str] = &[
    "đã rà soát lực lượng",
    "bổ sung phương tiện",
    "họp giao ban thống nhất",
    "đề nghị gia hạn thời gian",
    "đã báo cáo Thường trực Huyện ủy",
    "ngư dân đồng tình ủng hộ",
    "chờ kinh phí hỗ trợ",
];
const TEXT_FIELDS: [&str; 3] = ["progress_notes", "content", "measures"];

/// Short tags of editors, used in the markers they insert.
pub fn tag(editor: usize) -> String {
    format!("ĐV{}", editor + 1)
}

/// `per_editor` edits by each of `editors` units to the first `items` plan items.
pub fn plan_edits(
    seed: u64,
    editors: usize,
    per_editor: usize,
    items: usize,
) -> Vec<Vec<PlanEdit>> {
    (0..editors)
        .map(|e| {
            let mut r = rng_for(seed, &[0xED17, e as u64]);
            (0..per_editor).map(|k| edit(&mut r, e, k, items)).collect()
        })
        .collect()
}

fn edit(r: &mut Rng, editor: usize, k: usize, items: usize) -> PlanEdit {
    let item = plan_item_id(r.below(items.max(1) as u64) as usize);
    match r.below(10) {
        0..=2 => PlanEdit::Set {
            item,
            field: "status",
            value: STATUS_CODES[r.below(5) as usize].to_string(),
        },
        3 | 4 => PlanEdit::Set {
            item,
            field: "deadline",
            value: date(30 + r.below(330) as u32),
        },
        5 => PlanEdit::Set {
            item,
            field: "title",
            value: format!("Nhiệm vụ phối hợp — bản sửa {} của {}", k + 1, tag(editor)),
        },
        _ => PlanEdit::Insert {
            item,
            field: TEXT_FIELDS[r.below(3) as usize],
            text: format!(" [{} #{}: {}]", tag(editor), k + 1, r.pick(NOTES)),
            at: r.next_u64(),
        },
    }
}

/// Character positions in `text` where a marker may go without splitting an earlier one: the
/// start, the end, and after every `]` or `.`.
pub fn boundaries(text: &str) -> Vec<usize> {
    let mut out = vec![0];
    for (i, ch) in text.chars().enumerate() {
        if ch == ']' || ch == '.' {
            out.push(i + 1);
        }
    }
    let end = text.chars().count();
    if out.last() != Some(&end) {
        out.push(end);
    }
    out
}
