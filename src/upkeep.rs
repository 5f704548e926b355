//! Store upkeep for a fleet: `pond maintain`, and the cheap check that
//! lets `pond agent` and scheduled syncs run it when it is due.
//!
//! A store many hosts sync into grows a fragment and a version per table
//! per commit. Upkeep compacts the fragments, builds and folds the indexes,
//! prunes versions superseded longer than the retention, and trims the run
//! history, one host at a time (the lease in `store::upkeep::lease`). The lease is
//! renewed between phases; a holder that loses it stops after the phase it
//! is in, and every phase is a complete Lance commit, so a holder killed at
//! any point leaves a readable store and the next host finishes the work.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::upkeep::lease::{self, LeaseRecord, Taken};
use crate::store::upkeep::{COMPACTION_PATIENCE, Compacted, Pruned, TableHealth};
use crate::store::{Store, StoreError, TableKind};

/// The record of the last upkeep run, beside the lease.
const LAST_RUN: &str = "last.json";

/// How long a holder may go between renewals before another host may take
/// over: longer than any single phase takes.
pub const LEASE_TTL: Duration = Duration::from_secs(15 * 60);

/// Run history older than this is deleted; each host's row in `hosts`
/// keeps its totals, so the fleet view loses nothing it shows.
pub const RUN_HISTORY_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// A vector index is retrained once the table has this many times the rows
/// it was trained on: new rows are assigned to the old partitions, which
/// grow lopsided.
const RETRAIN_GROWTH: u64 = 2;

/// The retention below which pruning is refused without `--retain`: a day,
/// longer than any upkeep run or reader can plausibly hold a version.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct UpkeepOptions {
    pub host: String,
    pub retain: Duration,
    pub dry_run: bool,
    pub lease_ttl: Duration,
    /// Prune a table only once 1/`prune_share` of its versions can go (1:
    /// whenever one can). Upkeep after syncs uses [`BATCHED_PRUNE_SHARE`].
    pub prune_share: u64,
}

/// Upkeep due after syncs prunes a table only once a quarter of the
/// versions it keeps can go. Pruning reads every manifest within the
/// retention and lists every file, whatever it removes: in a loop of 80
/// syncs with upkeep every 8 commits, it was 0.85 s of a 1.2 s run and grew
/// with each run, and a fleet making 29,000 commits a day under the default
/// day's retention would read 29,000 manifests per table every run. In
/// batches, each manifest is read about four times in its life.
pub const BATCHED_PRUNE_SHARE: u64 = 4;

/// When and how this host runs store upkeep, as its configuration says.
#[derive(Debug, Clone)]
pub struct UpkeepSettings {
    pub retain: std::time::Duration,
    /// How long the lease holds between renewals (`POND_UPKEEP_LEASE_TTL`,
    /// for operators and tests; default 15 minutes).
    pub lease_ttl: std::time::Duration,
    pub policy: UpkeepPolicy,
}

/// When an automatic run is due.
#[derive(Debug, Clone)]
pub struct UpkeepPolicy {
    /// At least this long after the last run...
    pub every: Duration,
    /// ...or sooner, once the messages table has this many new versions.
    pub after_commits: u64,
}

impl Default for UpkeepPolicy {
    fn default() -> Self {
        UpkeepPolicy {
            every: Duration::from_secs(3600),
            after_commits: 12,
        }
    }
}

/// What the last run recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastUpkeep {
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_secs: f64,
    pub outcome: String,
    /// Each table's version when the run finished: commits since are what
    /// the cheap check counts.
    pub versions: BTreeMap<String, u64>,
    /// Search rows the vector index was last trained on.
    #[serde(default)]
    pub vector_trained_rows: u64,
}

/// What one table went through.
#[derive(Debug, Default, Serialize)]
pub struct TableUpkeep {
    pub table: String,
    pub before: TableHealth,
    pub after: Option<TableHealth>,
    pub compacted: Compacted,
    pub key_indexes_built: u64,
    pub indexes_folded: bool,
    pub vector_retrained: bool,
    pub pruned: Pruned,
    /// Compaction gave way to writers changing the same fragments; the
    /// next run tries again.
    pub gave_way: bool,
}

