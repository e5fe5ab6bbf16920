//! A relay run in-process on loopback, for the demo and end-to-end tests of other crates: start
//! it, administer its database (units, enrolment codes), stop it, start it again on the same
//! port. Dropping it aborts the server task.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::db::Db;
use crate::error::AppError;
use crate::settings::Settings;

/// A relay serving on `url` until [`EmbeddedRelay::stop`] or drop.
#[derive(Debug)]
pub struct EmbeddedRelay {
    /// `http://127.0.0.1:PORT` (or `https://` with TLS settings).
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), AppError>>>,
}

impl EmbeddedRelay {
    /// Starts a relay with default settings and its database under `data_dir`, on
    /// `127.0.0.1` at a free port.
    pub async fn start(data_dir: &Path) -> Result<EmbeddedRelay, AppError> {
        let settings = Settings {
            data_dir: data_dir.to_path_buf(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ..Settings::default()
        };
        EmbeddedRelay::start_on(settings.listen, settings).await
    }

    /// Starts a relay with `settings`. It listens on `settings.listen` when that is a loopback
    /// address with a fixed port (to come back on the port of a relay stopped before), else on
    /// `127.0.0.1` at a free port. Note that `Settings::default()` has the fixed port 8787:
    /// set `listen` to `127.0.0.1:0` for a free port.
    pub async fn start_with(settings: Settings) -> Result<EmbeddedRelay, AppError> {
        let addr = if settings.listen.ip().is_loopback() && settings.listen.port() != 0 {
            settings.listen
        } else {
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
        };
        EmbeddedRelay::start_on(addr, settings).await
    }

    /// Starts a relay with `settings` listening on exactly `addr` (a restart on the same port).
    pub async fn start_on(
        addr: SocketAddr,
        mut settings: Settings,
    ) -> Result<EmbeddedRelay, AppError> {
        // Open (and migrate) the database first, so that a bad data directory fails here and
        // not later in the server task.
        drop(Db::open(&settings.database_path())?);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| AppError::Internal(format!("cannot bind the relay's address: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| AppError::Internal(format!("listener has no address: {e}")))?;
        settings.listen = addr;
        let scheme = if settings.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_settings = settings.clone();
        let task = tokio::spawn(async move {
            crate::serve(listener, serve_settings, async {
                let _ = stopped.await;
            })
            .await
        });
        tracing::info!(%addr, "embedded relay started");
        Ok(EmbeddedRelay {
            url: format!("{scheme}://{addr}"),
            addr,
            settings,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The settings it runs with; `listen` is the bound address, so
    /// `EmbeddedRelay::start_with(relay.settings().clone())` after `stop` comes back on the
    /// same port.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Admin access to its database (a separate connection; WAL lets both work at once).
    pub fn db(&self) -> Result<Db, AppError> {
        Db::open(&self.settings.database_path())
    }

    /// Adds a unit under `parent` (a root when `None`).
    pub fn add_unit(&self, name: &str, parent: Option<&str>) -> Result<(), AppError> {
        self.db()?.add_unit(name, parent)
    }

    /// Registers a device of `unit` and returns its one-time enrolment code.
    pub fn enrolment_code(&self, unit: &str, device_name: &str) -> Result<String, AppError> {
        let ttl = self.settings.enrol_code_ttl_secs;
        Ok(self.db()?.create_enrolment(unit, device_name, ttl)?.1)
    }

    /// Stops accepting, finishes in-flight requests, and waits for the server task.
    pub async fn stop(mut self) -> Result<(), AppError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| AppError::Internal(format!("relay task failed: {e}")))?,
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
