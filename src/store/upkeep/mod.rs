//! Keeping a store that many hosts write every few minutes bounded: what
//! its tables look like (health), and the steps that fold many small
//! commits back into few large ones (compaction, index folding, the key
//! indexes, pruning old versions).
//!
//! Every sync adds at least one fragment and one version to each table it
//! writes; nothing in Lance takes them away on its own. These are the
//! store's half of upkeep: each step is one Lance operation on one table,
//! safe beside running syncs (compaction conflicts only with index builds
//! and other compactions, which the upkeep lease keeps to one host). When
//! and by whom they run is `crate::upkeep`'s business.

pub mod lease;
pub mod sweep;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lance::dataset::index::DatasetIndexRemapperOptions;
use lance::dataset::optimize::{commit_compaction, plan_compaction};
use lance::index::DatasetIndexExt;
use lance::table::format::IndexMetadata;
use lancedb::Table;
use lancedb::index::scalar::BTreeIndexBuilder;
use lancedb::index::{Index, IndexConfig};
use lancedb::table::{CompactionOptions, OptimizeAction, OptimizeOptions};
use serde::Serialize;

use crate::store::Store;
use crate::store::{StoreError, TableKind, lance_error, reach::connect, reach::retry};

/// One table's shape: what grows with every commit until upkeep runs.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct TableHealth {
    pub table: String,
    pub rows: u64,
    pub fragments: u64,
    /// Fragments small enough for compaction to merge.
    pub small_fragments: u64,
    /// Versions (manifests) kept.
    pub versions: u64,
    /// Data, index and deletion files the current version references.
    pub bytes: u64,
    /// Size of the newest manifest, read on every open.
    pub manifest_bytes: u64,
    /// Rows not yet in every index of the table.
    pub unindexed_rows: u64,
    pub deleted_rows: u64,
}

/// What compaction did to one table.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Compacted {
    pub fragments_removed: u64,
    pub fragments_added: u64,
    /// Groups of fragments planned but left for the next run, once the
    /// patience had passed.
    pub groups_left: u64,
}

/// What pruning removed from one table.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Pruned {
    pub versions_removed: u64,
    /// Every byte removed: the pruned versions' files and the swept ones.
    pub bytes_removed: u64,
    pub files_removed: u64,
    /// Of those, files no manifest referenced (rule 50's sweep).
    pub unreferenced_files_removed: u64,
    /// Until when the sweep keeps what Lance keeps (a week's unreferenced
    /// files): a pond from before write intents may still be writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_held_until: Option<DateTime<Utc>>,
}

/// How long a compaction may go on starting groups of fragments and
/// waiting out conflicting writers before it commits what it has.
pub const COMPACTION_PATIENCE: Duration = Duration::from_secs(10);

/// Rows at which a fragment counts as full and compaction leaves it alone.
/// Lance's default (a million) made every upkeep rewrite the whole table
/// into one fragment, and pruning keeps each rewritten copy for the
/// retention: 13.7× a fresh ingest's bytes in the fleet bench. Full
/// fragments of this size keep a rewrite to the table's tail.
const FULL_FRAGMENT_ROWS: usize = 65_536;

fn compaction_options() -> CompactionOptions {
    CompactionOptions {
        target_rows_per_fragment: FULL_FRAGMENT_ROWS,
        // Every fragment with a deleted row is rewritten, however few: a
        // delete only writes a deletion file, and the row's bytes stay in
        // the data file until its fragment is rewritten (erasure, rule
        // 44). Lance's default waits for 10 %.
        materialize_deletions: true,
        materialize_deletions_threshold: 0.0,
        ..CompactionOptions::default()
    }
}

/// Columns every keyed write, transcript and recovery reads by: without a
/// B-tree each of those reads scans the whole column.
pub const KEY_INDEXES: [(TableKind, &str); 7] = [
    (TableKind::Raw, "id"),
    (TableKind::Raw, "file_id"),
    (TableKind::Messages, "id"),
    (TableKind::Messages, "session_id"),
    (TableKind::Sessions, "id"),
    (TableKind::Search, "id"),
    (TableKind::Usage, "id"),
];

fn key_index_name(column: &str) -> String {
    format!("{column}_key_idx")
}

