//! Turning "the text is now X" into a few splices on an Automerge text.
//!
//! autosurgeon's `Text::update` diffs grapheme by grapheme and emits one splice per changed
//! grapheme; replacing a 200 KB note that way took minutes (each splice walks the text). Here the
//! common prefix and suffix are trimmed first (linear), then the changed middle is diffed by
//! character only while it is small, and each changed *region* becomes one splice. A large
//! rewrite becomes one splice; a few typo fixes stay separate splices that merge precisely with
//! concurrent edits elsewhere in the text.

use autosurgeon::Text;

/// Above this many characters on either side, the changed middle is replaced in one splice
/// instead of being diffed (a character diff costs up to the product of the two lengths).
const DIFF_LIMIT: usize = 2_000;

/// Makes `text` read `new` with as few, as local splices as reasonable.
pub fn update(text: &mut Text, new: &str) {
    let old = text.as_str().to_string();
    if old == new {
        return;
    }
    let prefix = common_prefix(&old, new);
    let suffix = common_suffix(&old[prefix..], &new[prefix..]);
    let old_mid = &old[prefix..old.len() - suffix];
    let new_mid = &new[prefix..new.len() - suffix];
    if old_mid.chars().count() > DIFF_LIMIT || new_mid.chars().count() > DIFF_LIMIT {
        text.splice(prefix, old_mid.len() as isize, new_mid);
        return;
    }
    let old_at = byte_offsets(old_mid);
    let new_at = byte_offsets(new_mid);
    let old_chars: Vec<char> = old_mid.chars().collect();
    let new_chars: Vec<char> = new_mid.chars().collect();
    // Only the *equal* runs of the diff are used: the gaps between them are the changed regions.
    // (The coordinates `similar` reports on its insert/delete ops are not always monotonic.)
    let mut equal: Vec<(usize, usize, usize)> = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old_chars, &new_chars) {
        if let similar::DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            equal.push((old_index, new_index, len));
        }
    }
    equal.push((old_chars.len(), new_chars.len(), 0));
    let mut regions = Vec::new();
    let (mut o, mut n) = (0, 0);
    for (old_index, new_index, len) in equal {
        if old_index > o || new_index > n {
            regions.push((o..old_index, n..new_index));
        }
        o = old_index + len;
        n = new_index + len;
    }
    // Apply from the end so that earlier positions in the old text stay valid.
    for (old_range, new_range) in regions.into_iter().rev() {
        let start = prefix + old_at[old_range.start];
        let delete = old_at[old_range.end] - old_at[old_range.start];
        let insert = &new_mid[new_at[new_range.start]..new_at[new_range.end]];
        text.splice(start, delete as isize, insert);
    }
}

/// Byte offset of every character boundary, including the end.
fn byte_offsets(s: &str) -> Vec<usize> {
    s.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect()
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
        .min(b.len())
}

fn common_suffix(a: &str, b: &str) -> usize {
    let mut n = 0;
    for (ca, cb) in a.chars().rev().zip(b.chars().rev()) {
        if ca != cb {
            break;
        }
        n += ca.len_utf8();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::update;
    use autosurgeon::Text;
    use proptest::prelude::*;

    #[test]
    fn a_huge_rewrite_is_quick_and_exact() {
        let mut t = Text::with_value("Ghi chú cũ.");
        let new = "Biển động nhẹ, gió cấp 4. ".repeat(8_000);
        update(&mut t, &new);
        assert_eq!(t.as_str(), new);
    }

    #[test]
    fn prefix_longer_than_the_new_text_is_bounded() {
        let mut t = Text::with_value("Đồn Biên phòng");
        update(&mut t, "Đồn");
        assert_eq!(t.as_str(), "Đồn");
    }

    proptest! {
        #[test]
        fn any_update_gives_the_new_text(a in "[a-zđĐươăâêôàáảãạ ,.]{0,60}", b in "[a-zđĐươăâêôàáảãạ ,.]{0,60}") {
            let mut t = Text::with_value(a);
            update(&mut t, &b);
            prop_assert_eq!(t.as_str(), b.as_str());
        }
    }
}
