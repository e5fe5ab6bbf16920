//! The client API shared by the desktop app and the `tidemark` CLI: open a device store,
//! create and edit records, query and search, read conflicts and history, resolve conflicts,
//! import and export.
//!
//! Every write goes through [`Client::mutate`]: load the document inside an immediate SQLite
//! transaction, change it, validate, append the new changes as a chunk and update the index in
//! the same transaction. When this returns `Ok`, the write is on disk.

mod app;
pub mod attachments;
mod bundle;
mod error;
mod export;
mod identity;
mod import;
mod parallel;
mod records;
pub mod report;
mod signing;
pub mod sync;
mod track;
pub mod vault;

pub use app::{Dashboard, KindCount, StagedRow, UnitInfo, UnitSummary};
pub use attachments::Attached;
pub use bundle::{BundleMerged, BundleWritten};
pub use error::ClientError;
pub use export::ExportFormat;
pub use identity::Identity;
pub use import::{ImportProgress, ImportReport, LineProblem};
pub use records::{RecordView, WriteOutcome};
pub use track::TrackReport;
pub use vault::{is_encrypted, Passphrase};

use std::path::{Path, PathBuf};

use tidemark_domain::{validate::Context, CommitMeta, Lang};
use tidemark_store::Store;

/// File name of the store inside a data directory.
pub const STORE_FILE: &str = "tidemark.db";

/// After this many chunks a document is compacted into a fresh snapshot.
const COMPACT_AFTER_CHUNKS: i64 = 64;

/// An open device store with this device's identity.
#[derive(Debug)]
pub struct Client {
    store: Store,
    identity: Identity,
    dir: PathBuf,
    lang: Lang,
    /// The master key when the store is encrypted.
    key: Option<vault::MasterKey>,
}

/// Settings for a process that runs this client as its own program (the desktop app, the
/// `tidemark` command, the benchmark's pulling child), called first thing in `main`, beside
/// their allocator (mimalloc): transparent huge pages off.
///
/// mimalloc asks for huge pages on its arenas, and every first touch of one then zeroes 2 MB.
/// A new HQ device pulling a province-year (S2 in `BENCHMARKS.md`) took 4–17 % less CPU with
/// 4 KB pages, and its peak memory fell by a fifth (169–188 MB to 135–147 MB).
pub fn tune_process() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "transparent huge pages stay as they are");
    }
}

/// Writes `bytes` beside `path` and renames the result into place, so a failure never leaves
/// half a file where a good one was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .map_err(|e| ClientError::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ClientError::io(format!("renaming to {}", path.display()), e)
    })
}

