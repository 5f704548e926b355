//! Erasure: removing sessions' rows from every table, and the tombstones
//! that keep them out afterwards.
//!
//! A lossless archive fed by many hosts will one day hold something it
//! must not (a pasted customer record, a credential). Deleting rows is not
//! enough: every host that still has the source files would store them
//! again at its next sync. So an erasure is first recorded here, one row
//! per session (who, when, which selection, how many rows; never any
//! content), and every writer reads the erased set before it stores
//! anything. A later `forget` row lifts a tombstone. Making the bytes
//! leave the store's objects is upkeep's half (`store::upkeep`).

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::tables::schema::{self, batch, key_field, opt_time, strings, timestamps, utc};
use crate::store::{Store, StoreError, TableKind, sql_in};

pub const ERASURES: &str = "erasures";

/// Session ids per `IN (...)` filter: one delete commit per chunk per table.
const IDS_PER_FILTER: usize = 400;

/// What an erasure row does to its session's tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErasureKind {
    /// The session's rows were removed and it stays out.
    Erase,
    /// A tombstone lifted (`pond erase --forget-tombstone`): the session
    /// may be stored again.
    Forget,
}

impl ErasureKind {
    fn as_str(self) -> &'static str {
        match self {
            ErasureKind::Erase => "erase",
            ErasureKind::Forget => "forget",
        }
    }
}

/// Rows an erasure removed (or, planned, would remove), per table.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct RowCounts {
    pub sessions: u64,
    pub messages: u64,
    pub raw_records: u64,
    pub search_rows: u64,
    pub redactions: u64,
    /// Model calls' usage rows (absent from erasures recorded before them).
    #[serde(default)]
    pub usage_rows: u64,
}

impl RowCounts {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.messages
            + self.raw_records
            + self.search_rows
            + self.redactions
            + self.usage_rows
    }
}

/// One erasure or forgetting, as the store records it.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    /// Shared by every session of one `pond erase` run.
    pub erasure_id: String,
    pub kind: ErasureKind,
    pub session_ids: Vec<String>,
    /// The selection as the user gave it (`--project /x`, ids, ...).
    pub selection: String,
    pub host: String,
    pub user: String,
    pub at: DateTime<Utc>,
    pub rows: RowCounts,
}

/// One row per (erasure, session).
pub fn erasures_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("erasure_id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("selection", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("user", DataType::Utf8, false),
        Field::new("at", utc(), false),
        // The run's totals, as JSON ([`RowCounts`]), repeated on its rows.
        Field::new("rows", DataType::Utf8, false),
    ]))
}

fn erasure_batch(e: &Erasure) -> Result<RecordBatch, StoreError> {
    let n = e.session_ids.len();
    let ids: Vec<String> = e
        .session_ids
        .iter()
        .map(|s| format!("{}/{s}", e.erasure_id))
        .collect();
    let rows = serde_json::to_string(&e.rows).map_err(|err| StoreError::Schema(err.to_string()))?;
    let repeat = |v: &str| strings(std::iter::repeat_n(v, n).collect::<Vec<_>>().into_iter());
    batch(
        erasures_schema(),
        vec![
            strings(ids.iter().map(String::as_str)),
            repeat(&e.erasure_id),
            repeat(e.kind.as_str()),
            strings(e.session_ids.iter().map(String::as_str)),
            repeat(&e.selection),
            repeat(&e.host),
            repeat(&e.user),
            timestamps(vec![Some(e.at.timestamp_micros()); n]),
            repeat(&rows),
        ],
    )
}

/// The tables holding a session's rows, and the column naming the session.
const SESSION_ROWS: [(TableKind, &str); 6] = [
    (TableKind::Raw, "session_id"),
    (TableKind::Messages, "session_id"),
    (TableKind::Search, "session_id"),
    (TableKind::Sessions, "id"),
    (TableKind::Redactions, "id"),
    (TableKind::Usage, "session_id"),
];

/// A source file some of whose records an erasure removes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct ErasedFile {
    pub host: String,
    pub client: String,
    pub root: String,
    pub rel_path: String,
}

