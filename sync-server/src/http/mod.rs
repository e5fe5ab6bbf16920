//! The HTTP surface: shared state, the router with its layers, and `serve`.

mod attachments;
mod auth;
mod batch;
mod body;
mod bundles;
mod exchange;
mod handlers;
mod keyframe;
mod offerframe;
mod queue;
mod session;
mod sync;
mod tls;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::cache::DocCache;
use crate::db::{Db, Device, DiskSync, Tokens};
use crate::error::AppError;
use crate::exchanges::Exchanges;
use crate::metrics::{ErrorCode, Metrics};
use crate::ratelimit::RateLimit;
use crate::session::Sessions;
use crate::settings::Settings;

pub use auth::Authed;

/// Most bytes the relay keeps of cut uploads and sent answers, for devices to resume them.
pub const EXCHANGE_BYTES: usize = 64 * 1024 * 1024;

/// State shared by all handlers: the database and the settings.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database, on a thread of its own that does one request's work at a time, in the
    /// order they asked: a burst of requests waits in a queue, not as a crowd of threads.
    db: Arc<queue::Queue<Db>>,
    /// Where a request waits, after its turn at the database, for what the database holds to
    /// be on disk before it answers (group commit).
    disk: Arc<DiskSync>,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    cache: Arc<Mutex<DocCache>>,
    sessions: Arc<Mutex<Sessions>>,
    failed_auth: Arc<RateLimit>,
    enrolments: Arc<RateLimit>,
    exchanges: Arc<Exchanges>,
    /// Requests waiting for the database or holding it.
    at_db: Arc<std::sync::atomic::AtomicUsize>,
    /// When a request last found another before it at the database, in ms after `started`.
    crowded_ms: Arc<std::sync::atomic::AtomicU64>,
    /// When the state was made: the origin of `crowded_ms`.
    started: std::time::Instant,
    /// The key directory's last compressed frame.
    key_frames: Arc<keyframe::KeyFrames>,
    /// Runs of first offers compressed so far.
    offer_frames: Arc<offerframe::OfferFrames>,
    /// Tokens are checked on a connection of their own, on a thread of its own, outside the
    /// database's queue.
    tokens: Arc<queue::Queue<Tokens>>,
}

