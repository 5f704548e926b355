//! Search benchmark at archive scale: builds a corpus of at least a million
//! messages from the real Claude Code sessions in `../shared/bench-corpus`
//! (each session replicated under new session ids and project paths, in the
//! client's own JSONL format), ingests it with embeddings on through the real
//! `pond` binary, then times one-shot `pond search` processes (cold process,
//! warm OS cache) per mode, with and without filters, next to `rg` over the
//! same raw files.
//!
//! `make bench-search` (or `cargo bench --bench search`). Settings:
//! `POND_BENCH_DIR` (default /var/tmp/pond-bench-search; corpus and store are
//! kept there and reused), `POND_BENCH_MESSAGES` (default 1000000),
//! `POND_BENCH_RUNS` (timed runs per query and mode, default 11),
//! `POND_EMBED_MODEL` (default: the distilled model in the cache).

#[path = "common/measure.rs"]
mod measure;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use measure::env_usize;

/// Queries a user would type: exact tokens, keywords, questions.
const QUERIES: [&str; 12] = [
    "ENOENT no such file or directory",
    "entire reset command",
    "git worktree",
    "why was the push rejected",
    "how do we decide which checkpoint to restore",
    "TestRewindAfterCommit",
    "golangci-lint",
    "rate limit retry",
    "where are session transcripts stored",
    "merge conflict in go.mod",
    "the user rejected the tool use",
    "add a flag to skip confirmation",
];

fn bench_dir() -> PathBuf {
    std::env::var_os("POND_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/pond-bench-search"))
}

fn source_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-corpus/claude-code")
}

