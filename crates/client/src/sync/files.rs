//! Attachments move after the records that refer to them, thumbnails before full files, in
//! chunks that are never sent twice: an upload asks the relay which chunks it holds and sends
//! only the others; a download keeps the verified chunks it has in a partial file and asks for
//! the rest by range. A dropped link ends the phase with a retryable error; the next session
//! picks up where this one stopped.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};

use serde::Serialize;
use tidemark_store::BlobWork;
use tidemark_sync_protocol::attachment::{chunk_range, sha256_hex, Manifest, CHUNK_SIZE};

use super::{lock, RelayConfig, RelayHttp, SharedClient, SyncError, SyncStatus};
use crate::{now_secs, vault, ClientError};

/// Relay answers that concern one file, not the session: the file is skipped and the others
/// move on.
const PER_FILE: &[&str] = &[
    "forbidden",
    "not_found",
    "too_large",
    "quota_exceeded",
    "bad_manifest",
    "bad_hash",
    "chunk_mismatch",
    "file_mismatch",
    "incomplete",
];

/// What the file phase of a session did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FilesReport {
    /// Files (thumbnails included) the relay now holds because of this session.
    pub uploaded: usize,
    /// Files that arrived here.
    pub downloaded: usize,
    /// Chunk bytes sent (file content only; headers are in the wire totals).
    pub bytes_sent: u64,
    /// Chunk bytes received.
    pub bytes_received: u64,
    /// Files this device lacks that the relay does not have (yet) or will not give.
    pub waiting: usize,
    /// Files the relay refused, with the reason code (`too_large`, `quota_exceeded`…).
    pub refused: Vec<(String, String)>,
}

/// Which way a file moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To the relay.
    Up,
    /// From the relay.
    Down,
}

struct Phase<'a> {
    shared: &'a SharedClient,
    cfg: &'a RelayConfig,
    http: &'a RelayHttp,
    progress: &'a (dyn Fn(SyncStatus) + Send + Sync),
    report: FilesReport,
    files_done: usize,
    files_total: usize,
}

/// Moves every pending file: thumbnails up and down, then full files up and down.
pub(crate) async fn transfer(
    shared: &SharedClient,
    cfg: &RelayConfig,
    http: &RelayHttp,
    progress: &(dyn Fn(SyncStatus) + Send + Sync),
) -> Result<FilesReport, SyncError> {
    let (ups, downs) = {
        let c = lock(shared);
        (
            c.store().uploads_pending(cfg.key())?,
            c.store().downloads_pending()?,
        )
    };
    let mut p = Phase {
        shared,
        cfg,
        http,
        progress,
        report: FilesReport::default(),
        files_done: 0,
        files_total: ups.len() + downs.len(),
    };
    for thumbs in [true, false] {
        for w in ups.iter().filter(|w| w.thumb == thumbs) {
            p.upload(w).await?;
            p.files_done += 1;
        }
        for w in downs.iter().filter(|w| w.thumb == thumbs) {
            p.download(w).await?;
            p.files_done += 1;
        }
    }
    if p.files_total > 0 {
        tracing::info!(
            uploaded = p.report.uploaded,
            downloaded = p.report.downloaded,
            bytes_sent = p.report.bytes_sent,
            bytes_received = p.report.bytes_received,
            waiting = p.report.waiting,
            refused = p.report.refused.len(),
            "files moved"
        );
    }
    Ok(p.report)
}