impl Store {
    /// Records an erasure (or a forgetting). Keyed, so recording it again
    /// after a lost reply stores nothing twice.
    pub async fn record_erasure(&self, erasure: &Erasure) -> Result<(), StoreError> {
        if erasure.session_ids.is_empty() {
            return Ok(());
        }
        // Rule 44: erasures and forgettings are ordered by their `at`, which
        // is made later than every one the store already holds, whatever
        // this host's clock says: a host whose clock runs ahead cannot put
        // its record after one made later in fact (a Lamport clock over the
        // table; two written at once are concurrent, either order is true).
        let mut erasure = erasure.clone();
        self.refresh(TableKind::Erasures).await?;
        if let Some(latest) = self.latest_erasure_at().await?
            && erasure.at <= latest
        {
            erasure.at = latest + chrono::Duration::microseconds(1);
        }
        self.insert_absent(TableKind::Erasures, erasure_batch(&erasure)?)
            .await?;
        Ok(())
    }

    /// The latest `at` of every recorded erasure and forgetting.
    async fn latest_erasure_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut latest = None;
        for b in self.scan(TableKind::Erasures, None, Some(&["at"])).await? {
            let at = schema::Columns::new(&b).time("at")?;
            for i in 0..b.num_rows() {
                latest = latest.max(opt_time(at, i));
            }
        }
        Ok(latest)
    }

    /// Every session that is erased now: erased by some run and not
    /// forgotten by a later one. One scan of a table of a few rows per
    /// erased session.
    pub async fn erased_sessions(&self) -> Result<HashSet<String>, StoreError> {
        let mut rows: Vec<(DateTime<Utc>, String, bool)> = Vec::new();
        for b in self
            .scan(
                TableKind::Erasures,
                None,
                Some(&["session_id", "kind", "at"]),
            )
            .await?
        {
            let c = schema::Columns::new(&b);
            let (ids, kinds, at) = (c.str("session_id")?, c.str("kind")?, c.time("at")?);
            for i in 0..b.num_rows() {
                let when = opt_time(at, i).unwrap_or_default();
                rows.push((
                    when,
                    ids.value(i).to_string(),
                    kinds.value(i) == ErasureKind::Erase.as_str(),
                ));
            }
        }
        rows.sort();
        let mut erased = HashSet::new();
        for (_, id, erase) in rows {
            if erase {
                erased.insert(id);
            } else {
                erased.remove(&id);
            }
        }
        Ok(erased)
    }

    /// Rule 44: deletes the rows of those of `sessions` that are erased now,
    /// and returns them. A writer calls it after its commit: an erasure
    /// whose tombstone it did not see before writing either shows now, or
    /// was recorded after this write committed, and then that erasure's own
    /// delete comes later still and takes the rows. Either way no row of a
    /// tombstoned session outlives the write that raced it.
    pub async fn remove_if_erased(
        &self,
        sessions: &HashSet<String>,
    ) -> Result<HashSet<String>, StoreError> {
        if sessions.is_empty() {
            return Ok(HashSet::new());
        }
        // The handle reads the version it loaded; the erasure that matters
        // was committed since.
        self.refresh(TableKind::Erasures).await?;
        let erased = self.erased_sessions().await?;
        let gone: HashSet<String> = sessions.intersection(&erased).cloned().collect();
        if !gone.is_empty() {
            let ids: Vec<String> = gone.iter().cloned().collect();
            let removed = self.delete_session_rows(&ids).await?;
            tracing::info!(
                sessions = gone.len(),
                rows = removed.total(),
                "removed rows a write stored while their sessions were being erased"
            );
        }
        Ok(gone)
    }

    /// Every recorded erasure and forgetting, oldest first.
    pub async fn erasure_log(&self) -> Result<Vec<Erasure>, StoreError> {
        let mut runs: std::collections::BTreeMap<(DateTime<Utc>, String), Erasure> =
            std::collections::BTreeMap::new();
        for b in self.scan(TableKind::Erasures, None, None).await? {
            let c = schema::Columns::new(&b);
            let (run, kind, session, selection, host, user, at, rows) = (
                c.str("erasure_id")?,
                c.str("kind")?,
                c.str("session_id")?,
                c.str("selection")?,
                c.str("host")?,
                c.str("user")?,
                c.time("at")?,
                c.str("rows")?,
            );
            for i in 0..b.num_rows() {
                let when = opt_time(at, i).unwrap_or_default();
                let entry = runs
                    .entry((when, run.value(i).to_string()))
                    .or_insert_with(|| Erasure {
                        erasure_id: run.value(i).to_string(),
                        kind: if kind.value(i) == "forget" {
                            ErasureKind::Forget
                        } else {
                            ErasureKind::Erase
                        },
                        session_ids: Vec::new(),
                        selection: selection.value(i).to_string(),
                        host: host.value(i).to_string(),
                        user: user.value(i).to_string(),
                        at: when,
                        rows: serde_json::from_str(rows.value(i)).unwrap_or_default(),
                    });
                entry.session_ids.push(session.value(i).to_string());
            }
        }
        Ok(runs
            .into_values()
            .map(|mut e| {
                e.session_ids.sort();
                e
            })
            .collect())
    }

    /// How many rows of each table belong to `session_ids`.
    pub async fn count_session_rows(
        &self,
        session_ids: &[String],
    ) -> Result<RowCounts, StoreError> {
        self.session_rows(session_ids, false).await
    }

    /// Deletes every row of `session_ids` from every table: one commit per
    /// table per chunk of ids, each harmless to repeat. Returns what was
    /// there just before.
    pub async fn delete_session_rows(
        &self,
        session_ids: &[String],
    ) -> Result<RowCounts, StoreError> {
        self.session_rows(session_ids, true).await
    }

    /// Counts the sessions' rows per table, deleting them when `delete`
    /// (counted on the newest version, so a retry reports what it found).
    async fn session_rows(
        &self,
        session_ids: &[String],
        delete: bool,
    ) -> Result<RowCounts, StoreError> {
        let mut counts = RowCounts::default();
        for chunk in session_ids.chunks(IDS_PER_FILTER) {
            for (kind, column) in SESSION_ROWS {
                if !self.has_table(kind) {
                    continue;
                }
                let filter = sql_in(column, chunk.iter().map(String::as_str));
                if delete {
                    self.refresh(kind).await?;
                }
                let n = self.count(kind, Some(&filter)).await? as u64;
                if delete && n > 0 {
                    self.delete_where(kind, &filter).await?;
                }
                *counts.slot(kind) += n;
            }
        }
        Ok(counts)
    }

    /// The source files that hold records of `session_ids`.
    pub async fn files_of_sessions(
        &self,
        session_ids: &[String],
    ) -> Result<Vec<ErasedFile>, StoreError> {
        let mut files = std::collections::BTreeSet::new();
        for chunk in session_ids.chunks(IDS_PER_FILTER) {
            let filter = sql_in("session_id", chunk.iter().map(String::as_str));
            for b in self
                .scan(
                    TableKind::Raw,
                    Some(&filter),
                    Some(&["host", "client", "root", "rel_path"]),
                )
                .await?
            {
                let c = schema::Columns::new(&b);
                let (h, cl, r, p) = (
                    c.str("host")?,
                    c.str("client")?,
                    c.str("root")?,
                    c.str("rel_path")?,
                );
                for i in 0..b.num_rows() {
                    files.insert(ErasedFile {
                        host: h.value(i).to_string(),
                        client: cl.value(i).to_string(),
                        root: r.value(i).to_string(),
                        rel_path: p.value(i).to_string(),
                    });
                }
            }
        }
        Ok(files.into_iter().collect())
    }
}

impl RowCounts {
    fn slot(&mut self, kind: TableKind) -> &mut u64 {
        match kind {
            TableKind::Raw => &mut self.raw_records,
            TableKind::Messages => &mut self.messages,
            TableKind::Search => &mut self.search_rows,
            TableKind::Sessions => &mut self.sessions,
            TableKind::Usage => &mut self.usage_rows,
            _ => &mut self.redactions,
        }
    }
}
