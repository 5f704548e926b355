//! Sweeping the files no manifest references: what commits that lost a
//! race, or were abandoned, left behind.
//!
//! Lance's cleanup removes a file once a manifest it removes proves the file
//! was that version's; a file no manifest ever named it keeps for 7 days,
//! because an unfinished write's files look the same. In a fleet whose hosts
//! race, those files were nearly half the store (the fleet bench: 77.7 MB
//! after the retention against 41.6 MB for a fresh ingest). Lance names the
//! unreferenced files (a cleanup that removes no version, explained with
//! `delete_unverified`), and the write intents (`store::writes::intents`) say which
//! of them a write in flight may still commit: none older than the oldest
//! intent listed. The sweep removes those older than that by the retention
//! as well, and nothing else.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lance::dataset::cleanup::{CleanupFileKind, CleanupPolicy};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::store::upkeep::{lance_error_str, native_dataset};
use crate::store::{StoreError, TableKind, lance_error, reach::connect, writes::intents};

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
    /// Until when (by the store's clock) the sweep keeps every file a week
    /// old or younger, as Lance does: a pond from before write intents may
    /// still be writing.
    pub held_until: Option<DateTime<Utc>>,
}

/// Where the store notes since when every writer puts intents: an object
/// whose body says whether the store was made that way or raised to it,
/// and whose time, stamped by the store, is when.
fn intents_required_path(prefix: &ObjectPath) -> ObjectPath {
    prefix.clone().join("_pond").join("intents-required")
}

const MADE_WITH_INTENTS: &[u8] = b"created";
const RAISED_TO_INTENTS: &[u8] = b"raised";

/// Notes that a store was made by a binary that writes intents, so no
/// writer without them ever touched it and its sweeps need no grace week.
pub(in crate::store) async fn note_made_with_intents(
    os: &dyn ObjectStore,
    prefix: &ObjectPath,
) -> Result<(), object_store::Error> {
    os.put(
        &intents_required_path(prefix),
        PutPayload::from_static(MADE_WITH_INTENTS),
    )
    .await
    .map(|_| ())
}

/// Until when writers without intents may still be at work: a week (the
/// longest Lance lets any write take) after the store was raised to
/// require intents. A store raised by an earlier binary, which kept no
/// note, is taken as raised now.
async fn older_writers_until(
    os: &dyn ObjectStore,
    prefix: &ObjectPath,
    raised_now: bool,
) -> Result<Option<DateTime<Utc>>, object_store::Error> {
    let path = intents_required_path(prefix);
    let note = if raised_now {
        None
    } else {
        match os.get(&path).await {
            Ok(found) => {
                let meta = found.meta.clone();
                Some((found.bytes().await?, meta.last_modified))
            }
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        }
    };
    let since = match note {
        Some((body, _)) if body.as_ref() == MADE_WITH_INTENTS => return Ok(None),
        Some((_, since)) => since,
        None => {
            os.put(&path, PutPayload::from_static(RAISED_TO_INTENTS))
                .await?;
            os.head(&path).await?.last_modified
        }
    };
    let grace =
        chrono::Duration::from_std(intents::INTENT_EXPIRES).unwrap_or(chrono::Duration::MAX);
    Ok(Some(since + grace))
}

impl crate::store::Store {
    /// The live write intents (for status): one listing, nothing removed.
    pub async fn writes_in_flight(&self) -> Result<WritesInFlight, StoreError> {
        let fail = |e: String| lance_error_str(&self.location, "list write intents", &e);
        if self.location.scheme() == "memory" {
            return Ok(WritesInFlight::default());
        }
        let (os, prefix) = connect::object_store(&self.location).map_err(&fail)?;
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
        let raised_now = self.format_found.load(std::sync::atomic::Ordering::Relaxed)
            < crate::store::FORMAT_VERSION;
        self.require_current_format().await?;
        let Some((cutoff, held_until)) = self.sweep_cutoff(retain, raised_now, &fail).await? else {
            return Ok(Swept::default());
        };
        let kept = Swept {
            held_until,
            ..Swept::default()
        };

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
            return Ok(kept);
        }
        let files = dataset
            .object_store(None)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let old_enough = modified_before(&dataset, cutoff, &fail).await?;
        let mut swept = kept;
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

    /// The age below which a file may be a write in flight: the oldest
    /// write intent's time less `retain`, by the store's clock; `None` when
    /// no intent is live. Also when older writers may still be running.
    async fn sweep_cutoff(
        &self,
        retain: Duration,
        raised_now: bool,
        fail: &(dyn Fn(String) -> StoreError + Sync),
    ) -> Result<Option<(DateTime<Utc>, Option<DateTime<Utc>>)>, StoreError> {
        // Our own intent is listed too, so the cutoff is by the store's clock
        // even when nobody else is writing.
        self.intents.hold(&self.location).await?;
        let (os, prefix) = connect::object_store(&self.location).map_err(fail)?;
        let store_error = |e: object_store::Error| fail(e.to_string());
        // Every age here is by the store's clock, whatever this host's says.
        let now = crate::store::upkeep::lease::store_now(os.as_ref(), &prefix)
            .await
            .map_err(store_error)?;
        let (oldest, _) = intents::oldest_live(os.as_ref(), &prefix, now, true)
            .await
            .map_err(store_error)?;
        let (Some(oldest), Ok(retain)) = (oldest, chrono::Duration::from_std(retain)) else {
            return Ok(None);
        };
        let mut cutoff = oldest - retain;
        // Rule 50: a pond from before intents, still running, writes without
        // one; for a week after the store required them it may still be.
        let held_until = older_writers_until(os.as_ref(), &prefix, raised_now)
            .await
            .map_err(store_error)?
            .filter(|until| *until > now);
        if held_until.is_some() {
            let week = chrono::Duration::from_std(intents::INTENT_EXPIRES)
                .unwrap_or(chrono::Duration::MAX);
            cutoff = cutoff.min(now - week);
        }
        Ok(Some((cutoff, held_until)))
    }
}

/// When each of the dataset's files older than `cutoff` was last written.
async fn modified_before(
    dataset: &lance::Dataset,
    cutoff: DateTime<Utc>,
    fail: &(dyn Fn(String) -> StoreError + Sync),
) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
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
    Ok(old_enough)
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
