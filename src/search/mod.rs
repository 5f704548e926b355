//! Hybrid search over the archive: BM25 and nearest-neighbour arms with the
//! same filters pushed down, fused (by rank or by score, as the model
//! warrants), grouped by session.
//!
//! This module decides what to ask the store and how to rank what comes
//! back; the store only runs the two queries. A missing embedding model
//! degrades hybrid search to BM25 and says so rather than failing.

pub mod backlog;
pub mod documents;
pub mod filters;
pub mod fusion;
pub mod snippet;
pub mod when;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::embed::{Embedder, NoModel};
use crate::store::tables::search::SearchRow;
use crate::store::{Store, StoreError, TableKind, sql_str};
pub use filters::{FilterError, Filters};
use fusion::{Arm, Ranked};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Hybrid,
    Fts,
    Vector,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub query: String,
    /// The time phrase taken out of the query and made the range, if any.
    pub understood: Option<when::TimePhrase>,
    pub mode: Mode,
    pub filters: Filters,
    /// Sessions per page.
    pub limit: usize,
    pub offset: usize,
    /// Hits shown per session (each from a different message).
    pub per_session: usize,
    /// Mask secrets in snippets, before they are cut: a window cut first
    /// could start inside a key and show the rest of it unrecognised.
    pub redact: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    Filter(#[from] FilterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("--mode vector needs an embedding model: {0}")]
    NoModel(NoModel),
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    #[error("the search query is empty")]
    EmptyQuery,
}

/// One result: the best-matching part of one session.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Hit {
    // Rule 22: these fields are the documented `--json` contract that scripts parse.
    pub session_id: String,
    pub message_id: String,
    pub client: String,
    pub project: Option<String>,
    pub host: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub role: String,
    pub kind: String,
    pub tool: Option<String>,
    pub score: f32,
    pub snippet: String,
    /// Byte ranges of `snippet` that matched query terms.
    pub highlights: Vec<(usize, usize)>,
    /// 1-based rank in each arm, when the part came up there.
    pub fts_rank: Option<usize>,
    pub vector_rank: Option<usize>,
    /// Which arm found it: the words (BM25), the meaning (vectors), or both.
    pub found_by: FoundBy,
    /// Matching parts of this session among the candidates, this one included.
    pub session_matches: usize,
}

/// Which arm of the search found a hit, for a reader judging why it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FoundBy {
    Words,
    Meaning,
    Both,
}

