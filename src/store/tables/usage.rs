//! The `usage` table: one row per model call, keyed by the call (rule 47),
//! so a call that several records, files or hosts report is stored once
//! whichever of them is synced first. A table of its own rather than
//! columns of `messages`: a usage report reads a few narrow columns of far
//! fewer rows, and older stores gain it through the "create missing
//! tables" step.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};

use crate::store::tables::schema::{
    Columns, batch, key_field, opt_strings, strings, timestamps, utc,
};
use crate::store::{Store, StoreError, TableKind};
use crate::usage::{Tokens, Usage};

pub const USAGE: &str = "usage";

/// Keys per `IN` list.
const IDS_PER_QUERY: usize = 500;

/// The token columns, in the order of [`Tokens`].
const TOKEN_COLUMNS: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
];

pub fn usage_schema() -> SchemaRef {
    let mut fields = vec![
        key_field(),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("message_id", DataType::Utf8, true),
        Field::new("client", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("timestamp", utc(), true),
        Field::new("model", DataType::Utf8, true),
    ];
    fields.extend(
        TOKEN_COLUMNS
            .iter()
            .map(|name| Field::new(*name, DataType::UInt64, false)),
    );
    fields.push(Field::new("client_cost_usd", DataType::Float64, true));
    fields.push(Field::new("ingested_at", utc(), false));
    Arc::new(Schema::new(fields))
}

fn token_values(t: &Tokens) -> [u64; 6] {
    [
        t.input,
        t.output,
        t.cache_write,
        t.cache_write_1h,
        t.cache_read,
        t.reasoning,
    ]
}

/// Rows for `calls`, all of one client, stored by `host`.
pub fn usage_batch(
    calls: &[&Usage],
    client: &str,
    host: &str,
    now: DateTime<Utc>,
) -> Result<RecordBatch, StoreError> {
    let mut columns: Vec<ArrayRef> = vec![
        strings(calls.iter().map(|u| u.call.as_str())),
        strings(calls.iter().map(|u| u.session_id.as_str())),
        opt_strings(calls.iter().map(|u| u.message_id.as_deref())),
        strings(calls.iter().map(|_| client)),
        strings(calls.iter().map(|_| host)),
        timestamps(
            calls
                .iter()
                .map(|u| u.timestamp.map(|t| t.timestamp_micros()))
                .collect(),
        ),
        opt_strings(calls.iter().map(|u| u.model.as_deref())),
    ];
    for k in 0..TOKEN_COLUMNS.len() {
        columns.push(Arc::new(UInt64Array::from_iter_values(
            calls.iter().map(|u| token_values(&u.tokens)[k]),
        )));
    }
    columns.push(Arc::new(Float64Array::from_iter(
        calls.iter().map(|u| u.cost_usd),
    )));
    columns.push(timestamps(vec![Some(now.timestamp_micros()); calls.len()]));
    batch(usage_schema(), columns)
}

/// A batch of stored calls, as a usage report reads it: typed columns and
/// row accessors that borrow, so a report over a million calls builds no
/// string per row.
pub struct CallColumns<'a> {
    session: &'a StringArray,
    client: &'a StringArray,
    host: &'a StringArray,
    model: &'a StringArray,
    at: &'a TimestampMicrosecondArray,
    tokens: Vec<&'a UInt64Array>,
    cost: &'a Float64Array,
    rows: usize,
}

impl<'a> CallColumns<'a> {
    pub fn new(b: &'a RecordBatch) -> Result<Self, StoreError> {
        let c = Columns::new(b);
        Ok(CallColumns {
            session: c.str("session_id")?,
            client: c.str("client")?,
            host: c.str("host")?,
            model: c.str("model")?,
            at: c.time("timestamp")?,
            tokens: TOKEN_COLUMNS
                .iter()
                .map(|name| c.u64(name))
                .collect::<Result<Vec<_>, _>>()?,
            cost: b
                .column_by_name("client_cost_usd")
                .and_then(|a| a.as_any().downcast_ref::<Float64Array>())
                .ok_or_else(|| StoreError::Schema("column `client_cost_usd` is missing".into()))?,
            rows: b.num_rows(),
        })
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn session(&self, i: usize) -> &'a str {
        self.session.value(i)
    }

    pub fn client(&self, i: usize) -> &'a str {
        self.client.value(i)
    }

    pub fn host(&self, i: usize) -> &'a str {
        self.host.value(i)
    }

    pub fn model(&self, i: usize) -> Option<&'a str> {
        (!self.model.is_null(i)).then(|| self.model.value(i))
    }

    /// Microseconds since the Unix epoch.
    pub fn at_micros(&self, i: usize) -> Option<i64> {
        (!self.at.is_null(i)).then(|| self.at.value(i))
    }

    pub fn tokens(&self, i: usize) -> Tokens {
        let t = |k: usize| self.tokens[k].value(i);
        Tokens {
            input: t(0),
            output: t(1),
            cache_write: t(2),
            cache_write_1h: t(3),
            cache_read: t(4),
            reasoning: t(5),
        }
    }

    pub fn client_cost_usd(&self, i: usize) -> Option<f64> {
        (!self.cost.is_null(i)).then(|| self.cost.value(i))
    }
}

impl Store {
    /// Which of `ids` the table `kind` holds, reading only its `id` column.
    pub async fn present_ids(
        &self,
        kind: TableKind,
        ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        if !self.has_table(kind) {
            return Ok(found);
        }
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let filter = crate::store::sql_in("id", chunk.iter().copied());
            found.extend(self.scan_strings(kind, Some(&filter), "id").await?);
        }
        Ok(found)
    }

    /// The output tokens stored for each of `calls` the table holds,
    /// reading only the key and that column: what rule 47 compares a new
    /// copy of a call against.
    pub async fn stored_outputs(
        &self,
        calls: &[&str],
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        let mut stored = std::collections::HashMap::new();
        if !self.has_table(TableKind::Usage) {
            return Ok(stored);
        }
        for chunk in calls.chunks(IDS_PER_QUERY) {
            let filter = crate::store::sql_in("id", chunk.iter().copied());
            let columns = ["id", "output_tokens"];
            for b in self
                .scan(TableKind::Usage, Some(&filter), Some(&columns))
                .await?
            {
                let c = Columns::new(&b);
                let (ids, outputs) = (c.str("id")?, c.u64("output_tokens")?);
                for i in 0..b.num_rows() {
                    stored.insert(ids.value(i).to_string(), outputs.value(i));
                }
            }
        }
        Ok(stored)
    }

    /// The stored calls that match `filter` (SQL over the table's
    /// columns), as batches to read with [`CallColumns`].
    pub async fn usage_batches(
        &self,
        filter: Option<&str>,
    ) -> Result<Vec<RecordBatch>, StoreError> {
        if !self.has_table(TableKind::Usage) {
            return Ok(Vec::new());
        }
        let mut columns = vec![
            "session_id",
            "client",
            "host",
            "timestamp",
            "model",
            "client_cost_usd",
        ];
        columns.extend(TOKEN_COLUMNS);
        self.scan(TableKind::Usage, filter, Some(&columns)).await
    }
}
