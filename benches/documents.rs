//! A whole-document session (Gemini CLI's JSON file, rewritten in full at
//! every message) growing over many rewrites, each synced: what the store
//! keeps for it against what whole copies would take, and what a rewrite's
//! sync and an export of the newest generation cost as the chain of patches
//! grows (rule 43).
//!
//! `cargo bench --profile dev --bench documents`. Settings (env):
//! `DOC_REWRITES` (200), `DOC_MESSAGE_BYTES` (600, the text each rewrite
//! adds), `DOC_MAINTAIN_EVERY` (50 rewrites; 0: only at the end). The
//! session starts from the shipped Gemini fixture.

#[path = "common/measure.rs"]
mod measure;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use measure::env_usize;
use serde_json::{Value, json};

const FIXTURE: &str = "tests/fixtures/gemini/entire/9c_53780d06b7_0.json";

fn pond(work: &Path) -> Command {
    let mut cmd = Command::new(measure::binary());
    cmd.env("HOME", work.join("home"))
        .env("XDG_STATE_HOME", work.join("state"))
        .env("XDG_DATA_HOME", work.join("data"))
        .env("POND_STORE", work.join("store"))
        .env("POND_HOST", "bench")
        .env("POND_EMBED_MODEL", "off")
        .env_remove("POND_CONFIG")
        .env_remove("POND_LOG");
    cmd
}

fn run(cmd: &mut Command) -> (f64, Value) {
    let started = Instant::now();
    let out = cmd.output().expect("spawn pond");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        secs,
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

/// A sentence of `bytes` that differs from round to round, as prose does.
fn prose(round: usize, bytes: usize) -> String {
    const WORDS: [&str; 12] = [
        "lock", "retry", "manifest", "fragment", "cursor", "session", "upkeep", "lease", "prune",
        "compact", "index", "commit",
    ];
    let mut out = String::new();
    let mut i = round.wrapping_mul(2_654_435_761);
    while out.len() < bytes {
        out.push_str(WORDS[i % WORDS.len()]);
        out.push(' ');
        i = i
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            >> 7;
    }
    out
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// `pond maintain` with a retention of a second, as a fleet's upkeep
/// would run it (a day's retention, compressed).
fn maintain(work: &Path) {
    run(pond(work).args(["maintain", "--retain", "1s", "--json"]));
}

fn main() {
    let rewrites = env_usize("DOC_REWRITES", 200);
    let message_bytes = env_usize("DOC_MESSAGE_BYTES", 600);
    let maintain_every = env_usize("DOC_MAINTAIN_EVERY", 50);
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path();
    let src = work.join("src");
    let file = src.join("session.json");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::copy(FIXTURE, &file).expect("copy fixture");
    let sync = |work: &Path| {
        let mut cmd = pond(work);
        cmd.args(["sync", "gemini-cli", "--path"])
            .arg(&src)
            .arg("--json");
        run(&mut cmd)
    };
    sync(work);

    let (mut sync_secs, mut whole_zstd, mut standing) = (Vec::new(), 0u64, 0u64);
    let mut patched = 0;
    let started = Instant::now();
    for round in 1..=rewrites {
        let mut doc: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        let stamp = format!(
            "2026-01-16T{:02}:{:02}:00.000Z",
            round / 60 % 24,
            round % 60
        );
        doc["lastUpdated"] = stamp.clone().into();
        if let Some(messages) = doc["messages"].as_array_mut() {
            messages.push(json!({
                "id": format!("bench-{round}"),
                "timestamp": stamp,
                "type": if round.is_multiple_of(2) { "user" } else { "gemini" },
                "content": prose(round, message_bytes),
            }));
        }
        let bytes = serde_json::to_vec_pretty(&doc).expect("serialise");
        std::fs::write(&file, &bytes).expect("rewrite");
        standing += bytes.len() as u64;
        // What the column's own zstd would keep of a whole copy.
        whole_zstd += zstd::encode_all(bytes.as_slice(), 3).expect("zstd").len() as u64;
        let (secs, report) = sync(work);
        sync_secs.push(secs);
        patched += report["documents_patched"].as_u64().unwrap_or(0);
        if maintain_every > 0 && round % maintain_every == 0 {
            maintain(work);
        }
    }
    let unmaintained_bytes = pond::store::dir_size(&work.join("store/raw_records.lance/data"));
    // What the store keeps once upkeep has compacted the table and the
    // retention has passed.
    std::thread::sleep(std::time::Duration::from_secs(2));
    maintain(work);
    let wall = started.elapsed().as_secs_f64();

    let (_, sessions) = run(pond(work).args(["sessions", "--json"]));
    let id = sessions[0]["id"].as_str().expect("a session").to_string();
    let mut export_secs = Vec::new();
    for i in 0..5 {
        let out = work.join(format!("out-{i}"));
        let mut cmd = pond(work);
        cmd.args(["export", &id, "--raw", "--out"]).arg(&out);
        export_secs.push(run(&mut cmd).0);
        assert_eq!(
            std::fs::read(out.join("session.json")).expect("read export"),
            std::fs::read(&file).expect("read source"),
            "export is byte-exact"
        );
    }

    let final_size = std::fs::metadata(&file).expect("stat").len();
    let raw_dir = work.join("store/raw_records.lance/data");
    let raw_bytes = pond::store::dir_size(&raw_dir);
    println!("whole-document rewrites: {rewrites}, each adding a {message_bytes}-byte message");
    println!(
        "final document: {final_size} bytes; {patched} of {rewrites} rewrites stored as patches"
    );
    println!("| measure | value |\n|---|---:|");
    println!("| every generation in full (uncompressed) | {standing} |");
    println!("| every generation in full, zstd -3 (what whole copies cost) | {whole_zstd} |");
    println!("| raw table data files before the last upkeep | {unmaintained_bytes} |");
    println!("| raw table data files, as stored after upkeep | {raw_bytes} |");
    println!(
        "| stored / final document | {:.2}× |",
        raw_bytes as f64 / final_size as f64
    );
    println!(
        "| whole copies (zstd) / stored | {:.1}× |",
        whole_zstd as f64 / raw_bytes.max(1) as f64
    );
    println!(
        "| rewrite sync p50 / p95, first 10 rewrites | {:.0} / {:.0} ms |",
        percentile(sync_secs[..10.min(rewrites)].to_vec(), 0.5) * 1e3,
        percentile(sync_secs[..10.min(rewrites)].to_vec(), 0.95) * 1e3
    );
    let tail = &sync_secs[rewrites.saturating_sub(10)..];
    println!(
        "| rewrite sync p50 / p95, last 10 rewrites | {:.0} / {:.0} ms |",
        percentile(tail.to_vec(), 0.5) * 1e3,
        percentile(tail.to_vec(), 0.95) * 1e3
    );
    println!(
        "| export of the newest generation p50 | {:.0} ms |",
        percentile(export_secs, 0.5) * 1e3
    );
    println!("| all rewrites and syncs, wall | {wall:.1} s |");
}