#[derive(Debug, Serialize)]
pub struct UpkeepReport {
    /// `done`, `dry-run`, `busy` (another host holds the lease) or
    /// `lease-lost` (stopped after the phase in which it was lost).
    pub outcome: String,
    pub host: String,
    pub dry_run: bool,
    pub retain_secs: u64,
    /// Who holds the lease, when busy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<LeaseRecord>,
    pub started_at: DateTime<Utc>,
    pub duration_secs: f64,
    pub tables: Vec<TableUpkeep>,
    pub runs_trimmed: u64,
    /// Rows of erased sessions found and deleted: left by an erasure that
    /// was interrupted, or stored by a sync that read the tombstones just
    /// before they were written (rule 44).
    pub erased_rows_removed: u64,
    /// What the run chose not to do, and why.
    pub left: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpkeepError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tables in the order upkeep visits them: the most written first.
const TABLES: [TableKind; 10] = [
    TableKind::Messages,
    TableKind::Search,
    TableKind::Raw,
    TableKind::Usage,
    TableKind::Sessions,
    TableKind::SyncRuns,
    TableKind::Hosts,
    TableKind::Redactions,
    TableKind::Erasures,
    TableKind::HostGroups,
];

pub async fn run(
    store: &Store,
    opts: &UpkeepOptions,
    progress: &dyn Fn(&str),
) -> Result<UpkeepReport, UpkeepError> {
    let started = Instant::now();
    let started_at = Utc::now();
    let mut report = UpkeepReport {
        outcome: "done".into(),
        host: opts.host.clone(),
        dry_run: opts.dry_run,
        retain_secs: opts.retain.as_secs(),
        holder: None,
        started_at,
        duration_secs: 0.0,
        tables: Vec::new(),
        runs_trimmed: 0,
        erased_rows_removed: 0,
        left: Vec::new(),
    };
    if opts.dry_run {
        report.outcome = "dry-run".into();
        report.tables = store
            .health()
            .await?
            .into_iter()
            .map(|h| TableUpkeep {
                table: h.table.clone(),
                before: h,
                ..TableUpkeep::default()
            })
            .collect();
        report.duration_secs = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    // The lease first: a host that finds upkeep running should learn it
    // from one small read, not after reading every table's statistics.
    let mut lease =
        match lease::take(store.location(), lease::UPKEEP, &opts.host, opts.lease_ttl).await? {
            Taken::Held(lease) => lease,
            Taken::Busy(holder) => {
                progress(&format!(
                    "upkeep is running on {} (until {}); nothing to do here",
                    holder.holder,
                    holder.expires_at.to_rfc3339()
                ));
                report.outcome = "busy".into();
                report.holder = Some(holder);
                report.duration_secs = started.elapsed().as_secs_f64();
                return Ok(report);
            }
        };
    let kept = keep_store(store, opts, &mut lease, &mut report, progress).await;
    report.duration_secs = started.elapsed().as_secs_f64();
    // A partial run is recorded too: what failed is retried when upkeep is
    // next due, not by every sync that follows.
    let recorded = match kept {
        Ok(vector_trained_rows) if report.outcome != "lease-lost" => {
            let record = LastUpkeep {
                host: opts.host.clone(),
                started_at,
                finished_at: Utc::now(),
                duration_secs: report.duration_secs,
                outcome: report.outcome.clone(),
                versions: BTreeMap::new(),
                vector_trained_rows,
            };
            record_last_run(store, record).await
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    lease.release().await;
    recorded?;
    Ok(report)
}

/// Erasures finished, every table kept in turn under the lease, the run
/// history trimmed; returns the rows the vector index was last trained on.
async fn keep_store(
    store: &Store,
    opts: &UpkeepOptions,
    lease: &mut lease::Lease,
    report: &mut UpkeepReport,
    progress: &dyn Fn(&str),
) -> Result<u64, UpkeepError> {
    // Rule 44: upkeep deletes any row of a tombstoned session it finds, finishing
    // interrupted erasures and late syncs.
    // Before the statistics: the deletions it makes are what compaction
    // then rewrites away.
    match finish_erasures(store).await {
        Ok(removed) => report.erased_rows_removed = removed,
        Err(e) => {
            report.left.push(format!("erasures: {e}"));
            report.outcome = "partial".into();
        }
    }
    let before = store.health().await?;
    let last: Option<LastUpkeep> =
        lease::read_json(store.location(), lease::UPKEEP, LAST_RUN).await?;
    let mut vector_trained_rows = last.as_ref().map_or(0, |l| l.vector_trained_rows);
    for kind in TABLES {
        if !store.has_table(kind) {
            continue;
        }
        let health = before
            .iter()
            .find(|h| h.table == kind.name())
            .cloned()
            .unwrap_or_default();
        keep_table(
            store,
            kind,
            health,
            opts,
            &mut vector_trained_rows,
            report,
            progress,
        )
        .await;
        if let Err(lost) = lease.renew().await {
            progress(&format!("stopping: {lost}"));
            report.outcome = "lease-lost".into();
            report
                .left
                .push(format!("tables after {}: {lost}", kind.name()));
            break;
        }
    }
    if report.outcome != "lease-lost" {
        match trim_run_history(store).await {
            Ok(trimmed) => report.runs_trimmed = trimmed,
            Err(e) => report.left.push(format!("run history: {e}")),
        }
    }
    let after = store.health().await?;
    for t in &mut report.tables {
        t.after = after.iter().find(|h| h.table == t.table).cloned();
    }
    Ok(vector_trained_rows)
}

/// One table's upkeep, added to the report with what it left for the next
/// run. A table that could not be kept (a conflict the retries did not
/// absorb, a store error) makes the run partial; the others go on.
async fn keep_table(
    store: &Store,
    kind: TableKind,
    health: TableHealth,
    opts: &UpkeepOptions,
    vector_trained_rows: &mut u64,
    report: &mut UpkeepReport,
    progress: &dyn Fn(&str),
) {
    let mut done = TableUpkeep {
        table: kind.name().to_string(),
        before: health.clone(),
        ..TableUpkeep::default()
    };
    progress(&format!(
        "{}: {} fragments, {} versions",
        kind.name(),
        health.fragments,
        health.versions
    ));
    let result = table_phases(store, kind, &health, opts, vector_trained_rows, &mut done).await;
    if done.gave_way {
        report.left.push(format!(
            "{}: compaction gave way to concurrent writers",
            kind.name()
        ));
    }
    if done.compacted.groups_left > 0 {
        report.left.push(format!(
            "{}: {} groups of fragments left for the next run (patience {}s)",
            kind.name(),
            done.compacted.groups_left,
            COMPACTION_PATIENCE.as_secs()
        ));
    }
    report.tables.push(done);
    if let Err(e) = result {
        tracing::warn!(table = kind.name(), error = %e, "upkeep of a table failed");
        progress(&format!("{}: {e}", kind.name()));
        report.left.push(format!("{}: {e}", kind.name()));
        report.outcome = "partial".into();
    }
}

/// The run's record beside the lease, with each table's version after it.
async fn record_last_run(store: &Store, record: LastUpkeep) -> Result<(), UpkeepError> {
    let record = with_versions(store, record).await?;
    lease::write_json(store.location(), lease::UPKEEP, LAST_RUN, &record).await?;
    Ok(())
}

async fn with_versions(store: &Store, mut record: LastUpkeep) -> Result<LastUpkeep, StoreError> {
    for kind in TABLES {
        if store.has_table(kind) {
            store.refresh(kind).await?;
            record
                .versions
                .insert(kind.name().to_string(), store.table_version(kind).await?);
        }
    }
    Ok(record)
}

/// Compaction, key indexes, index folding and pruning of one table.
async fn table_phases(
    store: &Store,
    kind: TableKind,
    health: &TableHealth,
    opts: &UpkeepOptions,
    vector_trained_rows: &mut u64,
    done: &mut TableUpkeep,
) -> Result<(), StoreError> {
    store.refresh(kind).await?;
    if health.small_fragments > 1 || health.deleted_rows > 0 {
        // Deleted rows are an erasure's bytes (or a replaced row's): their
        // rewrite is waited for however long it takes.
        let patience = (health.deleted_rows == 0).then_some(COMPACTION_PATIENCE);
        match store.compact(kind, patience).await? {
            Some(compacted) => done.compacted = compacted,
            None => done.gave_way = true,
        }
    }
    done.key_indexes_built = store.ensure_key_indexes(kind).await?;
    if kind == TableKind::Search && *vector_trained_rows == 0 {
        // No upkeep has recorded a training yet: count from the rows the
        // index covers now, rather than retrain at once.
        *vector_trained_rows = health.rows.saturating_sub(health.unindexed_rows);
    }
    if health.unindexed_rows > 0 || done.compacted.fragments_added > 0 {
        let retrain = kind == TableKind::Search
            && *vector_trained_rows > 0
            && health.rows >= RETRAIN_GROWTH * *vector_trained_rows
            && store.has_vector_index().await?;
        store.fold_indexes(kind, retrain).await?;
        done.indexes_folded = true;
        if retrain {
            done.vector_retrained = true;
            *vector_trained_rows = health.rows;
        }
    }
    done.pruned = store.prune(kind, opts.retain, opts.prune_share).await?;
    Ok(())
}

/// Deletes whatever rows of erased sessions the store still holds.
async fn finish_erasures(store: &Store) -> Result<u64, StoreError> {
    if !store.has_table(TableKind::Erasures) {
        return Ok(0);
    }
    let erased: Vec<String> = store.erased_sessions().await?.into_iter().collect();
    if erased.is_empty() {
        return Ok(0);
    }
    Ok(store.delete_session_rows(&erased).await?.total())
}

/// Deletes run records older than [`RUN_HISTORY_KEPT`].
async fn trim_run_history(store: &Store) -> Result<u64, StoreError> {
    if !store.has_table(TableKind::SyncRuns) {
        return Ok(0);
    }
    let cutoff =
        Utc::now() - chrono::Duration::from_std(RUN_HISTORY_KEPT).unwrap_or(chrono::Duration::MAX);
    let filter = format!(
        "finished_at < TIMESTAMP '{}'",
        cutoff.format("%Y-%m-%d %H:%M:%S")
    );
    let old = store.count(TableKind::SyncRuns, Some(&filter)).await? as u64;
    if old > 0 {
        store.delete_where(TableKind::SyncRuns, &filter).await?;
    }
    Ok(old)
}

/// Why upkeep is due now, or `None`: one small object read and one
/// manifest read, cheap enough to run after every agent sync.
pub async fn due(store: &Store, policy: &UpkeepPolicy) -> Result<Option<String>, StoreError> {
    let last: Option<LastUpkeep> =
        lease::read_json(store.location(), lease::UPKEEP, LAST_RUN).await?;
    let Some(last) = last else {
        return Ok(Some("no upkeep has run on this store".into()));
    };
    let age = (Utc::now() - last.finished_at).to_std().unwrap_or_default();
    if age >= policy.every {
        return Ok(Some(format!(
            "last upkeep {} ago",
            humantime::format_duration(Duration::from_secs(age.as_secs()))
        )));
    }
    if store.has_table(TableKind::Messages) {
        let now = store.table_version(TableKind::Messages).await?;
        let then = last
            .versions
            .get(TableKind::Messages.name())
            .copied()
            .unwrap_or(0);
        if now.saturating_sub(then) >= policy.after_commits {
            return Ok(Some(format!(
                "{} commits to messages since the last upkeep",
                now - then
            )));
        }
    }
    Ok(None)
}

/// The last upkeep run and who holds the lease now, for status.
pub async fn state(store: &Store) -> Result<(Option<LastUpkeep>, Option<LeaseRecord>), StoreError> {
    let last = lease::read_json(store.location(), lease::UPKEEP, LAST_RUN).await?;
    let holder = lease::current(store.location(), lease::UPKEEP).await?;
    Ok((last, holder))
}
