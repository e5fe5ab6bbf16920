//! The commands of `ui/src/lib/api.ts`: each deserializes, calls the client crate and maps
//! errors to `{kind, message, problems?}`. Writes nudge the sync engine; none waits on it.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tauri::ipc::{InvokeBody, Request};
use tauri::{AppHandle, Runtime, State};
use tidemark_client::attachments::{sniff_mime, MAX_ATTACHMENT_BYTES};
use tidemark_client::sync::{self, Delivery, SharedClient, SyncStatus, SyncSummary};
use tidemark_client::vault::MIN_PASSPHRASE_CHARS;
use tidemark_client::{
    Attached, Client, ClientError, Dashboard, Passphrase, RecordView, UnitInfo, WriteOutcome,
};
use tidemark_domain::{conflicts::Conflict, interchange::parse_line, HistoryEntry, Lang, Message};
use tidemark_domain::{AttachPlace, AttachPlaceError};
use tidemark_store::{AttachmentRow, ListFilter, RecordRow};

use crate::{files, Shell};

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

/// `units`.
#[tauri::command(async)]
pub fn units(shell: State<'_, Shell>) -> Res<Vec<UnitInfo>> {
    with(&shell, |c| c.units())
}

/// Filters of `list_records` and `dashboard`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Query {
    kind: Option<String>,
    unit: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl Query {
    fn filter(self) -> Res<ListFilter> {
        let kind = match self.kind.filter(|k| !k.is_empty()) {
            Some(k) => Some(Client::parse_kind(&k)?),
            None => None,
        };
        Ok(ListFilter {
            kind,
            unit: self.unit.filter(|u| !u.is_empty()),
            from: self.from.filter(|d| !d.is_empty()),
            to: self.to.filter(|d| !d.is_empty()),
            limit: self.limit.unwrap_or(200),
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// A page of rows.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    rows: Vec<RecordRow>,
    total: usize,
}

/// `list_records`.
#[tauri::command(async)]
pub fn list_records(shell: State<'_, Shell>, q: Option<Query>) -> Res<Page> {
    let f = q.unwrap_or_default().filter()?;
    with(&shell, |c| {
        let (rows, total) = c.store().list(&f)?;
        Ok(Page { rows, total })
    })
}

/// `search_records`: diacritic-insensitive full-text search.
#[tauri::command(async)]
pub fn search_records(
    shell: State<'_, Shell>,
    text: String,
    kind: Option<String>,
    limit: Option<usize>,
) -> Res<Vec<RecordRow>> {
    let kind = match kind.filter(|k| !k.is_empty()) {
        Some(k) => Some(Client::parse_kind(&k)?),
        None => None,
    };
    with(&shell, |c| {
        Ok(c.store().search(&text, kind, limit.unwrap_or(100))?)
    })
}

/// A record for its page.
#[derive(Debug, Clone, Serialize)]
pub struct RecordPage {
    #[serde(flatten)]
    view: RecordView,
    delivery: Delivery,
    track: Vec<(f64, f64, i64)>,
}

/// `get_record`.
#[tauri::command(async)]
pub fn get_record(shell: State<'_, Shell>, id: String) -> Res<RecordPage> {
    with(&shell, |c| {
        Ok(RecordPage {
            view: c.show(&id)?,
            delivery: c.delivery(&id)?,
            track: c.track(&id)?,
        })
    })
}

/// `save_record`: validates and saves a record given in the interchange shape.
#[tauri::command(async)]
pub fn save_record(shell: State<'_, Shell>, record: serde_json::Value) -> Res<WriteOutcome> {
    let parsed = parse_line(&record.to_string()).map_err(|e| CmdError {
        kind: "invalid",
        message: e.reason.clone(),
        problems: None,
    })?;
    let out = with(&shell, |c| c.save(&parsed.record))?;
    shell.nudge();
    Ok(out)
}

fn raw(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `edit_field`.
#[tauri::command(async)]
pub fn edit_field(
    shell: State<'_, Shell>,
    id: String,
    field: String,
    value: serde_json::Value,
) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.edit(&id, &field, &raw(&value)))?;
    shell.nudge();
    Ok(out)
}

/// `splice_text`: a character-position edit of a text field.
#[tauri::command(async)]
pub fn splice_text(
    shell: State<'_, Shell>,
    id: String,
    field: String,
    pos: usize,
    delete: usize,
    text: String,
) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.splice(&id, &field, pos, delete, &text))?;
    shell.nudge();
    Ok(out)
}

