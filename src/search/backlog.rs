//! The embedding backlog: search rows without a vector from the model in
//! use, because the host that synced them had no model, or a different one.
//!
//! Sync never waits for it; `pond model reembed` and `pond agent` work
//! through it in batches, each one keyed upsert, so it can be stopped and
//! resumed at any point. In a shared store the backlog is cut into shards,
//! each claimed with a lease, so hosts draining at once never embed the same
//! row twice and together drain it as many times faster as there are hosts
//! (up to the number of shards).

use std::hash::{Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::embed::{self, Embedder};
use crate::store::upkeep::lease::{self, Taken};
use crate::store::{Store, StoreError, TableKind, sql_str};

use super::SearchError;

#[derive(Debug, Default, Clone, Serialize)]
pub struct BacklogReport {
    pub model: String,
    /// Rows given a vector of `model` (or marked as having nothing to embed).
    pub rows: u64,
    pub with_vectors: u64,
    /// Models no row holds vectors of any more, dropped from the store's list.
    pub forgotten_models: Vec<String>,
    /// Shards of the backlog this host embedded rows of.
    pub shards: u32,
    /// Shards with rows left that other hosts were embedding.
    pub busy_shards: Vec<BusyShard>,
    /// Shards whose lease lapsed while this host worked on them (it stopped
    /// there, and another host carries on).
    pub lost_shards: Vec<String>,
    /// Why the indexes did not take the new vectors in (they are searched
    /// all the same, unindexed, until the next sync or drain folds them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_error: Option<String>,
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BusyShard {
    pub shard: String,
    pub holder: String,
}

/// How the store's searchable parts stand with vectors: what `pond status`
/// shows, so a backlog waiting for a slow model is seen.
#[derive(Debug, Default, Clone, Serialize, schemars::JsonSchema)]
pub struct VectorCensus {
    /// Searchable parts in the store.
    pub parts: u64,
    /// Parts holding (or marked done by) each model the store has vectors of.
    pub by_model: Vec<ModelParts>,
    /// Parts no model has embedded yet: the backlog of whichever model
    /// `pond model reembed` or `pond agent` runs next.
    pub without_vectors: u64,
    /// Each host's last drain of the backlog, newest first.
    pub drains: Vec<DrainRecord>,
}

impl VectorCensus {
    /// Parts per second the fleet embeds: the sum of the rates of the hosts
    /// whose last drain ended within a day (older ones may have stopped).
    pub fn fleet_rate(&self, now: DateTime<Utc>) -> f64 {
        self.drains
            .iter()
            .filter(|d| now - d.finished_at <= chrono::Duration::days(1))
            .map(DrainRecord::parts_per_sec)
            .sum()
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ModelParts {
    pub model: String,
    pub parts: u64,
}

/// Counts the store's search parts by the model that embedded them: a scan
/// of one column per model, and one for the parts none has embedded.
pub async fn census(store: &Store) -> Result<VectorCensus, StoreError> {
    if !store.has_table(TableKind::Search) {
        return Ok(VectorCensus::default());
    }
    let parts = store.count(TableKind::Search, None).await? as u64;
    let mut by_model = Vec::new();
    for model in store.embed_models() {
        let filter = format!("embed_model = {}", sql_str(&model));
        let n = store.count(TableKind::Search, Some(&filter)).await? as u64;
        by_model.push(ModelParts { model, parts: n });
    }
    let without_vectors = store
        .count(TableKind::Search, Some("embed_model IS NULL"))
        .await? as u64;
    Ok(VectorCensus {
        parts,
        by_model,
        without_vectors,
        drains: drains(store).await?,
    })
}

/// How a drain runs: who it is in the fleet and when it stops.
pub struct Drain<'a> {
    /// The host's name, written in the shard leases it takes.
    pub holder: &'a str,
    /// Rows per commit.
    pub batch: usize,
    /// Told the rows done so far after each commit.
    pub progress: &'a dyn Fn(u64),
    /// Asked between batches; `false` stops the drain, keeping what is done.
    pub keep_going: &'a dyn Fn() -> bool,
}

/// Embeds the rows of the backlog with `embedder`, one shard at a time,
/// each under its lease, until none is left, the shards left are held by
/// other hosts, or `keep_going` says stop (checked between batches).
pub async fn drain(
    store: &Store,
    embedder: &dyn Embedder,
    how: Drain<'_>,
) -> Result<BacklogReport, SearchError> {
    let started = std::time::Instant::now();
    let model = embedder.model_id().to_string();
    let mut report = BacklogReport {
        model: model.clone(),
        ..BacklogReport::default()
    };
    if !store.has_table(TableKind::Search) {
        return Ok(report);
    }
    if store.count_without_vectors(&model, None).await? > 0 {
        for shard in shard_order(how.holder) {
            if !(how.keep_going)() {
                break;
            }
            drain_shard(store, embedder, shard, &how, &mut report).await?;
        }
    }
    // Rule 26: a model no row uses any more is dropped from the store's list.
    for other in store.embed_models().into_iter().filter(|m| *m != model) {
        let left = store
            .count(
                TableKind::Search,
                Some(&format!("embed_model = {}", sql_str(&other))),
            )
            .await?;
        if left == 0 {
            store.forget_embed_model(&other).await?;
            report.forgotten_models.push(other);
        }
    }
    // Not fatal, as after a sync: the vectors are committed and searches scan
    // what the indexes have not taken in. Hosts finishing together race to
    // build the same index, and only one of them can.
    if report.rows > 0
        && let Err(e) = store.maintain_search_indexes(0).await
    {
        tracing::warn!(error = %e, "search index upkeep after the drain failed");
        report.index_error = Some(e.to_string());
    }
    report.secs = started.elapsed().as_secs_f64();
    if report.rows > 0 {
        record_drain(store, how.holder, &report).await;
    }
    Ok(report)
}

/// Embeds one shard's rows if the shard has any and no other host holds it.
async fn drain_shard(
    store: &Store,
    embedder: &dyn Embedder,
    shard: char,
    how: &Drain<'_>,
    report: &mut BacklogReport,
) -> Result<(), SearchError> {
    let model = &report.model;
    let within = shard_filter(shard);
    // Most shards of a small backlog are empty: a look costs less than a lease.
    if store
        .embedding_backlog(model, 1, Some(&within))
        .await?
        .is_empty()
    {
        return Ok(());
    }
    // Rule 53: a shard is embedded by the one host holding its lease.
    let scope = shard_scope(model, shard);
    let mut lease = match lease::take(store.location(), &scope, how.holder, SHARD_LEASE_TTL).await?
    {
        Taken::Held(lease) => lease,
        Taken::Busy(record) => {
            report.busy_shards.push(BusyShard {
                shard: shard.to_string(),
                holder: record.holder,
            });
            return Ok(());
        }
    };
    let rows_before = report.rows;
    let result = embed_under_lease(store, embedder, shard, &mut lease, how, report).await;
    lease.release().await;
    // A shard its last holder finished while this host waited for the lease
    // gave this host nothing to do.
    if result.is_ok() && report.rows > rows_before {
        report.shards += 1;
    }
    result
}

/// Embeds the shard's rows batch by batch while this host holds its lease.
async fn embed_under_lease(
    store: &Store,
    embedder: &dyn Embedder,
    shard: char,
    lease: &mut lease::Lease,
    how: &Drain<'_>,
    report: &mut BacklogReport,
) -> Result<(), SearchError> {
    let model = report.model.clone();
    let within = shard_filter(shard);
    // The shard's last holder may have committed since this handle loaded
    // the table: reading the old version would embed its rows again.
    store.refresh(TableKind::Search).await?;
    while (how.keep_going)() {
        let docs = store
            .embedding_backlog(&model, how.batch.max(1), Some(&within))
            .await?;
        if docs.is_empty() {
            break;
        }
        let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
        let vectors: Vec<Option<Vec<f32>>> = embedder
            .embed(&texts)?
            .into_iter()
            .map(|v| embed::usable(v, embedder.dimensions()))
            .collect();
        // A host stopped longer than the lease (a suspended laptop) may find
        // its shard taken over: it stops there rather than race the new holder.
        if lease.due_for_renewal() && lease.renew().await.is_err() {
            report.lost_shards.push(shard.to_string());
            break;
        }
        crate::pause::at("backlog-write");
        // Rule 26: rows get vectors in keyed batches that can stop and resume anywhere.
        report.rows += store.replace_vectors(&docs, &vectors, &model).await?;
        report.with_vectors += vectors.iter().filter(|v| v.is_some()).count() as u64;
        store.note_embed_model(&model).await?;
        (how.progress)(report.rows);
    }
    Ok(())
}

/// The backlog's shards: rows fall into one by the first hex digit of the
/// MD5 of their id, which every host computes alike inside the query.
const SHARDS: &str = "0123456789abcdef";

/// Long enough that renewing every third of it costs nothing beside
/// embedding; short enough that a dead host's shard waits minutes, not hours.
const SHARD_LEASE_TTL: Duration = Duration::from_secs(300);

fn shard_filter(shard: char) -> String {
    format!("left(md5(id), 1) = '{shard}'")
}

/// The lease of one shard of one model's backlog.
fn shard_scope(model: &str, shard: char) -> String {
    format!("backlog/{}/{shard}", object_name(model))
}

/// Every shard, starting at one that depends on the host's name, so hosts
/// that start together reach for different shards first.
fn shard_order(holder: &str) -> Vec<char> {
    let shards: Vec<char> = SHARDS.chars().collect();
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    holder.hash(&mut hash);
    let start = (hash.finish() % shards.len() as u64) as usize;
    shards[start..]
        .iter()
        .chain(&shards[..start])
        .copied()
        .collect()
}

/// A name usable as one object-store path part.
fn object_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect()
}

/// Where hosts keep the record of their last drain.
const DRAINS: &str = "backlog/hosts";

/// A host's last drain of the backlog, kept in the store so the fleet's
/// rate can be read by any host.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrainRecord {
    pub host: String,
    pub model: String,
    pub rows: u64,
    pub secs: f64,
    pub finished_at: DateTime<Utc>,
}

impl DrainRecord {
    pub fn parts_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.rows as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Leaves this host's drain in the store; a failure only loses a figure.
async fn record_drain(store: &Store, host: &str, report: &BacklogReport) {
    let record = DrainRecord {
        host: host.to_string(),
        model: report.model.clone(),
        rows: report.rows,
        secs: report.secs,
        finished_at: Utc::now(),
    };
    let name = format!("{}.json", object_name(host));
    if let Err(e) = lease::write_json(store.location(), DRAINS, &name, &record).await {
        tracing::warn!(error = %e, "the record of this drain was not kept");
    }
}

/// The last drain of every host that drained the backlog.
pub async fn drains(store: &Store) -> Result<Vec<DrainRecord>, StoreError> {
    let mut records: Vec<DrainRecord> = lease::read_all_json(store.location(), DRAINS).await?;
    records.sort_by_key(|r| std::cmp::Reverse(r.finished_at));
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_visits_every_shard_once_from_its_own_start() {
        for host in ["laptop", "ci-runner-7", "büro"] {
            let mut order = shard_order(host);
            assert_eq!(order.len(), 16);
            order.sort_unstable();
            assert_eq!(order.into_iter().collect::<String>(), SHARDS);
        }
        assert_eq!(shard_order("laptop"), shard_order("laptop"));
    }

    #[test]
    fn model_ids_become_single_path_parts() {
        assert_eq!(
            object_name("sentence-transformers/all-MiniLM-L6-v2:int8"),
            "sentence-transformers_all-MiniLM-L6-v2_int8"
        );
    }
}
