//! The fleet's record of sync runs, shared by every host in the store.
//!
//! Two tables: `sync_runs` keeps every run of every host (history, append
//! only), `hosts` keeps one row per host with its latest state. Fleet status
//! reads only `hosts`, so it costs the same after a year of runs from fifty
//! hosts (five million rows in `sync_runs`) as on the first day.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::schema::{
    Columns, batch, key_field, opt_str, opt_strings, opt_time, strings, timestamps, utc,
};
use super::{Store, StoreError, TableKind, sql_str};

pub const SYNC_RUNS: &str = "sync_runs";
pub const HOSTS: &str = "hosts";

/// One sync run as the fleet sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// `<host>/<started_at>`: a retried write of the same run is a no-op.
    pub id: String,
    pub host: String,
    pub pond_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: String,
    pub error: Option<String>,
    pub clients: String,
    pub files_scanned: u64,
    pub sessions_inserted: u64,
    pub messages_inserted: u64,
    pub records_inserted: u64,
    pub unparsed_records: u64,
    pub commit_retries: u64,
    pub duration_secs: f64,
}

/// A host's latest state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    pub host: String,
    pub pond_version: String,
    pub last_run: DateTime<Utc>,
    pub last_success: Option<DateTime<Utc>>,
    pub outcome: String,
    pub error: Option<String>,
    pub runs: u64,
    pub failures: u64,
    /// Failed runs since the last success.
    pub consecutive_failures: u64,
    pub sessions_inserted: u64,
    pub messages_inserted: u64,
    pub records_inserted: u64,
    pub commit_retries: u64,
    pub duration_secs: f64,
}

const SUCCESSFUL: &[&str] = &["ok", "partial"];

pub fn sync_runs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("host", DataType::Utf8, false),
        Field::new("pond_version", DataType::Utf8, false),
        Field::new("started_at", utc(), false),
        Field::new("finished_at", utc(), false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("clients", DataType::Utf8, false),
        Field::new("files_scanned", DataType::UInt64, false),
        Field::new("sessions_inserted", DataType::UInt64, false),
        Field::new("messages_inserted", DataType::UInt64, false),
        Field::new("records_inserted", DataType::UInt64, false),
        Field::new("unparsed_records", DataType::UInt64, false),
        Field::new("commit_retries", DataType::UInt64, false),
        Field::new("duration_secs", DataType::Float64, false),
    ]))
}

/// `id` is the host name, so upserts replace the host's row.
pub fn hosts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("pond_version", DataType::Utf8, false),
        Field::new("last_run", utc(), false),
        Field::new("last_success", utc(), true),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("runs", DataType::UInt64, false),
        Field::new("failures", DataType::UInt64, false),
        Field::new("consecutive_failures", DataType::UInt64, false),
        Field::new("sessions_inserted", DataType::UInt64, false),
        Field::new("messages_inserted", DataType::UInt64, false),
        Field::new("records_inserted", DataType::UInt64, false),
        Field::new("commit_retries", DataType::UInt64, false),
        Field::new("duration_secs", DataType::Float64, false),
    ]))
}

fn u64s(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(values))
}

fn run_batch(r: &RunRow) -> Result<RecordBatch, StoreError> {
    batch(
        sync_runs_schema(),
        vec![
            strings([r.id.as_str()].into_iter()),
            strings([r.host.as_str()].into_iter()),
            strings([r.pond_version.as_str()].into_iter()),
            timestamps(vec![Some(r.started_at.timestamp_micros())]),
            timestamps(vec![Some(r.finished_at.timestamp_micros())]),
            strings([r.outcome.as_str()].into_iter()),
            opt_strings([r.error.as_deref()].into_iter()),
            strings([r.clients.as_str()].into_iter()),
            u64s([r.files_scanned].into_iter()),
            u64s([r.sessions_inserted].into_iter()),
            u64s([r.messages_inserted].into_iter()),
            u64s([r.records_inserted].into_iter()),
            u64s([r.unparsed_records].into_iter()),
            u64s([r.commit_retries].into_iter()),
            Arc::new(Float64Array::from(vec![r.duration_secs])),
        ],
    )
}

fn host_batch(h: &HostRow) -> Result<RecordBatch, StoreError> {
    batch(
        hosts_schema(),
        vec![
            strings([h.host.as_str()].into_iter()),
            strings([h.pond_version.as_str()].into_iter()),
            timestamps(vec![Some(h.last_run.timestamp_micros())]),
            timestamps(vec![h.last_success.map(|t| t.timestamp_micros())]),
            strings([h.outcome.as_str()].into_iter()),
            opt_strings([h.error.as_deref()].into_iter()),
            u64s([h.runs].into_iter()),
            u64s([h.failures].into_iter()),
            u64s([h.consecutive_failures].into_iter()),
            u64s([h.sessions_inserted].into_iter()),
            u64s([h.messages_inserted].into_iter()),
            u64s([h.records_inserted].into_iter()),
            u64s([h.commit_retries].into_iter()),
            Arc::new(Float64Array::from(vec![h.duration_secs])),
        ],
    )
}