/// `record_history`.
#[tauri::command(async)]
pub fn record_history(shell: State<'_, Shell>, id: String) -> Res<Vec<HistoryEntry>> {
    with(&shell, |c| c.history(&id))
}

/// One record's conflicts.
#[derive(Debug, Clone, Serialize)]
pub struct Conflicted {
    id: String,
    conflicts: Vec<Conflict>,
}

/// `list_conflicts`.
#[tauri::command(async)]
pub fn list_conflicts(shell: State<'_, Shell>) -> Res<Vec<Conflicted>> {
    with(&shell, |c| {
        Ok(c.conflicts()?
            .into_iter()
            .map(|(id, conflicts)| Conflicted { id, conflicts })
            .collect())
    })
}

/// `resolve_conflict`.
#[tauri::command(async)]
pub fn resolve_conflict(
    shell: State<'_, Shell>,
    id: String,
    field: String,
    value: serde_json::Value,
) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.resolve(&id, &field, &raw(&value)))?;
    shell.nudge();
    Ok(out)
}

/// What a track import did.
#[derive(Debug, Clone, Serialize)]
pub struct TrackImported {
    points: usize,
    skipped: usize,
}

/// `import_track`: a GPX or NMEA file's text, read by the UI.
#[tauri::command(async)]
#[allow(non_snake_case)]
pub fn import_track(
    shell: State<'_, Shell>,
    id: String,
    fileName: String,
    text: String,
) -> Res<TrackImported> {
    let r = with(&shell, |c| c.import_track_text(&id, &fileName, &text))?;
    shell.nudge();
    Ok(TrackImported {
        points: r.points,
        skipped: r.skipped.len(),
    })
}

/// `acknowledge_exchange`.
#[tauri::command(async)]
pub fn acknowledge_exchange(shell: State<'_, Shell>, id: String) -> Res<WriteOutcome> {
    let out = with(&shell, |c| c.acknowledge(&id))?;
    shell.nudge();
    Ok(out)
}

/// `dashboard`.
#[tauri::command(async)]
pub fn dashboard(shell: State<'_, Shell>, q: Option<Query>) -> Res<Dashboard> {
    let f = q.unwrap_or_default().filter()?;
    with(&shell, |c| c.dashboard(&f))
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

/// What a report covers, as the report page sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportQuery {
    from: String,
    to: String,
    #[serde(default)]
    units: Vec<String>,
    #[serde(default)]
    as_of: Option<String>,
}

impl ReportQuery {
    fn params(&self) -> Res<tidemark_domain::report::ReportParams> {
        use tidemark_client::report::{params_from_text, PeriodError};
        let mut params =
            params_from_text(&self.from, &self.to, self.as_of.as_deref()).map_err(|e| match e {
                PeriodError::BadDate(s) => CmdError::new(
                    "user",
                    format!("Ngày không hợp lệ: `{s}` (YYYY-MM-DD). (Invalid date.)"),
                ),
                PeriodError::Backwards => CmdError::new(
                    "user",
                    "Ngày kết thúc trước ngày bắt đầu. (The period ends before it starts.)",
                ),
            })?;
        params.units = self.units.clone();
        Ok(params)
    }
}

/// `report`: the figures, tables and the records behind each figure.
#[tauri::command(async)]
pub fn report(shell: State<'_, Shell>, q: ReportQuery) -> Res<tidemark_domain::report::Report> {
    let params = q.params()?;
    with(&shell, |c| c.report(&params))
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

/// `export_report`: writes the report as `md`, `csv`, `xlsx` or `html` into the export folder
/// (never over an existing file) and says where.
#[tauri::command(async)]
pub fn export_report(
    shell: State<'_, Shell>,
    q: ReportQuery,
    format: String,
    details: bool,
) -> Res<Exported> {
    use tidemark_client::report::{render, RenderOptions, ReportFormat};
    let format: ReportFormat = format.parse().map_err(CmdError::from)?;
    let params = q.params()?;
    let (report, lang) = with(&shell, |c| {
        let lang = Lang::parse(&c.pref("lang")?.unwrap_or_default());
        Ok((c.report(&params)?, lang))
    })?;
    let bytes = render(&report, format, RenderOptions { lang, details })?;
    let dir = export_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
    let stem = format!("bao-cao-{}-{}", report.from, report.to);
    let ext = format.extension();
    let mut path = dir.join(format!("{stem}.{ext}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.{ext}"));
        n += 1;
    }
    tidemark_client::write_atomically(&path, &bytes)?;
    tracing::info!(bytes = bytes.len(), format = ext, "report exported");
    Ok(Exported {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
    })
}

