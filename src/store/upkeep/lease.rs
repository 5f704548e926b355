//! One host at a time for store upkeep (or one shard of the embedding
//! backlog), with no coordinator.
//!
//! Compaction conflicts with another compaction, and pruning beside a
//! second pruner can delete what the other just wrote, so upkeep must be
//! single-flight across the fleet. The only primitive every supported store
//! offers is put-if-absent, so the lease is a numbered series of objects
//! (`_pond/upkeep/lease-<epoch>`), each naming a holder and an expiry. The
//! newest epoch is the lease. A host takes a free or expired lease by
//! creating the next epoch, and the holder renews by creating the next one
//! itself: two hosts can never both create one epoch, so at most one holds
//! the lease, and a holder that finds its renewal epoch taken knows it lost
//! the lease and stops. A holder that dies simply stops renewing; its lease
//! expires and the next host takes over.
//!
//! Expiry is judged by the store's clock, never by comparing two hosts'
//! clocks: an epoch lives for its time-to-live from the moment the store
//! stamped it (its object's last-modified time), and "now" is what the
//! store stamps on a probe object written for the purpose. A holder whose
//! clock runs behind cannot look expired, nor one running ahead look alive.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::store::{StoreError, StoreLocation, reach::connect};

/// Epochs kept behind the current one: enough to read who held it last.
const EPOCHS_KEPT: u64 = 8;

/// What a lease object says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseRecord {
    pub holder: String,
    pub pid: u32,
    pub taken_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Given up by its holder before it expired.
    #[serde(default)]
    pub released: bool,
    /// How long the epoch lives from the store's stamp on it. Absent in
    /// epochs written before the store's clock was used: those expire at
    /// `expires_at`, by their holder's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// A lease epoch as read: what it says, and when the store stamped it.
#[derive(Debug, Clone)]
struct Epoch {
    number: u64,
    record: LeaseRecord,
    stamped: DateTime<Utc>,
}

impl Epoch {
    /// Whether the lease is free at `store_now`, the store's own time.
    fn is_free(&self, store_now: DateTime<Utc>) -> bool {
        if self.record.released {
            return true;
        }
        match self.record.ttl_secs {
            Some(ttl) => {
                let ttl = chrono::Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX));
                self.stamped + ttl <= store_now
            }
            None => self.record.expires_at <= Utc::now(),
        }
    }
}

/// A lease this process holds.
pub struct Lease {
    os: Arc<dyn ObjectStore>,
    dir: ObjectPath,
    epoch: u64,
    record: LeaseRecord,
    ttl: Duration,
}

/// Why taking the lease did not give it.
pub enum Taken {
    Held(Lease),
    /// Another host holds it (its record).
    Busy(LeaseRecord),
}

fn lease_error(location: &StoreLocation, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Prepare {
        location: location.display.clone(),
        source: std::io::Error::other(location.redact(&format!("{what}: {e}"))),
    }
}

fn epoch_path(dir: &ObjectPath, epoch: u64) -> ObjectPath {
    dir.clone().join(format!("lease-{epoch:020}"))
}

fn upkeep_dir(prefix: &ObjectPath) -> ObjectPath {
    prefix.clone().join("_pond").join("upkeep")
}

/// The lease that makes store upkeep (and erasure) single-flight.
pub const UPKEEP: &str = "upkeep";

/// The store's objects and their root, reached as every lease operation
/// reaches them: not reaching them is a failure of the lease operation.
fn objects(location: &StoreLocation) -> Result<(Arc<dyn ObjectStore>, ObjectPath), StoreError> {
    connect::object_store(location).map_err(|e| lease_error(location, "open", e))
}

/// Where the epochs of the lease named `scope` live: `_pond/<scope>`, whose
/// `/`-separated parts become folders.
fn lease_dir(prefix: &ObjectPath, scope: &str) -> ObjectPath {
    scope
        .split('/')
        .fold(prefix.clone().join("_pond"), |dir, part| dir.join(part))
}

/// The store's clock: the time it stamps on a probe object written now.
pub(in crate::store) async fn store_now(
    os: &dyn ObjectStore,
    prefix: &ObjectPath,
) -> Result<DateTime<Utc>, object_store::Error> {
    let probe = upkeep_dir(prefix).join("clock");
    os.put(&probe, PutPayload::from_static(b"now")).await?;
    Ok(os.head(&probe).await?.last_modified)
}

