//! Resumable requests over HTTP (`tidemark_sync_protocol::resume`): a request named by
//! `Tidemark-Exchange` is read and run on a task of its own, so that a connection cut in the
//! middle of the upload leaves its bytes for a resumed upload, and one cut while the relay runs
//! it or sends its answer leaves the answer for `GET /v1/exchanges/{id}`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tidemark_sync_protocol::resume::{
    valid_id, ANSWER_FROM_HEADER, EXCHANGE_HEADER, RECEIVED_HEADER, RESUME_FROM_HEADER,
    STATE_ANSWERED, STATE_HEADER, STATE_RECEIVED, STATE_RUNNING,
};

use super::{AppState, Authed};
use crate::error::AppError;
use crate::exchanges::{Look, Refusal, Stored};

/// A connection that sends nothing for this long is taken as broken.
const READ_IDLE: Duration = Duration::from_secs(30);
/// How long `GET /v1/exchanges/{id}` waits for a request that is still arriving or running.
const SETTLE_WAIT: Duration = Duration::from_secs(20);

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap_or("").trim().to_string())
}

fn offset(headers: &HeaderMap, name: &'static str) -> Result<Option<usize>, AppError> {
    header_value(headers, name)
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| AppError::bad("bad_header", format!("{name} is a byte offset")))
        })
        .transpose()
}

fn exchange_id(raw: Option<String>) -> Result<Option<String>, AppError> {
    match raw {
        None => Ok(None),
        Some(id) if valid_id(&id) => Ok(Some(id)),
        Some(_) => Err(AppError::bad(
            "bad_header",
            "an exchange id is 16 to 64 characters of 0-9, A-Z, a-z, - and _",
        )),
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, v);
    }
}

/// A stored answer as a response, from byte `from` of its body; `None`: whole, as first sent
/// (the device that reads it knows it is the answer).
fn replay(stored: &Stored, from: Option<usize>) -> Result<Response, AppError> {
    let echo = from.is_some();
    let from = from.unwrap_or(0);
    if from > stored.body.len() {
        return Err(AppError::bad(
            "bad_header",
            format!(
                "the answer has {} bytes; {ANSWER_FROM_HEADER} is past its end",
                stored.body.len()
            ),
        ));
    }
    let mut response = Response::new(Body::from(stored.body.slice(from..)));
    *response.status_mut() = stored.status;
    *response.headers_mut() = stored.headers.clone();
    response.headers_mut().remove(CONTENT_LENGTH);
    if echo {
        set(response.headers_mut(), STATE_HEADER, STATE_ANSWERED);
        set(response.headers_mut(), ANSWER_FROM_HEADER, from);
    }
    Ok(response)
}

fn where_it_stands(state: &'static str, received: Option<usize>) -> Response {
    let mut response = axum::http::StatusCode::OK.into_response();
    set(response.headers_mut(), STATE_HEADER, state);
    if let Some(n) = received {
        set(response.headers_mut(), RECEIVED_HEADER, n);
    }
    response
}

/// Reads the whole body of a request that is not resumable, at most `max` bytes.
async fn read_all(body: Body, max: usize) -> Result<Vec<u8>, AppError> {
    let limited = http_body_util::Limited::new(body, max);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(AppError::TooLarge(
            "request body exceeds the configured limit".into(),
        )),
        Err(_) => Err(AppError::bad("bad_body", "request body could not be read")),
    }
}