/// Seconds since the Unix epoch, from the system clock.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Client {
    /// Opens the unencrypted store in `dir`, which `init` must have created. An encrypted
    /// store is [`ClientError::Locked`]: use [`Client::unlock`].
    pub fn open(dir: &Path) -> Result<Client, ClientError> {
        Client::open_with(dir, None)
    }

    /// Opens the store in `dir` with `pass` if it is encrypted (`None` is then
    /// [`ClientError::Locked`]); an unencrypted store opens without one. A wrong passphrase is
    /// [`ClientError::WrongPassphrase`] and changes nothing. A conversion to encryption that
    /// was cut short (see [`Client::encrypt`]) is finished first.
    pub fn open_with(dir: &Path, pass: Option<&Passphrase>) -> Result<Client, ClientError> {
        let path = dir.join(STORE_FILE);
        if !path.exists() {
            return Err(ClientError::NotInitialised(dir.display().to_string()));
        }
        let key = if vault::is_encrypted(dir) {
            let pass = pass.ok_or(ClientError::Locked)?;
            let (key, migrating) = vault::unlock(dir, pass)?;
            if migrating {
                attachments::finish_encryption(dir, &key)?;
            }
            Some(key)
        } else {
            None
        };
        let store = Store::open_keyed(&path, key.as_ref().map(|k| k.store_key()).as_ref())?;
        let mut store = store;
        let identity = Identity::load(&store)?
            .ok_or_else(|| ClientError::NotInitialised(dir.display().to_string()))?;
        signing::ensure_key(&mut store, &identity)?;
        Ok(Client {
            store,
            identity,
            dir: dir.to_path_buf(),
            lang: Lang::Vi,
            key,
        })
    }

    /// Opens the encrypted store in `dir` with its passphrase.
    pub fn unlock(dir: &Path, pass: &Passphrase) -> Result<Client, ClientError> {
        Client::open_with(dir, Some(pass))
    }

    /// Creates an unencrypted store in `dir` for a device of `unit`, used by `user`.
    pub fn init(dir: &Path, unit: &str, user: &str) -> Result<Client, ClientError> {
        Client::init_with(dir, unit, user, None)
    }

    /// Creates a store in `dir` for a device of `unit`, used by `user`: encrypted under `pass`
    /// when given (see [`vault`]), unencrypted otherwise.
    pub fn init_with(
        dir: &Path,
        unit: &str,
        user: &str,
        pass: Option<&Passphrase>,
    ) -> Result<Client, ClientError> {
        if unit.trim().is_empty() {
            return Err(ClientError::User(
                "the unit name must not be empty (--unit \"Đồn Biên phòng Tân Thành\")".into(),
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(STORE_FILE);
        let taken = |unit: Option<&str>| {
            ClientError::User(match unit {
                Some(unit) => format!(
                    "{} already holds a store for unit “{unit}”; use another --data-dir",
                    dir.display()
                ),
                None => format!(
                    "{} already holds an encrypted store; use another --data-dir",
                    dir.display()
                ),
            })
        };
        // A store whose creation was cut short (no identity yet) is taken over; one in use
        // is refused.
        let key = if vault::is_encrypted(dir) {
            let key = match pass.map(|p| vault::unlock(dir, p)) {
                Some(Ok((key, _))) => key,
                Some(Err(ClientError::WrongPassphrase)) | None => return Err(taken(None)),
                Some(Err(e)) => return Err(e),
            };
            if path.exists() {
                let store = Store::open_keyed(&path, Some(&key.store_key()))?;
                if let Some(existing) = Identity::load(&store)? {
                    return Err(taken(Some(&existing.unit)));
                }
            }
            Some(key)
        } else {
            if path.exists() {
                let store = Store::open(&path)?;
                if let Some(existing) = Identity::load(&store)? {
                    return Err(taken(Some(&existing.unit)));
                }
                drop(store);
                if pass.is_some() {
                    // Empty and unencrypted: start again encrypted.
                    for side in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(dir.join(format!("{STORE_FILE}{side}")));
                    }
                }
            }
            match pass {
                Some(pass) => Some(vault::create(dir, pass, false)?),
                None => None,
            }
        };
        let mut store = Store::open_keyed(&path, key.as_ref().map(|k| k.store_key()).as_ref())?;
        let identity = Identity::create(&mut store, unit.trim(), user.trim())?;
        signing::ensure_key(&mut store, &identity)?;
        let mut client = Client {
            store,
            identity,
            dir: dir.to_path_buf(),
            lang: Lang::Vi,
            key,
        };
        client.ensure_own_unit()?;
        Ok(client)
    }

    /// Encrypts the unencrypted store in `dir` in place under `pass`: the database is copied
    /// into an encrypted file that replaces it, then every attachment and thumbnail is sealed
    /// (downloads in progress are dropped and fetched again). The key file is written first,
    /// marked as converting, so a conversion cut short by a crash finishes at the next unlock.
    /// No other Tidemark process may have the store open meanwhile.
    pub fn encrypt(dir: &Path, pass: &Passphrase) -> Result<Client, ClientError> {
        let path = dir.join(STORE_FILE);
        if !path.exists() {
            return Err(ClientError::NotInitialised(dir.display().to_string()));
        }
        if vault::is_encrypted(dir) {
            return Err(ClientError::User(format!(
                "the store in {} is already encrypted; to change its passphrase use \
                 `tidemark passphrase`",
                dir.display()
            )));
        }
        // Refuse before writing anything if the store cannot be read.
        drop(Client::open(dir)?);
        let key = vault::create(dir, pass, true)?;
        attachments::finish_encryption(dir, &key)?;
        Client::unlock(dir, pass)
    }

    /// Changes the passphrase of the encrypted store in `dir` from `old` to `new`. The master
    /// key is re-wrapped (an atomic rewrite of the key file); the data stays as it is.
    pub fn change_passphrase(
        dir: &Path,
        old: &Passphrase,
        new: &Passphrase,
    ) -> Result<(), ClientError> {
        if !vault::is_encrypted(dir) {
            return Err(ClientError::User(format!(
                "the store in {} is not encrypted; use `tidemark encrypt` first",
                dir.display()
            )));
        }
        vault::change(dir, old, new)
    }

    /// Whether this store is encrypted at rest.
    pub fn encrypted(&self) -> bool {
        self.key.is_some()
    }

    /// The key sealing this store's attachment files, if it is encrypted.
    pub fn file_key(&self) -> Option<vault::FileKey> {
        self.key.as_ref().map(|k| k.file_key())
    }

    /// Sets the language of messages.
    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
    }

    /// This device's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The underlying store, for queries.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Commit metadata for a change made now by this device's user.
    pub fn meta(&self, op: &str) -> CommitMeta {
        CommitMeta {
            time: now_secs(),
            user: self.identity.user.clone(),
            unit: self.identity.unit.clone(),
            device: self.identity.device_id.clone(),
            op: op.into(),
        }
    }

    /// What validation needs to know: the known units and plan periods.
    pub fn context(&self) -> Result<Context, ClientError> {
        // The device's own unit is known even before the unit list arrives from HQ.
        let mut units = self.store.unit_keys()?;
        units.insert(tidemark_domain::fold_for_search(&self.identity.unit));
        let mut ctx = Context {
            units: Some(units),
            ..Context::default()
        };
        for (id, from, to) in self.store.plan_periods()? {
            if let (Some(f), Some(t)) = (
                tidemark_domain::validate::parse_date(&from),
                tidemark_domain::validate::parse_date(&to),
            ) {
                ctx.plan_periods.insert(id.clone(), (f, t));
                ctx.current_plan = Some(id);
            }
        }
        Ok(ctx)
    }
}