/// Messages in one copy of the source corpus: user and assistant records.
fn messages_in(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("corpus dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        n += text
            .lines()
            .filter(|l| l.contains(r#""type":"user""#) || l.contains(r#""type":"assistant""#))
            .count();
    }
    n
}

/// Writes `copies` variants of every source session: a new session id (its
/// first four hex digits replaced by the copy number) and a per-copy project
/// path, so sessions, projects and ids are all distinct.
fn build_corpus(out: &Path, copies: usize) -> u64 {
    let sources: Vec<(String, String)> = std::fs::read_dir(source_corpus())
        .expect("bench corpus")
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let at = text.find(r#""sessionId":""#)? + r#""sessionId":""#.len();
            let id = text.get(at..at + 36)?.to_string();
            Some((id, text))
        })
        .collect();
    let mut bytes = 0u64;
    for copy in 0..copies {
        let project = out.join(format!("-bench-copy-{copy:04}"));
        std::fs::create_dir_all(&project).expect("mkdir");
        for (id, text) in &sources {
            let new_id = format!("{copy:04x}{}", &id[4..]);
            let varied = text
                .replace(id.as_str(), &new_id)
                .replace(r#""cwd":"/"#, &format!(r#""cwd":"/bench/copy-{copy:04}/"#));
            bytes += varied.len() as u64;
            std::fs::write(project.join(format!("{new_id}.jsonl")), varied).expect("write");
        }
    }
    bytes
}

fn pond(store: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(measure::binary());
    cmd.args(args)
        .env("POND_STORE", store)
        .env("POND_HOST", "bench")
        .env("XDG_STATE_HOME", bench_dir().join("state"))
        .env_remove("POND_CONFIG");
    cmd
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `make` for `runs` timed rounds per query (after one untimed warm-up
/// round that fills the OS cache), returning (p50, p95) in milliseconds.
fn time_processes(runs: usize, make: &dyn Fn(&str) -> Command) -> (f64, f64) {
    let mut times = Vec::new();
    for q in QUERIES {
        let _ = make(q).output();
        for _ in 0..runs {
            let started = Instant::now();
            let out = make(q).output().expect("spawn");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(
                out.status.success() || out.status.code() == Some(1),
                "{:?}: {}",
                make(q),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.95))
}

fn main() {
    let dir = bench_dir();
    let target = env_usize("POND_BENCH_MESSAGES", 1_000_000);
    let runs = env_usize("POND_BENCH_RUNS", 11);
    // User and assistant lines overcount pond's messages by a few percent
    // (some are metadata); aim 10% high so the store really reaches the target.
    let per_copy = messages_in(&source_corpus()) * 9 / 10;
    let copies = target.div_ceil(per_copy.max(1));
    let corpus = dir.join(format!("corpus-{copies}"));
    let store = dir.join(format!("store-{copies}"));

    if !corpus.exists() {
        let staging = dir.join("corpus.tmp");
        let _ = std::fs::remove_dir_all(&staging);
        let started = Instant::now();
        let bytes = build_corpus(&staging, copies);
        std::fs::rename(&staging, &corpus).expect("rename corpus");
        println!(
            "corpus: {copies} copies × {per_copy} messages, {:.2} GB, built in {:.0}s",
            bytes as f64 / 1e9,
            started.elapsed().as_secs_f64()
        );
    }
    let raw = pond::store::dir_size(&corpus);

    if !store.exists() {
        let started = Instant::now();
        let out = pond(
            &store,
            &[
                "sync",
                "claude-code",
                "--path",
                corpus.to_str().expect("utf-8"),
                "--json",
            ],
        )
        .output()
        .expect("run pond sync");
        let secs = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "sync failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
        let messages = report["messages_inserted"].as_u64().unwrap_or(0);
        let rows = report["search_rows_inserted"].as_u64().unwrap_or(0);
        println!(
            "ingest: {messages} messages ({rows} search rows, {} with vectors by {}) in {secs:.1}s = {:.0} messages/s",
            report["vectors_inserted"],
            report["embed_model"],
            messages as f64 / secs,
        );
        let embed = report["embed_secs"].as_f64().unwrap_or(f64::NAN);
        let index = report["index_secs"].as_f64().unwrap_or(f64::NAN);
        println!(
            "  of which embedding {embed:.1}s ({:.0} rows/s), index build {index:.1}s; without the index build {:.0} messages/s",
            rows as f64 / embed,
            messages as f64 / (secs - index)
        );
        if let Some(e) = report["index_error"].as_str() {
            println!("index maintenance failed: {e}");
        }
    }
    let stored = pond::store::dir_size(&store);
    println!(
        "store: {:.2} GB for {:.2} GB raw ({:.2}×)",
        stored as f64 / 1e9,
        raw as f64 / 1e9,
        stored as f64 / raw as f64
    );

    let store_arg = store.clone();
    // "What did the assistant say in this project lately": a role, a
    // project (about a tenth of the store) and a time range.
    let filtered: &[&str] = &[
        "--role",
        "assistant",
        "--project",
        "copy-001",
        "--since",
        "2026-01-15",
    ];
    println!(
        "one-shot `pond search` processes, {runs} runs × {} queries each:",
        QUERIES.len()
    );
    println!("{:<22} {:>9} {:>9}", "", "p50 ms", "p95 ms");
    for mode in ["fts", "vector", "hybrid"] {
        for (label, extra) in [("", &[][..]), (" +filters", filtered)] {
            let (p50, p95) = time_processes(runs, &|q| {
                let mut args = vec!["search", "--json", "--mode", mode];
                args.extend_from_slice(extra);
                args.push(q);
                pond(&store_arg, &args)
            });
            println!("{:<22} {p50:>9.1} {p95:>9.1}", format!("{mode}{label}"));
        }
    }
    let corpus_arg = corpus.clone();
    let (p50, p95) = time_processes(runs.min(3), &|q| {
        let mut cmd = Command::new("rg");
        cmd.args(["--count-matches", "--fixed-strings", "--ignore-case", q])
            .arg(&corpus_arg);
        cmd
    });
    println!("{:<22} {p50:>9.1} {p95:>9.1}", "rg -F -i (raw files)");
}
