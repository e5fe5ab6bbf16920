//! Photos and files attached to records, on this device.
//!
//! A file is stored once, named by its SHA-256 under `attachments/` in the data directory,
//! whatever it was called and however many records refer to it. A record refers to it by hash,
//! name, media type, size and the hash of its thumbnail (a small JPEG made here, for images), so
//! previews can travel ahead of the files themselves. File names are only ever shown: nothing
//! on disk is named after one.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tidemark_domain::records::clean_attachment_name;
use tidemark_domain::{AttachPlace, AttachmentRef};
use tidemark_store::AttachmentRow;
use tidemark_sync_protocol::attachment::is_hash;
pub use tidemark_sync_protocol::attachment::sha256_hex;

use crate::vault::{self, FileKey, MasterKey};
use crate::{now_secs, Client, ClientError, WriteOutcome};

/// Largest file a device accepts as an attachment (the relay's default limit too).
pub const MAX_ATTACHMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest thumbnail, in bytes.
pub const MAX_THUMB_BYTES: usize = 20 * 1024;
/// Directory of attachment files inside the data directory.
const DIR: &str = "attachments";
/// Sub-directory of downloads in progress.
const PARTIAL: &str = "partial";

/// What attaching a file did.
#[derive(Debug, Clone, Serialize)]
pub struct Attached {
    /// The reference now in the record.
    pub attachment: AttachmentRef,
    /// Whether the record changed (`false`: that file was already attached there).
    pub added: bool,
    /// Whether the bytes were already on this device (another record has the same file).
    pub deduplicated: bool,
    /// Size of the thumbnail made, if any.
    pub thumb_bytes: Option<usize>,
}

impl Client {
    /// Where the file with `hash` lives (whether or not it is there yet).
    pub fn blob_path(&self, hash: &str) -> Result<PathBuf, ClientError> {
        blob_path(self.dir(), hash)
    }

    /// Attaches `bytes`, called `name`, to record `id` at `place`: stores the file (once, by
    /// hash) and its thumbnail, then adds the reference to the record in one write.
    pub fn attach(
        &mut self,
        id: &str,
        place: AttachPlace,
        name: &str,
        bytes: &[u8],
    ) -> Result<Attached, ClientError> {
        let prepared = prepare(name, bytes)?;
        self.attach_prepared(id, place, &prepared, bytes)
    }

    /// [`Client::attach`] for a file [`prepare`]d beforehand (the slow part, hashing and the
    /// thumbnail, needs no store: the app does it without holding the store).
    pub fn attach_prepared(
        &mut self,
        id: &str,
        place: AttachPlace,
        prepared: &Prepared,
        bytes: &[u8],
    ) -> Result<Attached, ClientError> {
        if prepared.attachment.size != bytes.len() as u64 {
            return Err(ClientError::User(
                "the file changed after it was prepared; attach it again".into(),
            ));
        }
        // Check the place before storing anything.
        let mut probe = self.show(id)?.record;
        probe
            .attachments_mut(place)
            .map_err(|e| ClientError::User(e.to_string()))?;

        let attachment = prepared.attachment.clone();
        let deduplicated = self.store().blob_present(&attachment.hash)?;
        self.put_blob(&attachment.hash, bytes)?;
        if let (Some(th), Some(t)) = (&attachment.thumb, &prepared.thumb) {
            self.put_blob(th, t)?;
        }
        let meta = self.meta("attach");
        let new = attachment.clone();
        let outcome = self.mutate(id, true, |doc| {
            let mut record = doc.read()?;
            let list = record
                .attachments_mut(place)
                .map_err(|e| ClientError::User(e.to_string()))?;
            if list.iter().any(|a| a.hash == new.hash) {
                return Ok(());
            }
            list.push(new);
            doc.write(&record, &meta)?;
            Ok(())
        })?;
        tracing::info!(
            id,
            hash = &attachment.hash[..12],
            size = attachment.size,
            "file attached"
        );
        Ok(Attached {
            attachment,
            added: outcome != WriteOutcome::Unchanged,
            deduplicated,
            thumb_bytes: prepared.thumb.as_ref().map(Vec::len),
        })
    }