impl FoundBy {
    fn of(r: &Ranked) -> FoundBy {
        match (r.fts_rank, r.vector_rank) {
            (Some(_), Some(_)) => FoundBy::Both,
            (None, Some(_)) => FoundBy::Meaning,
            _ => FoundBy::Words,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::Words => "words",
            FoundBy::Meaning => "meaning",
            FoundBy::Both => "both",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Response {
    pub query: String,
    /// The mode actually run (hybrid falls back to fts without a model).
    pub mode: Mode,
    pub hits: Vec<Hit>,
    /// Messages (or, with --kind/--tool, message parts) the filters let in.
    pub in_scope: u64,
    pub embed_model: Option<String>,
    /// Searchable parts in scope still waiting for vectors of `embed_model`
    /// (counted for a model whose vectors come from the backlog), else null.
    pub vectors_pending: Option<u64>,
    /// The time phrase read as the range searched ("last week"), if any.
    pub understood: Option<when::TimePhrase>,
    /// Why the result may be less than asked for (no model, nothing indexed),
    /// and how a time phrase was read.
    pub notices: Vec<String>,
}

/// Candidates each arm returns: enough to fill the page after grouping by
/// session, bounded so a deep page cannot make a query unbounded.
fn pool_size(req: &Request) -> usize {
    req.offset
        .saturating_add(req.limit)
        .saturating_mul(req.per_session.max(1))
        .saturating_mul(8)
        .clamp(50, 2000)
}

/// Every candidate part, best first, before grouping: what [`search`] pages
/// through, and what retrieval quality is measured on.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub mode: Mode,
    pub ranked: Vec<Ranked>,
    pub in_scope: u64,
    pub embed_model: Option<String>,
    pub vectors_pending: Option<u64>,
    pub notices: Vec<String>,
}

/// What the vector arm came back with.
enum VectorArm {
    NotAsked,
    NoModel(NoModel),
    Rows {
        rows: Vec<SearchRow>,
        model: String,
        notice: Option<String>,
        /// Whether the model reads words in context (fused by score).
        contextual: bool,
        /// Rows in scope still waiting for this model's vectors, counted
        /// for a model that leaves its rows to the backlog.
        pending: Option<u64>,
    },
}

/// Ranks every candidate. `embedder` is awaited only by the vector arm, so a
/// model still loading delays that arm alone, never the full-text one.
pub async fn rank<'e>(
    store: &Store,
    embedder: impl Future<Output = Result<&'e dyn Embedder, &'e NoModel>>,
    req: &Request,
) -> Result<Ranking, SearchError> {
    if req.query.trim().is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    // Rule 23: an unknown kind or role, or an empty time range, is refused with why.
    req.filters.validate()?;
    // Rule 24: with nothing indexed yet, search says to run `pond sync`.
    if !store.has_table(TableKind::Search) || !store.has_fts_index().await? {
        return Ok(Ranking {
            mode: req.mode,
            ranked: Vec::new(),
            in_scope: 0,
            embed_model: None,
            vectors_pending: None,
            notices: vec!["nothing is indexed for search yet; run `pond sync`".into()],
        });
    }
    // Rule 23: one predicate, pushed into both the full-text and the vector query.
    let filter = req.filters.to_sql();
    let pool = pool_size(req);

    let fts = async {
        match req.mode {
            Mode::Vector => Ok(Vec::new()),
            _ => store.search_fts(&req.query, filter.as_deref(), pool).await,
        }
    };
    let vector = async {
        if req.mode == Mode::Fts {
            return Ok::<VectorArm, SearchError>(VectorArm::NotAsked);
        }
        match embedder.await {
            Ok(e) => meaning_arm(store, e, &req.query, filter.as_deref(), pool).await,
            Err(why) => Ok(VectorArm::NoModel(why.clone())),
        }
    };
    // Rule 23: `in_scope` counts what the filters let in, so an empty scope shows.
    let scope_filter = scope_filter(&req.filters);
    let scope = store.count(TableKind::Search, Some(&scope_filter));
    let (fts, vector, in_scope) = tokio::join!(fts, vector, scope);
    let (fts, vector, in_scope) = (fts?, vector?, in_scope? as u64);
    settle(req, fts, vector, in_scope)
}

/// The ranking from both arms' answers: the mode actually run (hybrid falls
/// back to full text without a model) and what the reader is told.
fn settle(
    req: &Request,
    fts: Vec<SearchRow>,
    vector: VectorArm,
    in_scope: u64,
) -> Result<Ranking, SearchError> {
    let mut notices = Vec::new();
    // Rule 24: without a model hybrid runs full text with a notice saying why, and
    // `--mode vector` is an error naming the fix.
    let mut vectors_pending = None;
    let (mode, vector, embed_model, contextual) = match (req.mode, vector) {
        (_, VectorArm::NotAsked) => (Mode::Fts, Vec::new(), None, false),
        (Mode::Vector, VectorArm::NoModel(why)) => return Err(SearchError::NoModel(why)),
        (_, VectorArm::NoModel(why)) => {
            notices.push(format!("full-text only: {why}"));
            (Mode::Fts, Vec::new(), None, false)
        }
        (
            mode,
            VectorArm::Rows {
                rows,
                model,
                notice,
                contextual,
                pending,
            },
        ) => {
            notices.extend(notice);
            vectors_pending = pending;
            (mode, rows, Some(model), contextual)
        }
    };
    let ranked = match mode {
        Mode::Hybrid => fusion::hybrid(fts, vector, &req.query, contextual),
        Mode::Fts => fusion::single(fts, Arm::Fts),
        Mode::Vector => fusion::single(vector, Arm::Vector),
    };
    Ok(Ranking {
        mode,
        ranked,
        in_scope,
        embed_model,
        vectors_pending,
        notices,
    })
}

/// The vector arm with `e` loaded: one search per model the store holds
/// vectors of (this one, and its stand-in for rows the backlog has not
/// reached), or why there is nothing to compare with.
async fn meaning_arm(
    store: &Store,
    e: &dyn Embedder,
    query: &str,
    filter: Option<&str>,
    pool: usize,
) -> Result<VectorArm, SearchError> {
    let model = e.model_id().to_string();
    let models = store.embed_models();
    // Rule 26: only vectors of one model are compared with each other: each arm
    // keeps to its model's rows, unless the store holds no other model's.
    let own_rows = |m: &str| model_filter(filter, m, models.len() == 1);
    let own = models.contains(&model);
    let stand_in = e
        .stand_in()
        .filter(|s| models.iter().any(|m| m == s.model_id()));
    if !own && stand_in.is_none() {
        let notice = match models.as_slice() {
            [] => "no message in the store has a vector yet: full-text results only".to_string(),
            others => format!(
                "the store's vectors were made by {}, not by this host's model {model}: full-text results only",
                others.join(", ")
            ),
        };
        let pending = waiting_for_vectors(store, e, &model, filter).await?;
        return Ok(VectorArm::Rows {
            rows: Vec::new(),
            model,
            notice: Some(notice),
            contextual: false,
            pending,
        });
    }
    let mine = async {
        match own {
            true => nearest(store, e, query, own_rows(&model).as_deref(), pool).await,
            false => Ok(Vec::new()),
        }
    };
    // Rule 28: rows the backlog has not reached are found by their stand-in vectors.
    let standing_in = async {
        match stand_in {
            Some(s) => {
                let only = own_rows(s.model_id());
                nearest(store, s, query, only.as_deref(), pool).await
            }
            None => Ok(Vec::new()),
        }
    };
    let pending = waiting_for_vectors(store, e, &model, filter);
    let (mine, standing_in, pending) = tokio::join!(mine, standing_in, pending);
    let (pending, standing_in) = (pending?, standing_in?);
    // A static stand-in's similarities are not on the contextual model's
    // scale: an arm holding any of its rows is fused by rank, as the static
    // model's own arm is.
    let contextual = e.contextual() && standing_in.is_empty();
    Ok(VectorArm::Rows {
        rows: fusion::across_spaces(mine?, standing_in),
        notice: pending_notice(pending, &model, stand_in),
        model,
        contextual,
        pending,
    })
}

/// `filter` narrowed to the rows holding `model`'s vectors, unless the
/// store holds no other model's (`sole`): the per-row check costs a scan.
fn model_filter(filter: Option<&str>, model: &str, sole: bool) -> Option<String> {
    if sole {
        return filter.map(str::to_string);
    }
    let same_model = format!("embed_model = {}", sql_str(model));
    Some(match filter {
        Some(f) => format!("({f}) AND {same_model}"),
        None => same_model,
    })
}

/// The nearest parts to `query` by `embedder`'s vectors.
async fn nearest(
    store: &Store,
    embedder: &dyn Embedder,
    query: &str,
    filter: Option<&str>,
    pool: usize,
) -> Result<Vec<SearchRow>, SearchError> {
    let vector = embedder
        .embed(&[query.to_string()])?
        .into_iter()
        .next()
        .unwrap_or_default();
    if !vector.iter().any(|x| *x != 0.0) {
        // No known token in the query: a zero vector has no direction.
        return Ok(Vec::new());
    }
    Ok(store.search_vector(&vector, filter, pool).await?)
}

/// What a search says of the parts still waiting for `model`'s vectors.
fn pending_notice(
    pending: Option<u64>,
    model: &str,
    stand_in: Option<&dyn Embedder>,
) -> Option<String> {
    let waiting = pending.filter(|n| *n > 0)?;
    let until = "until `pond model reembed` (or `pond agent`) embeds them";
    // Issue 33: search over rows without vectors works, and says how much waits.
    Some(match stand_in {
        Some(s) => format!(
            "{waiting} searchable part(s) in scope have no {model} vectors yet: {} vectors stand in for them {until}",
            s.model_id()
        ),
        None => format!(
            "{waiting} searchable part(s) in scope have no {model} vectors yet: only their words can find them {until}"
        ),
    })
}

/// Rows in scope without `model`'s vectors, counted only for a model that
/// leaves its rows to the backlog: an inline model's rows never wait, and
/// counting costs a scan of the column.
async fn waiting_for_vectors(
    store: &Store,
    embedder: &dyn Embedder,
    model: &str,
    filter: Option<&str>,
) -> Result<Option<u64>, StoreError> {
    if embedder.inline() {
        return Ok(None);
    }
    store.count_without_vectors(model, filter).await.map(Some)
}

/// One page of results, grouped by session.
pub async fn search<'e>(
    store: &Store,
    embedder: impl Future<Output = Result<&'e dyn Embedder, &'e NoModel>>,
    req: &Request,
) -> Result<Response, SearchError> {
    let ranking = rank(store, embedder, req).await?;
    let terms = snippet::query_terms(&req.query);
    let hits = fusion::group_by_session(ranking.ranked, req.per_session)
        .into_iter()
        .skip(req.offset)
        .take(req.limit)
        .flat_map(|group| {
            let matched = group.matched;
            group.hits.into_iter().map(move |r| (r, matched))
        })
        .map(|(r, matched)| {
            let text = snippet::readable(&r.doc.kind, &r.doc.text);
            let snip = if req.redact {
                snippet::masked_snippet(&text, &terms)
            } else {
                snippet::snippet(&text, &terms)
            };
            let found_by = FoundBy::of(&r);
            Hit {
                session_id: r.doc.session_id,
                message_id: r.doc.message_id,
                client: r.doc.client,
                project: r.doc.project,
                host: r.doc.host,
                timestamp: r.doc.timestamp,
                role: r.doc.role,
                kind: r.doc.kind,
                tool: r.doc.tool,
                score: r.score,
                snippet: snip.text,
                highlights: snip.matches,
                fts_rank: r.fts_rank,
                vector_rank: r.vector_rank,
                found_by,
                session_matches: matched,
            }
        })
        .collect();
    let mut notices = ranking.notices;
    if let Some(phrase) = &req.understood {
        notices.insert(0, phrase.describe(*when::local(Utc::now()).offset()));
    }
    Ok(Response {
        query: req.query.clone(),
        mode: ranking.mode,
        hits,
        in_scope: ranking.in_scope,
        embed_model: ranking.embed_model,
        vectors_pending: ranking.vectors_pending,
        understood: req.understood.clone(),
        notices,
    })
}

/// Counts messages, not parts: part 0 stands for its message, unless the
/// filters pick parts by kind or tool, when the parts themselves are counted.
fn scope_filter(filters: &Filters) -> String {
    let one_per_message = (!filters.selects_parts()).then_some("part_no = 0".to_string());
    match (filters.to_sql(), one_per_message) {
        (Some(f), Some(p)) => format!("({f}) AND {p}"),
        (Some(f), None) => f,
        (None, Some(p)) => p,
        (None, None) => "true".to_string(),
    }
}
