//! Search quality on questions typed the way people ask them: the questions
//! in `benches/search-eval/questions.json` (exact identifiers, keywords and
//! paraphrases over the real sessions of `../shared/bench-corpus` and the
//! Claude Code and Codex fixtures, each with the sessions that answer it),
//! scored by session recall@1, recall@3 and MRR, per kind, on the half used
//! for tuning and on the half held back.
//!
//! The store is filled through the real `pond` binary (sync, then the
//! embedding backlog), and ranked through pond's own search (`pond` rows).
//! Fusion candidates are compared on the same two arms, fetched once per
//! question, so weights are chosen on the tuning half and judged on the
//! other.
//!
//! `make bench-search` runs it after the archive-scale bench, or alone:
//! `cargo bench --locked --profile dev --bench search_eval`. Settings:
//! `POND_BENCH_EVAL_DIR` (default /var/tmp/pond-bench-eval; one store per
//! model, reused), `POND_EMBED_MODEL` (the model, as for pond itself).

#[path = "common/measure.rs"]
mod measure;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use measure::pond;
use pond::embed::{self, ModelChoice};
use pond::search::fusion::{self, Arm, Ranked};
use pond::search::{Filters, Mode, Request};
use pond::store::tables::search::SearchRow;
use pond::store::{OpenMode, Store, StoreLocation};
use serde::Deserialize;

#[derive(Deserialize)]
struct Questions {
    questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    id: String,
    kind: String,
    split: String,
    query: String,
    answers: Vec<String>,
}

