//! Ingest benchmark: first sync of a real Claude Code corpus into a fresh
//! local store, then no-op re-syncs; prints times, store size and peak RSS.
//!
//! `cargo bench --bench ingest` (release profile). The corpus defaults to
//! `../shared/bench-corpus/claude-code`; set `POND_BENCH_CORPUS` to use another.

// A sync's future nests deeper than the default limit lets rustc lay out.
#![recursion_limit = "256"]

use std::path::{Path, PathBuf};
use std::time::Instant;

use pond::store::{OpenMode, Store, StoreLocation};
use pond::sync::report::SyncReport;
use pond::sync::{DEFAULT_BATCH_BYTES, SyncOptions};

fn corpus() -> PathBuf {
    std::env::var_os("POND_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-corpus/claude-code")
        })
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn sync_once(location: &StoreLocation, opts: &SyncOptions) -> (f64, SyncReport) {
    let started = Instant::now();
    let store = Store::open(location, OpenMode::Create)
        .await
        .expect("open store");
    let mut report = SyncReport::new(
        &location.display,
        &opts.host,
        vec!["claude-code".into()],
        false,
    );
    pond::sync::run(&store, opts, &mut report, &|_| {})
        .await
        .expect("sync");
    report.finish(None);
    (started.elapsed().as_secs_f64(), report)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter in a single benchmark.
    let corpus = corpus();
    if !corpus.is_dir() {
        eprintln!(
            "ingest bench: corpus {} not found; set POND_BENCH_CORPUS",
            corpus.display()
        );
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let location =
        StoreLocation::parse(work.path().join("store").to_str().expect("utf-8")).expect("location");
    let opts = SyncOptions {
        adapters: vec![std::sync::Arc::from(
            pond::registry::by_name("claude-code").expect("adapter"),
        )],
        path: Some(corpus.clone()),
        host: "bench".into(),
        dry_run: false,
        state_dir: work.path().join("state"),
        batch_bytes: DEFAULT_BATCH_BYTES,
        embedder: std::sync::Arc::new(pond::embed::Lazy::new(pond::embed::ModelChoice::resolve(
            None,
        ))),
        origin_root: None,
        redact: false,
        host_locked: true,
        host_limit: None,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let raw_bytes = pond::store::dir_size(&corpus);

    let (first_secs, first) = runtime.block_on(sync_once(&location, &opts));
    let mut resync = Vec::new();
    for _ in 0..5 {
        let (secs, report) = runtime.block_on(sync_once(&location, &opts));
        assert_eq!(report.records_inserted, 0, "re-sync must insert nothing");
        resync.push(secs);
    }
    resync.sort_by(f64::total_cmp);
    let store_bytes = pond::store::dir_size(&work.path().join("store"));

    println!(
        "ingest bench: corpus {} ({} files, {:.1} MB)",
        corpus.display(),
        first.files_scanned,
        raw_bytes as f64 / 1e6
    );
    println!(
        "  first sync:   {first_secs:.2} s  ({} sessions, {} messages, {} records, {} commits, {:.1} MB/s)",
        first.sessions_inserted,
        first.messages_inserted,
        first.records_inserted,
        first.commits,
        raw_bytes as f64 / 1e6 / first_secs
    );
    println!(
        "  no-op re-sync: {:.3} s median of {} (min {:.3}, max {:.3})",
        resync[resync.len() / 2],
        resync.len(),
        resync[0],
        resync[resync.len() - 1]
    );
    println!(
        "  store size:   {:.1} MB = {:.2}x the raw {:.1} MB",
        store_bytes as f64 / 1e6,
        store_bytes as f64 / raw_bytes as f64,
        raw_bytes as f64 / 1e6
    );
    println!("  peak RSS:     {:.0} MiB", peak_rss_mib());
}