impl Phase<'_> {
    fn tell(&self, direction: Direction, w: &BlobWork, done: u64, total: u64) {
        (self.progress)(SyncStatus::Transferring {
            direction,
            hash: w.hash.clone(),
            thumb: w.thumb,
            done,
            total,
            file: self.files_done + 1,
            files: self.files_total,
        });
    }

    /// A relay answer about this file only: note it and go on; anything else ends the phase.
    fn per_file(&mut self, w: &BlobWork, e: SyncError) -> Result<(), SyncError> {
        if !PER_FILE.contains(&e.code.as_str()) {
            return Err(e);
        }
        tracing::warn!(hash = &w.hash[..12], code = %e.code, "file skipped");
        self.report.refused.push((w.hash.clone(), e.code));
        Ok(())
    }

    async fn upload(&mut self, w: &BlobWork) -> Result<(), SyncError> {
        let file = lock(self.shared).blob_file(&w.hash)?;
        let bytes = match file.read() {
            Ok(b) => b,
            Err(ClientError::Io { source, .. }) => {
                return Err(SyncError::fatal(
                    "store",
                    format!("reading attachment {}: {source}", &w.hash[..12]),
                ))
            }
            Err(_) => {
                return self.per_file(
                    w,
                    SyncError::fatal("file_mismatch", "the stored copy is damaged"),
                )
            }
        };
        let manifest = Manifest::of(&bytes, &w.mime);
        let state = match self.http.attachment_begin(&w.hash, &manifest).await {
            Ok(s) => s,
            Err(e) => return self.per_file(w, e),
        };
        let total = manifest.size;
        let have: HashSet<u64> = state.have.into_iter().collect();
        let mut complete = state.complete;
        let mut done: u64 = have.iter().map(|&i| manifest.chunk_len(i)).sum();
        self.tell(Direction::Up, w, done, total);
        for (i, _) in manifest.chunks.iter().enumerate() {
            let i = i as u64;
            if complete || have.contains(&i) {
                continue;
            }
            let (a, b) = chunk_range(manifest.size, i);
            match self
                .http
                .attachment_chunk(&w.hash, i, &bytes[a as usize..b as usize])
                .await
            {
                Ok(c) => complete = c,
                Err(e) => return self.per_file(w, e),
            }
            done += b - a;
            self.report.bytes_sent += b - a;
            self.tell(Direction::Up, w, done, total);
        }
        if complete || manifest.chunks.is_empty() {
            lock(self.shared)
                .store()
                .mark_uploaded(self.cfg.key(), &w.hash, now_secs())?;
            self.report.uploaded += 1;
        }
        Ok(())
    }

    async fn download(&mut self, w: &BlobWork) -> Result<(), SyncError> {
        let remote = match self.http.attachment_meta(&w.hash).await {
            Ok(r) if r.complete => r,
            Ok(_) => {
                self.report.waiting += 1;
                return Ok(());
            }
            Err(e) if matches!(e.code.as_str(), "forbidden" | "not_found") => {
                self.report.waiting += 1;
                return Ok(());
            }
            Err(e) => return self.per_file(w, e),
        };
        let m = remote.manifest;
        if m.check().is_err() {
            return Err(SyncError::bad_response(format!(
                "the relay's manifest of {} is malformed",
                &w.hash[..12]
            )));
        }
        let (path, key) = {
            let c = lock(self.shared);
            (c.partial_path(&w.hash)?, c.file_key())
        };
        let io = |e: std::io::Error| {
            SyncError::fatal("store", format!("writing a download in progress: {e}"))
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        // Only whole, verified chunks were ever appended (sealed, when the store is
        // encrypted, behind a header); a tail from a crash is cut off.
        let header_len = if key.is_some() {
            vault::BLOB_HEADER_LEN
        } else {
            0
        };
        let stored_chunk = vault::stored_chunk_len(key.as_ref());
        let len = file.metadata().map_err(io)?.len();
        let mut header = Vec::new();
        if let Some(k) = &key {
            if len < header_len {
                header = k.header();
                file.set_len(0).map_err(io)?;
                file.write_all(&header).map_err(io)?;
            } else {
                header = vec![0; header_len as usize];
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.read_exact(&mut header).map_err(io)?;
                if !vault::is_sealed(&header) {
                    // Left from before the store was encrypted: start again.
                    header = k.header();
                    file.set_len(0).map_err(io)?;
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    file.write_all(&header).map_err(io)?;
                }
            }
        }
        let len = file.metadata().map_err(io)?.len();
        let kept = ((len - header_len) / stored_chunk).min(m.chunks.len() as u64);
        let mut done = (kept * CHUNK_SIZE).min(m.size);
        file.set_len(header_len + kept * stored_chunk).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        self.tell(Direction::Down, w, done, m.size);
        for i in kept..m.chunks.len() as u64 {
            let (a, b) = chunk_range(m.size, i);
            let bytes = match self.http.attachment_range(&w.hash, a, b).await {
                Ok(b) => b,
                Err(e) => return self.per_file(w, e),
            };
            if sha256_hex(&bytes) != m.chunks[i as usize] {
                return Err(SyncError::bad_response(format!(
                    "chunk {i} of {} arrived damaged; it will be fetched again",
                    &w.hash[..12]
                )));
            }
            match &key {
                Some(k) => file
                    .write_all(&k.seal_segment(&header, &w.hash, i, &bytes)?)
                    .map_err(io)?,
                None => file.write_all(&bytes).map_err(io)?,
            }
            file.sync_data().map_err(io)?;
            done = b;
            self.report.bytes_received += b - a;
            self.tell(Direction::Down, w, done, m.size);
        }
        drop(file);
        let stored = std::fs::read(&path).map_err(io)?;
        let whole = vault::open_blob(key.as_ref(), &w.hash, stored).unwrap_or_default();
        if whole.len() as u64 != m.size || sha256_hex(&whole) != w.hash {
            let _ = std::fs::remove_file(&path);
            return self.per_file(
                w,
                SyncError::fatal(
                    "file_mismatch",
                    "the downloaded file does not match its hash",
                ),
            );
        }
        lock(self.shared).finish_download(&w.hash, m.size)?;
        self.report.downloaded += 1;
        Ok(())
    }
}
