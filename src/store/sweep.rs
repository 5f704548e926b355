//! Sweeping the files no manifest references: what commits that lost a
//! race, or were abandoned, left behind.
//!
//! Lance's cleanup removes a file once a manifest it removes proves the file
//! was that version's; a file no manifest ever named it keeps for 7 days,
//! because an unfinished write's files look the same. In a fleet whose hosts
//! race, those files were nearly half the store (the fleet bench: 77.7 MB
//! after the retention against 41.6 MB for a fresh ingest). Lance names the
//! unreferenced files (a cleanup that removes no version, explained with
//! `delete_unverified`), and the write intents (`store::intents`) say which
//! of them a write in flight may still commit: none older than the oldest
//! intent listed. The sweep removes those older than that by the retention
//! as well, and nothing else.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lance::dataset::cleanup::{CleanupFileKind, CleanupPolicy};

use super::upkeep::{lance_error_str, native_dataset};
use super::{StoreError, TableKind, intents, lance_error, probe};

/// The write intents in the store now: each a process writing, or one that
/// died within the last 7 days; the oldest holds sweeps back to its time.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WritesInFlight {
    pub count: usize,
    pub oldest: Option<DateTime<Utc>>,
}

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    pub files_removed: u64,
    pub bytes_removed: u64,
}

impl super::Store {
    /// The live write intents (for status): one listing, nothing removed.
    pub async fn writes_in_flight(&self) -> Result<WritesInFlight, StoreError> {
        let fail = |e: String| lance_error_str(&self.location, "list write intents", &e);
        if self.location.scheme() == "memory" {
            return Ok(WritesInFlight::default());
        }
        let (os, prefix) = probe::build(&self.location).map_err(&fail)?;
        let (oldest, count) = intents::oldest_live(os.as_ref(), &prefix, Utc::now(), false)
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(WritesInFlight { count, oldest })
    }

    /// Removes `kind`'s files that no manifest references and that are
    /// older, by `retain`, than the oldest write intent in the store (this
    /// handle's own among them).
    pub async fn sweep_unreferenced(
        &self,
        kind: TableKind,
        retain: Duration,
    ) -> Result<Swept, StoreError> {
        let what = format!("sweep {}", kind.name());
        let fail = |e: String| lance_error_str(&self.location, &what, &e);
        // Rule 50: a binary that writes without intents must not share a
        // store that is swept, so the format says intents are required.
        self.require_current_format().await?;
        // Our own intent is listed too, so the cutoff is by the store's clock
        // even when nobody else is writing.
        self.intents.hold(&self.location).await?;
        let (os, prefix) = probe::build(&self.location).map_err(&fail)?;
        let (oldest, _) = intents::oldest_live(os.as_ref(), &prefix, Utc::now(), true)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (Some(oldest), Ok(retain)) = (oldest, chrono::Duration::from_std(retain)) else {
            return Ok(Swept::default());
        };
        let cutoff = oldest - retain;

        let table = self.table(kind)?;
        table
            .checkout_latest()
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        let dataset = native_dataset(table)
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        // Removing no version, Lance names every file no manifest references.
        let policy = CleanupPolicy {
            before_version: Some(0),
            delete_unverified: true,
            error_if_tagged_old_versions: false,
            ..CleanupPolicy::default()
        };
        let explained = dataset
            .cleanup(policy)
            .with_max_candidate_files(usize::MAX)
            .explain()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if explained.candidate_files.is_empty() {
            return Ok(Swept::default());
        }
        let files = dataset
            .object_store(None)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let mut old_enough: HashMap<String, DateTime<Utc>> = HashMap::new();
        for dir in [
            dataset.data_dir(),
            dataset.indices_dir(),
            dataset.deletions_dir(),
            dataset.transactions_dir(),
            dataset.versions_dir(),
        ] {
            let listed: Vec<_> = files
                .read_dir_all(&dir, Some(cutoff))
                .try_collect()
                .await
                .or_else(|e| {
                    // A table that never had a deletion (or an index) lacks the directory.
                    if e.is_not_found() {
                        Ok(Vec::new())
                    } else {
                        Err(fail(e.to_string()))
                    }
                })?;
            old_enough.extend(
                listed
                    .into_iter()
                    .map(|meta| (meta.location.to_string(), meta.last_modified)),
            );
        }
        let mut swept = Swept::default();
        let mut emptied_dirs = Vec::new();
        for file in explained.candidate_files {
            if file.kind == CleanupFileKind::Manifest {
                continue;
            }
            // Rule 50: younger than the cutoff, it may be a write in flight.
            if old_enough.get(&file.path).is_none_or(|t| *t >= cutoff) {
                continue;
            }
            let path = object_store::path::Path::from(file.path.as_str());
            match files.delete(&path).await {
                Ok(()) => {
                    swept.files_removed += 1;
                    swept.bytes_removed += file.size_bytes;
                    if file.kind == CleanupFileKind::Index {
                        emptied_dirs.push(path);
                    }
                }
                // Another sweep, or Lance's own cleanup, took it first.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        // An index segment is a directory; on a local store it stays behind
        // empty unless removed (object stores have no directories).
        if let Some(root) = &self.location.local_dir {
            remove_empty_parents(root, &dataset.indices_dir(), &emptied_dirs);
        }
        Ok(swept)
    }
}

fn remove_empty_parents(
    root: &std::path::Path,
    indices: &object_store::path::Path,
    files: &[object_store::path::Path],
) {
    let table_dir = std::path::Path::new("/").join(indices.as_ref());
    for file in files {
        let full = std::path::Path::new("/").join(file.as_ref());
        if let Some(parent) = full.parent()
            && parent.starts_with(&table_dir)
            && parent.starts_with(root)
        {
            let _ = std::fs::remove_dir(parent);
        }
    }
}
