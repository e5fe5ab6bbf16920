//! The app's state: the open device store (if set up and unlocked), the sync engine and its
//! last status, and the idle lock.
//!
//! An encrypted store starts locked: the store exists but no `Client` is open until `unlock`.
//! Locking (by the user or after the idle time) stops the sync engine and drops the `Client`,
//! which closes the database and wipes its key; nothing of the store stays readable.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tidemark_client::sync::{SharedClient, SyncEngine, SyncOptions, SyncStatus};
use tidemark_client::{Client, ClientError, Passphrase};

/// How long the app stays unlocked without activity when `TIDEMARK_IDLE_LOCK_SECS` does not
/// say otherwise.
pub const DEFAULT_IDLE_LOCK: Duration = Duration::from_secs(10 * 60);

/// The environment variable that sets the idle time in seconds (`0`: never lock when idle).
pub const IDLE_LOCK_ENV: &str = "TIDEMARK_IDLE_LOCK_SECS";

/// The idle watcher wakes at least this often, so a lock is not missed after the machine
/// slept (the monotonic clock does not count a suspend; the wall clock does).
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// The idle time `value` (the environment variable's text) asks for: `None` for `0` (never),
/// the default for anything that is not a whole number of seconds.
pub fn idle_lock_from(value: Option<&str>) -> Option<Duration> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Some(DEFAULT_IDLE_LOCK);
    };
    match v.parse::<u64>() {
        Ok(0) => None,
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => {
            tracing::warn!(
                value = v,
                "{IDLE_LOCK_ENV} is not a number of seconds; using the default"
            );
            Some(DEFAULT_IDLE_LOCK)
        }
    }
}

/// The open store and whether it is encrypted (only an encrypted store can be locked).
struct Open {
    client: SharedClient,
    encrypted: bool,
}

/// The last user activity, on both clocks.
#[derive(Clone, Copy)]
struct Activity {
    mono: Instant,
    wall: SystemTime,
}

