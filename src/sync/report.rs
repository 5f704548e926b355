//! What a sync did, for the terminal, for `--json`, and as the last-sync
//! record this host keeps for every run, success or failure.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything found was read and committed.
    Ok,
    /// Committed, but some files or records had problems (listed in `errors`).
    Partial,
    /// Nothing was committed, or only part of it: see `error`.
    Failed,
    /// `--no-wait` found another sync holding the lock.
    Skipped,
}

/// One problem met while syncing; never fatal to the rest of the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub message: String,
}

/// The calls of one client and model a run stored first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredUsage {
    pub client: String,
    pub model: Option<String>,
    /// Their first day (UTC), which prices them.
    pub day: Option<chrono::NaiveDate>,
    pub calls: u64,
    pub tokens: crate::usage::Tokens,
    /// The clients' own cost of these calls, where they record one (a
    /// group holds either only such calls or none).
    pub client_cost_usd: Option<f64>,
}

impl SyncReport {
    /// Adds calls stored first to the per-client, per-model, per-day sums.
    pub fn count_stored_usage(&mut self, client: &str, calls: &[&crate::usage::Usage]) {
        for u in calls {
            let day = u.timestamp.map(|t| t.date_naive());
            let costed = u.cost_usd.is_some();
            let at = self.usage_stored.iter().position(|s| {
                s.client == client
                    && s.model == u.model
                    && s.day == day
                    && s.client_cost_usd.is_some() == costed
            });
            let entry = match at {
                Some(i) => &mut self.usage_stored[i],
                None => {
                    self.usage_stored.push(StoredUsage {
                        client: client.to_string(),
                        model: u.model.clone(),
                        day,
                        client_cost_usd: costed.then_some(0.0),
                        ..StoredUsage::default()
                    });
                    self.usage_stored.last_mut().expect("just pushed")
                }
            };
            entry.calls += 1;
            entry.tokens.add(&u.tokens);
            if let (Some(sum), Some(c)) = (&mut entry.client_cost_usd, u.cost_usd) {
                *sum += c;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncReport {
    pub outcome: Outcome,
    /// Set when the sync failed as a whole.
    pub error: Option<String>,
    pub store: String,
    pub host: String,
    /// The group this host belongs to when it is ephemeral (a CI job): the
    /// fleet records the run under the group, not under a host of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_group: Option<String>,
    pub pond_version: String,
    pub adapters: Vec<String>,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_secs: f64,
    pub files_scanned: u64,
    pub files_changed: u64,
    pub files_rewritten: u64,
    /// Rewritten documents stored as a patch against their previous
    /// generation rather than whole.
    #[serde(default)]
    pub documents_patched: u64,
    /// Sessions found in source files but erased from the store (rule 44),
    /// and their records: read, and not stored again.
    #[serde(default)]
    pub erased_sessions_skipped: u64,
    #[serde(default)]
    pub erased_records_skipped: u64,
    pub bytes_read: u64,
    pub sessions_inserted: u64,
    pub sessions_updated: u64,
    pub messages_inserted: u64,
    pub records_inserted: u64,
    pub unparsed_records: u64,
    pub unknown_records: u64,
    pub commits: u64,
    /// Store writes retried after losing a commit race or a transient failure.
    pub commit_retries: u64,
    /// Commit conflicts with other writers that Lance resolved by rebasing.
    #[serde(default)]
    pub commit_conflicts: u64,
    /// Whether this run had to wait for another sync's host lock first.
    #[serde(default)]
    pub waited_for_lock: bool,
    /// Stored messages replaced by a newer copy of themselves (clients that
    /// re-append or rewrite a message as it completes).
    #[serde(default)]
    pub messages_revised: u64,
    /// Search rows written (one per searchable message part).
    #[serde(default)]
    pub search_rows_inserted: u64,
    /// Model calls whose token usage was stored (each call once, rule 47).
    #[serde(default)]
    pub usage_calls_inserted: u64,
    /// Tokens of the calls this run stored first, per client and model:
    /// what the `pond.usage.*` OTLP counters add.
    #[serde(default)]
    pub usage_stored: Vec<StoredUsage>,
    /// Of those, how many got a vector, and from which model.
    #[serde(default)]
    pub vectors_inserted: u64,
    #[serde(default)]
    pub embed_model: Option<String>,
    /// Set when the model in use is too slow to embed while syncing (the
    /// transformer): the rows wait for `pond model reembed` or the agent.
    #[serde(default)]
    pub embed_backlog_model: Option<String>,
    /// Seconds spent embedding, to tell model cost from store cost.
    #[serde(default)]
    pub embed_secs: f64,
    /// Seconds spent building or updating the search indexes at the end.
    #[serde(default)]
    pub index_secs: f64,
    /// Set when folding this run's rows into the search indexes failed; the
    /// rows are stored and still found (unindexed rows are scanned).
    #[serde(default)]
    pub index_error: Option<String>,
    pub errors: Vec<Problem>,
    /// Set when the run could not be recorded in the shared store's fleet
    /// tables (the local record is then the only trace of this run).
    #[serde(default)]
    pub shared_record_error: Option<String>,
    /// With `--upkeep`: what store upkeep did after the sync (`not due`,
    /// `done in 3.1 s`, `busy: <host> holds the lease`, or why it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upkeep: Option<String>,
}

impl SyncReport {
    pub fn new(store: &str, host: &str, adapters: Vec<String>, dry_run: bool) -> SyncReport {
        let now = Utc::now();
        SyncReport {
            outcome: Outcome::Ok,
            error: None,
            store: store.to_string(),
            host: host.to_string(),
            ephemeral_group: None,
            pond_version: env!("CARGO_PKG_VERSION").to_string(),
            adapters,
            dry_run,
            started_at: now,
            finished_at: now,
            duration_secs: 0.0,
            files_scanned: 0,
            files_changed: 0,
            files_rewritten: 0,
            documents_patched: 0,
            erased_sessions_skipped: 0,
            erased_records_skipped: 0,
            bytes_read: 0,
            sessions_inserted: 0,
            sessions_updated: 0,
            messages_inserted: 0,
            records_inserted: 0,
            unparsed_records: 0,
            unknown_records: 0,
            commits: 0,
            commit_retries: 0,
            commit_conflicts: 0,
            waited_for_lock: false,
            messages_revised: 0,
            search_rows_inserted: 0,
            usage_calls_inserted: 0,
            usage_stored: Vec::new(),
            vectors_inserted: 0,
            embed_model: None,
            embed_backlog_model: None,
            embed_secs: 0.0,
            index_secs: 0.0,
            index_error: None,
            errors: Vec::new(),
            shared_record_error: None,
            upkeep: None,
        }
    }

    /// Stamps the end time and settles the outcome.
    pub fn finish(&mut self, failure: Option<String>) {
        self.finished_at = Utc::now();
        self.duration_secs =
            (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0;
        // Rule 6: problems with single files make the outcome `partial`, not `failed`.
        if let Some(e) = failure {
            self.outcome = Outcome::Failed;
            self.error = Some(e);
        } else if self.outcome == Outcome::Ok && !self.errors.is_empty() {
            self.outcome = Outcome::Partial;
        }
    }

    pub fn problem(&mut self, file: &Path, line: Option<u64>, message: impl Into<String>) {
        self.errors.push(Problem {
            file: file.display().to_string(),
            line,
            message: message.into(),
        });
    }
}

impl SyncReport {
    /// Folds in what reading a batch of files counted and found wrong.
    pub(crate) fn absorb_reading(&mut self, reading: SyncReport) {
        self.bytes_read += reading.bytes_read;
        self.files_rewritten += reading.files_rewritten;
        self.unparsed_records += reading.unparsed_records;
        self.unknown_records += reading.unknown_records;
        self.errors.extend(reading.errors);
    }

    /// The row this run adds to the shared store's fleet history.
    pub fn run_row(&self) -> crate::store::tables::runs::RunRow {
        crate::store::tables::runs::RunRow {
            id: format!("{}/{}", self.host, self.started_at.to_rfc3339()),
            host: self.host.clone(),
            pond_version: self.pond_version.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            outcome: self.outcome.as_str().to_string(),
            error: self.error.clone(),
            clients: self.adapters.join(","),
            files_scanned: self.files_scanned,
            sessions_inserted: self.sessions_inserted,
            messages_inserted: self.messages_inserted,
            records_inserted: self.records_inserted,
            unparsed_records: self.unparsed_records,
            commit_retries: self.commit_retries,
            duration_secs: self.duration_secs,
            group: self.ephemeral_group.clone(),
        }
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The last-sync record: the report plus whether it reached its destination.
pub fn last_sync_path(state_dir: &Path, store_key: &str) -> PathBuf {
    state_dir.join(format!("last-sync-{store_key}.json"))
}

pub fn write_last_sync(
    state_dir: &Path,
    store_key: &str,
    report: &SyncReport,
) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    // Rule 8: the last-sync record is replaced atomically (temp file + rename).
    crate::paths::write_atomic(&last_sync_path(state_dir, store_key), &json)
}

pub fn read_last_sync(state_dir: &Path, store_key: &str) -> Option<SyncReport> {
    let bytes = std::fs::read(last_sync_path(state_dir, store_key)).ok()?;
    serde_json::from_slice(&bytes).ok()
}
