//! Folding text for diacritic-insensitive search: "Kiểng Phước" and "kieng phuoc" fold alike.

use unicode_normalization::UnicodeNormalization;

/// Lower-cases `s`, strips combining marks and maps `đ`/`Đ` to `d`.
///
/// `đ` is a letter of its own in Unicode, not `d` plus a mark, so NFD alone leaves it; Vietnamese
/// readers still expect "d" to find it.
pub fn fold_for_search(s: &str) -> String {
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'đ' | 'ð' => 'd',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fold_for_search;

    #[test]
    fn folds_vietnamese_diacritics_and_d_stroke() {
        assert_eq!(fold_for_search("Kiểng Phước"), "kieng phuoc");
        assert_eq!(fold_for_search("Đồn Biên phòng"), "don bien phong");
        assert_eq!(fold_for_search("ĐẶNG VĂN HẢI"), "dang van hai");
        assert_eq!(
            fold_for_search("Huyện ủy Gò Công Đông"),
            "huyen uy go cong dong"
        );
    }
}
