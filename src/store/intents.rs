//! Write intents: how a sweep knows which unreferenced files may still be
//! part of a write in flight.
//!
//! A Lance write puts its data, deletion, index and transaction files first
//! and commits a manifest naming them last. Until that commit its files are
//! referenced by no manifest, exactly like the files of a commit that lost a
//! race and will never land. Lance keeps every such file for 7 days for that
//! reason, which in a racing fleet is most of what the store holds beyond
//! its rows. So every pond handle that writes first puts an intent object
//! (`_pond/writes/<name>`) and keeps it until it is done. Every file of its
//! writes is then younger, by the store's own clock, than an intent that is
//! listed while the write is in flight; a write whose intent is put after a
//! sweep listed the intents writes files younger than that listing. A sweep
//! therefore removes only unreferenced files older than the oldest intent it
//! lists (see `store::sweep`). An intent older than 7 days is a dead
//! writer's, the age Lance already assumes no write outlives; a handle
//! writing for longer than a day (a server) puts a fresh intent and drops
//! the old one a day later, so its intents never age out under it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;

use super::{StoreError, StoreLocation, probe};

/// An intent older than this is a dead writer's: the age past which Lance
/// itself assumes no write is still in flight.
pub const INTENT_EXPIRES: Duration = Duration::from_secs(7 * 24 * 3600);
/// A handle's intent is replaced after this long, and the one it replaced
/// dropped the same time later: longer than any one write takes.
const INTENT_ROTATES: Duration = Duration::from_secs(24 * 3600);

static INTENTS_MADE: AtomicU64 = AtomicU64::new(0);

/// What an intent object says (for people reading the bucket; the sweep
/// reads only its age).
#[derive(Serialize)]
struct IntentRecord<'a> {
    pid: u32,
    since: DateTime<Utc>,
    host: &'a str,
}

struct Held {
    path: ObjectPath,
    since: Instant,
}

/// The intents one store handle holds: none until its first write.
#[derive(Default)]
pub(super) struct WriteIntents {
    held: tokio::sync::Mutex<Vec<Held>>,
    /// Where the intents go, built at the first write.
    store: std::sync::OnceLock<(Arc<dyn ObjectStore>, ObjectPath)>,
}

fn intent_error(location: &StoreLocation, e: impl std::fmt::Display) -> StoreError {
    StoreError::Prepare {
        location: location.display.clone(),
        source: std::io::Error::other(location.redact(&format!("write intent: {e}"))),
    }
}

pub(super) fn intents_dir(prefix: &ObjectPath) -> ObjectPath {
    prefix.clone().join("_pond").join("writes")
}

impl WriteIntents {
    /// Makes sure this handle has an intent in the store before it writes.
    pub(super) async fn hold(&self, location: &StoreLocation) -> Result<(), StoreError> {
        if location.scheme() == "memory" {
            return Ok(());
        }
        let mut held = self.held.lock().await;
        if held
            .last()
            .is_some_and(|h| h.since.elapsed() < INTENT_ROTATES)
        {
            return Ok(());
        }
        let (os, prefix) = match self.store.get() {
            Some(built) => built.clone(),
            None => {
                let built = probe::build(location).map_err(|e| intent_error(location, e))?;
                self.store.get_or_init(|| built).clone()
            }
        };
        let name = format!(
            "intent-{}-{}-{}",
            Utc::now().timestamp_millis(),
            std::process::id(),
            INTENTS_MADE.fetch_add(1, Ordering::Relaxed)
        );
        let path = intents_dir(&prefix).join(name);
        let host = std::env::var("POND_HOST").unwrap_or_default();
        let body = serde_json::to_vec(&IntentRecord {
            pid: std::process::id(),
            since: Utc::now(),
            host: &host,
        })
        .unwrap_or_default();
        os.put(&path, PutPayload::from(body))
            .await
            .map_err(|e| intent_error(location, e))?;
        // The intent it replaces may still cover a write begun under it.
        let now = Instant::now();
        let mut kept = Vec::new();
        for old in held.drain(..) {
            if now.duration_since(old.since) >= 2 * INTENT_ROTATES {
                let _ = os.delete(&old.path).await;
            } else {
                kept.push(old);
            }
        }
        kept.push(Held { path, since: now });
        *held = kept;
        Ok(())
    }

    /// Removes this handle's intents: its writes are over.
    pub(super) async fn release(&self) {
        let Some((os, _)) = self.store.get() else {
            return;
        };
        let mut held = self.held.lock().await;
        for h in held.drain(..) {
            let _ = os.delete(&h.path).await;
        }
    }

    /// On a local store, removes the intents at once (a handle dropped
    /// without [`Self::release`]); elsewhere they are left to expire, which
    /// only makes sweeps keep more for a while.
    pub(super) fn release_local(&self, location: &StoreLocation) {
        let Some(dir) = &location.local_dir else {
            return;
        };
        let Ok(mut held) = self.held.try_lock() else {
            return;
        };
        for h in held.drain(..) {
            let _ = std::fs::remove_file(dir.join(h.path.as_ref()));
        }
    }
}

/// The time of the oldest live intent in the store, by the store's clock,
/// and the number of live ones; with `remove_expired`, removes intents past
/// [`INTENT_EXPIRES`].
pub(super) async fn oldest_live(
    os: &dyn ObjectStore,
    prefix: &ObjectPath,
    now: DateTime<Utc>,
    remove_expired: bool,
) -> Result<(Option<DateTime<Utc>>, usize), object_store::Error> {
    let listed: Vec<_> = os.list(Some(&intents_dir(prefix))).try_collect().await?;
    let expired_before =
        now - chrono::Duration::from_std(INTENT_EXPIRES).unwrap_or(chrono::Duration::MAX);
    let mut oldest: Option<DateTime<Utc>> = None;
    let mut live = 0;
    for meta in listed {
        if meta.last_modified < expired_before {
            if remove_expired {
                let _ = os.delete(&meta.location).await;
            }
            continue;
        }
        live += 1;
        oldest = Some(oldest.map_or(meta.last_modified, |o| o.min(meta.last_modified)));
    }
    Ok((oldest, live))
}
