//! Attachments on the wire: content addresses, the fixed chunk size and the manifest a client
//! declares before it uploads, so the relay can check every chunk on arrival and the whole file
//! once the last chunk is in. See `docs/protocol.md`, "Attachments".

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size of every chunk but the last (256 KiB).
pub const CHUNK_SIZE: u64 = 256 * 1024;

/// The SHA-256 of `bytes`, as 64 lowercase hex digits: an attachment's (or a chunk's) address.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is a content address: exactly 64 lowercase hex digits. Names of files are never
/// addresses; only these are ever used to name anything on disk or in a URL.
pub fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How many chunks a file of `size` bytes has (an empty file has none).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_SIZE)
}

/// The byte range `[start, end)` of chunk `index` in a file of `size` bytes.
pub fn chunk_range(size: u64, index: u64) -> (u64, u64) {
    let start = index * CHUNK_SIZE;
    (start.min(size), (start + CHUNK_SIZE).min(size))
}

/// What a client declares before uploading an attachment: its size, media type and the
/// SHA-256 of every chunk in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Size of the whole file in bytes.
    pub size: u64,
    /// Media type, e.g. `image/jpeg`.
    pub mime: String,
    /// Chunk size; must be [`CHUNK_SIZE`].
    pub chunk_size: u64,
    /// SHA-256 (hex) of each chunk, in order.
    pub chunks: Vec<String>,
}

/// Why a manifest is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The chunk size is not [`CHUNK_SIZE`].
    #[error("chunk_size must be {CHUNK_SIZE}, not {0}")]
    ChunkSize(u64),
    /// The number of chunk hashes does not fit the size.
    #[error("a file of {size} bytes has {expected} chunks, the manifest lists {got}")]
    ChunkCount {
        /// Declared size.
        size: u64,
        /// Chunks a file of that size has.
        expected: u64,
        /// Chunk hashes listed.
        got: usize,
    },
    /// A chunk hash is not 64 lowercase hex digits.
    #[error("chunk {0}'s hash is not 64 lowercase hex digits")]
    ChunkHash(usize),
    /// The media type is empty, too long or not `type/subtype`.
    #[error("the media type must look like type/subtype (at most 127 characters)")]
    Mime,
}

impl Manifest {
    /// The manifest of `bytes` with media type `mime`.
    pub fn of(bytes: &[u8], mime: &str) -> Manifest {
        Manifest {
            size: bytes.len() as u64,
            mime: mime.to_string(),
            chunk_size: CHUNK_SIZE,
            chunks: bytes.chunks(CHUNK_SIZE as usize).map(sha256_hex).collect(),
        }
    }

    /// Checks the manifest's shape (not the file's hash, which needs the whole file).
    pub fn check(&self) -> Result<(), ManifestError> {
        if self.chunk_size != CHUNK_SIZE {
            return Err(ManifestError::ChunkSize(self.chunk_size));
        }
        let expected = chunk_count(self.size);
        if self.chunks.len() as u64 != expected {
            return Err(ManifestError::ChunkCount {
                size: self.size,
                expected,
                got: self.chunks.len(),
            });
        }
        if let Some(i) = self.chunks.iter().position(|c| !is_hash(c)) {
            return Err(ManifestError::ChunkHash(i));
        }
        let m = &self.mime;
        let ok = !m.is_empty()
            && m.len() < 128
            && m.split_once('/')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('/'))
            && m.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ManifestError::Mime);
        }
        Ok(())
    }

    /// The expected length of chunk `index`.
    pub fn chunk_len(&self, index: u64) -> u64 {
        let (a, b) = chunk_range(self.size, index);
        b - a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_of_a_file_checks_and_counts_chunks() {
        let bytes = vec![7u8; (CHUNK_SIZE * 2 + 10) as usize];
        let m = Manifest::of(&bytes, "image/jpeg");
        assert_eq!(m.chunks.len(), 3);
        assert_eq!(m.chunk_len(2), 10);
        assert_eq!(m.chunk_len(0), CHUNK_SIZE);
        m.check().expect("valid");
        assert_eq!(m.chunks[0], m.chunks[1]);
        assert_eq!(Manifest::of(b"", "text/plain").chunks.len(), 0);
    }

    #[test]
    fn malformed_manifests_are_refused() {
        let good = Manifest::of(b"hello", "text/plain");
        let mut m = good.clone();
        m.size = CHUNK_SIZE + 1;
        assert!(matches!(m.check(), Err(ManifestError::ChunkCount { .. })));
        let mut m = good.clone();
        m.chunks[0] = "../../etc/passwd".into();
        assert_eq!(m.check(), Err(ManifestError::ChunkHash(0)));
        let mut m = good.clone();
        m.mime = "text/plain\nX: y".into();
        assert_eq!(m.check(), Err(ManifestError::Mime));
        let mut m = good;
        m.chunk_size = 1;
        assert_eq!(m.check(), Err(ManifestError::ChunkSize(1)));
    }

    #[test]
    fn only_lowercase_hex_of_64_digits_is_a_hash() {
        assert!(is_hash(&sha256_hex(b"x")));
        assert!(!is_hash(&sha256_hex(b"x").to_uppercase()));
        assert!(!is_hash("abc"));
        assert!(!is_hash(&format!("{}/", &sha256_hex(b"x")[..63])));
    }
}
