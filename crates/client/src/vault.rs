//! Encryption at rest: the unlock passphrase, the key file, and sealed attachment files.
//!
//! A random 256-bit master key protects everything on the device. The key file
//! [`KEYRING_FILE`] beside the store holds it wrapped with XChaCha20-Poly1305 under a key
//! derived from the passphrase with Argon2id (64 MiB, 3 passes). From the master key come two
//! keys with separate purposes: SQLCipher's raw key for the store (records, sync states, the
//! relay token, drafts, everything in SQLite) and the key that seals attachment and thumbnail
//! files. A wrong passphrase fails the key file's authentication tag before anything is
//! opened, so it changes nothing. Changing the passphrase re-wraps the master key; the data
//! needs no rewriting.
//!
//! Attachment files are sealed in segments of [`CHUNK_SIZE`] bytes (the transfer chunk size),
//! each with its own tag, so a download in progress can append one sealed chunk at a time:
//!
//! ```text
//! "TMBLOB01" | 16-byte random prefix | segment 0 + tag | segment 1 + tag | …
//! ```
//!
//! A segment's nonce is the prefix followed by its index (so segments cannot be reordered),
//! and the file's content hash is its associated data (so files cannot be swapped). Whole-file
//! reads also check the SHA-256, which catches a file cut at a segment boundary.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tidemark_store::StoreKey;
use tidemark_sync_protocol::attachment::CHUNK_SIZE;
use zeroize::Zeroizing;

use crate::ClientError;

/// The key file's name inside a data directory. Its presence means the store is encrypted.
pub const KEYRING_FILE: &str = "keyring.json";

/// The shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Argon2id cost: memory in KiB, passes, lanes. About a third of a second on a station laptop,
/// which every unlock pays and every guess of a stolen key file pays too.
const ARGON2_M_KIB: u32 = 64 * 1024;
const ARGON2_T: u32 = 3;
const ARGON2_P: u32 = 1;

/// What the key file's tag also authenticates.
const KEYRING_AAD: &[u8] = b"tidemark keyring v1";

/// The start of a sealed attachment file.
pub(crate) const BLOB_MAGIC: &[u8; 8] = b"TMBLOB01";
const PREFIX_LEN: usize = 16;
/// Bytes before the first segment of a sealed file.
pub(crate) const BLOB_HEADER_LEN: u64 = (BLOB_MAGIC.len() + PREFIX_LEN) as u64;
const TAG_LEN: u64 = 16;

/// An unlock passphrase. Wiped from memory when dropped; never printed.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<secret>)")
    }
}

impl Passphrase {
    /// A passphrase to unlock an existing store with (any length: the key file decides).
    pub fn new(text: impl Into<String>) -> Passphrase {
        Passphrase(Zeroizing::new(text.into()))
    }

    /// A passphrase to protect a store with: at least [`MIN_PASSPHRASE_CHARS`] characters.
    pub fn new_for_store(text: impl Into<String>) -> Result<Passphrase, ClientError> {
        let p = Passphrase::new(text);
        if p.0.trim().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(ClientError::User(format!(
                "the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters \
                 (mật khẩu phải có ít nhất {MIN_PASSPHRASE_CHARS} ký tự)"
            )));
        }
        Ok(p)
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The master key of an unlocked store.
#[derive(Clone)]
pub(crate) struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

impl MasterKey {
    fn random() -> MasterKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        MasterKey(k)
    }

    fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut h = Sha256::new();
        h.update(b"tidemark/");
        h.update(purpose.as_bytes());
        h.update(b"/v1\0");
        h.update(self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&h.finalize());
        out
    }

    /// SQLCipher's key for the store.
    pub(crate) fn store_key(&self) -> StoreKey {
        StoreKey(*self.derive("sqlcipher"))
    }

    /// The key that seals attachment files.
    pub(crate) fn file_key(&self) -> FileKey {
        FileKey(self.derive("attachments"))
    }
}

/// The key that seals attachment files.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(<secret>)")
    }
}

/// The key file, as JSON.
#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    wrapped: String,
    /// Set while an unencrypted store is being converted; cleared when it is done.
    #[serde(default)]
    migrating: bool,
    changed_at: i64,
}

/// Whether the store in `dir` is encrypted (it has a key file).
pub fn is_encrypted(dir: &Path) -> bool {
    keyring_path(dir).exists()
}

fn keyring_path(dir: &Path) -> PathBuf {
    dir.join(KEYRING_FILE)
}