/// `attachments`: the files record `id` refers to, where each hangs, and whether it (and its
/// thumbnail) is on this device.
#[tauri::command(async)]
pub fn attachments(shell: State<'_, Shell>, id: String) -> Res<Vec<AttachmentRow>> {
    with(&shell, |c| c.attachments(&id))
}

/// Header names of `attach_file`; values are percent-encoded UTF-8.
const H_ID: &str = "tidemark-id";
const H_PLACE: &str = "tidemark-place";
const H_NAME: &str = "tidemark-name";

fn header(request: &Request<'_>, name: &str) -> Res<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(files::percent_decode)
        .ok_or_else(|| {
            CmdError::new(
                "user",
                format!(
                    "Yêu cầu đính kèm thiếu hoặc sai `{name}`. \
                     (The attach request has no valid `{name}` header.)"
                ),
            )
        })
}

fn too_large(size: u64) -> CmdError {
    let mb = size.div_ceil(1024 * 1024);
    let max = MAX_ATTACHMENT_BYTES / (1024 * 1024);
    CmdError::new(
        "too_large",
        format!(
            "Tệp nặng {mb} MB, tệp đính kèm tối đa {max} MB. \
             (The file is {mb} MB; the largest attachment is {max} MB.)"
        ),
    )
}

/// Why a file cannot hang at `place`, in both languages (the client words it in English).
fn place_error(e: AttachPlaceError) -> ClientError {
    let vi = match e {
        AttachPlaceError::NotHere(..) => {
            "Loại bản ghi này không nhận tệp đính kèm ở vị trí đó.".to_string()
        }
        AttachPlaceError::NoSuchEntry(place, n) => {
            let (what, i) = match place {
                AttachPlace::Inspection(i) => ("lượt kiểm tra", i),
                AttachPlace::Violation(i) => ("vi phạm", i),
                AttachPlace::Record => ("mục", 0),
            };
            format!("Tuần tra không có {what} thứ {} (chỉ có {n}).", i + 1)
        }
    };
    ClientError::User(format!("{vi} ({e}.)"))
}

/// `attach_file`: the file's bytes are the raw request body (no JSON, no base64); headers
/// `tidemark-id`, `tidemark-place` (`{"on":"record"}`, `{"on":"violation","index":0}`…) and
/// `tidemark-name`, percent-encoded. A JSON array of bytes is accepted too (Tauri's fallback
/// when the web view blocks the IPC protocol).
#[tauri::command(async)]
pub fn attach_file(shell: State<'_, Shell>, request: Request<'_>) -> Res<Attached> {
    let id = header(&request, H_ID)?;
    let name = header(&request, H_NAME)?;
    let place: AttachPlace = serde_json::from_str(&header(&request, H_PLACE)?).map_err(|e| {
        CmdError::new(
            "user",
            format!("Vị trí đính kèm không hợp lệ. (Invalid attachment place: {e}.)"),
        )
    })?;
    let array;
    let bytes: &[u8] = match request.body() {
        InvokeBody::Raw(b) => b,
        InvokeBody::Json(v) => {
            array = Vec::<u8>::deserialize(v).map_err(|_| {
                CmdError::new(
                    "user",
                    "Nội dung tệp không đọc được. (The file's bytes are missing.)",
                )
            })?;
            &array
        }
    };
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    // Hashing and the thumbnail take a while for a big photo: done before taking the store.
    let prepared = tidemark_client::attachments::prepare(&name, bytes)?;
    let out = with(&shell, |c| {
        // The client checks the place too; checked here first to say why in Vietnamese.
        let mut record = c.show(&id)?.record;
        record.attachments_mut(place).map_err(place_error)?;
        c.attach_prepared(&id, place, &prepared, bytes)
    })?;
    shell.nudge();
    Ok(out)
}

/// A stored file read back: its bytes (checked against the hash) and the media type a record
/// gives it. The lock is held only to find the file, not while it is read.
struct Blob {
    bytes: Vec<u8>,
    mime: Option<String>,
}

