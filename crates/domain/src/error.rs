//! The domain crate's error type: callers branch on the variant, users read the message.

use crate::message::Message;

/// Errors raised by the record model.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A record failed validation; every problem found is listed.
    #[error("invalid record: {}", .0.iter().map(|m| m.en.clone()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Message>),
    /// The bytes of a document could not be loaded.
    #[error("corrupt document: {0}")]
    Corrupt(String),
    /// A document does not hold a record Tidemark understands.
    #[error("document does not hold a readable record: {0}")]
    Unreadable(String),
    /// The field named does not exist on this kind of record.
    #[error("unknown field `{field}` for {kind}")]
    UnknownField {
        /// The record kind.
        kind: &'static str,
        /// The field that was asked for.
        field: String,
    },
    /// A value given for a field has the wrong shape.
    #[error("bad value for `{field}`: {reason}")]
    BadValue {
        /// The field.
        field: String,
        /// Why the value was refused.
        reason: String,
    },
    /// A text position lies outside the text.
    #[error("position {pos} (+{delete}) is outside the text of length {len}")]
    OutOfBounds {
        /// Character position asked for.
        pos: usize,
        /// Characters to delete.
        delete: usize,
        /// Length of the text in characters.
        len: usize,
    },
    /// Automerge refused an operation (boxed: the error is large and rare).
    #[error("automerge: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// autosurgeon could not write a record into its document.
    #[error("reconcile: {0}")]
    Reconcile(Box<autosurgeon::ReconcileError>),
}

impl From<automerge::AutomergeError> for DomainError {
    fn from(e: automerge::AutomergeError) -> Self {
        DomainError::Automerge(Box::new(e))
    }
}

impl From<autosurgeon::ReconcileError> for DomainError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        DomainError::Reconcile(Box::new(e))
    }
}