fn kek(
    pass: &Passphrase,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<XChaCha20Poly1305, ClientError> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| ClientError::User(format!("the key file has bad Argon2 settings: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pass.bytes(), salt, out.as_mut())
        .map_err(|e| ClientError::User(format!("cannot derive the key: {e}")))?;
    Ok(XChaCha20Poly1305::new(out.as_ref().into()))
}

fn wrap(
    master: &MasterKey,
    pass: &Passphrase,
    migrating: bool,
) -> Result<KeyringFile, ClientError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let cipher = kek(pass, &salt, ARGON2_M_KIB, ARGON2_T, ARGON2_P)?;
    let wrapped = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: master.0.as_ref(),
                aad: KEYRING_AAD,
            },
        )
        .map_err(|_| ClientError::User("cannot wrap the key".into()))?;
    Ok(KeyringFile {
        format: 1,
        kdf: "argon2id".into(),
        m_kib: ARGON2_M_KIB,
        t: ARGON2_T,
        p: ARGON2_P,
        salt: hex::encode(salt),
        nonce: hex::encode(nonce),
        wrapped: hex::encode(wrapped),
        migrating,
        changed_at: crate::now_secs(),
    })
}

fn read_keyring(dir: &Path) -> Result<KeyringFile, ClientError> {
    let path = keyring_path(dir);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ClientError::io(format!("reading {}", path.display()), e))?;
    let file: KeyringFile = serde_json::from_str(&text).map_err(|e| {
        ClientError::User(format!("the key file {} is damaged: {e}", path.display()))
    })?;
    if file.format != 1 || file.kdf != "argon2id" {
        return Err(ClientError::User(format!(
            "the key file {} was written by a newer Tidemark (format {}, {}); update Tidemark",
            path.display(),
            file.format,
            file.kdf
        )));
    }
    Ok(file)
}

fn write_keyring(dir: &Path, file: &KeyringFile) -> Result<(), ClientError> {
    let path = keyring_path(dir);
    let text = serde_json::to_vec_pretty(file)
        .map_err(|e| ClientError::User(format!("cannot write the key file: {e}")))?;
    crate::attachments::write_synced(&path, &text)?;
    sync_dir(dir);
    Ok(())
}

/// Unwraps the master key of the store in `dir` with `pass`. A wrong passphrase is
/// [`ClientError::WrongPassphrase`]; nothing is read or written besides the key file.
pub(crate) fn unlock(dir: &Path, pass: &Passphrase) -> Result<(MasterKey, bool), ClientError> {
    let file = read_keyring(dir)?;
    let bad = |what: &str| ClientError::User(format!("the key file is damaged ({what})"));
    let salt = hex::decode(&file.salt).map_err(|_| bad("salt"))?;
    let nonce = hex::decode(&file.nonce).map_err(|_| bad("nonce"))?;
    let wrapped = hex::decode(&file.wrapped).map_err(|_| bad("key"))?;
    if nonce.len() != 24 || file.m_kib > 4 * 1024 * 1024 || file.t > 64 || file.p > 64 {
        return Err(bad("settings"));
    }
    let cipher = kek(pass, &salt, file.m_kib, file.t, file.p)?;
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &wrapped,
                    aad: KEYRING_AAD,
                },
            )
            .map_err(|_| ClientError::WrongPassphrase)?,
    );
    if plain.len() != 32 {
        return Err(bad("key length"));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&plain);
    Ok((MasterKey(key), file.migrating))
}

/// Creates a key file for a new master key in `dir`; `migrating` marks a conversion of an
/// unencrypted store that has not finished yet.
pub(crate) fn create(
    dir: &Path,
    pass: &Passphrase,
    migrating: bool,
) -> Result<MasterKey, ClientError> {
    let master = MasterKey::random();
    write_keyring(dir, &wrap(&master, pass, migrating)?)?;
    Ok(master)
}

/// Marks the conversion of the store in `dir` finished.
pub(crate) fn finish_migration(dir: &Path) -> Result<(), ClientError> {
    let mut file = read_keyring(dir)?;
    file.migrating = false;
    write_keyring(dir, &file)
}

/// Re-wraps the master key of `dir` under `new`, after checking `old`. Atomic: a crash leaves
/// either the old or the new key file.
pub(crate) fn change(dir: &Path, old: &Passphrase, new: &Passphrase) -> Result<(), ClientError> {
    let (master, migrating) = unlock(dir, old)?;
    write_keyring(dir, &wrap(&master, new, migrating)?)
}

impl FileKey {
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// A new sealed file's header: the magic and a random nonce prefix.
    pub(crate) fn header(&self) -> Vec<u8> {
        let mut h = BLOB_MAGIC.to_vec();
        let mut prefix = [0u8; PREFIX_LEN];
        rand::rng().fill_bytes(&mut prefix);
        h.extend_from_slice(&prefix);
        h
    }

    /// Seals segment `index` of the file `hash` whose header is `header`.
    pub(crate) fn seal_segment(
        &self,
        header: &[u8],
        hash: &str,
        index: u64,
        plain: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        self.cipher()
            .encrypt(
                &nonce(header, index),
                Payload {
                    msg: plain,
                    aad: hash.as_bytes(),
                },
            )
            .map_err(|_| ClientError::User("cannot seal an attachment segment".into()))
    }

