//! Hosts sharing one embedding backlog (spec rule 53): the same store's
//! transformer backlog drained by one host, then by two at once, each host a
//! separate `pond model reembed` process with its own share of the cores.
//!
//! On this two-core machine two hosts of one thread each stand for two
//! machines; one host of one thread is the baseline they are compared with,
//! and one host of two threads says what the cores alone would give. The
//! store is filled once through `pond sync` with the transformer chosen (so
//! its rows wait for it) and copied afresh for each run.
//!
//! `make bench-backlog`, or `cargo bench --locked --profile dev --bench
//! backlog_share`. Settings: `BACKLOG_FILES` (bench-corpus files to sync,
//! smallest first; default 6), `POND_BENCH_BACKLOG_DIR` (default
//! /var/tmp/pond-bench-backlog).

#[path = "../tests/integration/command_checks.rs"]
mod command_checks;
#[path = "common/measure.rs"]
mod measure;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Instant;

use command_checks::{assert_ran_ok, output_ok};
use measure::pond;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The smallest `n` sessions of the bench corpus, copied into `dir`.
fn sources(dir: &Path, n: usize) {
    let corpus = repo().join("../shared/bench-corpus/claude-code");
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&corpus)
        .expect("the bench corpus (../shared/bench-corpus)")
        .filter_map(|e| e.ok())
        .map(|e| (e.metadata().map_or(0, |m| m.len()), e.path()))
        .filter(|(_, p)| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    std::fs::create_dir_all(dir).expect("sources dir");
    for (_, file) in files.into_iter().take(n) {
        std::fs::copy(&file, dir.join(file.file_name().expect("file name"))).expect("copy");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(
        status.success(),
        "copy {} to {}",
        from.display(),
        to.display()
    );
}

fn reembed(store: &Path, state: &Path, host: &str, threads: usize) -> Child {
    pond(store, state, &["model", "reembed", "--json"])
        .env("POND_HOST", host)
        .env("POND_EMBED_MODEL", "transformer")
        .env("POND_EMBED_THREADS", threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pond model reembed")
}

struct Run {
    wall: f64,
    core: f64,
    per_host: Vec<(u64, u64)>,
}

fn drain(base: &Path, root: &Path, hosts: usize, threads: usize) -> Run {
    let store = root.join("run-store");
    copy_tree(base, &store);
    let cores = measure::core_secs();
    let started = Instant::now();
    let children: Vec<Child> = (0..hosts)
        .map(|i| {
            let state = root.join(format!("state-{i}"));
            reembed(&store, &state, &format!("host-{i}"), threads)
        })
        .collect();
    let per_host = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("wait for reembed");
            assert_ran_ok(&out, "reembed");
            let report: Value = serde_json::from_slice(&out.stdout).expect("reembed JSON");
            (
                report["rows"].as_u64().unwrap_or(0),
                report["shards"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    Run {
        wall: started.elapsed().as_secs_f64(),
        core: measure::core_secs() - cores,
        per_host,
    }
}

fn main() {
    let root = PathBuf::from(
        std::env::var("POND_BENCH_BACKLOG_DIR")
            .unwrap_or_else(|_| "/var/tmp/pond-bench-backlog".into()),
    );
    let files = measure::env_usize("BACKLOG_FILES", 6);
    let _ = std::fs::remove_dir_all(&root);
    let src = root.join("sources");
    sources(&src, files);
    let base = root.join("base-store");
    let state = root.join("state-sync");
    let started = Instant::now();
    let synced = output_ok(
        pond(
            &base,
            &state,
            &[
                "sync",
                "--json",
                "claude-code",
                "--path",
                src.to_str().expect("utf-8 path"),
            ],
        )
        .env("POND_EMBED_MODEL", "transformer"),
        "sync",
    );
    let report: Value = serde_json::from_slice(&synced.stdout).expect("sync JSON");
    let parts = report["search_rows_inserted"].as_u64().unwrap_or(0);
    println!(
        "backlog: {parts} parts from {files} sessions, synced in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "| hosts × threads | wall s | core-s | parts/s | parts/core-s | parts (shards) per host |"
    );
    println!("|---|---|---|---|---|---|");
    let mut baseline = None;
    for (hosts, threads) in [(1, 1), (2, 1), (1, 2)] {
        let run = drain(&base, &root, hosts, threads);
        let embedded: u64 = run.per_host.iter().map(|(rows, _)| rows).sum();
        assert_eq!(embedded, parts, "every part embedded once");
        let speedup = match baseline {
            None => {
                baseline = Some(run.wall);
                String::new()
            }
            Some(one) => format!(" ({:.2}× one host)", one / run.wall),
        };
        let shares: Vec<String> = run
            .per_host
            .iter()
            .map(|(rows, shards)| format!("{rows} ({shards})"))
            .collect();
        println!(
            "| {hosts} × {threads} | {:.1}{speedup} | {:.1} | {:.1} | {:.1} | {} |",
            run.wall,
            run.core,
            parts as f64 / run.wall,
            parts as f64 / run.core,
            shares.join(", ")
        );
    }
}