impl Activity {
    fn now() -> Activity {
        Activity {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// How long ago, the longer of the two clocks (a suspend counts; a clock set back does
    /// not hide idle time).
    fn elapsed(&self) -> Duration {
        let wall = SystemTime::now()
            .duration_since(self.wall)
            .unwrap_or_default();
        self.mono.elapsed().max(wall)
    }
}

/// Shared state of the running app.
pub struct Shell {
    dir: PathBuf,
    client: Mutex<Option<Open>>,
    engine: Mutex<Option<SyncEngine>>,
    status: Arc<Mutex<SyncStatus>>,
    /// Counts locks, so a status forwarder of an engine stopped by a lock stays quiet.
    generation: Arc<AtomicU64>,
    /// Serialises unlock, lock and first-run creation.
    transition: tokio::sync::Mutex<()>,
    idle_limit: Option<Duration>,
    last_activity: Mutex<Activity>,
    idle_watcher: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// See [`Shell::opened_dir`].
fn opened_dir(dir: &std::path::Path) -> PathBuf {
    if tidemark_client::is_encrypted(dir) {
        if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_dir())
        {
            // One directory per data directory, named without saying which.
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut h);
            return run.join(format!("tidemark-opened-{:016x}", h.finish()));
        }
    }
    dir.join("opened")
}

/// Removes every opened copy of the store in `dir` (errors ignored: there may be none).
fn remove_opened(dir: &std::path::Path) {
    for d in [opened_dir(dir), dir.join("opened")] {
        match std::fs::remove_dir_all(&d) {
            Ok(()) => tracing::info!("opened copies removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "opened copies not removed"),
        }
    }
}

impl Shell {
    /// State for the store in `dir`: opened now if it exists and is not encrypted; an
    /// encrypted one waits, locked, for `unlock`. The idle time comes from
    /// `TIDEMARK_IDLE_LOCK_SECS` (default [`DEFAULT_IDLE_LOCK`]).
    pub fn new(dir: PathBuf) -> Shell {
        let client = match Client::open(&dir) {
            Ok(c) => Some(Open {
                encrypted: c.encrypted(),
                client: Arc::new(Mutex::new(c)),
            }),
            Err(ClientError::NotInitialised(_)) => None,
            Err(ClientError::Locked) => {
                tracing::info!("the device store is encrypted: the app starts locked");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "the device store does not open");
                None
            }
        };
        if tidemark_client::is_encrypted(&dir) {
            // Copies a crash or a power cut left behind: nobody is looking at them now.
            remove_opened(&dir);
        }
        Shell {
            dir,
            client: Mutex::new(client),
            engine: Mutex::new(None),
            status: Arc::new(Mutex::new(SyncStatus::Idle)),
            generation: Arc::new(AtomicU64::new(0)),
            transition: tokio::sync::Mutex::new(()),
            idle_limit: idle_lock_from(std::env::var(IDLE_LOCK_ENV).ok().as_deref()),
            last_activity: Mutex::new(Activity::now()),
            idle_watcher: AtomicBool::new(false),
        }
    }

    /// The same state with another idle time (`None`: never lock when idle).
    pub fn with_idle_lock(mut self, limit: Option<Duration>) -> Shell {
        self.idle_limit = limit;
        self
    }

    /// The data directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Where `open_attachment` puts the copies it hands to the system's viewer.
    ///
    /// For an encrypted store those copies are plaintext, so they go to the per-user runtime
    /// directory (`$XDG_RUNTIME_DIR`: memory-backed on Linux, private to the user, gone at
    /// logout) when there is one, and they are removed when the store locks and when the app
    /// starts. An unencrypted store keeps them in `<data dir>/opened`.
    pub fn opened_dir(&self) -> PathBuf {
        opened_dir(&self.dir)
    }

    /// The idle time after which an encrypted store locks, if any.
    pub fn idle_limit(&self) -> Option<Duration> {
        self.idle_limit
    }

    /// The open store, if the first-run screen has created it and it is not locked.
    pub fn client(&self) -> Option<SharedClient> {
        lock(&self.client).as_ref().map(|o| o.client.clone())
    }

    /// Whether the open store is encrypted (and so can be locked).
    pub fn encrypted(&self) -> bool {
        lock(&self.client).as_ref().is_some_and(|o| o.encrypted)
    }

    /// Whether a store exists here but is locked (encrypted and not unlocked).
    pub fn locked(&self) -> bool {
        lock(&self.client).is_none() && tidemark_client::is_encrypted(&self.dir)
    }

    /// Installs a freshly created or unlocked store.
    fn install(&self, client: Client) -> SharedClient {
        let shared = Arc::new(Mutex::new(client));
        let encrypted = lock(&shared).encrypted();
        *lock(&self.client) = Some(Open {
            client: shared.clone(),
            encrypted,
        });
        self.touch();
        shared
    }

    /// Creates the store on first run, encrypted under `pass` (off the async threads: the
    /// key derivation takes a while). A store that exists already is kept as it is; a locked
    /// one is [`ClientError::Locked`].
    pub async fn create(
        &self,
        unit: String,
        user: String,
        pass: Passphrase,
    ) -> Result<(), ClientError> {
        let _t = self.transition.lock().await;
        if self.client().is_some() {
            return Ok(());
        }
        if self.locked() {
            return Err(ClientError::Locked);
        }
        let dir = self.dir.clone();
        let c = tauri::async_runtime::spawn_blocking(move || {
            Client::init_with(&dir, &unit, &user, Some(&pass))
        })
        .await
        .map_err(|e| ClientError::User(format!("creating the store stopped: {e}")))??;
        self.install(c);
        Ok(())
    }

    /// Opens the locked store with `pass` (off the async threads). A wrong passphrase is
    /// [`ClientError::WrongPassphrase`] and changes nothing; an open store stays as it is.
    pub async fn unlock(&self, pass: Passphrase) -> Result<(), ClientError> {
        let _t = self.transition.lock().await;
        if self.client().is_some() {
            return Ok(());
        }
        let dir = self.dir.clone();
        let c = tauri::async_runtime::spawn_blocking(move || Client::unlock(&dir, &pass))
            .await
            .map_err(|e| ClientError::User(format!("unlocking stopped: {e}")))??;
        self.install(c);
        tracing::info!("device store unlocked");
        Ok(())
    }

    /// Locks an open encrypted store: the sync engine stops, the `Client` is dropped (the
    /// database closes and its key is wiped once a command in flight lets go of it), and the
    /// window gets a `locked` event. False if there was nothing to lock (not open, or not
    /// encrypted).
    pub async fn lock_store<R: Runtime>(&self, app: &AppHandle<R>) -> bool {
        let _t = self.transition.lock().await;
        let open = {
            let mut slot = lock(&self.client);
            if !slot.as_ref().is_some_and(|o| o.encrypted) {
                return false;
            }
            slot.take()
        };
        self.generation.fetch_add(1, Ordering::SeqCst);
        let engine = lock(&self.engine).take();
        if let Some(engine) = engine {
            engine.stop().await;
        }
        drop(open);
        remove_opened(&self.dir);
        *lock(&self.status) = SyncStatus::Idle;
        tracing::info!("device store locked");
        let _ = app.emit("sync-status", SyncStatus::Idle);
        let _ = app.emit("locked", ());
        true
    }

    /// Records user activity (it postpones the idle lock).
    pub fn touch(&self) {
        *lock(&self.last_activity) = Activity::now();
    }

    /// How long until the idle lock is due (zero: due now), or `None` when nothing would be
    /// locked (no idle time, no open encrypted store).
    fn idle_remaining(&self) -> Option<Duration> {
        let limit = self.idle_limit?;
        if !self.encrypted() {
            return None;
        }
        let idle = lock(&self.last_activity).elapsed();
        Some(limit.saturating_sub(idle))
    }

    /// Starts (once) the task that locks an open encrypted store after the idle time. It
    /// runs in the backend, so the lock happens even if the window hangs.
    pub fn watch_idle<R: Runtime>(&self, app: AppHandle<R>) {
        if self.idle_limit.is_none() || self.idle_watcher.swap(true, Ordering::SeqCst) {
            return;
        }
        tauri::async_runtime::spawn(async move {
            loop {
                let shell = app.state::<Shell>();
                match shell.idle_remaining() {
                    Some(left) if left.is_zero() => {
                        if shell.lock_store(&app).await {
                            tracing::info!("locked after the idle time");
                        }
                    }
                    Some(left) => tokio::time::sleep(left.min(IDLE_CHECK)).await,
                    // Nothing to lock yet: look again soon (an unlock arms it).
                    None => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        });
    }

    /// The last sync status.
    pub fn status(&self) -> SyncStatus {
        lock(&self.status).clone()
    }

    /// Starts the sync engine in the background if the store is open and enrolled (and it is
    /// not running yet), forwarding its status to the window as `sync-status` events and the
    /// records a session changed as `records-changed`.
    pub fn start_sync<R: Runtime>(&self, app: AppHandle<R>) {
        let Some(client) = self.client() else { return };
        let enrolled = lock(&client).relay_config().ok().flatten().is_some();
        if !enrolled || lock(&self.engine).is_some() {
            return;
        }
        let status = self.status.clone();
        let generation = self.generation.clone();
        let started = generation.load(Ordering::SeqCst);
        // The engine spawns its task on the runtime Tauri runs (entered here, so this works
        // from the main thread in `setup` as from a command).
        let runtime = tauri::async_runtime::handle();
        let _entered = runtime.inner().enter();
        let engine = SyncEngine::start(client, SyncOptions::default());
        let mut watch = engine.status();
        *lock(&self.engine) = Some(engine);
        tauri::async_runtime::spawn(async move {
            while watch.changed().await.is_ok() {
                if generation.load(Ordering::SeqCst) != started {
                    // Locked since: this engine's last words are not news.
                    break;
                }
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
