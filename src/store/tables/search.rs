//! The search table: one row per searchable part of a message, with the
//! columns search filters on, the text BM25 indexes and the vector the
//! nearest-neighbour arm reads.
//!
//! It is separate from `messages` because search wants something different
//! from storage: one row per part (so a hit knows it came from a tool result),
//! long tool output cut down for the index (never in storage), the session's
//! project denormalised for filtering, and a fixed-size vector column. The
//! store only runs the queries; ranking and fusion live in `crate::search`.

use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lancedb::DistanceType;
use lancedb::index::Index;
use lancedb::index::scalar::{
    BTreeIndexBuilder, BitmapIndexBuilder, FtsIndexBuilder, FullTextSearchQuery, NGramIndexBuilder,
};
use lancedb::index::vector::IvfPqIndexBuilder;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::{OptimizeAction, OptimizeOptions};

use crate::store::tables::schema::{self, Columns, key_field, opt_str, opt_time, utc};
use crate::store::{Store, StoreError, TableKind, lance_error};

pub const SEARCH: &str = "search";

/// Width of the vector column. Fixed per store: every embedding model pond
/// writes with must produce vectors of this size (the static model is
/// distilled to it).
pub const VECTOR_DIM: i32 = 256;

/// Below this many rows a flat vector scan is fast enough and an IVF index
/// would be trained on too few points to be any good.
const VECTOR_INDEX_MIN_ROWS: usize = 100_000;

/// Delta segments an index may collect before a sync merges them.
const MAX_INDEX_SEGMENTS: usize = 8;

const FTS_INDEX: &str = "text_idx";
const VECTOR_INDEX: &str = "vector_idx";

enum FilterIndex {
    Bitmap,
    BTree,
    NGram,
}

/// Scalar indexes on the columns filters and the `in_scope` count read, so a
/// filtered search at a million rows does not scan them: bitmaps for the
/// few-valued columns, B-trees for time and session ids (prefix matches),
/// trigrams for the project substring match.
const FILTER_INDEXES: [(&str, FilterIndex); 8] = [
    ("client", FilterIndex::Bitmap),
    ("host", FilterIndex::Bitmap),
    ("role", FilterIndex::Bitmap),
    ("kind", FilterIndex::Bitmap),
    ("part_no", FilterIndex::Bitmap),
    ("timestamp", FilterIndex::BTree),
    ("session_id", FilterIndex::BTree),
    ("project", FilterIndex::NGram),
];

fn filter_index_name(column: &str) -> String {
    format!("{column}_idx")
}

/// Columns a hit is read with, and a row rebuilt from when only its vector
/// changes: everything but the vector.
const HIT_COLUMNS: [&str; 12] = [
    "id",
    "message_id",
    "session_id",
    "client",
    "host",
    "project",
    "role",
    "kind",
    "tool",
    "timestamp",
    "part_no",
    "text",
];

pub fn search_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("message_id", DataType::Utf8, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("client", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("project", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("tool", DataType::Utf8, true),
        Field::new("timestamp", utc(), true),
        // Position among the message's indexed parts; 0 marks one row per
        // message, so messages in scope can be counted without a distinct.
        Field::new("part_no", DataType::UInt32, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "vector",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, true)),
                VECTOR_DIM,
            ),
            true,
        ),
        Field::new("embed_model", DataType::Utf8, true),
        Field::new("ingested_at", utc(), false),
    ]))
}

/// One row of the search table, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDoc {
    pub id: String,
    pub message_id: String,
    pub session_id: String,
    pub client: String,
    pub host: String,
    pub project: Option<String>,
    pub role: String,
    pub kind: String,
    pub tool: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub part_no: u32,
    pub text: String,
}

/// A row read back by a query, with its arm's raw score.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRow {
    pub doc: SearchDoc,
    /// BM25 score (higher is better) or vector distance (lower is better).
    pub score: f32,
}

