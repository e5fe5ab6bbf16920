//! The key directory's compressed frame, made once per directory and spliced into every answer
//! that carries it.
//!
//! A device's first session reads the whole directory of signing keys (≈ 180 bytes of JSON a
//! device: 36 KB of an 81 KB first answer in S5, where 200 devices read the same 200 keys).
//! zstd frames may follow one another in one body and decode as the concatenation of their
//! contents, so an answer is sent as three frames: the bytes before the directory (with the
//! request for a dictionary when the device asked for that), the directory's frame as kept, and
//! the bytes after it. The directory is compressed once for as long as it stays the same, not
//! once per answer.

use std::ops::Range;
use std::sync::{Arc, Mutex};

/// A directory smaller than this is compressed with its answer, as before: a frame of its own
/// costs a header and the matches the answer's other bytes would have given it.
pub(super) const MIN_BYTES: usize = 4 * 1024;

/// One directory's JSON and its frame.
#[derive(Debug)]
pub(super) struct Kept {
    json: Vec<u8>,
    level: i32,
    frame: Vec<u8>,
}

impl Kept {
    /// The compressed frame.
    pub(super) fn frame(&self) -> &[u8] {
        &self.frame
    }
}

/// The frame of the last directory answered.
#[derive(Debug, Default)]
pub(crate) struct KeyFrames {
    last: Mutex<Option<Arc<Kept>>>,
}

impl KeyFrames {
    /// The frame of `json` at `level` or better: the kept one when it is of the same bytes,
    /// else made now (outside the lock) and kept.
    pub(super) fn frame(&self, json: &[u8], level: i32) -> std::io::Result<Arc<Kept>> {
        let kept = self.last.lock().ok().and_then(|last| last.clone());
        if let Some(k) = kept.filter(|k| k.level >= level && k.json == json) {
            return Ok(k);
        }
        let frame = zstd::bulk::compress(json, level)?;
        let made = Arc::new(Kept {
            json: json.to_vec(),
            level,
            frame,
        });
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Arc::clone(&made));
        }
        Ok(made)
    }
}

/// Where `keys` (a directory's JSON, as serialized alone) sits in `body`, a `TMR` answer whose
/// status JSON holds it as a `"keys"` member; `None` when it is not there.
pub(super) fn find(body: &[u8], keys: &[u8]) -> Option<Range<usize>> {
    const MEMBER: &[u8] = b"\"keys\":";
    let mut from = 0;
    while let Some(at) = body[from..].windows(MEMBER.len()).position(|w| w == MEMBER) {
        let start = from + at + MEMBER.len();
        if body[start..].starts_with(keys) {
            return Some(start..start + keys.len());
        }
        from = start;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_directory_after_its_member_name_only() {
        let keys = br#"[{"actor":"ab","key":"cd"}]"#;
        let body = br#"TMR {"items":[{"doc_id":"keys"}],"feed":{"keys":[{"actor":"ab","key":"cd"}],"more":false}}"#;
        let range = find(body, keys).expect("found");
        assert_eq!(&body[range], keys);
        assert_eq!(find(body, br#"[{"actor":"zz"}]"#), None);
        assert_eq!(find(b"no member here", keys), None);
    }

    #[test]
    fn a_directory_is_compressed_once_while_it_stays_the_same() {
        let frames = KeyFrames::default();
        let json = "[{\"actor\":\"Đồn Biên phòng Tân Thành\"}]"
            .repeat(40)
            .into_bytes();
        let a = frames.frame(&json, 3).expect("made");
        let b = frames.frame(&json, 3).expect("kept");
        assert!(Arc::ptr_eq(&a, &b));
        // A lower level takes the better frame; a higher one makes it again.
        assert!(Arc::ptr_eq(&a, &frames.frame(&json, 1).expect("kept")));
        let c = frames.frame(&json, 12).expect("made again");
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(zstd::bulk::decompress(c.frame(), json.len()).unwrap(), json);
        // Another directory replaces it.
        let other = [json.as_slice(), b"x"].concat();
        let d = frames.frame(&other, 3).expect("made");
        assert_eq!(
            zstd::bulk::decompress(d.frame(), other.len()).unwrap(),
            other
        );
        assert!(!Arc::ptr_eq(&c, &frames.frame(&json, 3).expect("made")));
    }
}