    /// The files record `id` refers to, and whether each is on this device.
    pub fn attachments(&self, id: &str) -> Result<Vec<AttachmentRow>, ClientError> {
        if self.store().record_json(id)?.is_none() {
            return Err(ClientError::NotFound(id.to_string()));
        }
        Ok(self.store().record_attachments(id)?)
    }

    /// The file of record `id` called `name` (or whose hash starts with `name`, at least 8
    /// digits).
    pub fn find_attachment(&self, id: &str, name: &str) -> Result<AttachmentRow, ClientError> {
        let rows = self.attachments(id)?;
        let by_name: Vec<_> = rows.iter().filter(|r| r.name == name).collect();
        let found = match by_name.as_slice() {
            [one] => Some((*one).clone()),
            [] if name.len() >= 8 => rows.iter().find(|r| r.hash.starts_with(name)).cloned(),
            [] => None,
            _ => {
                return Err(ClientError::User(format!(
                    "record {id} has {} files called “{name}”; give the start of the hash instead",
                    by_name.len()
                )))
            }
        };
        found.ok_or_else(|| {
            ClientError::User(format!(
                "record {id} has no file called “{name}” (see `tidemark attachment list {id}`)"
            ))
        })
    }

    /// The bytes of the file with `hash`, checked against it; `None` if not on this device
    /// (yet: sync brings it).
    pub fn attachment_bytes(&self, hash: &str) -> Result<Option<Vec<u8>>, ClientError> {
        if !self.store().blob_present(hash)? {
            return Ok(None);
        }
        self.blob_file(hash)?.read().map(Some)
    }

    /// The stored file `hash`, to be read later without the client (for example outside a
    /// lock). Whether it is present is [`tidemark_store::Store::blob_present`].
    pub fn blob_file(&self, hash: &str) -> Result<BlobFile, ClientError> {
        Ok(BlobFile {
            path: self.blob_path(hash)?,
            hash: hash.to_string(),
            key: self.file_key(),
        })
    }

    /// Stores `bytes` as the file `hash` (which must be their SHA-256): sealed if the store is
    /// encrypted, written beside, synced to disk, renamed into place, then recorded. Storing a
    /// file already there does nothing.
    pub fn put_blob(&self, hash: &str, bytes: &[u8]) -> Result<(), ClientError> {
        if sha256_hex(bytes) != hash {
            return Err(ClientError::User(format!(
                "refusing to store attachment {}: its bytes do not match its hash",
                hash.get(..12).unwrap_or(hash)
            )));
        }
        let path = self.blob_path(hash)?;
        if !(self.store().blob_present(hash)? && path.exists()) {
            match self.file_key() {
                Some(key) => write_synced(&path, &key.seal(hash, bytes)?)?,
                None => write_synced(&path, bytes)?,
            }
        }
        self.store()
            .add_blob(hash, bytes.len() as u64, now_secs())?;
        Ok(())
    }

    /// The file where a download of `hash` in progress is kept.
    pub(crate) fn partial_path(&self, hash: &str) -> Result<PathBuf, ClientError> {
        check_hash(hash)?;
        Ok(self.dir().join(DIR).join(PARTIAL).join(hash))
    }

    /// Moves a finished, verified download into place and records it.
    pub(crate) fn finish_download(&self, hash: &str, size: u64) -> Result<(), ClientError> {
        let from = self.partial_path(hash)?;
        let to = self.blob_path(hash)?;
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
        }
        std::fs::rename(&from, &to)
            .map_err(|e| ClientError::io(format!("renaming to {}", to.display()), e))?;
        self.store().add_blob(hash, size, now_secs())?;
        Ok(())
    }
}

/// A stored attachment file and what it takes to read it.
#[derive(Debug, Clone)]
pub struct BlobFile {
    /// Where it is on disk (sealed if the store is encrypted).
    pub path: PathBuf,
    hash: String,
    key: Option<FileKey>,
}