fn hosts_from_batch(b: &RecordBatch) -> Result<Vec<HostRow>, StoreError> {
    let c = Columns::new(b);
    let (id, version, last_run, last_success) = (
        c.str("id")?,
        c.str("pond_version")?,
        c.time("last_run")?,
        c.time("last_success")?,
    );
    let (outcome, error) = (c.str("outcome")?, c.str("error")?);
    let (runs, failures, streak) = (
        c.u64("runs")?,
        c.u64("failures")?,
        c.u64("consecutive_failures")?,
    );
    let (sessions, messages, records, retries) = (
        c.u64("sessions_inserted")?,
        c.u64("messages_inserted")?,
        c.u64("records_inserted")?,
        c.u64("commit_retries")?,
    );
    let duration = b
        .column_by_name("duration_secs")
        .and_then(|a| a.as_any().downcast_ref::<Float64Array>())
        .ok_or_else(|| {
            StoreError::Schema("column `duration_secs` is missing or has an unexpected type".into())
        })?;
    (0..b.num_rows())
        .map(|i| {
            Ok(HostRow {
                host: id.value(i).to_string(),
                pond_version: version.value(i).to_string(),
                last_run: opt_time(last_run, i)
                    .ok_or_else(|| StoreError::Schema("hosts.last_run is null".into()))?,
                last_success: opt_time(last_success, i),
                outcome: outcome.value(i).to_string(),
                error: opt_str(error, i),
                runs: runs.value(i),
                failures: failures.value(i),
                consecutive_failures: streak.value(i),
                sessions_inserted: sessions.value(i),
                messages_inserted: messages.value(i),
                records_inserted: records.value(i),
                commit_retries: retries.value(i),
                duration_secs: duration.value(i),
            })
        })
        .collect()
}

impl Store {
    /// Appends `run` to the fleet history and folds it into its host's row.
    ///
    /// A run that found nothing to store and failed at nothing leaves only
    /// its host's row (last run, run count): a fleet of quiet hosts would
    /// otherwise add a history row and a commit per host every few minutes
    /// that say nothing the host row does not. The history is appended
    /// without a key join (its ids are unique per host and start time; a
    /// retry is keyed, see [`Store::append_new`]).
    pub async fn record_run(&self, run: &RunRow) -> Result<(), StoreError> {
        let quiet = run.outcome == "ok"
            && run.sessions_inserted + run.messages_inserted + run.records_inserted == 0;
        if !quiet {
            self.append_new(TableKind::SyncRuns, run_batch(run)?)
                .await?;
        }
        let filter = format!("id = {}", sql_str(&run.host));
        let mut previous = None;
        for b in self.scan(TableKind::Hosts, Some(&filter), None).await? {
            previous = hosts_from_batch(&b)?.into_iter().next().or(previous);
        }
        let succeeded = SUCCESSFUL.contains(&run.outcome.as_str());
        let (runs, failures, streak, last_success) = match &previous {
            Some(p) => (p.runs, p.failures, p.consecutive_failures, p.last_success),
            None => (0, 0, 0, None),
        };
        let row = HostRow {
            host: run.host.clone(),
            pond_version: run.pond_version.clone(),
            last_run: run.finished_at,
            last_success: if succeeded {
                Some(run.finished_at)
            } else {
                last_success
            },
            outcome: run.outcome.clone(),
            error: run.error.clone(),
            runs: runs + 1,
            failures: failures + u64::from(!succeeded),
            consecutive_failures: if succeeded { 0 } else { streak + 1 },
            sessions_inserted: run.sessions_inserted,
            messages_inserted: run.messages_inserted,
            records_inserted: run.records_inserted,
            commit_retries: run.commit_retries,
            duration_secs: run.duration_secs,
        };
        self.upsert(TableKind::Hosts, host_batch(&row)?).await?;
        Ok(())
    }

    /// Every host that ever recorded a run, by name.
    pub async fn hosts(&self) -> Result<Vec<HostRow>, StoreError> {
        let mut hosts = Vec::new();
        for b in self.scan(TableKind::Hosts, None, None).await? {
            hosts.extend(hosts_from_batch(&b)?);
        }
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(hosts)
    }

    /// Runs recorded per host (for checks and tests; scans the history).
    pub async fn run_counts(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut counts = HashMap::new();
        for b in self
            .scan(TableKind::SyncRuns, None, Some(&["host"]))
            .await?
        {
            for h in Columns::new(&b).str("host")?.iter().flatten() {
                *counts.entry(h.to_string()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }
}