impl Store {
    /// The shape of each table, from its manifest and a listing of its
    /// versions (no data is read).
    pub async fn health(&self) -> Result<Vec<TableHealth>, StoreError> {
        let (os, prefix) = connect::object_store(&self.location)
            .map_err(|e| lance_error_str(&self.location, "open", &e))?;
        let mut out = Vec::new();
        for (&kind, table) in &self.tables {
            let what = format!("read {} statistics", kind.name());
            let stats = table
                .stats()
                .await
                .map_err(|e| lance_error(&self.location, &what, e))?;
            let mut health = TableHealth {
                table: kind.name().to_string(),
                rows: stats.num_rows as u64,
                fragments: stats.fragment_stats.num_fragments as u64,
                small_fragments: stats.fragment_stats.num_small_fragments as u64,
                bytes: stats.total_bytes as u64,
                deleted_rows: stats.num_deleted_rows.unwrap_or(0) as u64,
                ..TableHealth::default()
            };
            let manifests = list_manifests(os.as_ref(), &prefix, kind)
                .await
                .map_err(|e| lance_error_str(&self.location, &what, &e))?;
            health.versions = manifests.len() as u64;
            health.manifest_bytes = manifests
                .iter()
                .max_by_key(|m| m.last_modified)
                .map_or(0, |m| m.size);
            let indices = self.list_indexes(table, &what).await?;
            for index in indices {
                if let Some(s) = table
                    .index_stats(&index.name)
                    .await
                    .map_err(|e| lance_error(&self.location, &what, e))?
                {
                    health.unindexed_rows = health.unindexed_rows.max(s.num_unindexed_rows as u64);
                }
            }
            out.push(health);
        }
        out.sort_by(|a, b| a.table.cmp(&b.table));
        Ok(out)
    }

    /// The current version of a table (one manifest read).
    pub async fn table_version(&self, kind: TableKind) -> Result<u64, StoreError> {
        self.table(kind)?
            .version()
            .await
            .map_err(|e| lance_error(&self.location, "read table version", e))
    }

