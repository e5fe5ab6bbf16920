//! The commands of `ui/src/lib/api.ts`: each deserializes, calls the client crate and maps
//! errors to `{kind, message, problems?}`. Writes nudge the sync engine; none waits on it.
//! The app's own commands (set up, enrol, lock, language, sync) are here; the records, the
//! report and the attachments have a module each.

pub mod attachments;
pub mod records;
pub mod reports;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};
use tidemark_client::sync::{self, SharedClient, SyncStatus, SyncSummary};
use tidemark_client::vault::MIN_PASSPHRASE_CHARS;
use tidemark_client::{Client, ClientError, Passphrase};
use tidemark_domain::{Lang, Message};

use crate::Shell;

/// Every command error, as the UI receives it.
#[derive(Debug, Clone, Serialize)]
pub struct CmdError {
    /// `invalid`, `not_found`, `user`, `not_set_up`, `sync`, `internal`; `locked` (the store is
    /// encrypted and not unlocked) and `wrong_passphrase`; for files also `too_large` (over the
    /// attachment limit) and `not_here` (not on this device yet).
    pub kind: &'static str,
    /// A sentence for the user.
    pub message: String,
    /// Validation messages by field, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Message>>,
}

impl CmdError {
    fn new(kind: &'static str, message: impl Into<String>) -> CmdError {
        CmdError {
            kind,
            message: message.into(),
            problems: None,
        }
    }
}

impl From<ClientError> for CmdError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(problems) => CmdError {
                kind: "invalid",
                message: problems
                    .iter()
                    .map(|m| m.text(Lang::Vi).to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
                problems: Some(problems),
            },
            ClientError::NotFound(_) => CmdError::new("not_found", e.to_string()),
            ClientError::NotInitialised(_) => CmdError::new("not_set_up", e.to_string()),
            ClientError::Locked => CmdError::new("locked", locked_message()),
            ClientError::WrongPassphrase => CmdError::new(
                "wrong_passphrase",
                format!("{} ({e}.)", e.localized(Lang::Vi)),
            ),
            e if e.is_user_error() => CmdError::new("user", e.localized(Lang::Vi)),
            e => {
                tracing::error!(error = %e, "command failed");
                CmdError::new("internal", e.to_string())
            }
        }
    }
}

impl From<sync::SyncError> for CmdError {
    fn from(e: sync::SyncError) -> Self {
        CmdError::new("sync", format!("{} [{}]", e.message, e.code))
    }
}

type Res<T> = Result<T, CmdError>;

fn locked_message() -> String {
    format!(
        "{} (The app is locked: enter the passphrase to unlock it.)",
        ClientError::Locked.localized(Lang::Vi)
    )
}

/// The open store; while it is locked every command that touches records is `locked`.
fn client(shell: &Shell) -> Res<SharedClient> {
    shell.client().ok_or_else(|| {
        if shell.locked() {
            CmdError::new("locked", locked_message())
        } else {
            not_set_up()
        }
    })
}

fn not_set_up() -> CmdError {
    CmdError::new(
        "not_set_up",
        "Chưa thiết lập thiết bị: hãy nhập đơn vị và người dùng. (This device is not set up yet.)",
    )
}

/// A passphrase as the UI sends it. Its `Debug` never shows it; it is moved into a
/// [`Passphrase`], which wipes it when dropped (an unused one too).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        drop(Passphrase::new(std::mem::take(&mut self.0)));
    }
}

impl Secret {
    /// To unlock with (any length: the key file decides).
    fn unlock(mut self) -> Passphrase {
        Passphrase::new(std::mem::take(&mut self.0))
    }

    /// To protect a new store with: too short is a problem on the `passphrase` field.
    fn for_store(mut self) -> Res<Passphrase> {
        Passphrase::new_for_store(std::mem::take(&mut self.0)).map_err(|_| {
            let problem = Message::new(
                "passphrase",
                "too_short",
                format!("Mật khẩu phải có ít nhất {MIN_PASSPHRASE_CHARS} ký tự."),
                format!("The passphrase must have at least {MIN_PASSPHRASE_CHARS} characters."),
            );
            CmdError {
                kind: "invalid",
                message: problem.vi.clone(),
                problems: Some(vec![problem]),
            }
        })
    }
}

fn with<T>(shell: &Shell, f: impl FnOnce(&mut Client) -> Result<T, ClientError>) -> Res<T> {
    let shared = client(shell)?;
    let mut c = shared.lock().unwrap_or_else(|p| p.into_inner());
    Ok(f(&mut c)?)
}

/// What the UI needs to know about this device.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// A store exists on this device (it may be locked).
    set_up: bool,
    /// The store is encrypted and not unlocked: nothing else is told.
    locked: bool,
    /// The open store is encrypted (it can be locked).
    encrypted: bool,
    /// Seconds without activity before an encrypted store locks (null: never).
    idle_lock_secs: Option<u64>,
    unit: Option<String>,
    user: Option<String>,
    device_id: Option<String>,
    enrolled: bool,
    relay: Option<String>,
    hq: bool,
    lang: String,
}

