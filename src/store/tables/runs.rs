//! The fleet's record of sync runs, shared by every host in the store.
//!
//! Three tables: `sync_runs` keeps every run of every host (history, append
//! only), `hosts` keeps one row per host with its latest state, and
//! `host_groups` one row per group of ephemeral hosts (CI jobs, each a host
//! that runs once), in the same shape. Fleet status and `/metrics` read only
//! the last two, so they cost the same after a year of runs from fifty hosts
//! and ten thousand CI jobs as on the first day.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::tables::schema::{
    Columns, batch, key_field, opt_str, opt_strings, opt_time, strings, timestamps, utc,
};
use crate::store::{Store, StoreError, TableKind};

pub const SYNC_RUNS: &str = "sync_runs";
pub const HOSTS: &str = "hosts";
pub const HOST_GROUPS: &str = "host_groups";

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
    /// The group of an ephemeral host: the run is folded into the group's
    /// row instead of a row of its own. Not a column of the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// When a run finished, on which host, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoint {
    pub host: String,
    pub finished_at: DateTime<Utc>,
    pub outcome: String,
}

/// A host's (or a group of ephemeral hosts') latest state.
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

fn runs_batch(runs: &[&RunRow]) -> Result<RecordBatch, StoreError> {
    batch(
        sync_runs_schema(),
        vec![
            strings(runs.iter().map(|r| r.id.as_str())),
            strings(runs.iter().map(|r| r.host.as_str())),
            strings(runs.iter().map(|r| r.pond_version.as_str())),
            timestamps(
                runs.iter()
                    .map(|r| Some(r.started_at.timestamp_micros()))
                    .collect(),
            ),
            timestamps(
                runs.iter()
                    .map(|r| Some(r.finished_at.timestamp_micros()))
                    .collect(),
            ),
            strings(runs.iter().map(|r| r.outcome.as_str())),
            opt_strings(runs.iter().map(|r| r.error.as_deref())),
            strings(runs.iter().map(|r| r.clients.as_str())),
            u64s(runs.iter().map(|r| r.files_scanned)),
            u64s(runs.iter().map(|r| r.sessions_inserted)),
            u64s(runs.iter().map(|r| r.messages_inserted)),
            u64s(runs.iter().map(|r| r.records_inserted)),
            u64s(runs.iter().map(|r| r.unparsed_records)),
            u64s(runs.iter().map(|r| r.commit_retries)),
            Arc::new(Float64Array::from_iter_values(
                runs.iter().map(|r| r.duration_secs),
            )),
        ],
    )
}

fn hosts_batch(rows: &[HostRow]) -> Result<RecordBatch, StoreError> {
    batch(
        hosts_schema(),
        vec![
            strings(rows.iter().map(|h| h.host.as_str())),
            strings(rows.iter().map(|h| h.pond_version.as_str())),
            timestamps(
                rows.iter()
                    .map(|h| Some(h.last_run.timestamp_micros()))
                    .collect(),
            ),
            timestamps(
                rows.iter()
                    .map(|h| h.last_success.map(|t| t.timestamp_micros()))
                    .collect(),
            ),
            strings(rows.iter().map(|h| h.outcome.as_str())),
            opt_strings(rows.iter().map(|h| h.error.as_deref())),
            u64s(rows.iter().map(|h| h.runs)),
            u64s(rows.iter().map(|h| h.failures)),
            u64s(rows.iter().map(|h| h.consecutive_failures)),
            u64s(rows.iter().map(|h| h.sessions_inserted)),
            u64s(rows.iter().map(|h| h.messages_inserted)),
            u64s(rows.iter().map(|h| h.records_inserted)),
            u64s(rows.iter().map(|h| h.commit_retries)),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|h| h.duration_secs),
            )),
        ],
    )
}

