//! The app's state: the open device store (if set up), the sync engine and its last status.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tauri::{AppHandle, Emitter, Runtime};
use tidemark_client::sync::{SharedClient, SyncEngine, SyncOptions, SyncStatus};
use tidemark_client::{Client, ClientError};

/// Shared state of the running app.
pub struct Shell {
    dir: PathBuf,
    client: Mutex<Option<SharedClient>>,
    engine: Mutex<Option<SyncEngine>>,
    status: Arc<Mutex<SyncStatus>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shell {
    /// State for the store in `dir` (opened now if it exists).
    pub fn new(dir: PathBuf) -> Shell {
        let client = match Client::open(&dir) {
            Ok(c) => Some(Arc::new(Mutex::new(c))),
            Err(ClientError::NotInitialised(_)) => None,
            Err(e) => {
                tracing::error!(error = %e, "the device store does not open");
                None
            }
        };
        Shell {
            dir,
            client: Mutex::new(client),
            engine: Mutex::new(None),
            status: Arc::new(Mutex::new(SyncStatus::Idle)),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The open store, if the first-run screen has created it.
    pub fn client(&self) -> Option<SharedClient> {
        lock(&self.client).clone()
    }

    /// Installs a freshly created store.
    pub fn set_client(&self, client: Client) -> SharedClient {
        let shared = Arc::new(Mutex::new(client));
        *lock(&self.client) = Some(shared.clone());
        shared
    }

    /// The last sync status.
    pub fn status(&self) -> SyncStatus {
        lock(&self.status).clone()
    }

    /// Starts the sync engine in the background if the store exists and is enrolled (and it is
    /// not running yet), forwarding its status to the window as `sync-status` events and the
    /// records a session changed as `records-changed`.
    pub fn start_sync<R: Runtime>(&self, app: AppHandle<R>) {
        let Some(client) = self.client() else { return };
        let enrolled = lock(&client).relay_config().ok().flatten().is_some();
        if !enrolled || lock(&self.engine).is_some() {
            return;
        }
        let status = self.status.clone();
        // The engine spawns its task on the runtime Tauri runs (entered here, so this works
        // from the main thread in `setup` as from a command).
        let runtime = tauri::async_runtime::handle();
        let _entered = runtime.inner().enter();
        let engine = SyncEngine::start(client, SyncOptions::default());
        let mut watch = engine.status();
        *lock(&self.engine) = Some(engine);
        tauri::async_runtime::spawn(async move {
            while watch.changed().await.is_ok() {
                let s = watch.borrow_and_update().clone();
                *lock(&status) = s.clone();
                if let SyncStatus::UpToDate { changed, .. } = &s {
                    if !changed.is_empty() {
                        let _ = app.emit("records-changed", changed.clone());
                    }
                }
                let _ = app.emit("sync-status", s);
            }
        });
    }

    /// Tells the engine something changed locally (or the user asked to sync now).
    pub fn nudge(&self) {
        if let Some(e) = lock(&self.engine).as_ref() {
            e.nudge();
        }
    }
}