fn info(shell: &Shell) -> Res<AppInfo> {
    let idle_lock_secs = shell.idle_limit().map(|d| d.as_secs());
    let Some(shared) = shell.client() else {
        let locked = shell.locked();
        return Ok(AppInfo {
            set_up: locked,
            locked,
            encrypted: locked,
            idle_lock_secs,
            unit: None,
            user: None,
            device_id: None,
            enrolled: false,
            relay: None,
            hq: false,
            lang: "vi".into(),
        });
    };
    let c = shared.lock().unwrap_or_else(|p| p.into_inner());
    let relay = c.relay_config()?;
    let unit = c.identity().unit.clone();
    let hq = c.hq_unit()?.is_some_and(|h| {
        tidemark_domain::fold_for_search(&h) == tidemark_domain::fold_for_search(&unit)
    });
    Ok(AppInfo {
        set_up: true,
        locked: false,
        encrypted: c.encrypted(),
        idle_lock_secs,
        unit: Some(unit),
        user: Some(c.identity().user.clone()),
        device_id: Some(c.identity().device_id.clone()),
        enrolled: relay.is_some(),
        relay: relay.map(|r| r.url),
        hq,
        lang: c.pref("lang")?.unwrap_or_else(|| "vi".into()),
    })
}

/// `app_info`.
#[tauri::command(async)]
pub fn app_info(shell: State<'_, Shell>) -> Res<AppInfo> {
    info(&shell)
}

/// `set_up`: creates the device store on first run, encrypted under `passphrase` (at least
/// 8 characters); with a server and code, also enrols. A store that exists is kept (a retry
/// after a failed enrolment); a locked one is `locked`.
#[tauri::command]
pub async fn set_up<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    unit: String,
    user: String,
    passphrase: Secret,
    server: Option<String>,
    code: Option<String>,
) -> Res<AppInfo> {
    if shell.client().is_none() {
        let pass = passphrase.for_store()?;
        shell.create(unit, user, pass).await?;
        shell.watch_idle(app.clone());
    }
    if let (Some(server), Some(code)) = (server.filter(|s| !s.trim().is_empty()), code) {
        return enroll(app, shell, server, code).await;
    }
    info(&shell)
}

/// `enroll`: registers this device with a relay, then starts background sync.
#[tauri::command]
pub async fn enroll<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    server: String,
    code: String,
) -> Res<AppInfo> {
    let shared = client(&shell)?;
    sync::enroll(
        &shared,
        &server,
        &code,
        sync::SyncOptions::default().request_timeout,
    )
    .await?;
    shell.start_sync(app);
    info(&shell)
}

/// `unlock`: opens the encrypted store with `passphrase` (the key derivation runs off the main
/// and async threads, ~0.3 s), restarts sync and arms the idle lock. A wrong passphrase is
/// `wrong_passphrase` and changes nothing.
#[tauri::command]
pub async fn unlock<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    passphrase: Secret,
) -> Res<AppInfo> {
    if shell.client().is_none() && !shell.locked() {
        return Err(not_set_up());
    }
    shell.unlock(passphrase.unlock()).await?;
    shell.start_sync(app.clone());
    shell.watch_idle(app);
    info(&shell)
}

/// `lock`: locks the encrypted store now (sync stops, the store closes, its key is wiped; the
/// window gets a `locked` event). Locking a locked store does nothing; an unencrypted store
/// cannot be locked (`user`).
#[tauri::command]
pub async fn lock<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>) -> Res<AppInfo> {
    if !shell.lock_store(&app).await && shell.client().is_some() {
        return Err(CmdError::new(
            "user",
            "Dữ liệu trên máy này chưa được mã hóa nên không thể khóa. \
             (The store on this device is not encrypted, so it cannot be locked.)",
        ));
    }
    info(&shell)
}

/// `activity`: the window saw the user (pointer or keys); postpones the idle lock.
#[tauri::command(async)]
pub fn activity(shell: State<'_, Shell>) -> Res<()> {
    shell.touch();
    Ok(())
}

/// `set_lang`: remembers the language.
#[tauri::command(async)]
pub fn set_lang(shell: State<'_, Shell>, lang: String) -> Res<()> {
    let lang = if lang == "en" { "en" } else { "vi" };
    with(&shell, |c| c.set_pref("lang", lang))
}

/// `sync_status`.
#[tauri::command(async)]
pub fn sync_status(shell: State<'_, Shell>) -> Res<SyncStatus> {
    Ok(shell.status())
}

/// `sync_summary`.
#[tauri::command(async)]
pub fn sync_summary(shell: State<'_, Shell>) -> Res<SyncSummary> {
    with(&shell, |c| c.sync_summary())
}

/// `sync_now`.
#[tauri::command(async)]
pub fn sync_now(shell: State<'_, Shell>) -> Res<()> {
    shell.nudge();
    Ok(())
}

/// Where `export_report` or `save_attachment` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    path: String,
    bytes: u64,
}

/// The folder exports go to: `TIDEMARK_EXPORT_DIR`, else the user's Downloads folder, else home.
fn export_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("TIDEMARK_EXPORT_DIR") {
        return d.into();
    }
    let dirs = directories::UserDirs::new();
    dirs.as_ref()
        .and_then(|u| u.download_dir().map(|d| d.to_path_buf()))
        .or_else(|| dirs.as_ref().map(|u| u.home_dir().to_path_buf()))
        .unwrap_or_else(std::env::temp_dir)
}
