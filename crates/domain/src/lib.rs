//! Tidemark's record model: record kinds, validation, their mapping onto Automerge documents,
//! conflict extraction, field-level history, the JSON Lines interchange format and GPS tracks.
//!
//! This crate does no IO: no files, no sockets, no clock, no randomness. Time, ids and actor ids
//! are passed in by the caller (see [`CommitMeta`]).

pub mod conflicts;
pub mod document;
pub mod error;
pub mod fold;
pub mod genesis;
pub mod history;
pub mod interchange;
mod json;
pub mod message;
pub mod records;
pub mod report;
mod textdiff;
pub mod track;
pub mod validate;

pub use conflicts::{Conflict, ConflictValue};
pub use document::{CommitMeta, RecordDoc};
pub use error::DomainError;
pub use fold::fold_for_search;
pub use history::HistoryEntry;
pub use message::{Lang, Message};
pub use records::{AttachPlace, AttachPlaceError, AttachmentRef, Record, RecordKind};
