//! The relay's one error type, with a stable machine-readable code and an HTTP status.
//!
//! Every failure a client can see is an [`AppError`]; its `IntoResponse` writes
//! `{"error":{"code":..., "message":...}}` so clients branch on the code, never on the text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A failure of a relay operation, at any layer.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No token, an unknown token or a revoked device.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the unit may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (a kind, never record content).
        what: &'static str,
    },
    /// The thing exists already or the request clashes with the stored state.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// The request is malformed.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// A body or message is larger than configured.
    #[error("{0}")]
    TooLarge(String),
    /// The uploading unit's attachments would pass its quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A `Range` that starts at or past the end of the file.
    #[error("the range starts past the end of the file ({size} bytes); ask for bytes before it")]
    RangeNotSatisfiable {
        /// Size of the file.
        size: u64,
    },
    /// Well formed, but the content does not check out against what was declared.
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// Too many attempts from this address; try again later.
    #[error("too many attempts; try again in a minute")]
    RateLimited,
    /// A `Content-Encoding` the relay does not speak.
    #[error("unsupported content encoding")]
    UnsupportedEncoding,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Anything else that is the relay's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A 400 with the given code.
    pub fn bad(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict { code, .. }
            | AppError::BadRequest { code, .. }
            | AppError::Unprocessable { code, .. } => code,
            AppError::TooLarge(_) => "too_large",
            AppError::QuotaExceeded(_) => "quota_exceeded",
            AppError::RangeNotSatisfiable { .. } => "bad_range",
            AppError::UnsupportedEncoding => "unsupported_encoding",
            AppError::RateLimited => "rate_limited",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) | AppError::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({"error": {"code": self.code(), "message": message}});
        let mut response = (status, Json(body)).into_response();
        if let AppError::RangeNotSatisfiable { size } = &self {
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!("bytes */{size}")) {
                response
                    .headers_mut()
                    .insert(axum::http::header::CONTENT_RANGE, v);
            }
        }
        response
            .extensions_mut()
            .insert(crate::metrics::ErrorCode(self.code()));
        response
    }
}
