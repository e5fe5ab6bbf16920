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
mod records;
pub mod report;
pub mod sync;
mod track;

pub use app::{Dashboard, KindCount, StagedRow, UnitInfo, UnitSummary};
pub use attachments::Attached;
pub use bundle::{BundleMerged, BundleWritten};
pub use error::ClientError;
pub use export::ExportFormat;
pub use identity::Identity;
pub use import::{ImportProgress, ImportReport, LineProblem};
pub use records::{RecordView, WriteOutcome};
pub use track::TrackReport;

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
    /// Opens the store in `dir`, which `init` must have created.
    pub fn open(dir: &Path) -> Result<Client, ClientError> {
        let path = dir.join(STORE_FILE);
        if !path.exists() {
            return Err(ClientError::NotInitialised(dir.display().to_string()));
        }
        let store = Store::open(&path)?;
        let identity = Identity::load(&store)?
            .ok_or_else(|| ClientError::NotInitialised(dir.display().to_string()))?;
        Ok(Client {
            store,
            identity,
            dir: dir.to_path_buf(),
            lang: Lang::Vi,
        })
    }

    /// Creates a store in `dir` for a device of `unit`, used by `user`.
    pub fn init(dir: &Path, unit: &str, user: &str) -> Result<Client, ClientError> {
        if unit.trim().is_empty() {
            return Err(ClientError::User(
                "the unit name must not be empty (--unit \"Đồn Biên phòng Tân Thành\")".into(),
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
        let mut store = Store::open(&dir.join(STORE_FILE))?;
        if let Some(existing) = Identity::load(&store)? {
            return Err(ClientError::User(format!(
                "{} already holds a store for unit “{}”; use another --data-dir",
                dir.display(),
                existing.unit
            )));
        }
        let identity = Identity::create(&mut store, unit.trim(), user.trim())?;
        let mut client = Client {
            store,
            identity,
            dir: dir.to_path_buf(),
            lang: Lang::Vi,
        };
        client.ensure_own_unit()?;
        Ok(client)
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
