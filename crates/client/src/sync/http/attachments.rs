//! Attachments over HTTP: start or resume an upload, send a chunk, read a file's manifest and
//! a byte range of it.

use reqwest::header::RANGE;
use serde::Deserialize;
use tidemark_sync_protocol::attachment::Manifest;

use super::RelayHttp;
use crate::sync::SyncError;

/// The relay's answer to starting (or resuming) an upload.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadState {
    /// Whether the relay has the whole file already.
    pub complete: bool,
    /// Indexes of the chunks it holds.
    #[serde(default)]
    pub have: Vec<u64>,
}

/// What the relay holds of an attachment.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteAttachment {
    /// Size, media type and chunk hashes.
    #[serde(flatten)]
    pub manifest: Manifest,
    /// Whether every chunk is in.
    pub complete: bool,
}

impl RelayHttp {
    /// `POST /v1/attachments/{hash}`: declares the file; the relay says which chunks it has.
    pub async fn attachment_begin(
        &self,
        hash: &str,
        manifest: &Manifest,
    ) -> Result<UploadState, SyncError> {
        let body =
            serde_json::to_value(manifest).map_err(|e| SyncError::internal(e.to_string()))?;
        self.json(
            self.http.post(self.url(&format!("/v1/attachments/{hash}"))),
            Some(&body),
        )
        .await
    }

    /// `PUT /v1/attachments/{hash}/chunks/{index}`; returns whether the file is complete.
    pub async fn attachment_chunk(
        &self,
        hash: &str,
        index: u64,
        bytes: &[u8],
    ) -> Result<bool, SyncError> {
        #[derive(Deserialize)]
        struct Answer {
            complete: bool,
        }
        let req = self
            .http
            .put(self.url(&format!("/v1/attachments/{hash}/chunks/{index}")));
        let raw = self
            .send_body(req, Some((bytes, "application/octet-stream")), false)
            .await?;
        let a: Answer = serde_json::from_slice(&raw).map_err(|e| {
            SyncError::bad_response(format!("unexpected answer from the relay: {e}"))
        })?;
        Ok(a.complete)
    }

    /// `GET /v1/attachments/{hash}`.
    pub async fn attachment_meta(&self, hash: &str) -> Result<RemoteAttachment, SyncError> {
        self.json(
            self.http.get(self.url(&format!("/v1/attachments/{hash}"))),
            None,
        )
        .await
    }

    /// `GET /v1/attachments/{hash}/content` for bytes `[start, end)`.
    pub async fn attachment_range(
        &self,
        hash: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, SyncError> {
        let req = self
            .http
            .get(self.url(&format!("/v1/attachments/{hash}/content")))
            .header(RANGE, format!("bytes={start}-{}", end.saturating_sub(1)));
        let bytes = self.send(req, None).await?;
        if bytes.len() as u64 != end - start {
            return Err(SyncError::bad_response(format!(
                "asked for {} bytes of an attachment, got {}",
                end - start,
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}
