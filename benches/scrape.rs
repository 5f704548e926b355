//! What a Prometheus scrape of the fleet costs (`GET /metrics`, rule 45) on
//! a store that 200 hosts synced into for a year, plus a few thousand CI
//! jobs: the scrape reads the host and group rows, two columns of the
//! sessions table and the tables' manifests, so its cost should not follow
//! the run history.
//!
//! `cargo bench --profile dev --bench scrape` (`make bench-scrape`). Settings
//! (env): `SCRAPE_HOSTS` (200), `SCRAPE_RUNS_PER_HOST` (35,040: every 15
//! minutes for a year, every run stored in the history as if it found
//! something), `SCRAPE_CI_JOBS` (5,000), `SCRAPE_STORE` (a temp dir).

#[path = "common/measure.rs"]
mod measure;
#[path = "common/probe_store.rs"]
mod probe_store;

use std::time::Instant;

use chrono::Duration;
use measure::{core_secs, env_usize, percentile};
use pond::prometheus::{MetricsOptions, render};
use pond::store::tables::runs::RunRow;
use probe_store::{BenchStore, history_start, open_bench_store, pond_on, run_row as run};

fn main() {
    let hosts = env_usize("SCRAPE_HOSTS", 200);
    let per_host = env_usize("SCRAPE_RUNS_PER_HOST", 35_040);
    let jobs = env_usize("SCRAPE_CI_JOBS", 5_000);
    let BenchStore {
        temp: _temp,
        dir,
        rt,
        store,
    } = open_bench_store("SCRAPE_STORE");

    // A year in time order, a chunk of rounds per commit (as if the fleet's
    // runs had been recorded in batches; what a scrape reads is the same).
    let start = history_start();
    let built = Instant::now();
    let rounds_per_chunk = (100_000 / hosts.max(1)).max(1);
    let mut round = 0;
    while round < per_host {
        let end = (round + rounds_per_chunk).min(per_host);
        let mut runs = Vec::with_capacity((end - round) * hosts);
        for r in round..end {
            let at = start + Duration::minutes(15 * r as i64);
            for h in 0..hosts {
                runs.push(run(
                    format!("host-{h:03}"),
                    None,
                    at + Duration::seconds(h as i64),
                    r % 500 == h % 500,
                ));
            }
        }
        rt.block_on(store.record_runs(&runs)).expect("record runs");
        round = end;
        eprintln!("history: {} of {} runs", round * hosts, per_host * hosts);
    }
    let ci: Vec<RunRow> = (0..jobs)
        .map(|j| {
            let at = start + Duration::minutes(100 * j as i64);
            run(
                format!("gha-{j}"),
                Some(format!("repo-{}", j % 12)),
                at,
                j % 40 == 0,
            )
        })
        .collect();
    rt.block_on(store.record_runs(&ci)).expect("record CI runs");
    eprintln!("store built in {:.1}s", built.elapsed().as_secs_f64());
    // Compacted and indexed, as upkeep leaves a store.
    pond_on(&dir, &["maintain", "--retain", "0s", "--json"]);

    let options = MetricsOptions {
        stale_after: std::time::Duration::from_secs(3600),
        limits: Default::default(),
        prices: pond::spend::PriceTable::with_overrides(Vec::new()).expect("shipped prices"),
        project_floor: None,
    };
    let cpu = core_secs();
    let wall = Instant::now();
    let mut in_process = Vec::new();
    let mut bytes = 0;
    for _ in 0..20 {
        let t = Instant::now();
        bytes = rt.block_on(render(&store, &options)).expect("render").len();
        in_process.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut one_shot = Vec::new();
    let mut status = Vec::new();
    for _ in 0..5 {
        for (args, into) in [
            (&["metrics"][..], &mut one_shot),
            (&["status", "--all-hosts", "--json"][..], &mut status),
        ] {
            let t = Instant::now();
            pond_on(&dir, args);
            into.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), core_secs() - cpu);
    println!(
        "store: {hosts} hosts x {per_host} runs = {} history rows, {jobs} CI jobs in 12 groups",
        hosts * per_host
    );
    println!("| measure | p50 ms | p95 ms |\n|---|---:|---:|");
    println!(
        "| render /metrics in a long-lived server ({bytes} bytes) | {:.1} | {:.1} |",
        percentile(in_process.clone(), 0.5),
        percentile(in_process, 0.95)
    );
    println!(
        "| `pond metrics` (one-shot process) | {:.1} | {:.1} |",
        percentile(one_shot.clone(), 0.5),
        percentile(one_shot, 0.95)
    );
    println!(
        "| `pond status --all-hosts --json` (one-shot process) | {:.1} | {:.1} |",
        percentile(status.clone(), 0.5),
        percentile(status, 0.95)
    );
    println!("timed part: {wall:.1}s wall, {cpu:.1} core-seconds");
}
