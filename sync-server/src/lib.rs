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
