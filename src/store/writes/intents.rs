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
//! lists (see `store::upkeep::sweep`). An intent older than 7 days is a dead
//! writer's, the age Lance already assumes no write outlives; a handle
//! writing for longer than a day (a server) puts a fresh intent and drops
//! the old one a day later, so its intents never age out under it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;

use crate::store::{StoreError, StoreLocation, reach::connect};

/// An intent older than this is a dead writer's: the age past which Lance
/// itself assumes no write is still in flight.
pub const INTENT_EXPIRES: Duration = Duration::from_secs(7 * 24 * 3600);
/// A handle's intent is replaced after this long, and the one it replaced
/// dropped the same time later once no write is in flight under it: longer
/// than any one write takes.
const INTENT_ROTATES: Duration = Duration::from_secs(24 * 3600);
/// A commit whose intent is this old by the writer's own clock is refused
/// (and its write done again under a fresh intent): a day short of
/// [`INTENT_EXPIRES`], so a sweep whose clock is up to a day ahead of the
/// writer's has not yet removed it.
const INTENT_TRUSTED: Duration = Duration::from_secs(6 * 24 * 3600);
/// How long a seen intent is taken to still be there: a commit after a
/// longer pause (a suspended laptop, a stopped process) looks again.
const INTENT_RECHECKED: Duration = Duration::from_secs(2);

static INTENTS_MADE: AtomicU64 = AtomicU64::new(0);

/// What an intent object says (for people reading the bucket; the sweep
/// reads only its age).
#[derive(Serialize)]
struct IntentRecord<'a> {
    pid: u32,
    since: DateTime<Utc>,
    host: &'a str,
}

/// One intent this handle put. Ages are by the wall clock, which, unlike a
/// monotonic one, keeps running while a laptop sleeps.
#[derive(Debug)]
struct HeldIntent {
    path: ObjectPath,
    put_at: DateTime<Utc>,
    /// When the intent was last known to be in the store.
    seen_at: Mutex<DateTime<Utc>>,
    /// Write attempts begun under it and not yet over.
    writes: AtomicUsize,
    /// Found gone, or too old to trust: no commit may land under it.
    lost: AtomicBool,
}

impl HeldIntent {
    fn age(&self, now: DateTime<Utc>) -> Duration {
        (now - self.put_at).to_std().unwrap_or_default()
    }
}

/// A write attempt in flight: while it lives, the intent it began under is
/// checked before any commit of this handle lands (`store::writes::commit_guard`).
pub(in crate::store) struct WriteTicket(Option<Arc<HeldIntent>>);