/// Runs `run` over the request's whole body and headers. A request named by
/// `Tidemark-Exchange` is read and run on a task of its own, so that neither its bytes nor its
/// answer are lost with the connection; a repeated request of an exchange that ran gets the
/// same answer again. A resumed upload's own headers only name the exchange and the offset:
/// `run` gets the headers of the request that started it (encoding, session, dictionary).
pub async fn resumable<F, Fut>(
    state: AppState,
    device: &str,
    headers: &HeaderMap,
    body: Body,
    run: F,
) -> Response
where
    F: FnOnce(Vec<u8>, HeaderMap) -> Fut + Send + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let max = state.settings().max_request_bytes;
    let id = match exchange_id(header_value(headers, EXCHANGE_HEADER)) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return match read_all(body, max).await {
                Ok(bytes) => run(bytes, headers.clone()).await,
                Err(e) => e.into_response(),
            }
        }
        Err(e) => return e.into_response(),
    };
    let from = match offset(headers, RESUME_FROM_HEADER) {
        Ok(from) => from,
        Err(e) => return e.into_response(),
    };
    let exchanges = state.exchanges().clone();
    let ticket = match exchanges.begin(device, &id, from, headers) {
        Ok(ticket) => ticket,
        Err(Refusal::Answered(stored)) => {
            return replay(&stored, Some(0)).unwrap_or_else(IntoResponse::into_response)
        }
        Err(Refusal::Running) => return where_it_stands(STATE_RUNNING, None),
        Err(Refusal::Mismatch(held)) => {
            return AppError::Conflict {
                code: "resume_mismatch",
                message: format!(
                    "the relay holds {} bytes of this exchange, not {}; ask where it stands",
                    held.unwrap_or(0),
                    from.unwrap_or(0)
                ),
            }
            .into_response()
        }
    };
    let expected = offset(headers, CONTENT_LENGTH.as_str())
        .ok()
        .flatten()
        .map(|n| n + from.unwrap_or(0));
    let device = device.to_string();
    let task = tokio::spawn(async move {
        let mut body = body;
        let mut got = from.unwrap_or(0);
        let mut too_large = false;
        let complete = loop {
            match tokio::time::timeout(READ_IDLE, body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if !exchanges.append(&device, &id, ticket, &data, max) {
                        too_large = got + data.len() > max;
                        break false;
                    }
                    got += data.len();
                }
                Ok(None) => break expected.is_none_or(|n| n == got),
                Ok(Some(Err(_))) | Err(_) => break false,
            }
        };
        if too_large {
            exchanges.forget(&device, &id);
            return AppError::TooLarge("request body exceeds the configured limit".into())
                .into_response();
        }
        let Some((bytes, first)) = exchanges.finish(&device, &id, ticket, complete) else {
            tracing::info!(device = %device, received = got, "exchange cut; kept for a resume");
            return AppError::bad("incomplete_body", "the request body did not all arrive")
                .into_response();
        };
        let response = run(bytes, first).await;
        let (parts, body) = response.into_parts();
        let body = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(body) => body,
            Err(_) => Bytes::new(),
        };
        let stored = Arc::new(Stored {
            status: parts.status,
            headers: parts.headers,
            body,
        });
        exchanges.answer(&device, &id, stored.clone());
        replay(&stored, None).unwrap_or_else(IntoResponse::into_response)
    });
    match task.await {
        Ok(response) => response,
        Err(e) => AppError::Internal(format!("exchange task failed: {e}")).into_response(),
    }
}

/// `GET /v1/exchanges/{id}`: where an exchange stands — the bytes of its request the relay
/// holds, or its answer from `Tidemark-Answer-From` on.
pub async fn look(
    State(state): State<AppState>,
    Authed(device): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let id = exchange_id(Some(id))?.unwrap_or_default();
    let from = offset(&headers, ANSWER_FROM_HEADER)?.unwrap_or(0);
    match state
        .exchanges()
        .settled(&device.id, &id, SETTLE_WAIT)
        .await
    {
        Look::Unknown => Err(AppError::NotFound { what: "exchange" }),
        Look::Partial(n) | Look::Receiving(n) => Ok(where_it_stands(STATE_RECEIVED, Some(n))),
        Look::Running => Ok(where_it_stands(STATE_RUNNING, None)),
        Look::Answered(stored) => replay(&stored, Some(from)),
    }
}
