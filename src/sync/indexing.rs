//! Keeping search current during a sync: the search rows (and vectors) of
//! each committed batch, and folding them into the indexes at the end.
//!
//! Split from the pipeline because it is the one part of a sync that serves
//! reading rather than keeping: it may degrade (no model, an index step
//! that fails) without the sync losing anything.

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;

use super::SyncError;
use super::report::SyncReport;
use crate::embed;
use crate::search::documents::{self, SessionContext};
use crate::store::tables::schema::MessageRow;
use crate::store::tables::search::search_batch;
use crate::store::{Store, TableKind};

/// The search rows of a batch's messages, embedded when a model is loaded,
/// and how many got a vector. Keyed like everything else, so committing them
/// twice inserts nothing.
pub(super) fn search_rows(
    embedder: &embed::Lazy,
    client: &str,
    host: &str,
    messages: &[MessageRow<'_>],
    projects: &HashMap<&str, Option<&str>>,
    now: chrono::DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<(Option<arrow_array::RecordBatch>, u64), SyncError> {
    let docs = documents::documents(messages.iter().map(|m| m.message), |session| {
        projects.get(session).map(|project| SessionContext {
            client,
            host,
            project: *project,
        })
    });
    if docs.is_empty() {
        return Ok((None, 0));
    }
    // Rule 28: a model too slow to run inline (the transformer) is never run by a
    // sync: its rows get its stand-in's vectors at once, and its own from the backlog.
    let embedder = match embedder.get() {
        Ok(e) if !e.inline() => {
            report.embed_backlog_model = Some(e.model_id().to_string());
            e.stand_in()
        }
        loaded => loaded.ok(),
    };
    let vectors = match embedder {
        Some(embedder) => {
            let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
            let started = std::time::Instant::now();
            let embedded = embedder.embed(&texts);
            report.embed_secs += started.elapsed().as_secs_f64();
            match embedded {
                Ok(vectors) => Some(
                    vectors
                        .into_iter()
                        .map(|v| embed::usable(v, embedder.dimensions()))
                        .collect::<Vec<_>>(),
                ),
                Err(e) => {
                    // Text search still works without vectors: keep the rows.
                    report.problem(Path::new("(embedding)"), None, e.to_string());
                    None
                }
            }
        }
        None => None,
    };
    let model = embedder.map(|e| e.model_id().to_string());
    let embedded = vectors
        .as_ref()
        .map_or(0, |v| v.iter().filter(|v| v.is_some()).count() as u64);
    if vectors.is_some() {
        report.embed_model.clone_from(&model);
    }
    let with_model = vectors.as_deref().zip(model.as_deref());
    // Rule 24: with no model (or a failed one) the rows are still written, for full text.
    Ok((Some(search_batch(&docs, with_model, now)?), embedded))
}

/// Unindexed search rows a sync may leave for store upkeep to fold. None:
/// deferring the fold (to 10,000 rows) saved a commit per sync, but BM25
/// over indexed and unindexed rows ranked differently enough that rule 25
/// failed (hybrid recall@10 0.632 below full-text's 0.649), so each sync
/// still folds its own rows, except while upkeep runs: a fold then
/// conflicts with its compaction of the same fragments (in the fleet
/// bench the search table's compaction gave way every time and it grew
/// 337 fragments by round 25), and upkeep folds them itself.
const FOLD_FROM: usize = 0;

/// Folds this run's search rows into the indexes. Not fatal: the rows are
/// committed and searches scan unindexed rows, so a failure here costs speed
/// until the next sync, never results.
pub(super) async fn maintain(store: &Store, report: &mut SyncReport, progress: &dyn Fn(&str)) {
    let needed = match report.search_rows_inserted {
        0 => match store.has_fts_index().await {
            // A run that crashed between its commits and this step.
            Ok(has) => !has && store.count(TableKind::Search, None).await.unwrap_or(0) > 0,
            Err(_) => false,
        },
        _ => true,
    };
    if !needed {
        return;
    }
    progress("updating search indexes");
    let started = std::time::Instant::now();
    let upkeep_running = matches!(
        crate::store::upkeep::lease::current(store.location(), crate::store::upkeep::lease::UPKEEP)
            .await,
        Ok(Some(_))
    );
    let fold_from = if upkeep_running {
        usize::MAX
    } else {
        FOLD_FROM
    };
    let maintained = store.maintain_search_indexes(fold_from).await;
    report.index_secs = started.elapsed().as_secs_f64();
    match maintained {
        Ok(done) => tracing::debug!(?done, "search indexes maintained"),
        Err(e) => {
            tracing::warn!("search index maintenance failed: {e}");
            report.index_error = Some(e.to_string());
        }
    }
}
