//! The Tidemark relay as a library: authenticated, access-controlled, batched Automerge sync
//! over HTTP on embedded SQLite.
//!
//! [`router`] builds the axum app over an [`AppState`]; [`serve`] runs it on a listener until a
//! shutdown future completes. The `tidemark-server` binary only parses settings and binds.
//! [`EmbeddedRelay`] runs one in-process on loopback, for the demo and end-to-end tests.
//! The relay never depends on the device store (`tidemark-store`) or the client crate.

pub mod cache;
pub mod db;
pub mod defaults;
mod embedded;
mod error;
pub mod exchanges;
mod http;
pub mod import;
pub mod metrics;
mod ratelimit;
pub mod references;
pub mod session;
pub mod settings;
mod signing;
pub mod sync;

pub use embedded::EmbeddedRelay;
pub use error::AppError;
pub use http::{check_listen, router, serve, AppState, Authed};
pub use settings::Settings;

/// Settings for a relay that is a process of its own (the `tidemark-server` binary, the
/// benchmark's relay child), not one embedded in the app: transparent huge pages off.
///
/// mimalloc asks for huge pages on its arenas; every first touch of one then zeroes 2 MB. A
/// relay's heap grows in small steps (answers kept for resuming, documents, session states), so
/// under S5's burst that zeroing was a fifth of the relay's CPU. With 4 KB pages it zeroes only
/// what it uses: relay CPU 5.2-5.4 s -> 4.8-5.2 s, burst p99 about 15 % lower. Redis and
/// MongoDB advise the same for their servers.
pub fn tune_process() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "transparent huge pages stay as they are");
    }
}
