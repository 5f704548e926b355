//! The embedding backlog: search rows without a vector from the model in
//! use, because the host that synced them had no model, or a different one.
//!
//! Sync never waits for it; `pond model reembed` (or a later run of it after
//! changing models) works through it in batches, each one keyed upsert, so
//! it can be stopped and resumed at any point.

use serde::Serialize;

use crate::embed::{self, Embedder};
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
    pub secs: f64,
}

/// How the store's searchable parts stand with vectors: what `pond status`
/// shows, so a backlog waiting for a slow model is seen.
#[derive(Debug, Default, Clone, Serialize)]
pub struct VectorCensus {
    /// Searchable parts in the store.
    pub parts: u64,
    /// Parts holding (or marked done by) each model the store has vectors of.
    pub by_model: Vec<ModelParts>,
    /// Parts no model has embedded yet: the backlog of whichever model
    /// `pond model reembed` or `pond agent` runs next.
    pub without_vectors: u64,
}

#[derive(Debug, Clone, Serialize)]
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
    })
}

/// Embeds the rows of the backlog with `embedder`, `batch` rows per commit,
/// until none is left or `keep_going` says stop (checked between batches).
pub async fn drain(
    store: &Store,
    embedder: &dyn Embedder,
    batch: usize,
    progress: &dyn Fn(u64),
    keep_going: &dyn Fn() -> bool,
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
    // Rule 26: rows without a vector of this model get one in keyed batches that
    // can stop and resume anywhere.
    while keep_going() {
        let docs = store.embedding_backlog(&model, batch.max(1)).await?;
        if docs.is_empty() {
            break;
        }
        let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
        let vectors: Vec<Option<Vec<f32>>> = embedder
            .embed(&texts)?
            .into_iter()
            .map(|v| embed::usable(v, embedder.dimensions()))
            .collect();
        report.with_vectors += vectors.iter().filter(|v| v.is_some()).count() as u64;
        crate::pause::at("backlog-write");
        report.rows += store.replace_vectors(&docs, &vectors, &model).await?;
        store.note_embed_model(&model).await?;
        progress(report.rows);
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
    if report.rows > 0 {
        store.maintain_search_indexes(0).await?;
    }
    report.secs = started.elapsed().as_secs_f64();
    Ok(report)
}