fn read_blob(shell: &Shell, hash: &str) -> Res<Option<Blob>> {
    let found = with(shell, |c| {
        let file = c.blob_file(hash)?;
        if !c.store().blob_present(hash)? {
            return Ok(None);
        }
        let mime = c.store().referenced_blob(hash)?.map(|b| b.mime);
        Ok(Some((file, mime)))
    })?;
    let Some((file, mime)) = found else {
        return Ok(None);
    };
    // Read (and opened, in an encrypted store) outside the lock.
    let bytes = file.read().map_err(|e| {
        if matches!(e, ClientError::User(_)) {
            tracing::error!(hash = &hash[..12], "stored attachment damaged");
            CmdError::new(
                "internal",
                format!("Bản lưu của tệp {} trên máy đã hỏng. ({e})", &hash[..12],),
            )
        } else {
            e.into()
        }
    })?;
    Ok(Some(Blob { bytes, mime }))
}

fn not_here() -> CmdError {
    CmdError::new(
        "not_here",
        "Tệp chưa về máy này; đồng bộ sẽ mang tệp về. \
         (The file is not on this device yet; sync will bring it.)",
    )
}

/// `attachment_data`: a file on this device as a `data:` URL (thumbnails, image previews);
/// null when it has not arrived. Only images keep their type; anything else is
/// `application/octet-stream`, so the URL never renders as a page.
#[tauri::command(async)]
pub fn attachment_data(shell: State<'_, Shell>, hash: String) -> Res<Option<String>> {
    let Some(blob) = read_blob(&shell, &hash)? else {
        return Ok(None);
    };
    let sniffed = sniff_mime(&blob.bytes, "");
    let mime = if sniffed.starts_with("image/") {
        sniffed.as_str()
    } else {
        "application/octet-stream"
    };
    Ok(Some(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&blob.bytes)
    )))
}

/// `save_attachment`: writes a copy of file `hash` into the export folder, named after `name`
/// (cleaned: no folders, no control or reserved characters; the hash when nothing is left),
/// never over an existing file, and says where.
#[tauri::command(async)]
pub fn save_attachment(shell: State<'_, Shell>, hash: String, name: String) -> Res<Exported> {
    let blob = read_blob(&shell, &hash)?.ok_or_else(not_here)?;
    let file_name = files::safe_file_name(&name).unwrap_or_else(|| {
        let mime = blob
            .mime
            .clone()
            .unwrap_or_else(|| sniff_mime(&blob.bytes, ""));
        format!("{}.{}", &hash[..12], files::extension_for(&mime))
    });
    let dir = export_dir();
    let path = files::write_new(&dir, &file_name, &blob.bytes)
        .map_err(|e| ClientError::io(format!("saving into {}", dir.display()), e))?;
    tracing::info!(
        hash = &hash[..12],
        bytes = blob.bytes.len(),
        "attachment saved"
    );
    Ok(Exported {
        path: path.display().to_string(),
        bytes: blob.bytes.len() as u64,
    })
}

/// Where `open_attachment` put the copy it opened.
#[derive(Debug, Clone, Serialize)]
pub struct Opened {
    path: String,
}

/// `open_attachment`: copies file `hash` to `<first 12 hex>.<extension>` in
/// [`Shell::opened_dir`] (never named after the user's name for it; a private directory) and
/// opens it with the system's default application, without waiting. Copies older than a day
/// are removed, and an encrypted store's all go when it locks.
#[tauri::command(async)]
pub fn open_attachment(shell: State<'_, Shell>, hash: String) -> Res<Opened> {
    let blob = read_blob(&shell, &hash)?.ok_or_else(not_here)?;
    let mime = blob
        .mime
        .clone()
        .unwrap_or_else(|| sniff_mime(&blob.bytes, ""));
    let dir = shell.opened_dir();
    files::tidy_opened(&dir);
    files::create_private_dir(&dir)
        .map_err(|e| ClientError::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join(format!("{}.{}", &hash[..12], files::extension_for(&mime)));
    tidemark_client::write_atomically(&path, &blob.bytes)?;
    files::open_with_system(&path).map_err(|e| {
        CmdError::new(
            "user",
            format!(
                "Không mở được tệp bằng ứng dụng của hệ thống. \
                 (No application opened the file: {e}.)"
            ),
        )
    })?;
    tracing::info!(hash = &hash[..12], "attachment opened");
    Ok(Opened {
        path: path.display().to_string(),
    })
}