    /// Rewrites the table's small fragments, and every fragment with a
    /// deleted row, into few large ones, newest first. With a `patience`,
    /// no new group of fragments is started once it has passed, and what
    /// was rewritten by then is committed: a whole-table rewrite (a store
    /// whose first syncs wrote fragments below the full size) took longer
    /// than [`COMPACTION_PATIENCE`] at a million rows, so a run that waited
    /// for all of it gave way every time and never compacted anything.
    /// `None` when it gave way: writers kept changing the same fragments (a
    /// session row updated by every sync) until the patience ran out, to be
    /// tried at the next run. `None` patience rewrites every group, however
    /// long it takes: erasure must finish.
    pub async fn compact(
        &self,
        kind: TableKind,
        patience: Option<Duration>,
    ) -> Result<Option<Compacted>, StoreError> {
        let what = format!("compact {}", kind.name());
        let deadline = patience.map(|p| Instant::now() + p);
        let mut delay = self.retry.min_delay;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.compact_once(kind, deadline).await {
                Ok(compacted) => return Ok(Some(compacted)),
                Err(e) if retry::is_retryable(&e) && attempts < self.retry.max_attempts => {
                    if deadline.is_some_and(|d| Instant::now() + delay >= d) {
                        tracing::info!(table = kind.name(), error = %e, "compaction gave way");
                        return Ok(None);
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(what, ?delay, error = %e, "compaction conflicted; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                }
                Err(e) if retry::is_retryable(&e) && deadline.is_some() => return Ok(None),
                Err(e) => return Err(lance_error(&self.location, &what, e)),
            }
        }
    }

    /// One planned compaction of the latest version, in one commit: the
    /// groups Lance plans, from the table's tail, until `deadline` (at
    /// least one, so every run moves).
    async fn compact_once(
        &self,
        kind: TableKind,
        deadline: Option<Instant>,
    ) -> lancedb::Result<Compacted> {
        let table = self
            .table_to_write(kind)
            .await
            .map_err(|e| lancedb::Error::Runtime {
                message: e.to_string(),
            })?;
        table.checkout_latest().await?;
        let wrapper = table
            .dataset()
            .ok_or_else(|| lancedb::Error::NotSupported {
                message: "compaction needs a native Lance table".into(),
            })?;
        let dataset = wrapper.get().await?;
        let options = compaction_options();
        let plan = plan_compaction(&dataset, &options).await?;
        let tasks: Vec<_> = plan.compaction_tasks().collect();
        let mut rewritten = Vec::new();
        // The tail first: the fragments the latest syncs wrote are the
        // ones every merge scans until they are folded.
        for task in tasks.iter().rev() {
            // Rule 41: past its patience a compaction commits the groups it rewrote
            // (at least one) and leaves the rest, so every run moves.
            if !rewritten.is_empty() && deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            rewritten.push(task.execute(&dataset).await?);
        }
        let groups_left = (tasks.len() - rewritten.len()) as u64;
        if rewritten.is_empty() {
            return Ok(Compacted::default());
        }
        let mut dataset = (*dataset).clone();
        let metrics = commit_compaction(
            &mut dataset,
            rewritten,
            Arc::new(DatasetIndexRemapperOptions::default()),
            &options,
        )
        .await?;
        wrapper.update(dataset);
        Ok(Compacted {
            fragments_removed: metrics.fragments_removed as u64,
            fragments_added: metrics.fragments_added as u64,
            groups_left,
        })
    }

    /// A table's indexes, listed before work on them, failing as the work
    /// (`what`) would: every index chore starts from this list.
    async fn list_indexes(
        &self,
        table: &Table,
        what: &str,
    ) -> Result<Vec<IndexConfig>, StoreError> {
        table
            .list_indices()
            .await
            .map_err(|e| lance_error(&self.location, what, e))
    }

    /// Creates the key indexes a table lacks; returns how many it built.
    pub async fn ensure_key_indexes(&self, kind: TableKind) -> Result<u64, StoreError> {
        let table = self.table_to_write(kind).await?;
        let what = format!("index keys of {}", kind.name());
        let existing = self.list_indexes(&table, &what).await?;
        let mut built = 0;
        for (_, column) in KEY_INDEXES.iter().filter(|(k, _)| *k == kind) {
            let indexed = existing
                .iter()
                .any(|i| i.columns.len() == 1 && i.columns[0] == *column);
            if indexed {
                continue;
            }
            table
                .create_index(&[*column], Index::BTree(BTreeIndexBuilder::default()))
                .name(key_index_name(column))
                .replace(false)
                .execute()
                .await
                .map_err(|e| lance_error(&self.location, &what, e))?;
            built += 1;
        }
        Ok(built)
    }

    /// Folds every index's delta segments and unindexed rows into one
    /// segment; `retrain` rebuilds a vector index's model from the rows now
    /// stored.
    pub async fn fold_indexes(&self, kind: TableKind, retrain: bool) -> Result<(), StoreError> {
        let table = self.table_for_attempts(kind).await?;
        let what = format!("fold indexes of {}", kind.name());
        let indices = self.list_indexes(table, &what).await?;
        if indices.is_empty() {
            return Ok(());
        }
        if retrain {
            let options = OptimizeOptions::retrain();
            return self
                .attempts(kind, &what, || {
                    table.optimize(OptimizeAction::Index(options.clone()))
                })
                .await
                .map(|_| ())
                .map_err(|e| lance_error(&self.location, &what, e));
        }
        for index in &indices {
            let merge = self
                .attempts(kind, &what, || async {
                    table.checkout_latest().await?;
                    let dataset = native_dataset(table).await?;
                    let segments: Vec<IndexMetadata> =
                        DatasetIndexExt::load_indices_by_name(dataset.as_ref(), &index.name)
                            .await
                            .map_err(lancedb::Error::from)?;
                    Ok(segments_to_merge(&dataset, &segments))
                })
                .await
                .map_err(|e| lance_error(&self.location, &what, e))?;
            let Some(merge) = merge else {
                continue;
            };
            let options = OptimizeOptions::merge(merge).index_names(vec![index.name.clone()]);
            self.attempts(kind, &what, || {
                table.optimize(OptimizeAction::Index(options.clone()))
            })
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        }
        Ok(())
    }

    /// Removes the versions that were superseded more than `retain` ago,
    /// and the files only they referenced. Never a version a reader could
    /// have opened within `retain`, never the current one, never a file no
    /// manifest proves unreferenced (an in-flight write's).
    ///
    /// `min_share`: prune only once at least 1/`min_share` of the versions
    /// kept are past the retention (1: whenever one is). Pruning reads every
    /// manifest kept and lists every file, whatever it removes, so upkeep
    /// run every few commits prunes in batches.
    pub async fn prune(
        &self,
        kind: TableKind,
        retain: Duration,
        min_share: u64,
    ) -> Result<Pruned, StoreError> {
        let table = self.table_to_write(kind).await?;
        let what = format!("prune {}", kind.name());
        if min_share > 1 {
            let (os, prefix) = connect::object_store(&self.location)
                .map_err(|e| lance_error_str(&self.location, &what, &e))?;
            let written: Vec<DateTime<Utc>> = list_manifests(os.as_ref(), &prefix, kind)
                .await
                .map_err(|e| lance_error_str(&self.location, &what, &e))?
                .into_iter()
                .map(|m| m.last_modified)
                .collect();
            if !worth_pruning(&written, Utc::now(), retain, min_share) {
                return Ok(Pruned::default());
            }
        }
        let versions = table
            .list_versions()
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        // Rule 41: only versions superseded for longer than the retention are pruned.
        let Some(cutoff) = prune_cutoff(
            versions.iter().map(|v| v.timestamp).collect(),
            Utc::now(),
            retain,
        ) else {
            return Ok(Pruned::default());
        };
        let stats = table
            .optimize_prune_before(cutoff, Some(false), Some(false))
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        let mut pruned = stats
            .prune
            .map(|p| Pruned {
                versions_removed: p.old_versions,
                bytes_removed: p.bytes_removed,
                files_removed: p.data_files_removed
                    + p.index_files_removed
                    + p.deletion_files_removed
                    + p.transaction_files_removed,
                unreferenced_files_removed: 0,
                sweep_held_until: None,
            })
            .unwrap_or_default();
        // The sweep reads every kept manifest too, so it runs with the prune
        // it follows: batched alike.
        let swept = self.sweep_unreferenced(kind, retain).await?;
        pruned.bytes_removed += swept.bytes_removed;
        pruned.files_removed += swept.files_removed;
        pruned.unreferenced_files_removed = swept.files_removed;
        pruned.sweep_held_until = swept.held_until;
        Ok(pruned)
    }
}

/// A delta is folded into the oldest segment once it holds this fraction
/// of the oldest segment's rows.
const DELTA_SHARE_FOR_FULL_MERGE: usize = 8;

/// How many of an index's newest segments upkeep merges, with the rows no
/// segment covers yet; `None` when there is nothing to fold.
///
/// Each sync folds its own rows into a delta segment (the ranked indexes)
/// or leaves them unindexed (the rest), and leaving the deltas to pile up
/// kept 9.9× a fresh ingest's files after the retention in the fleet bench.
/// But merging every segment rewrites the whole index, the oldest segment
/// (every row up to then) included: about a minute for a million-row
/// full-text index, every upkeep run, and in the 20 × 500 fleet bench the
/// runs grew with the store until they took 3–5 s of a round's 6. So the
/// deltas and the new rows are merged into one delta, and only once that
/// holds an eighth of the oldest segment's rows is everything merged: an
/// index keeps at most two segments after upkeep, and a row is rewritten a
/// bounded number of times as the table grows.
fn segments_to_merge(dataset: &lance::Dataset, segments: &[IndexMetadata]) -> Option<usize> {
    let rows_of: HashMap<u32, usize> = dataset
        .get_fragments()
        .iter()
        .map(|f| (f.id() as u32, f.metadata().physical_rows.unwrap_or(0)))
        .collect();
    let rows = |segment: &IndexMetadata| -> usize {
        segment.fragment_bitmap.as_ref().map_or(0, |fragments| {
            fragments.iter().filter_map(|id| rows_of.get(&id)).sum()
        })
    };
    let covered: HashSet<u32> = segments
        .iter()
        .filter_map(|s| s.fragment_bitmap.as_ref())
        .flat_map(|fragments| fragments.iter())
        .collect();
    let unindexed: usize = rows_of
        .iter()
        .filter(|(id, _)| !covered.contains(id))
        .map(|(_, rows)| rows)
        .sum();
    let mut by_age: Vec<&IndexMetadata> = segments.iter().collect();
    by_age.sort_by_key(|s| s.dataset_version);
    let (oldest, newer) = by_age.split_first()?;
    if newer.is_empty() && unindexed == 0 {
        return None;
    }
    let newer_rows = newer.iter().map(|s| rows(s)).sum::<usize>() + unindexed;
    if newer_rows * DELTA_SHARE_FOR_FULL_MERGE >= rows(oldest) {
        Some(by_age.len())
    } else {
        Some(newer.len())
    }
}

/// The Lance dataset behind a table handle, for what lancedb does not offer.
pub(in crate::store) async fn native_dataset(
    table: &Table,
) -> lancedb::Result<Arc<lance::Dataset>> {
    let wrapper = table
        .dataset()
        .ok_or_else(|| lancedb::Error::NotSupported {
            message: "store upkeep needs a native Lance table".into(),
        })?;
    wrapper.get().await
}

/// A table's manifests, from a listing (no manifest is read).
async fn list_manifests(
    os: &dyn object_store::ObjectStore,
    prefix: &object_store::path::Path,
    kind: TableKind,
) -> Result<Vec<object_store::ObjectMeta>, String> {
    let versions_dir = prefix
        .clone()
        .join(format!("{}.lance", kind.name()))
        .join("_versions");
    let listed: Vec<_> = os
        .list(Some(&versions_dir))
        .try_collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(listed
        .into_iter()
        .filter(|m| m.location.as_ref().ends_with(".manifest"))
        .collect())
}

/// Whether at least 1/`min_share` of the versions written at `written` would
/// go under `retain` ([`prune_cutoff`] keeps the newest one past it); with a
/// `min_share` of 1, whether any would.
fn worth_pruning(
    written: &[DateTime<Utc>],
    now: DateTime<Utc>,
    retain: Duration,
    min_share: u64,
) -> bool {
    let Ok(retain) = chrono::Duration::from_std(retain) else {
        return false;
    };
    let past = written.iter().filter(|t| **t < now - retain).count() as u64;
    let prunable = past.saturating_sub(1);
    prunable > 0 && (min_share <= 1 || prunable * min_share >= written.len() as u64)
}

/// The time before which versions may go: that of the newest version older
/// than `retain`. Lance removes versions older than a cutoff; measured by
/// its own timestamp, a version current for a year until a minute ago
/// would go at once, under a reader that opened it a minute ago. Cutting
/// at the newest version older than `retain` removes exactly those whose
/// successor is older than `retain`: superseded for at least that long.
fn prune_cutoff(
    mut timestamps: Vec<DateTime<Utc>>,
    now: DateTime<Utc>,
    retain: Duration,
) -> Option<DateTime<Utc>> {
    let horizon = now - chrono::Duration::from_std(retain).ok()?;
    timestamps.sort_unstable();
    timestamps.into_iter().rev().find(|t| *t < horizon)
}

pub(in crate::store) fn lance_error_str(
    location: &crate::store::StoreLocation,
    what: &str,
    e: &str,
) -> StoreError {
    StoreError::Lance {
        location: location.display.clone(),
        operation: what.to_string(),
        message: location.redact(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    #[test]
    fn batched_pruning_waits_for_a_share_of_the_versions_kept() {
        let now = at(1000);
        let retain = Duration::from_secs(100);
        // Eight versions, three past the retention: two could go (the newest
        // of the three is the cutoff and stays).
        let written: Vec<_> = [0, 10, 20, 950, 960, 970, 980, 990]
            .into_iter()
            .map(at)
            .collect();
        // Two of eight is a quarter: enough for a quarter, not for a third.
        assert!(worth_pruning(&written, now, retain, 4));
        assert!(!worth_pruning(&written, now, retain, 3));
        assert!(worth_pruning(&written, now, retain, 1));
        // One past the retention is the cutoff itself: nothing can go.
        assert!(!worth_pruning(&[at(0), at(990)], now, retain, 1));
    }

    #[test]
    fn only_versions_superseded_longer_than_the_retention_go() {
        let now = at(1_000);
        let retain = Duration::from_secs(100);
        // v1 at 0 (superseded at 10), v2 at 10 (superseded at 950), v3 at 950.
        let cut = prune_cutoff(vec![at(0), at(10), at(950)], now, retain);
        // Cut at v2: v1 goes; v2, superseded 50 s ago, stays.
        assert_eq!(cut, Some(at(10)));
        // Nothing older than the retention: nothing goes.
        assert_eq!(prune_cutoff(vec![at(950), at(990)], now, retain), None);
    }
}