impl Drop for WriteTicket {
    fn drop(&mut self) {
        if let Some(intent) = &self.0 {
            intent.writes.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Why a commit was refused: a write in flight under an intent a sweep may
/// have taken, so the files it is about to reference may be gone.
#[derive(Debug, thiserror::Error)]
#[error("write intent {path} {why}; the write is done again under a fresh intent")]
pub struct IntentLost {
    path: String,
    why: &'static str,
}

/// The intents one store handle holds: none until its first write.
#[derive(Debug, Default)]
pub(in crate::store) struct WriteIntents {
    held: Mutex<Vec<Arc<HeldIntent>>>,
    /// One put at a time.
    putting: tokio::sync::Mutex<()>,
    /// Where the intents go, built at the first write.
    store: std::sync::OnceLock<(Arc<dyn ObjectStore>, ObjectPath)>,
}

fn intent_error(location: &StoreLocation, e: impl std::fmt::Display) -> StoreError {
    StoreError::Prepare {
        location: location.display.clone(),
        source: std::io::Error::other(location.redact(&format!("write intent: {e}"))),
    }
}

pub(in crate::store) fn intents_dir(prefix: &ObjectPath) -> ObjectPath {
    prefix.clone().join("_pond").join("writes")
}

impl WriteIntents {
    fn held(&self) -> std::sync::MutexGuard<'_, Vec<Arc<HeldIntent>>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The newest intent, if it may still cover a write begun now.
    fn usable(&self, now: DateTime<Utc>) -> Option<Arc<HeldIntent>> {
        self.held()
            .last()
            .filter(|h| !h.lost.load(Ordering::Acquire) && h.age(now) < INTENT_ROTATES)
            .cloned()
    }

    /// Makes sure this handle has an intent in the store before it writes.
    pub(in crate::store) async fn hold(&self, location: &StoreLocation) -> Result<(), StoreError> {
        if location.scheme() == "memory" || self.usable(Utc::now()).is_some() {
            return Ok(());
        }
        let _one_put = self.putting.lock().await;
        if self.usable(Utc::now()).is_some() {
            return Ok(());
        }
        let (os, prefix) = match self.store.get() {
            Some(built) => built.clone(),
            None => {
                let built =
                    connect::object_store(location).map_err(|e| intent_error(location, e))?;
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
        let now = Utc::now();
        // An older intent may still cover a write begun under it: it goes
        // only once none is in flight and it has had a rotation's grace.
        let retired: Vec<Arc<HeldIntent>> = {
            let mut held = self.held();
            let (gone, kept): (Vec<_>, Vec<_>) = held.drain(..).partition(|h| {
                h.writes.load(Ordering::Acquire) == 0
                    && (h.lost.load(Ordering::Acquire) || h.age(now) >= 2 * INTENT_ROTATES)
            });
            *held = kept;
            held.push(Arc::new(HeldIntent {
                path,
                put_at: now,
                seen_at: Mutex::new(now),
                writes: AtomicUsize::new(0),
                lost: AtomicBool::new(false),
            }));
            gone
        };
        for old in retired {
            let _ = os.delete(&old.path).await;
        }
        Ok(())
    }

    /// Marks a write attempt as begun under the newest intent, putting a
    /// fresh one first if it is lost or due for rotation.
    pub(in crate::store) async fn ticket(
        &self,
        location: &StoreLocation,
    ) -> Result<WriteTicket, StoreError> {
        self.hold(location).await?;
        Ok(self.ticket_now())
    }

    fn ticket_now(&self) -> WriteTicket {
        let newest = self.held().last().cloned();
        if let Some(intent) = &newest {
            intent.writes.fetch_add(1, Ordering::AcqRel);
        }
        WriteTicket(newest)
    }

    /// Whether a commit may land now: every intent a write in flight began
    /// under is still in the store and young enough that no sweep takes it
    /// before the commit does. A refused commit's write is retried, and its
    /// next attempt finds a fresh intent ([`Self::hold`] replaces a lost one).
    ///
    /// The stopping point names the table (`write-commit-messages`): a sync
    /// commits several tables at once, and a test that stops "the first
    /// commit" would stop whichever table's manifest came first.
    pub(in crate::store) async fn check_before_commit(
        &self,
        table: &str,
    ) -> Result<(), IntentLost> {
        crate::pause::at(&format!("write-commit-{table}"));
        let in_flight: Vec<Arc<HeldIntent>> = self
            .held()
            .iter()
            .filter(|h| h.writes.load(Ordering::Acquire) > 0)
            .cloned()
            .collect();
        let Some((os, _)) = self.store.get() else {
            return Ok(());
        };
        for intent in in_flight {
            let lost = |why| {
                intent.lost.store(true, Ordering::Release);
                IntentLost {
                    path: intent.path.to_string(),
                    why,
                }
            };
            if intent.lost.load(Ordering::Acquire) {
                return Err(lost("was lost"));
            }
            let now = Utc::now();
            if intent.age(now) >= INTENT_TRUSTED {
                return Err(lost("is too old to trust"));
            }
            let seen = *intent
                .seen_at
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if (now - seen).to_std().unwrap_or_default() < INTENT_RECHECKED {
                continue;
            }
            match os.head(&intent.path).await {
                Ok(_) => {
                    *intent
                        .seen_at
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
                }
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(lost("is gone from the store"));
                }
                Err(_) => return Err(lost("could not be confirmed")),
            }
        }
        Ok(())
    }

    /// Removes this handle's intents: its writes are over.
    pub(in crate::store) async fn release(&self) {
        let Some((os, _)) = self.store.get() else {
            return;
        };
        let held: Vec<_> = self.held().drain(..).collect();
        for h in held {
            let _ = os.delete(&h.path).await;
        }
    }

    /// On a local store, removes the intents at once (a handle dropped
    /// without [`Self::release`]); elsewhere they are left to expire, which
    /// only makes sweeps keep more for a while.
    pub(in crate::store) fn release_local(&self, location: &StoreLocation) {
        let Some(dir) = &location.local_dir else {
            return;
        };
        for h in self.held().drain(..) {
            let _ = std::fs::remove_file(dir.join(h.path.as_ref()));
        }
    }
}

/// The time of the oldest live intent in the store, by the store's clock,
/// and the number of live ones; with `remove_expired`, removes intents past
/// [`INTENT_EXPIRES`].
pub(in crate::store) async fn oldest_live(
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
