//! File helpers of the attachment commands: names fit for the user's folders, copies that never
//! replace a file, the system's default application, and the headers `attach_file` carries.
//!
//! A file's name is shown and, when the user saves a copy, cleaned into a name in their export
//! folder; the copies the app opens are named by hash only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Decodes a percent-encoded UTF-8 header value (`encodeURIComponent` in the UI).
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Longest name written into the export folder, in bytes (room left for a `-NN` suffix).
const MAX_SAVED_NAME: usize = 200;

/// Names Windows reserves for devices, whatever the extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A record's file name made safe to create in a folder on any system: its last path component
/// only, no control characters or characters Windows refuses, no leading dots (hidden files)
/// or trailing dots and spaces, not a device name, at most [`MAX_SAVED_NAME`] bytes with its
/// extension kept. `None` when nothing usable is left.
pub fn safe_file_name(name: &str) -> Option<String> {
    let last = tidemark_domain::records::clean_attachment_name(name)?;
    let mapped: String = last
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let mut s = mapped
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_string();
    if s.is_empty() {
        return None;
    }
    let device = RESERVED
        .iter()
        .any(|r| split_ext(&s).0.eq_ignore_ascii_case(r));
    if device {
        s = format!("_{s}");
    }
    if s.len() > MAX_SAVED_NAME {
        let (stem, ext) = split_ext(&s);
        let ext = if ext.len() <= 16 { ext } else { "" };
        let mut stem = stem.to_string();
        while stem.len() + ext.len() > MAX_SAVED_NAME {
            stem.pop();
        }
        s = format!("{}{ext}", stem.trim_end_matches(['.', ' ']));
    }
    Some(s)
}

/// `("ảnh tàu cá", ".png")`; a name without a dot (or only a leading one) has no extension.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    }
}

/// The usual extension of a media type (`bin` when unknown).
pub fn extension_for(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "video/mp4" => "mp4",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/msword" => "doc",
        "application/vnd.ms-excel" => "xls",
        "application/zip" => "zip",
        _ => "bin",
    }
}

/// Writes `bytes` as a new file called `name` in `dir`, or `stem-2.ext`, `stem-3.ext`… when
/// that exists: never over an existing file (the name is claimed with `create_new`, so two
/// saves at once cannot take the same one). Returns the path written.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let (stem, ext) = split_ext(name);
    for n in 1..10_000 {
        let path = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}{ext}"))
        };
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = file.write_all(bytes).and_then(|_| file.sync_all());
        if let Err(e) = written {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        return Ok(path);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "too many files of that name",
    ))
}

/// Creates `dir` (and its parents) readable by this user only where the system has modes.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Removes the copies opened more than a day ago from `dir` (errors ignored: it is tidying).
pub fn tidy_opened(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Opens `path` with the system's default application, without waiting for it:
/// `TIDEMARK_OPEN_WITH` (a program given the path; tests use it), else `open` on macOS,
/// `cmd /C start` on Windows, `xdg-open` elsewhere. A thread reaps the launcher when it exits.
pub fn open_with_system(path: &Path) -> std::io::Result<()> {
    let mut cmd = match std::env::var_os("TIDEMARK_OPEN_WITH") {
        Some(program) => {
            let mut c = Command::new(program);
            c.arg(path);
            c
        }
        None => system_opener(path),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn()?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

#[cfg(target_os = "macos")]
fn system_opener(path: &Path) -> Command {
    let mut c = Command::new("open");
    c.arg(path);
    c
}

#[cfg(windows)]
fn system_opener(path: &Path) -> Command {
    use std::os::windows::process::CommandExt;
    // `start`'s first quoted argument is a window title; the path is quoted by hand so that
    // cmd does not read `&` or `^` in it (a Windows path cannot contain `"`).
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    let mut c = Command::new("cmd");
    c.raw_arg(format!("/C start \"\" \"{}\"", path.display()))
        .creation_flags(CREATE_NO_WINDOW);
    c
}

#[cfg(not(any(windows, target_os = "macos")))]
fn system_opener(path: &Path) -> Command {
    let mut c = Command::new("xdg-open");
    c.arg(path);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_decode_from_percent_encoding() {
        assert_eq!(
            percent_decode("%E1%BA%A3nh%20t%C3%A0u%20c%C3%A1.png").as_deref(),
            Some("ảnh tàu cá.png")
        );
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%E1"), None, "not UTF-8");
        assert_eq!(percent_decode("50%"), None);
    }

    #[test]
    fn saved_names_stay_inside_the_folder_and_are_legal_everywhere() {
        assert_eq!(
            safe_file_name("ảnh tàu cá.png").as_deref(),
            Some("ảnh tàu cá.png")
        );
        assert_eq!(safe_file_name("../../x.jpg").as_deref(), Some("x.jpg"));
        assert_eq!(
            safe_file_name("C:\\Windows\\biên bản.pdf").as_deref(),
            Some("biên bản.pdf")
        );
        assert_eq!(
            safe_file_name("a<b>:c?.txt").as_deref(),
            Some("a_b__c_.txt")
        );
        assert_eq!(safe_file_name(".bashrc").as_deref(), Some("bashrc"));
        assert_eq!(safe_file_name("x\n\u{0}y. . ").as_deref(), Some("xy"));
        assert_eq!(safe_file_name("CON.txt").as_deref(), Some("_CON.txt"));
        assert_eq!(safe_file_name(".."), None);
        assert_eq!(safe_file_name("dir/"), None);
        assert_eq!(safe_file_name(" . "), None);
        let long = format!("{}.jpeg", "đ".repeat(120));
        let s = safe_file_name(&long).expect("long name");
        assert!(s.len() <= MAX_SAVED_NAME && s.ends_with("đ.jpeg"), "{s}");
    }

    #[test]
    fn new_files_never_replace_old_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write_new(dir.path(), "biên bản.pdf", b"1").expect("first");
        let b = write_new(dir.path(), "biên bản.pdf", b"2").expect("second");
        let c = write_new(dir.path(), "README", b"3").expect("no extension");
        let d = write_new(dir.path(), "README", b"4").expect("again");
        assert_eq!(a, dir.path().join("biên bản.pdf"));
        assert_eq!(b, dir.path().join("biên bản-2.pdf"));
        assert_eq!(d, dir.path().join("README-2"));
        assert_eq!(std::fs::read(&a).expect("a"), b"1");
        assert_eq!(std::fs::read(&c).expect("c"), b"3");
    }
}
