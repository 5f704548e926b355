//! Concurrent writers against a real S3 server (moto, with conditional put):
//! throughput and commit retries for 1, 2, 4 and 8 host processes syncing
//! disjoint shares of the corpus at once, then the wall time of a no-op sync.
//!
//! `make bench` starts the server; by hand: `scripts/test-services.sh start`,
//! source the env file it prints, then `cargo bench --bench multiwriter`.

#[path = "../tests/integration/command_checks.rs"]
mod command_checks;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use command_checks::create_bucket;

const ROUNDS: usize = 3;

fn corpus() -> PathBuf {
    std::env::var_os("POND_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-corpus/claude-code")
        })
}

fn pond(endpoint: &str, store: &str, host: &str, state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pond"));
    cmd.env("POND_STORE", store)
        .env("POND_HOST", host)
        .env("XDG_STATE_HOME", state)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ALLOW_HTTP", "true");
    cmd
}

/// Writer `host` syncing its sources in `dir/src` (state in `dir/state`):
/// the same command for every round and for the timed no-op.
fn sync(endpoint: &str, store: &str, host: &str, dir: &Path) -> Output {
    pond(endpoint, store, host, &dir.join("state"))
        .args([
            "sync",
            "claude-code",
            "--path",
            dir.join("src").to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap()
}

fn prefix(bytes: &[u8], round: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    lines[..(lines.len() * round).div_ceil(ROUNDS)].concat()
}

fn main() {
    let Ok(endpoint) = std::env::var("POND_TEST_S3_ENDPOINT") else {
        eprintln!("multiwriter bench: POND_TEST_S3_ENDPOINT not set; run `make bench`");
        return;
    };
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus())
        .expect("bench corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!(
        "multiwriter bench: {} files, {:.1} MB, each writer syncs its share in {ROUNDS} growing rounds",
        files.len(),
        total as f64 / 1e6
    );
    println!(
        "{:>8} {:>9} {:>9} {:>8} {:>9} {:>8}",
        "writers", "wall s", "MB/s", "commits", "retries", "failed"
    );
    let work = tempfile::tempdir().unwrap();
    for writers in [1usize, 2, 4, 8] {
        let bucket = format!("bench-{writers}-{}", std::process::id());
        create_bucket(&endpoint, &bucket);
        let store = format!("s3://{bucket}/archive");
        let started = Instant::now();
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let dir = work.path().join(format!("w{writers}-{w}"));
                let mine: Vec<(String, Vec<u8>)> =
                    files.iter().skip(w).step_by(writers).cloned().collect();
                let (endpoint, store) = (endpoint.clone(), store.clone());
                std::thread::spawn(move || {
                    let (mut commits, mut retries, mut failed) = (0u64, 0u64, 0u64);
                    for round in 1..=ROUNDS {
                        for (name, bytes) in &mine {
                            std::fs::create_dir_all(dir.join("src")).unwrap();
                            std::fs::write(dir.join("src").join(name), prefix(bytes, round))
                                .unwrap();
                        }
                        let out = sync(&endpoint, &store, &format!("writer-{w}"), &dir);
                        let report: serde_json::Value =
                            serde_json::from_slice(&out.stdout).unwrap_or_default();
                        commits += report["commits"].as_u64().unwrap_or(0);
                        retries += report["commit_retries"].as_u64().unwrap_or(0);
                        failed += u64::from(report["outcome"] != "ok");
                    }
                    (commits, retries, failed)
                })
            })
            .collect();
        let (mut commits, mut retries, mut failed) = (0, 0, 0);
        for h in handles {
            let (c, r, f) = h.join().unwrap();
            commits += c;
            retries += r;
            failed += f;
        }
        let wall = started.elapsed().as_secs_f64();
        println!(
            "{writers:>8} {wall:>9.2} {:>9.2} {commits:>8} {retries:>9} {failed:>8}",
            total as f64 / 1e6 / wall
        );
        if writers == 1 {
            let dir = work.path().join("w1-0");
            let mut times = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                let out = sync(&endpoint, &store, "writer-0", &dir);
                assert!(out.status.success());
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  no-op sync against S3: {:.3} s median of 5 (min {:.3})",
                times[2], times[0]
            );
        }
    }
}