/// Writes `docs` with their vectors: `vectors` is `None` when no model is
/// loaded (the rows then await the backlog, `embed_model` null), and holds
/// `None` for a text the model could not embed.
pub fn search_batch(
    docs: &[SearchDoc],
    vectors: Option<(&[Option<Vec<f32>>], &str)>,
    now: DateTime<Utc>,
) -> Result<RecordBatch, StoreError> {
    let mut list = FixedSizeListBuilder::new(Float32Builder::new(), VECTOR_DIM)
        .with_field(Arc::new(Field::new("item", DataType::Float32, true)));
    let mut models: Vec<Option<&str>> = Vec::with_capacity(docs.len());
    let none = vec![None; docs.len()];
    let (vectors, model) = match vectors {
        Some((v, model)) => (v, Some(model)),
        None => (none.as_slice(), None),
    };
    if vectors.len() != docs.len() {
        return Err(StoreError::Schema(format!(
            "{} vectors for {} search rows",
            vectors.len(),
            docs.len()
        )));
    }
    // Rule 20: every stored vector carries the id of the model that made it.
    for v in vectors {
        match v {
            Some(v) if v.len() == VECTOR_DIM as usize => {
                list.values().append_slice(v);
                list.append(true);
                models.push(model);
            }
            Some(v) => {
                return Err(StoreError::Schema(format!(
                    "embedding has {} dimensions; this store's vectors have {VECTOR_DIM}",
                    v.len()
                )));
            }
            None => {
                // Still stamped with the model when one ran: the text was
                // tried and has nothing to embed, so the backlog skips it.
                list.values().append_nulls(VECTOR_DIM as usize);
                list.append(false);
                models.push(model);
            }
        }
    }
    let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
    schema::batch(
        search_schema(),
        vec![
            schema::strings(docs.iter().map(|d| d.id.as_str())),
            schema::strings(docs.iter().map(|d| d.message_id.as_str())),
            schema::strings(docs.iter().map(|d| d.session_id.as_str())),
            schema::strings(docs.iter().map(|d| d.client.as_str())),
            schema::strings(docs.iter().map(|d| d.host.as_str())),
            schema::opt_strings(docs.iter().map(|d| d.project.as_deref())),
            schema::strings(docs.iter().map(|d| d.role.as_str())),
            schema::strings(docs.iter().map(|d| d.kind.as_str())),
            schema::opt_strings(docs.iter().map(|d| d.tool.as_deref())),
            schema::timestamps(docs.iter().map(|d| micros(d.timestamp)).collect()),
            Arc::new(UInt32Array::from_iter_values(
                docs.iter().map(|d| d.part_no),
            )) as ArrayRef,
            schema::strings(docs.iter().map(|d| d.text.as_str())),
            Arc::new(list.finish()) as ArrayRef,
            schema::opt_strings(models.into_iter()),
            schema::timestamps(vec![Some(now.timestamp_micros()); docs.len()]),
        ],
    )
}

fn rows_from_batch(
    b: &RecordBatch,
    score_column: Option<&str>,
) -> Result<Vec<SearchRow>, StoreError> {
    let c = Columns::new(b);
    let (id, message, session) = (c.str("id")?, c.str("message_id")?, c.str("session_id")?);
    let (client, host, project) = (c.str("client")?, c.str("host")?, c.str("project")?);
    let (role, kind, tool) = (c.str("role")?, c.str("kind")?, c.str("tool")?);
    let (timestamp, text) = (c.time("timestamp")?, c.str("text")?);
    let part_no = c.u32("part_no")?;
    let score = match score_column {
        Some(name) => Some(
            b.column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                .ok_or_else(|| StoreError::Schema(format!("query result lacks `{name}`")))?,
        ),
        None => None,
    };
    Ok((0..b.num_rows())
        .map(|i| SearchRow {
            doc: SearchDoc {
                id: id.value(i).to_string(),
                message_id: message.value(i).to_string(),
                session_id: session.value(i).to_string(),
                client: client.value(i).to_string(),
                host: host.value(i).to_string(),
                project: opt_str(project, i),
                role: role.value(i).to_string(),
                kind: kind.value(i).to_string(),
                tool: opt_str(tool, i),
                timestamp: opt_time(timestamp, i),
                part_no: part_no.value(i),
                text: text.value(i).to_string(),
            },
            score: match score {
                Some(s) if !s.is_null(i) => s.value(i),
                _ => f32::NAN,
            },
        })
        .collect())
}

/// The rows among `within` (all, when `None`) with no vector of `model`:
/// the embedding backlog, the same rows whether read or counted.
fn without_vector_of(model: &str, within: Option<&str>) -> String {
    let pending = format!(
        "(embed_model IS NULL OR embed_model <> {})",
        crate::store::sql_str(model)
    );
    match within {
        Some(w) => format!("({w}) AND {pending}"),
        None => pending,
    }
}

