//! What can go wrong with the store, in one type every caller matches on:
//! the commands explain these to a person (`cli::explain`), and readers
//! tell a version pruned under them (read again) from a real failure.

use super::StoreLocation;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid store location `{input}`: {reason}")]
    InvalidLocation { input: String, reason: String },
    #[error("no pond store at {0} yet; run `pond sync` first")]
    NotFound(String),
    #[error(
        "the store at {location} has format version {found}, newer than the {supported} this pond understands; upgrade pond to use it"
    )]
    NewerFormat {
        location: String,
        found: u32,
        supported: u32,
    },
    #[error("cannot prepare the store at {location}: {source}")]
    Prepare {
        location: String,
        source: std::io::Error,
    },
    /// A local store this user may not look into: never "empty".
    #[error("cannot read the store at {location}: {source}")]
    Unreadable {
        location: String,
        source: std::io::Error,
    },
    /// Carries the message only, scrubbed of secrets: Lance errors can quote
    /// the URI and options they were given.
    #[error("store {location}: {operation} failed: {message}")]
    Lance {
        location: String,
        operation: String,
        message: String,
    },
    #[error("store schema mismatch: {0}")]
    Schema(String),
    /// Stored bytes that do not resolve to what their record says they are.
    #[error("damaged record: {0}")]
    Damaged(String),
}

impl StoreError {
    /// A read that found a data or index file gone: the version it read
    /// was pruned.
    pub fn is_missing_file(&self) -> bool {
        matches!(self, StoreError::Lance { message, .. } if names_missing_file(message))
    }
}

pub(super) fn names_missing_file(message: &str) -> bool {
    message.contains("Not found") || message.contains("NotFound") || message.contains("not found")
}

/// A Lance error with the store it concerns, scrubbed of secrets.
pub(super) fn lance_error(
    location: &StoreLocation,
    operation: &str,
    source: lancedb::Error,
) -> StoreError {
    StoreError::Lance {
        location: location.display.clone(),
        operation: operation.to_string(),
        message: location.redact(&source.to_string()),
    }
}