impl BlobFile {
    /// Its content: read, opened if sealed, and checked against its hash.
    pub fn read(&self) -> Result<Vec<u8>, ClientError> {
        let short = &self.hash[..12];
        let stored = std::fs::read(&self.path)
            .map_err(|e| ClientError::io(format!("reading attachment {short}"), e))?;
        let damaged = |why: String| {
            ClientError::User(format!(
                "the stored copy of attachment {short} is damaged ({why}); delete {} and sync \
                 to fetch it again",
                self.path.display()
            ))
        };
        let bytes = vault::open_blob(self.key.as_ref(), &self.hash, stored).map_err(damaged)?;
        if sha256_hex(&bytes) != self.hash {
            return Err(damaged("its hash differs".into()));
        }
        Ok(bytes)
    }
}

/// Finishes encrypting the store in `dir` under `key`, step by step, each step safe to redo:
/// the database is exported to an encrypted copy that replaces it, every attachment file not
/// yet sealed is sealed in place, downloads in progress are dropped (they are fetched again),
/// and the key file is marked done.
pub(crate) fn finish_encryption(dir: &Path, key: &MasterKey) -> Result<(), ClientError> {
    let started = std::time::Instant::now();
    let db = dir.join(crate::STORE_FILE);
    let plain = tidemark_store::is_plaintext_database(&db)
        .map_err(|e| ClientError::io(format!("reading {}", db.display()), e))?;
    if plain {
        let copy = dir.join(format!("{}.encrypting", crate::STORE_FILE));
        let _ = std::fs::remove_file(&copy);
        tidemark_store::Store::export_encrypted(&db, &copy, &key.store_key())?;
        // The export checkpointed and closed the plaintext database, so its WAL is empty; any
        // leftover side file belongs to the old file and must not meet the new one.
        for side in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{}{side}", crate::STORE_FILE)));
        }
        std::fs::rename(&copy, &db)
            .map_err(|e| ClientError::io(format!("replacing {}", db.display()), e))?;
        vault::sync_dir(dir);
    }
    let files = key.file_key();
    let mut sealed = 0usize;
    let root = dir.join(DIR);
    if let Ok(shards) = std::fs::read_dir(&root) {
        for shard in shards.flatten() {
            let name = shard.file_name().to_string_lossy().to_string();
            if name == PARTIAL {
                let _ = std::fs::remove_dir_all(shard.path());
                continue;
            }
            let Ok(entries) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                let hash = entry.file_name().to_string_lossy().to_string();
                if !is_hash(&hash) {
                    continue;
                }
                let path = entry.path();
                let stored = std::fs::read(&path).map_err(|e| {
                    ClientError::io(format!("reading attachment {}", &hash[..12]), e)
                })?;
                // Sealed already, or not this file (damaged: left for sync to replace).
                if vault::is_sealed(&stored) || sha256_hex(&stored) != hash {
                    continue;
                }
                write_synced(&path, &files.seal(&hash, &stored)?)?;
                sealed += 1;
            }
        }
    }
    vault::finish_migration(dir)?;
    tracing::info!(
        database = plain,
        files = sealed,
        ms = started.elapsed().as_millis() as u64,
        "store encrypted"
    );
    Ok(())
}

/// A file made ready to attach: its reference (hash, cleaned name, media type, size,
/// thumbnail hash) and its thumbnail's bytes.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The reference the record will hold.
    pub attachment: AttachmentRef,
    /// The thumbnail, for images.
    pub thumb: Option<Vec<u8>>,
}

/// Checks the name and size of a file and computes what attaching it needs: its SHA-256, its
/// media type and, for an image, its thumbnail. Touches no store.
pub fn prepare(name: &str, bytes: &[u8]) -> Result<Prepared, ClientError> {
    let name = clean_attachment_name(name).ok_or_else(|| {
        ClientError::User(format!(
            "“{name}” is not a usable file name: give the file a name with letters in it"
        ))
    })?;
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(ClientError::User(format!(
            "the file is {} MB; the largest attachment is {} MB",
            bytes.len().div_ceil(1024 * 1024),
            MAX_ATTACHMENT_BYTES / (1024 * 1024)
        )));
    }
    let mime = sniff_mime(bytes, &name);
    let thumb = if mime.starts_with("image/") {
        make_thumbnail(bytes)
    } else {
        None
    };
    Ok(Prepared {
        attachment: AttachmentRef {
            hash: sha256_hex(bytes),
            name,
            mime,
            size: bytes.len() as u64,
            thumb: thumb.as_deref().map(sha256_hex),
        },
        thumb,
    })
}