/// What the index maintenance at the end of a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IndexMaintenance {
    pub fts_created: bool,
    pub vector_created: bool,
    /// Indexes that had unindexed rows folded in.
    pub optimized: bool,
    /// Whether their segments were merged into one.
    pub merged: bool,
}

impl Store {
    /// Runs a search-table query and reads its rows back, scored by
    /// `score_column` when given.
    async fn collect_rows(
        &self,
        query: impl ExecutableQuery,
        operation: &str,
        score_column: Option<&str>,
    ) -> Result<Vec<SearchRow>, StoreError> {
        let batches: Vec<RecordBatch> = query
            .execute()
            .await
            .map_err(|e| lance_error(&self.location, operation, e))?
            .try_collect()
            .await
            .map_err(|e| lance_error(&self.location, operation, e))?;
        let mut rows = Vec::new();
        for b in &batches {
            rows.extend(rows_from_batch(b, score_column)?);
        }
        Ok(rows)
    }

    /// BM25 over the `text` column, filtered before ranking.
    pub async fn search_fts(
        &self,
        query: &str,
        filter: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SearchRow>, StoreError> {
        self.reading(TableKind::Search, move || async move {
            let table = self.table(TableKind::Search)?;
            let fts = FullTextSearchQuery::new(query.to_string())
                .with_column("text".to_string())
                .map_err(|e| lance_error(&self.location, "full-text query", e.into()))?;
            let mut q = table
                .query()
                .full_text_search(fts)
                .select(Select::columns(&[&HIT_COLUMNS[..], &["_score"]].concat()))
                .limit(limit);
            if let Some(f) = filter {
                q = q.only_if(f);
            }
            self.collect_rows(q, "full-text search", Some("_score"))
                .await
        })
        .await
    }

    /// Nearest neighbours of `vector` by cosine distance, filtered before
    /// ranking. Rows without a vector have no distance and rank last.
    pub async fn search_vector(
        &self,
        vector: &[f32],
        filter: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SearchRow>, StoreError> {
        self.reading(TableKind::Search, move || async move {
            let table = self.table(TableKind::Search)?;
            let mut q = table
                .query()
                .nearest_to(vector)
                .map_err(|e| lance_error(&self.location, "vector query", e))?
                .column("vector")
                .distance_type(DistanceType::Cosine)
                .nprobes(24)
                .map_err(|e| lance_error(&self.location, "vector query", e))?
                .refine_factor(4)
                .select(Select::columns(
                    &[&HIT_COLUMNS[..], &["_distance"]].concat(),
                ))
                .limit(limit);
            if let Some(f) = filter {
                q = q.only_if(f);
            }
            let mut rows = self
                .collect_rows(q, "vector search", Some("_distance"))
                .await?;
            // A row without a vector has no distance: it is not a neighbour.
            rows.retain(|r| r.score.is_finite());
            Ok(rows)
        })
        .await
    }

    /// Up to `limit` rows whose vector is missing or from another model than
    /// `model`: the embedding backlog, or the part of it `within` admits.
    pub async fn embedding_backlog(
        &self,
        model: &str,
        limit: usize,
        within: Option<&str>,
    ) -> Result<Vec<SearchDoc>, StoreError> {
        let filter = without_vector_of(model, within);
        let query = self
            .table(TableKind::Search)?
            .query()
            .only_if(filter)
            .select(Select::columns(&HIT_COLUMNS))
            .limit(limit);
        let rows = self
            .collect_rows(query, "read embedding backlog", None)
            .await?;
        Ok(rows.into_iter().map(|r| r.doc).collect())
    }

    /// Rows matching `filter` that have no vector of `model` yet: what the
    /// vector arm of a search with that model cannot see.
    pub async fn count_without_vectors(
        &self,
        model: &str,
        filter: Option<&str>,
    ) -> Result<u64, StoreError> {
        let predicate = without_vector_of(model, filter);
        Ok(self.count(TableKind::Search, Some(&predicate)).await? as u64)
    }

    /// Gives stored rows new vectors (one keyed update), returning how many.
    pub async fn replace_vectors(
        &self,
        docs: &[SearchDoc],
        vectors: &[Option<Vec<f32>>],
        model: &str,
    ) -> Result<u64, StoreError> {
        let batch = search_batch(docs, Some((vectors, model)), chrono::Utc::now())?;
        // Rule 44: only rows still stored get their vector; a row whose
        // session was erased while it was being embedded is not put back.
        self.update_present(TableKind::Search, batch).await
    }

    /// Creates the indexes when the table first has enough rows, and folds
    /// unindexed rows into them once there are at least `fold_from` (store
    /// upkeep folds the rest; queries scan unindexed rows meanwhile). Safe
    /// to run from many hosts: an index build that loses a commit race is
    /// retried on the new version.
    pub async fn maintain_search_indexes(
        &self,
        fold_from: usize,
    ) -> Result<IndexMaintenance, StoreError> {
        let mut done = IndexMaintenance::default();
        if !self.has_table(TableKind::Search) {
            return Ok(done);
        }
        let table = self.table_to_write(TableKind::Search).await?;
        let rows = self.count(TableKind::Search, None).await?;
        if rows == 0 {
            return Ok(done);
        }
        let indices = table
            .list_indices()
            .await
            .map_err(|e| lance_error(&self.location, "list indexes", e))?;
        let has = |name: &str| indices.iter().any(|i| i.name == name);
        (done.fts_created, done.vector_created) =
            self.create_missing_indexes(&table, &has, rows).await?;
        // A freshly built index already covers every row; an older one has
        // the rows of this sync to take in.
        let unindexed = match table
            .index_stats(FTS_INDEX)
            .await
            .map_err(|e| lance_error(&self.location, "read index statistics", e))?
        {
            Some(stats) => stats.num_unindexed_rows,
            None => 0,
        };
        let behind = unindexed >= fold_from;
        let stale_fts = !done.fts_created && behind;
        let stale_vector = has(VECTOR_INDEX) && !done.vector_created && behind;
        if stale_fts || stale_vector {
            self.fold_ranked_indexes(&table, &has, &mut done).await?;
        }
        Ok(done)
    }

    /// Builds the indexes the table lacks: full text, the filter indexes,
    /// and the vector index once there are rows enough with vectors.
    /// Returns whether the full-text and the vector index were built.
    async fn create_missing_indexes(
        &self,
        table: &lancedb::Table,
        has: &dyn Fn(&str) -> bool,
        rows: usize,
    ) -> Result<(bool, bool), StoreError> {
        // The three kinds are built at once: the full-text build is mostly
        // one core tokenising, k-means for the vectors another, and they
        // commit as separate, compatible index transactions.
        let fts = async {
            if has(FTS_INDEX) {
                return Ok(false);
            }
            let started = std::time::Instant::now();
            table
                .create_index(&["text"], Index::FTS(fts_params()))
                .name(FTS_INDEX.to_string())
                .replace(false)
                .execute()
                .await
                .map_err(|e| lance_error(&self.location, "create full-text index", e))?;
            tracing::debug!(
                secs = started.elapsed().as_secs_f64(),
                "full-text index built"
            );
            Ok::<_, StoreError>(true)
        };
        let filters = self.create_filter_indexes(table, has);
        let has_vectors = !self.embed_models().is_empty();
        let vector = async {
            if has(VECTOR_INDEX) || !has_vectors || rows < VECTOR_INDEX_MIN_ROWS {
                return Ok(false);
            }
            // Partitions of ~8k rows: k-means with √n partitions over a
            // million vectors took minutes here, and 24 probes of 8k rows of
            // 32-byte codes is still a small scan. 32 sub-vectors of 8
            // dimensions each.
            let partitions = ((rows / 8192) as u32).clamp(16, 4096);
            let started = std::time::Instant::now();
            table
                .create_index(
                    &["vector"],
                    Index::IvfPq(
                        IvfPqIndexBuilder::default()
                            .distance_type(DistanceType::Cosine)
                            .num_partitions(partitions)
                            .num_sub_vectors((VECTOR_DIM / 8) as u32)
                            .max_iterations(20),
                    ),
                )
                .name(VECTOR_INDEX.to_string())
                .replace(false)
                .execute()
                .await
                .map_err(|e| lance_error(&self.location, "create vector index", e))?;
            tracing::debug!(secs = started.elapsed().as_secs_f64(), "vector index built");
            Ok::<_, StoreError>(true)
        };
        let (fts, filters, vector) = tokio::join!(fts, filters, vector);
        let fts = fts?;
        filters?;
        Ok((fts, vector?))
    }

    /// The scalar indexes filters use, each built once.
    async fn create_filter_indexes(
        &self,
        table: &lancedb::Table,
        has: &dyn Fn(&str) -> bool,
    ) -> Result<(), StoreError> {
        for (column, index) in FILTER_INDEXES {
            if has(&filter_index_name(column)) {
                continue;
            }
            let started = std::time::Instant::now();
            let builder = match index {
                FilterIndex::Bitmap => Index::Bitmap(BitmapIndexBuilder::default()),
                FilterIndex::BTree => Index::BTree(BTreeIndexBuilder::default()),
                FilterIndex::NGram => Index::NGram(NGramIndexBuilder::default()),
            };
            table
                .create_index(&[column], builder)
                .name(filter_index_name(column))
                .replace(false)
                .execute()
                .await
                .map_err(|e| lance_error(&self.location, "create filter index", e))?;
            tracing::debug!(
                column,
                secs = started.elapsed().as_secs_f64(),
                "filter index built"
            );
        }
        Ok(())
    }

    /// Folds the rows the ranked indexes lack into them: a new segment, or
    /// the newest segments merged once there are too many.
    async fn fold_ranked_indexes(
        &self,
        table: &lancedb::Table,
        has: &dyn Fn(&str) -> bool,
        done: &mut IndexMaintenance,
    ) -> Result<(), StoreError> {
        // Each sync adds a small delta segment per index, which costs
        // about what the new rows cost; merging into the million-row
        // segment on every sync took a minute. Once an index has
        // MAX_INDEX_SEGMENTS segments, they are merged so queries, which
        // read every segment, stay fast.
        let mut segments = 0;
        for name in [FTS_INDEX, VECTOR_INDEX] {
            if has(name)
                && let Some(stats) = table
                    .index_stats(name)
                    .await
                    .map_err(|e| lance_error(&self.location, "read index statistics", e))?
            {
                segments = segments.max(stats.num_indices.unwrap_or(1) as usize);
            }
        }
        let options = if segments >= MAX_INDEX_SEGMENTS {
            done.merged = true;
            // The newest segments only, never the oldest: that one holds
            // every row up to the last upkeep, and rewriting it made one
            // sync in eight cost what the whole table costs (upkeep folds
            // everything into it).
            OptimizeOptions::merge(segments - 1)
        } else {
            OptimizeOptions::append()
        };
        // Only the ranked indexes: rows outside the full-text index are
        // scored apart from it, which changes rankings (rule 25), while
        // a filter index answers the same with its new rows scanned.
        // Folding the eight filter indexes too cost a sync ~80 ms and
        // grew with their segments; store upkeep folds them.
        let ranked = [FTS_INDEX, VECTOR_INDEX]
            .into_iter()
            .filter(|name| has(name))
            .map(str::to_string)
            .collect();
        let options = options.index_names(ranked);
        table
            .optimize(OptimizeAction::Index(options))
            .await
            .map_err(|e| lance_error(&self.location, "fold new rows into indexes", e))?;
        done.optimized = true;
        Ok(())
    }

    /// Whether the search table has its vector index (built from
    /// 100,000 rows with vectors on).
    pub async fn has_vector_index(&self) -> Result<bool, StoreError> {
        self.has_search_index(VECTOR_INDEX).await
    }

    /// Whether the full-text index exists yet (it does after the first sync
    /// that wrote rows).
    pub async fn has_fts_index(&self) -> Result<bool, StoreError> {
        self.has_search_index(FTS_INDEX).await
    }

    async fn has_search_index(&self, name: &str) -> Result<bool, StoreError> {
        if !self.has_table(TableKind::Search) {
            return Ok(false);
        }
        let indices = self
            .table(TableKind::Search)?
            .list_indices()
            .await
            .map_err(|e| lance_error(&self.location, "list indexes", e))?;
        Ok(indices.iter().any(|i| i.name == name))
    }
}

/// Tokenizer for a mix of prose and code: Lance's code lexer keeps paths,
/// identifiers and flags whole and also indexes their pieces
/// (`parse_timestamp` → `parse_timestamp`, `parse`, `timestamp`), while
/// stemming and stop words keep prose queries forgiving. Long tokens are kept
/// because hashes and ids are exactly what people paste into a search.
fn fts_params() -> FtsIndexBuilder {
    FtsIndexBuilder::default()
        .base_tokenizer("code".to_string())
        .split_identifiers(true)
        .split_on_numerics(false)
        .preserve_original(true)
        .stem(true)
        .remove_stop_words(true)
        .lower_case(true)
        .ascii_folding(true)
        .max_token_length(Some(128))
}