/// How far this host's clock is ahead of the store's (negative: behind),
/// measured around one small write the store stamps.
pub async fn clock_offset(location: &StoreLocation) -> Result<chrono::Duration, StoreError> {
    let (os, prefix) = objects(location)?;
    let before = Utc::now();
    let theirs = store_now(os.as_ref(), &prefix)
        .await
        .map_err(|e| lease_error(location, "read the store's clock", e))?;
    let after = Utc::now();
    let ours = before + (after - before) / 2;
    Ok(ours - theirs)
}

/// The newest epoch and its record, if any lease was ever taken.
async fn newest(
    os: &dyn ObjectStore,
    dir: &ObjectPath,
) -> Result<Option<Epoch>, object_store::Error> {
    let listed: Vec<_> = os.list(Some(dir)).try_collect().await?;
    let mut epochs: Vec<u64> = listed
        .iter()
        .filter_map(|m| m.location.filename())
        .filter_map(|n| n.strip_prefix("lease-"))
        .filter_map(|n| n.parse().ok())
        .collect();
    epochs.sort_unstable();
    // The newest readable one: an epoch whose object vanished (pruned by a
    // later holder) or is damaged says nothing about the lease.
    for &epoch in epochs.iter().rev() {
        match os.get(&epoch_path(dir, epoch)).await {
            Ok(got) => {
                let stamped = got.meta.last_modified;
                let bytes = got.bytes().await?;
                if let Ok(record) = serde_json::from_slice(&bytes) {
                    return Ok(Some(Epoch {
                        number: epoch,
                        record,
                        stamped,
                    }));
                }
            }
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Who holds the lease `scope` now, if anyone (for status).
pub async fn current(
    location: &StoreLocation,
    scope: &str,
) -> Result<Option<LeaseRecord>, StoreError> {
    let (os, prefix) = objects(location)?;
    let dir = lease_dir(&prefix, scope);
    let fail = |e| lease_error(location, &format!("read the {scope} lease"), e);
    let Some(found) = newest(os.as_ref(), &dir).await.map_err(fail)? else {
        return Ok(None);
    };
    let now = store_now(os.as_ref(), &prefix).await.map_err(fail)?;
    Ok((!found.is_free(now)).then_some(found.record))
}

/// Creates `epoch` if nobody has; `false` when another host did first.
async fn create(
    os: &dyn ObjectStore,
    dir: &ObjectPath,
    epoch: u64,
    record: &LeaseRecord,
) -> Result<bool, object_store::Error> {
    let body = serde_json::to_vec(record).unwrap_or_default();
    let put = os
        .put_opts(
            &epoch_path(dir, epoch),
            PutPayload::from(body),
            PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            },
        )
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn record_for(holder: &str, ttl: Duration) -> LeaseRecord {
    let now = Utc::now();
    LeaseRecord {
        holder: holder.to_string(),
        pid: std::process::id(),
        taken_at: now,
        expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        released: false,
        ttl_secs: Some(ttl.as_secs().max(1)),
    }
}

/// Takes the lease `scope` for `ttl` unless another host holds it.
pub async fn take(
    location: &StoreLocation,
    scope: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Taken, StoreError> {
    let (os, prefix) = objects(location)?;
    let dir = lease_dir(&prefix, scope);
    let fail = |e| lease_error(location, &format!("take the {scope} lease"), e);
    let current = newest(os.as_ref(), &dir).await.map_err(fail)?;
    let now = store_now(os.as_ref(), &prefix).await.map_err(fail)?;
    // Rule 41: judged by the store's clock, whatever the holder's says.
    let next = match &current {
        Some(epoch) if !epoch.is_free(now) => {
            return Ok(Taken::Busy(epoch.record.clone()));
        }
        Some(epoch) => epoch.number + 1,
        None => 1,
    };
    let record = record_for(holder, ttl);
    // Rule 41: the lease is the next epoch created by put-if-absent, so two hosts
    // can never both hold it; an expired one is simply taken over.
    if !create(os.as_ref(), &dir, next, &record)
        .await
        .map_err(fail)?
    {
        let winner = newest(os.as_ref(), &dir).await.map_err(fail)?;
        return Ok(Taken::Busy(winner.map(|e| e.record).unwrap_or(record)));
    }
    // Old epochs only say who held the lease long ago.
    for old in next.saturating_sub(EPOCHS_KEPT + 16)..next.saturating_sub(EPOCHS_KEPT) {
        let _ = os.delete(&epoch_path(&dir, old)).await;
    }
    Ok(Taken::Held(Lease {
        os,
        dir,
        epoch: next,
        record,
        ttl,
    }))
}

/// The lease is gone: its renewal epoch was taken by another host (which
/// only happens once it expired), or the store refused the renewal.
#[derive(Debug, thiserror::Error)]
#[error("the lease was lost: {0}")]
pub struct LeaseLost(pub String);

impl Lease {
    pub fn record(&self) -> &LeaseRecord {
        &self.record
    }

    /// Extends the lease by its time-to-live from now.
    pub async fn renew(&mut self) -> Result<(), LeaseLost> {
        if self.record.expires_at <= Utc::now() {
            return Err(LeaseLost("it expired before it was renewed".into()));
        }
        let mut record = record_for(&self.record.holder, self.ttl);
        record.taken_at = self.record.taken_at;
        match create(self.os.as_ref(), &self.dir, self.epoch + 1, &record).await {
            Ok(true) => {
                self.epoch += 1;
                self.record = record;
                Ok(())
            }
            Ok(false) => Err(LeaseLost("another host took it over".into())),
            Err(e) => Err(LeaseLost(e.to_string())),
        }
    }

    /// Whether a third of its time to live has passed since it was taken or
    /// last renewed: renewing then keeps a margin for a slow store.
    pub fn due_for_renewal(&self) -> bool {
        let left = (self.record.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default();
        left <= self.ttl * 2 / 3
    }

    /// Gives the lease up so the next host need not wait for it to expire.
    pub async fn release(mut self) {
        self.record.released = true;
        let _ = create(self.os.as_ref(), &self.dir, self.epoch + 1, &self.record).await;
    }
}

/// A record kept beside the lease `scope` (the last upkeep run, a host's
/// last drain of the embedding backlog), if one was written.
pub async fn read_json<T: for<'de> Deserialize<'de>>(
    location: &StoreLocation,
    scope: &str,
    name: &str,
) -> Result<Option<T>, StoreError> {
    let (os, prefix) = objects(location)?;
    let fail = |e| lease_error(location, &format!("read {scope}/{name}"), e);
    match os.get(&lease_dir(&prefix, scope).join(name)).await {
        Ok(got) => {
            let bytes = got.bytes().await.map_err(fail)?;
            Ok(serde_json::from_slice(&bytes).ok())
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(fail(e)),
    }
}

/// Every readable `.json` record beside the lease `scope`; damaged ones are
/// skipped, since each only describes one host's last run.
pub async fn read_all_json<T: for<'de> Deserialize<'de>>(
    location: &StoreLocation,
    scope: &str,
) -> Result<Vec<T>, StoreError> {
    let (os, prefix) = objects(location)?;
    let dir = lease_dir(&prefix, scope);
    let fail = |e| lease_error(location, &format!("read {scope}"), e);
    let listed: Vec<_> = os.list(Some(&dir)).try_collect().await.map_err(fail)?;
    let mut records = Vec::new();
    for meta in listed {
        if !meta.location.as_ref().ends_with(".json") {
            continue;
        }
        match os.get(&meta.location).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(fail)?;
                records.extend(serde_json::from_slice(&bytes).ok());
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(records)
}

/// The objects kept under `scope`, with when each was written (by the
/// store's clock): what counts events that leave one object each.
pub async fn list_marks(
    location: &StoreLocation,
    scope: &str,
) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let (os, prefix) = objects(location)?;
    let listed: Vec<_> = os
        .list(Some(&lease_dir(&prefix, scope)))
        .try_collect()
        .await
        .map_err(|e| lease_error(location, &format!("list {scope}"), e))?;
    Ok(listed.into_iter().map(|m| m.last_modified).collect())
}

/// Writes `value` beside the lease `scope` (a plain overwrite: each record
/// has one writer, the lease's holder or the host it is named after).
pub async fn write_json<T: Serialize>(
    location: &StoreLocation,
    scope: &str,
    name: &str,
    value: &T,
) -> Result<(), StoreError> {
    let (os, prefix) = objects(location)?;
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    os.put(
        &lease_dir(&prefix, scope).join(name),
        PutPayload::from(body),
    )
    .await
    .map_err(|e| lease_error(location, &format!("write {scope}/{name}"), e))?;
    Ok(())
}