    /// The whole sealed form of `plain`, the file `hash`.
    pub(crate) fn seal(&self, hash: &str, plain: &[u8]) -> Result<Vec<u8>, ClientError> {
        let header = self.header();
        let mut out = Vec::with_capacity(plain.len() + plain.len() / CHUNK_SIZE as usize * 16 + 64);
        out.extend_from_slice(&header);
        for (i, seg) in plain.chunks(CHUNK_SIZE as usize).enumerate() {
            out.extend(self.seal_segment(&header, hash, i as u64, seg)?);
        }
        Ok(out)
    }
}

fn nonce(header: &[u8], index: u64) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX_LEN].copy_from_slice(&header[BLOB_MAGIC.len()..BLOB_MAGIC.len() + PREFIX_LEN]);
    n[PREFIX_LEN..].copy_from_slice(&index.to_le_bytes());
    *XNonce::from_slice(&n)
}

/// Bytes a stored chunk takes in a file sealed (or not) with `key`.
pub(crate) fn stored_chunk_len(key: Option<&FileKey>) -> u64 {
    CHUNK_SIZE + if key.is_some() { TAG_LEN } else { 0 }
}

/// Whether `stored` is a sealed file.
pub(crate) fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(BLOB_MAGIC)
}

/// The content of the stored file `hash`: opened with `key` if sealed, as it is if not (a
/// store encrypted while files were still being converted). The caller checks the SHA-256.
pub(crate) fn open_blob(
    key: Option<&FileKey>,
    hash: &str,
    stored: Vec<u8>,
) -> Result<Vec<u8>, String> {
    if !is_sealed(&stored) {
        return Ok(stored);
    }
    let Some(key) = key else {
        return Err("the file is encrypted and the store is not unlocked".into());
    };
    if (stored.len() as u64) < BLOB_HEADER_LEN {
        return Err("the file is cut short".into());
    }
    let (header, body) = stored.split_at(BLOB_HEADER_LEN as usize);
    let cipher = key.cipher();
    let mut out = Vec::with_capacity(body.len());
    for (i, seg) in body
        .chunks(stored_chunk_len(Some(key)) as usize)
        .enumerate()
    {
        let plain = cipher
            .decrypt(
                &nonce(header, i as u64),
                Payload {
                    msg: seg,
                    aad: hash.as_bytes(),
                },
            )
            .map_err(|_| format!("segment {i} fails its authentication (damaged or altered)"))?;
        out.extend_from_slice(&plain);
    }
    Ok(out)
}

/// Syncs a directory so that a rename in it survives a power cut (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_open_only_with_their_key_and_hash() {
        let key = MasterKey::random().file_key();
        let plain: Vec<u8> = (0..(CHUNK_SIZE as usize * 2 + 1000))
            .map(|i| (i % 251) as u8)
            .collect();
        let sealed = key.seal("abc", &plain).expect("seal");
        assert!(is_sealed(&sealed));
        assert_eq!(
            sealed.len() as u64,
            BLOB_HEADER_LEN + plain.len() as u64 + 3 * TAG_LEN
        );
        assert_eq!(
            open_blob(Some(&key), "abc", sealed.clone()).expect("open"),
            plain
        );
        assert!(
            open_blob(Some(&key), "abd", sealed.clone()).is_err(),
            "another file's hash"
        );
        let other = MasterKey::random().file_key();
        assert!(
            open_blob(Some(&other), "abc", sealed.clone()).is_err(),
            "another key"
        );
        assert!(open_blob(None, "abc", sealed.clone()).is_err(), "no key");
        let mut flipped = sealed;
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        assert!(
            open_blob(Some(&key), "abc", flipped).is_err(),
            "a flipped bit"
        );
        assert_eq!(
            open_blob(Some(&key), "x", b"plain".to_vec()).expect("plain"),
            b"plain"
        );
    }

    #[test]
    fn the_key_file_opens_with_its_passphrase_only_and_re_wraps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pass = Passphrase::new_for_store("Biên phòng 2026!").expect("pass");
        let master = create(dir.path(), &pass, false).expect("create");
        let (again, migrating) = unlock(dir.path(), &pass).expect("unlock");
        assert_eq!(*again.0, *master.0);
        assert!(!migrating);
        assert!(matches!(
            unlock(dir.path(), &Passphrase::new("bien phong 2026!")),
            Err(ClientError::WrongPassphrase)
        ));
        let new = Passphrase::new_for_store("Trạm Kiểng Phước").expect("pass");
        change(dir.path(), &pass, &new).expect("change");
        assert!(matches!(
            unlock(dir.path(), &pass),
            Err(ClientError::WrongPassphrase)
        ));
        assert_eq!(*unlock(dir.path(), &new).expect("new").0 .0, *master.0);
        assert!(Passphrase::new_for_store("ngắn").is_err());
    }
}