/// Candidates per arm: what pond asks each arm for a ten-session page.
const POOL: usize = 80;
const KINDS: [&str; 3] = ["exact", "keyword", "paraphrase"];
const SPLITS: [&str; 2] = ["tune", "held"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(mut cmd: Command) {
    let out = cmd.output().expect("spawn pond");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fills the store once per model: the bench corpus and the two fixture
/// clients, then every pending vector. Returns (wall, core) seconds.
fn fill(store: &Path, state: &Path) -> (f64, f64) {
    let started = Instant::now();
    let cores = measure::core_secs();
    let sources = [
        (
            "claude-code",
            repo().join("../shared/bench-corpus/claude-code"),
        ),
        ("claude-code", repo().join("tests/fixtures/claude-code")),
        ("codex", repo().join("tests/fixtures/codex")),
    ];
    for (client, dir) in sources {
        let dir = dir.to_str().expect("utf-8 path").to_string();
        run(pond(
            store,
            state,
            &["sync", "--quiet", client, "--path", &dir],
        ));
    }
    run(pond(store, state, &["model", "reembed"]));
    (
        started.elapsed().as_secs_f64(),
        measure::core_secs() - cores,
    )
}

/// Sessions in the order a ranking first reaches them.
fn sessions(ranked: Vec<Ranked>) -> Vec<String> {
    fusion::group_by_session(ranked, 1)
        .into_iter()
        .filter_map(|g| g.hits.into_iter().next().map(|h| h.doc.session_id))
        .collect()
}

/// 1-based rank of the first answering session, if any. pond keys a
/// session `<client>:<the client's own id>`; answers name the client's id.
fn first_answer(order: &[String], answers: &[String]) -> Option<usize> {
    let own_id = |key: &str| key.split_once(':').map_or(key, |(_, id)| id).to_string();
    order
        .iter()
        .position(|s| answers.contains(&own_id(s)))
        .map(|i| i + 1)
}

#[derive(Default, Clone, Copy)]
struct Score {
    n: usize,
    at1: usize,
    at3: usize,
    rr: f64,
}

impl Score {
    fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        self.at1 += usize::from(rank == Some(1));
        self.at3 += usize::from(rank.is_some_and(|r| r <= 3));
        self.rr += rank.map_or(0.0, |r| 1.0 / r as f64);
    }

    fn cell(&self) -> String {
        format!(
            "{}/{} {}/{} {:.2}",
            self.at1,
            self.n,
            self.at3,
            self.n,
            self.rr / self.n.max(1) as f64
        )
    }
}

/// Scores of one ranking method, by split and kind.
#[derive(Default)]
struct Table(BTreeMap<(String, String), Score>);

impl Table {
    fn add(&mut self, q: &Question, rank: Option<usize>) {
        for kind in [q.kind.as_str(), "all"] {
            self.0
                .entry((q.split.clone(), kind.to_string()))
                .or_default()
                .add(rank);
        }
    }

    fn get(&self, split: &str, kind: &str) -> Score {
        self.0
            .get(&(split.to_string(), kind.to_string()))
            .copied()
            .unwrap_or_default()
    }

    fn row(&self, name: &str, split: &str) -> String {
        let cells: Vec<String> = ["all", KINDS[0], KINDS[1], KINDS[2]]
            .iter()
            .map(|k| self.get(split, k).cell())
            .collect();
        format!("| {name} | {split} | {} |", cells.join(" | "))
    }
}

/// The two arms of one question, fetched once.
struct Arms {
    fts: Vec<SearchRow>,
    vector: Vec<SearchRow>,
}

type Fuse = Box<dyn Fn(&Arms, &str) -> Vec<Ranked>>;

/// The fusion candidates compared on the same arms.
fn candidates() -> Vec<(String, Fuse)> {
    let mut out: Vec<(String, Fuse)> = vec![
        (
            "BM25 alone".into(),
            Box::new(|a: &Arms, _: &str| fusion::single(a.fts.clone(), Arm::Fts)),
        ),
        (
            "vectors alone".into(),
            Box::new(|a: &Arms, _: &str| fusion::single(a.vector.clone(), Arm::Vector)),
        ),
        (
            "RRF k=20, vectors 0.7, depth 20 (pond with a static model)".into(),
            Box::new(|a: &Arms, q: &str| fusion::hybrid(a.fts.clone(), a.vector.clone(), q, false)),
        ),
    ];
    for w in [0.2f32, 0.3, 0.4, 0.5, 0.6, 0.7] {
        out.push((
            format!("scores, BM25 weight {w}"),
            Box::new(move |a: &Arms, _: &str| fusion::by_score(a.fts.clone(), a.vector.clone(), w)),
        ));
    }
    // A query naming an identifier, a path or a quoted phrase leans on BM25.
    for (prose, literal) in [(0.3f32, 0.6f32), (0.3, 0.7), (0.4, 0.7), (0.3, 0.8)] {
        out.push((
            format!(
                "scores, BM25 weight {prose} (prose) / {literal} (identifiers){}",
                if (prose, literal) == (fusion::PROSE_BM25_WEIGHT, fusion::LITERAL_BM25_WEIGHT) {
                    " (pond with a contextual model)"
                } else {
                    ""
                }
            ),
            Box::new(move |a: &Arms, q: &str| {
                let w = if fusion::names_something_literal(q) {
                    literal
                } else {
                    prose
                };
                fusion::by_score(a.fts.clone(), a.vector.clone(), w)
            }),
        ));
    }
    out
}

fn main() {
    let questions: Questions = serde_json::from_slice(
        &std::fs::read(repo().join("benches/search-eval/questions.json")).expect("questions.json"),
    )
    .expect("questions.json parses");
    let choice = ModelChoice::resolve(None);
    let embedder = embed::load(&choice, embed::Start::Now)
        .unwrap_or_else(|why| panic!("no embedding model: {why}"));
    let model = embedder.model_id().to_string();
    let dir = std::env::var_os("POND_BENCH_EVAL_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/pond-bench-eval"), PathBuf::from);
    let label: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let store_dir = dir.join(format!("store-{label}"));
    let state = dir.join(format!("state-{label}"));
    if !store_dir.exists() {
        let (wall, cores) = fill(&store_dir, &state);
        println!("filled the store with {model}: {wall:.1} s wall, {cores:.1} core-s");
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let location = StoreLocation::parse(store_dir.to_str().expect("utf-8")).expect("location");
    let store = runtime
        .block_on(Store::open(&location, OpenMode::Existing))
        .expect("open the eval store");

    let methods = candidates();
    let mut tables: Vec<Table> = methods.iter().map(|_| Table::default()).collect();
    let mut pond_table = Table::default();
    let mut query_ms = Vec::new();
    for q in &questions.questions {
        let vector = embedder
            .embed(std::slice::from_ref(&q.query))
            .expect("embed the question")
            .into_iter()
            .next()
            .unwrap_or_default();
        let arms = runtime.block_on(async {
            Arms {
                fts: store.search_fts(&q.query, None, POOL).await.expect("fts"),
                vector: store
                    .search_vector(&vector, None, POOL)
                    .await
                    .expect("vector"),
            }
        });
        for ((_, fuse), table) in methods.iter().zip(&mut tables) {
            table.add(
                q,
                first_answer(&sessions(fuse(&arms, &q.query)), &q.answers),
            );
        }
        let req = Request {
            query: q.query.clone(),
            understood: None,
            mode: Mode::Hybrid,
            filters: Filters::default(),
            limit: 10,
            offset: 0,
            per_session: 1,
            redact: false,
        };
        let started = Instant::now();
        let ranking = runtime
            .block_on(pond::search::rank(
                &store,
                std::future::ready(Ok(embedder.as_ref())),
                &req,
            ))
            .expect("pond search");
        query_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let order = sessions(ranking.ranked);
        let rank = first_answer(&order, &q.answers);
        if rank.is_none_or(|r| r > 3) {
            println!(
                "  miss {} ({}, {}): {:?} → answer at {rank:?}",
                q.id, q.kind, q.split, q.query
            );
        }
        pond_table.add(q, rank);
    }

    println!(
        "\nsearch evaluation: {} questions, model {model}; cells are recall@1, recall@3 (of n), MRR",
        questions.questions.len()
    );
    println!("| ranking | half | all | exact | keyword | paraphrase |");
    println!("|---|---|---|---|---|---|");
    for split in SPLITS {
        println!("{}", pond_table.row("**pond hybrid**", split));
        for ((name, _), table) in methods.iter().zip(&tables) {
            println!("{}", table.row(name, split));
        }
    }
    println!(
        "in-process hybrid ranking (model warm): p50 {:.1} ms, p95 {:.1} ms",
        measure::percentile(query_ms.clone(), 0.5),
        measure::percentile(query_ms, 0.95)
    );
}
