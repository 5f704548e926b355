//! What a usage report costs on a large store (issue 19's target: `pond
//! usage --by day,model` over a million messages in 300 ms as a one-shot
//! process): the report reads the narrow columns of the `usage` table (one
//! row per model call) and the `id` and `project` of the sessions it names.
//!
//! `cargo bench --profile dev --bench usage` (`make bench-usage`). Settings
//! (env): `USAGE_MESSAGES` (1,000,000), `USAGE_MESSAGES_PER_CALL` (3: a
//! Claude Code response is a record per content block, and every reply
//! follows a prompt or a tool result), `USAGE_SESSIONS` (5,000),
//! `USAGE_STORE` (a temp dir).

#[path = "common/measure.rs"]
mod measure;
#[path = "common/probe_store.rs"]
mod probe_store;

use std::time::Instant;

use chrono::{Duration, Utc};
use measure::{core_secs, env_usize, percentile};
use pond::model::Session;
use pond::store::{TableKind, tables::schema, tables::usage};
use pond::usage::{Tokens, Usage};
use probe_store::{BenchStore, history_start, open_bench_store, pond_on};

const MODELS: [&str; 4] = [
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "gpt-5.1-codex",
];

fn main() {
    let messages = env_usize("USAGE_MESSAGES", 1_000_000);
    let calls = messages / env_usize("USAGE_MESSAGES_PER_CALL", 3).max(1);
    let sessions = env_usize("USAGE_SESSIONS", 5_000).max(1);
    let BenchStore {
        temp: _temp,
        dir,
        rt,
        store,
    } = open_bench_store("USAGE_STORE");

    // A year of calls over `sessions` sessions in 50 projects on 20 hosts.
    let start = history_start();
    let now = Utc::now();
    let built = Instant::now();
    let session_rows: Vec<Session> = (0..sessions)
        .map(|s| Session {
            project: Some(format!("/work/project-{:02}", s % 50)),
            ..Session::new(
                format!("claude-code:s{s:06}"),
                "claude-code",
                format!("host-{:02}", s % 20),
            )
        })
        .collect();
    let batch = schema::sessions_batch(&session_rows, now).expect("sessions batch");
    rt.block_on(store.append_new(TableKind::Sessions, batch))
        .expect("store sessions");
    const CHUNK: usize = 100_000;
    let mut written = 0;
    while written < calls {
        let end = (written + CHUNK).min(calls);
        let rows: Vec<Usage> = (written..end)
            .map(|i| {
                let s = i % sessions;
                Usage {
                    call: format!("claude-code:msg_{i:08}:req_{i:08}"),
                    message_id: Some(format!("claude-code:s{s:06}/m{i}")),
                    session_id: format!("claude-code:s{s:06}"),
                    timestamp: Some(
                        start + Duration::seconds((i as i64 * 31_536_000) / calls as i64),
                    ),
                    model: Some(MODELS[i % MODELS.len()].into()),
                    tokens: Tokens {
                        input: 10 + (i % 50) as u64,
                        output: 200 + (i % 900) as u64,
                        cache_write: 3_000,
                        cache_write_1h: 2_000,
                        cache_read: 60_000,
                        reasoning: 0,
                    },
                    cost_usd: None,
                }
            })
            .collect();
        let refs: Vec<&Usage> = rows.iter().collect();
        let host = format!("host-{:02}", (written / CHUNK) % 20);
        let batch = usage::usage_batch(&refs, "claude-code", &host, now).expect("usage batch");
        rt.block_on(store.append_new(TableKind::Usage, batch))
            .expect("store usage");
        written = end;
        eprintln!("usage: {written} of {calls} calls");
    }
    drop(store);
    pond_on(&dir, &["maintain", "--retain", "0s", "--json"]);
    eprintln!("store built in {:.1}s", built.elapsed().as_secs_f64());

    let cpu = core_secs();
    let wall = Instant::now();
    println!(
        "store: {calls} calls (a store of {messages} messages at {} messages a call), {sessions} sessions; usage table {:.1} MB",
        messages / calls.max(1),
        pond::store::dir_size(&dir.join(format!("{}.lance", usage::USAGE))) as f64 / 1e6
    );
    println!("| `pond usage` (one-shot process) | p50 ms | p95 ms |\n|---|---:|---:|");
    for by in ["day,model", "project", "host,client,model", "week"] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            pond_on(&dir, &["usage", "--by", by, "--json"]);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "| `--by {by}` | {:.0} | {:.0} |",
            percentile(times.clone(), 0.5),
            percentile(times, 0.95)
        );
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), core_secs() - cpu);
    println!("timed part: {wall:.1}s wall, {cpu:.1} core-seconds");
}