impl AppState {
    /// Opens the database under `settings.data_dir`.
    pub fn open(settings: Settings) -> Result<AppState, AppError> {
        let db = Db::open(&settings.database_path())?;
        crate::references::backfill(&db)?;
        let tokens = Tokens::open(&settings.database_path())?;
        let minute = Duration::from_secs(60);
        let idle = Duration::from_secs(settings.doc_idle_secs);
        let cache = DocCache::new(settings.doc_cache_bytes, idle);
        let at_db = Arc::default();
        let syncs = Arc::default();
        // After the backfill, whose commits synced themselves.
        let disk = db.defer_syncs(Arc::clone(&at_db), Arc::clone(&syncs))?;
        let metrics = Metrics::with_db(db.commits(), syncs);
        Ok(AppState {
            db: Arc::new(queue::Queue::start("tidemark-db", db)?),
            disk: Arc::new(disk),
            failed_auth: Arc::new(RateLimit::new(settings.max_failed_auth_per_minute, minute)),
            enrolments: Arc::new(RateLimit::new(settings.max_enrolments_per_minute, minute)),
            settings: Arc::new(settings),
            metrics: Arc::new(metrics),
            cache: Arc::new(Mutex::new(cache)),
            sessions: Arc::new(Mutex::new(Sessions::new(idle))),
            exchanges: Arc::new(Exchanges::new(EXCHANGE_BYTES)),
            at_db,
            crowded_ms: Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
            started: std::time::Instant::now(),
            key_frames: Arc::default(),
            offer_frames: Arc::default(),
            tokens: Arc::new(queue::Queue::start("tidemark-tokens", tokens)?),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The exchanges a device can resume.
    pub(crate) fn exchanges(&self) -> &Arc<Exchanges> {
        &self.exchanges
    }

    /// The relay's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Runs `f` with the relay's in-memory documents and session states, for a client session
    /// named `session`. Call it inside [`Self::with_db`]: the lock order is database, then
    /// cache, then sessions.
    pub(crate) fn with_memory<T>(
        &self,
        session: Option<&str>,
        f: impl FnOnce(&mut crate::sync::Memory<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let poisoned = || AppError::Internal("memory lock poisoned".into());
        let mut docs = self.cache.lock().map_err(|_| poisoned())?;
        let mut sessions = self.sessions.lock().map_err(|_| poisoned())?;
        f(&mut crate::sync::Memory {
            docs: &mut docs,
            sessions: &mut sessions,
            session,
        })
    }

    /// The device a bearer token belongs to, unless revoked: read on the token reader's
    /// thread, without waiting for the database's queue.
    pub async fn authenticate(&self, token: String) -> Result<Option<Device>, AppError> {
        self.tokens
            .run(move |tokens| tokens.authenticate(&token))
            .await
    }

    /// Runs `f` with the database on its thread, after the work of the requests that asked
    /// before (see [`queue`]), and returns once what the database held at the end of the turn
    /// is on disk (see [`DiskSync`]): the database goes on to the next request first. If the
    /// sync fails the answer is the error, so a device is never told of anything, written by
    /// itself or by another, that power loss could take back.
    pub async fn with_db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, AppError> + Send + 'static,
    {
        let at_db = AtDb::enter(&self.at_db);
        if at_db.others > 0 {
            let now = self.started.elapsed().as_millis() as u64;
            self.crowded_ms
                .store(now, std::sync::atomic::Ordering::Relaxed);
        }
        let disk = Arc::clone(&self.disk);
        let turn = self
            .db
            .run(move |db| {
                let out = f(db);
                Ok((out, disk.ticket(db.changes())))
            })
            .await;
        drop(at_db);
        let (answer, ticket) = turn?;
        self.disk.wait(ticket).await?;
        answer
    }
}

impl AppState {
    /// Whether the relay is busy: other requests wait for the database now, or one found
    /// others before it less than [`BUSY_LINGER`] ago. Work the relay can trade away
    /// (compression effort) then yields.
    pub fn busy(&self) -> bool {
        self.busy_at(self.started.elapsed())
    }

    /// [`Self::busy`] at `now` after the state was made.
    fn busy_at(&self, now: Duration) -> bool {
        let crowded = self.crowded_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.at_db.load(std::sync::atomic::Ordering::Relaxed) > 0
            || (crowded != u64::MAX
                && (now.as_millis() as u64).saturating_sub(crowded)
                    < BUSY_LINGER.as_millis() as u64)
    }
}

/// How long the relay counts as busy after a request last found others before it. A burst's
/// queue empties now and then while its requests still arrive, and the next to come would be
/// compressed at the idle levels (19 for small answers, about 3 ms each, with the request for
/// a dictionary) while the rest of the burst arrives behind it. A single device syncing alone,
/// as on a weak link, never finds another before it and keeps the idle levels.
pub const BUSY_LINGER: Duration = Duration::from_secs(1);

/// One request counted in [`AppState::busy`] until dropped.
struct AtDb {
    count: Arc<std::sync::atomic::AtomicUsize>,
    /// Requests that were at the database when this one came.
    others: usize,
}

impl AtDb {
    fn enter(count: &Arc<std::sync::atomic::AtomicUsize>) -> AtDb {
        let others = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        AtDb {
            count: Arc::clone(count),
            others,
        }
    }
}

impl Drop for AtDb {
    fn drop(&mut self) {
        self.count
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The relay's routes with body limit, timeout, concurrency limit and tracing layers.
///
/// Bundle uploads have their own body limit (`max_bundle_bytes`) and timeout
/// (`bundle_timeout_secs`): a bundle is far larger than a sync round. Attachment chunks have a
/// body limit of one chunk (and some room), whatever `max_request_bytes` is.
pub fn router(state: AppState) -> Router {
    let s = state.settings();
    let timeout = Duration::from_secs(s.request_timeout_secs.max(1));
    let bundle_timeout = Duration::from_secs(s.bundle_timeout_secs.max(1));
    let concurrency = s.max_concurrent_requests.max(1);
    let api = Router::new()
        .route("/v1/health", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .route("/v1/enroll", post(handlers::enroll))
        .route(
            "/v1/keys",
            post(handlers::register_key).get(handlers::list_keys),
        )
        .route("/v1/documents", post(handlers::create_document))
        .route("/v1/documents/batch", post(batch::create_documents))
        .route("/v1/documents/{id}", get(handlers::document_info))
        .route("/v1/documents/{id}/grants", post(handlers::share_document))
        .route("/v1/feed", get(handlers::feed))
        .route("/v1/receipts", post(batch::receipts))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/session", post(session::session))
        .route("/v1/exchanges/{id}", get(exchange::look))
        .route(
            "/v1/attachments/{hash}",
            get(attachments::info).post(attachments::begin),
        )
        .route("/v1/attachments/{hash}/content", get(attachments::content))
        .layer(DefaultBodyLimit::max(s.max_request_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    let uploads = Router::new()
        .route("/v1/bundles", post(bundles::upload))
        .layer(DefaultBodyLimit::max(s.max_bundle_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            bundle_timeout,
        ));
    let chunks = Router::new()
        .route(
            "/v1/attachments/{hash}/chunks/{index}",
            put(attachments::put_chunk),
        )
        .layer(DefaultBodyLimit::max(attachments::CHUNK_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    api.merge(uploads)
        .merge(chunks)
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .layer(tower::limit::ConcurrencyLimitLayer::new(concurrency))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let path = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                tracing::info_span!("request", method = %req.method(), path)
            }),
        )
        .with_state(state)
}

/// Counts every finished request by matched route, status and error code.
async fn count(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(req).await;
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    state
        .metrics
        .request(&route, response.status().as_u16(), code);
    response
}

/// The client's address (unspecified when the server runs without connect info, as in
/// `oneshot` tests).
fn client_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// Serves the relay on `listener` until `shutdown` completes, then finishes in-flight requests.
///
/// With `tls_cert` and `tls_key` set it speaks HTTPS (rustls). Without them it speaks plain
/// HTTP, and refuses a non-loopback listener unless `allow_insecure` is set (for use behind a
/// TLS-terminating proxy, on purpose).
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::Internal(format!("listener has no address: {e}")))?;
    let acceptor = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => {
            return Err(AppError::bad(
                "bad_tls_config",
                "tls_cert and tls_key must be set together",
            ))
        }
    };
    check_listen(addr, acceptor.is_some(), &settings)?;
    let state = AppState::open(settings)?;
    tracing::info!(%addr, tls = acceptor.is_some(), "relay listening");
    if let Some(acceptor) = acceptor {
        tls::serve_tls(listener, acceptor, router(state), shutdown).await?;
        tracing::info!("relay stopped");
        return Ok(());
    }
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AppError::Internal(format!("server failed: {e}")))?;
    tracing::info!("relay stopped");
    Ok(())
}

/// Refuses plain HTTP on an address other than loopback unless `allow_insecure` is set.
pub fn check_listen(addr: SocketAddr, tls: bool, settings: &Settings) -> Result<(), AppError> {
    if !tls && !addr.ip().is_loopback() && !settings.allow_insecure {
        return Err(AppError::bad(
            "insecure_listen",
            "plain HTTP outside loopback needs allow_insecure = true",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // One runtime thread: a request counted in `at_db` has also joined the queue.
    #[tokio::test]
    async fn requests_reach_the_database_one_at_a_time_in_the_order_they_asked() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        })
        .unwrap();
        // The first request holds the database until told to let go.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (entered, first_in) = tokio::sync::oneshot::channel();
        let first = {
            let state = state.clone();
            tokio::spawn(async move {
                state
                    .with_db(move |_| {
                        entered.send(()).unwrap();
                        held.recv().unwrap();
                        Ok(())
                    })
                    .await
            })
        };
        first_in.await.unwrap();
        // Thirty more ask while it holds, one after the other.
        let order = Arc::new(Mutex::new(Vec::new()));
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut waiting = Vec::new();
        for i in 0..30 {
            let (asking, order) = (state.clone(), Arc::clone(&order));
            let (inside, most) = (Arc::clone(&inside), Arc::clone(&most));
            waiting.push(tokio::spawn(async move {
                asking
                    .with_db(move |db| {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        db.unit_chain("none").ok();
                        order.lock().unwrap().push(i);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            }));
            // Until this one waits in the queue: then the next asks.
            while state.at_db.load(Ordering::SeqCst) < i + 2 {
                tokio::task::yield_now().await;
            }
        }
        assert!(state.busy(), "thirty wait");
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..30).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two at once");
        // Busy a while after the queue empties, then not.
        assert!(state.busy(), "the burst was a moment ago");
        let later = state.started.elapsed() + BUSY_LINGER;
        assert!(!state.busy_at(later));
    }
}
