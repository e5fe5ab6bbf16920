//! Bearer-token authentication as an extractor: a handler that takes [`Authed`] answers 401
//! to any request without a valid, non-revoked token.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::time::Instant;

use super::AppState;
use crate::db::Device;
use crate::error::AppError;

/// The device that made the request.
#[derive(Debug, Clone)]
pub struct Authed(pub Device);

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ip = super::client_ip(&parts.extensions);
        if state.failed_auth.blocked(ip, Instant::now()) {
            return Err(AppError::RateLimited);
        }
        let result = authenticate(parts, state).await;
        if let Err(AppError::Unauthorized(_)) = &result {
            state.failed_auth.record(ip, Instant::now());
        }
        result
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Authed, AppError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(AppError::Unauthorized("missing bearer token"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or(AppError::Unauthorized("malformed Authorization header"))?
        .to_string();
    let device = state.authenticate(token).await?;
    match device {
        Some(d) => Ok(Authed(d)),
        None => {
            tracing::info!("request with an unknown or revoked token");
            Err(AppError::Unauthorized("unknown or revoked token"))
        }
    }
}
