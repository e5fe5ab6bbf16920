//! The Tidemark relay as a library: authenticated, access-controlled, batched Automerge sync
//! over HTTP on embedded SQLite.
//!
//! [`router`] builds the axum app over an [`AppState`]; [`serve`] runs it on a listener until a
//! shutdown future completes. The `tidemark-server` binary only parses settings and binds.
//! The relay never depends on the device store (`tidemark-store`) or the client crate.

pub mod cache;
pub mod db;
pub mod defaults;
mod error;
mod http;
pub mod metrics;
mod ratelimit;
pub mod session;
pub mod settings;
pub mod sync;

pub use error::AppError;
pub use http::{check_listen, router, serve, AppState, Authed};
pub use settings::Settings;
