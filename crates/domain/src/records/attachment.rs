//! A file attached to a record (ảnh, tệp đính kèm): a reference by content address. The bytes
//! live outside the document, in the device's attachment directory and at the relay.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

/// One attached file, as a record refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Reconcile, Hydrate)]
pub struct AttachmentRef {
    /// SHA-256 of the file, 64 lowercase hex digits: its address.
    #[key]
    pub hash: String,
    /// The file's name as the officer gave it (shown, never used as a path).
    pub name: String,
    /// Media type, e.g. `image/jpeg`.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of its thumbnail (a small JPEG), when the file is an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<String>,
}

/// The longest file name kept, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// A file name fit to show: the last path component of `raw`, without control characters,
/// trimmed, at most [`MAX_NAME_BYTES`] bytes; `None` when nothing is left (or only dots).
pub fn clean_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last.chars().filter(|c| !c.is_control()).collect();
    name = name.trim().to_string();
    while name.len() > MAX_NAME_BYTES {
        name.pop();
    }
    if name.is_empty() || name.chars().all(|c| c == '.') {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_lose_their_directories_and_control_characters() {
        assert_eq!(
            clean_name("ảnh tàu cá.jpg").as_deref(),
            Some("ảnh tàu cá.jpg")
        );
        assert_eq!(clean_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            clean_name("C:\\Users\\x\\biên bản.pdf").as_deref(),
            Some("biên bản.pdf")
        );
        assert_eq!(clean_name("a\u{0}b\nc").as_deref(), Some("abc"));
        assert_eq!(clean_name(".."), None);
        assert_eq!(clean_name("dir/"), None);
        let long = "đ".repeat(300);
        let cleaned = clean_name(&long).expect("kept");
        assert!(cleaned.len() <= 255 && cleaned.chars().all(|c| c == 'đ'));
    }
}
