//! Which sessions were stored with their secrets masked (`[redact]
//! at_ingest`): their raw bytes are no longer the client's, and every reader
//! (show, export, resume, the servers) can say so. A table of its own, so
//! stores from before it gain it through the usual "create missing tables"
//! step and older binaries simply do not read it.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};

use crate::store::tables::schema::{batch, key_field, strings, timestamps, utc};
use crate::store::{Store, StoreError, TableKind, sql_in};

pub const REDACTIONS: &str = "redactions";

/// One row per masked session: who masked it and when.
pub fn redactions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("host", DataType::Utf8, false),
        Field::new("redacted_at", utc(), false),
    ]))
}

pub fn redactions_batch(
    session_ids: &[&str],
    host: &str,
    now: DateTime<Utc>,
) -> Result<RecordBatch, StoreError> {
    batch(
        redactions_schema(),
        vec![
            strings(session_ids.iter().copied()),
            strings(session_ids.iter().map(|_| host)),
            timestamps(vec![Some(now.timestamp_micros()); session_ids.len()]),
        ],
    )
}

impl Store {
    /// Which of `session_ids` were stored with their secrets masked.
    pub async fn redacted_sessions<'a>(
        &self,
        session_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashSet<String>, StoreError> {
        let ids: Vec<&str> = session_ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let found = self
            .scan_strings(TableKind::Redactions, Some(&sql_in("id", ids)), "id")
            .await?;
        Ok(found.into_iter().collect())
    }
}
