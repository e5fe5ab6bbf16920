//! Attachments: attach a file, read it back, save a copy, open it in the system's application.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tauri::ipc::{InvokeBody, Request};
use tauri::State;
use tidemark_client::attachments::{sniff_mime, MAX_ATTACHMENT_BYTES};
use tidemark_client::{Attached, ClientError};
use tidemark_domain::{AttachPlace, AttachPlaceError};
use tidemark_store::AttachmentRow;

use super::{export_dir, with, CmdError, Exported, Res};
use crate::{files, Shell};

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