fn check_hash(hash: &str) -> Result<(), ClientError> {
    if is_hash(hash) {
        Ok(())
    } else {
        Err(ClientError::User(format!(
            "“{hash}” is not an attachment hash (64 lowercase hex digits)"
        )))
    }
}

/// `dir/attachments/ab/abcdef…`: only ever named by a checked hash.
fn blob_path(dir: &Path, hash: &str) -> Result<PathBuf, ClientError> {
    check_hash(hash)?;
    Ok(dir.join(DIR).join(&hash[..2]).join(hash))
}

/// Writes a file durably: to a temporary name beside it, `fsync`, rename.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
    let tmp = path.with_extension("writing");
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ClientError::io(format!("writing {}", path.display()), e)
    })
}

/// The media type of a file: from its first bytes for the formats that matter as evidence,
/// else from its extension, else `application/octet-stream`.
pub fn sniff_mime(bytes: &[u8], name: &str) -> String {
    let magic: &[(&[u8], &str)] = &[
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
    ];
    if let Some((_, m)) = magic.iter().find(|(m, _)| bytes.starts_with(m)) {
        let m = *m;
        // Office documents are zip files: the extension says which.
        if m == "application/zip" {
            if let Some(office) = by_extension(name).filter(|e| e.starts_with("application/vnd")) {
                return office.into();
            }
        }
        return m.into();
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return "image/webp".into();
    }
    by_extension(name)
        .unwrap_or("application/octet-stream")
        .into()
}

fn by_extension(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "mp4" => "video/mp4",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// A JPEG preview of an image of at most [`MAX_THUMB_BYTES`], upright (EXIF orientation
/// applied); `None` when the bytes are not an image this build decodes.
pub fn make_thumbnail(bytes: &[u8]) -> Option<Vec<u8>> {
    use image::{ImageDecoder, ImageReader};
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().ok();
    let mut img = image::DynamicImage::from_decoder(decoder).ok()?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    for (side, quality) in [(240, 70), (200, 60), (160, 50), (120, 40), (96, 30)] {
        let small = img.thumbnail(side, side).to_rgb8();
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        small.write_with_encoder(enc).ok()?;
        if out.len() <= MAX_THUMB_BYTES {
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_content_first() {
        assert_eq!(sniff_mime(b"\xFF\xD8\xFF\xE0rest", "x.pdf"), "image/jpeg");
        assert_eq!(sniff_mime(b"%PDF-1.7", "biên bản"), "application/pdf");
        assert_eq!(sniff_mime(b"hello", "ghi chú.TXT"), "text/plain");
        assert_eq!(sniff_mime(b"hello", "noext"), "application/octet-stream");
        assert_eq!(
            sniff_mime(b"PK\x03\x04...", "báo cáo.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
    }

    #[test]
    fn blob_paths_are_made_of_hashes_only() {
        let dir = Path::new("/data");
        assert!(blob_path(dir, "../../etc/passwd").is_err());
        let h = sha256_hex(b"x");
        let p = blob_path(dir, &h).expect("hash");
        assert_eq!(p, dir.join("attachments").join(&h[..2]).join(&h));
    }

    #[test]
    fn thumbnails_are_small_jpegs_and_non_images_have_none() {
        let img = image::RgbImage::from_fn(1600, 1200, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
        });
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let thumb = make_thumbnail(&png).expect("thumbnail");
        assert!(thumb.len() <= MAX_THUMB_BYTES, "{} bytes", thumb.len());
        assert!(thumb.starts_with(b"\xFF\xD8\xFF"));
        let decoded = image::load_from_memory(&thumb).expect("decodes");
        assert!(decoded.width() <= 240 && decoded.height() <= 240);
        assert_eq!(make_thumbnail(b"%PDF-1.7 not an image"), None);
        assert_eq!(make_thumbnail(&png[..100]), None, "a truncated image");
    }
}