/// `previous` (the row of `name`, if any) with `run` folded in.
fn fold(previous: Option<&HostRow>, name: &str, run: &RunRow) -> HostRow {
    let succeeded = SUCCESSFUL.contains(&run.outcome.as_str());
    let (runs, failures, streak, last_success) = match previous {
        Some(p) => (p.runs, p.failures, p.consecutive_failures, p.last_success),
        None => (0, 0, 0, None),
    };
    HostRow {
        host: name.to_string(),
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
    }
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
    pub async fn record_run(&self, run: &RunRow) -> Result<(), StoreError> {
        self.record_runs(std::slice::from_ref(run)).await
    }

    /// Appends `runs` (in the order they ran) to the fleet history and folds
    /// each into its host's row, or its group's when the host is ephemeral:
    /// one history commit and one commit per table of rows, however many.
    ///
    /// A run that found nothing to store and failed at nothing leaves only
    /// its host's row (last run, run count): a fleet of quiet hosts would
    /// otherwise add a history row and a commit per host every few minutes
    /// that say nothing the host row does not. The history is appended
    /// without a key join (its ids are unique per host and start time; a
    /// retry is keyed, see [`Store::append_new`]).
    pub async fn record_runs(&self, runs: &[RunRow]) -> Result<(), StoreError> {
        // Rule 16: each run goes into `sync_runs` (a quiet one only into its
        // host's row) and is folded into the one row per host that status reads.
        let history: Vec<&RunRow> = runs
            .iter()
            .filter(|r| {
                !(r.outcome == "ok"
                    && r.sessions_inserted + r.messages_inserted + r.records_inserted == 0)
            })
            .collect();
        if !history.is_empty() {
            self.append_new(TableKind::SyncRuns, runs_batch(&history)?)
                .await?;
        }
        for table in [TableKind::Hosts, TableKind::HostGroups] {
            // Rule 46: an ephemeral host's run folds into its group's row, not a host row.
            // An ephemeral host's run is its group's latest run.
            let mine: Vec<&RunRow> = runs
                .iter()
                .filter(|r| (table == TableKind::HostGroups) == r.group.is_some())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let name = |r: &RunRow| r.group.clone().unwrap_or_else(|| r.host.clone());
            let mut names: Vec<String> = mine.iter().map(|r| name(r)).collect();
            names.sort();
            names.dedup();
            let filter = crate::store::sql_in("id", names.iter().map(String::as_str));
            let mut rows: HashMap<String, HostRow> = HashMap::new();
            for b in self.scan(table, Some(&filter), None).await? {
                for row in hosts_from_batch(&b)? {
                    rows.insert(row.host.clone(), row);
                }
            }
            for run in mine {
                let key = name(run);
                let folded = fold(rows.get(&key), &key, run);
                rows.insert(key, folded);
            }
            let mut folded: Vec<HostRow> = rows
                .into_iter()
                .filter(|(k, _)| names.binary_search(k).is_ok())
                .map(|(_, r)| r)
                .collect();
            folded.sort_by(|a, b| a.host.cmp(&b.host));
            self.upsert(table, hosts_batch(&folded)?).await?;
        }
        Ok(())
    }

    /// Every host that ever recorded a run, by name.
    pub async fn hosts(&self) -> Result<Vec<HostRow>, StoreError> {
        self.host_rows(TableKind::Hosts).await
    }

    /// Every group of ephemeral hosts, by name; each row's `host` is the
    /// group's name and its counts are the group's.
    pub async fn host_groups(&self) -> Result<Vec<HostRow>, StoreError> {
        self.host_rows(TableKind::HostGroups).await
    }

    async fn host_rows(&self, table: TableKind) -> Result<Vec<HostRow>, StoreError> {
        let mut hosts = Vec::new();
        for b in self.scan(table, None, None).await? {
            hosts.extend(hosts_from_batch(&b)?);
        }
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        Ok(hosts)
    }

    /// Every run that finished at or after `since` among the hosts
    /// `host_filter` (SQL over `host`) keeps: the fleet's runs over time.
    /// Reads three narrow columns of the history, only the rows in range.
    pub async fn runs_since(
        &self,
        since: DateTime<Utc>,
        host_filter: Option<&str>,
    ) -> Result<Vec<RunPoint>, StoreError> {
        let mut filter = format!("finished_at >= {}", crate::store::sql_time(since));
        if let Some(hosts) = host_filter {
            filter = format!("{filter} AND ({hosts})");
        }
        let mut points = Vec::new();
        for b in self
            .scan(
                TableKind::SyncRuns,
                Some(&filter),
                Some(&["host", "finished_at", "outcome"]),
            )
            .await?
        {
            let c = Columns::new(&b);
            let (host, finished, outcome) =
                (c.str("host")?, c.time("finished_at")?, c.str("outcome")?);
            for i in 0..b.num_rows() {
                if let Some(finished_at) = opt_time(finished, i) {
                    points.push(RunPoint {
                        host: host.value(i).to_string(),
                        finished_at,
                        outcome: outcome.value(i).to_string(),
                    });
                }
            }
        }
        Ok(points)
    }

    /// Runs recorded per host (for checks and tests; scans the history).
    pub async fn run_counts(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut counts = HashMap::new();
        for host in self.scan_strings(TableKind::SyncRuns, None, "host").await? {
            *counts.entry(host).or_insert(0) += 1;
        }
        Ok(counts)
    }
}
