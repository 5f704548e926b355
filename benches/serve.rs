//! What an agent pays for a recall through `pond serve`: bytes per answer
//! (search, then the best hit's message, then its session's first page)
//! and the server's latency per route, over the real Claude Code and Codex
//! sessions in `tests/fixtures/` (or `POND_BENCH_STORE`, an existing store,
//! e.g. the million-message one of the search bench).
//!
//! `cargo bench --bench serve`. Tokens are estimated as bytes / 4.

#[path = "common/measure.rs"]
mod measure;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use measure::{pond, spawn_server};

const QUERIES: [&str; 8] = [
    "git worktree",
    "error handling",
    "rate limit retry",
    "tests failing",
    "merge conflict",
    "how do we decide which checkpoint to restore",
    "ENOENT no such file or directory",
    "add a flag to skip confirmation",
];

/// One request on a fresh connection: (status, body, milliseconds).
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String, f64) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, rest.to_string(), ms)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let work = tempfile::tempdir().expect("tempdir");
    let state = work.path().join("state");
    let store = match std::env::var_os("POND_BENCH_STORE") {
        Some(s) => PathBuf::from(s),
        None => {
            let store = work.path().join("store");
            let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            for (client, dir) in [("claude-code", "claude-code"), ("codex", "codex")] {
                let ok = pond(&store, &state, &["sync", client, "--path"])
                    .arg(fixtures.join(dir))
                    .arg("--quiet")
                    .status()
                    .expect("sync");
                assert!(ok.success());
            }
            store
        }
    };
    let (mut server, addr) =
        spawn_server(pond(&store, &state, &["serve", "--listen", "127.0.0.1:0"]));

    let (mut search_ms, mut message_ms, mut page_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut search_b, mut message_b, mut page_b) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..6 {
        for q in QUERIES {
            let body = serde_json::json!({"query": q, "limit": 5}).to_string();
            let (status, found, ms) = request(&addr, "POST", "/v1/search", &body);
            assert_eq!(status, 200, "{found}");
            let found: serde_json::Value = serde_json::from_str(&found).expect("json");
            let Some(hit) = found["hits"].get(0) else {
                continue;
            };
            let mid = hit["message_id"]
                .as_str()
                .unwrap_or_default()
                .replace('/', "%2F");
            let sid = hit["session_id"].as_str().unwrap_or_default().to_string();
            let (_, message, mms) = request(&addr, "GET", &format!("/v1/messages/{mid}"), "");
            let (_, page, pms) = request(&addr, "GET", &format!("/v1/sessions/{sid}"), "");
            // The first round warms the OS cache and the model.
            if round > 0 {
                search_ms.push(ms);
                message_ms.push(mms);
                page_ms.push(pms);
                search_b.push(found.to_string().len() as f64);
                message_b.push(message.len() as f64);
                page_b.push(page.len() as f64);
            }
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    println!("store: {}", store.display());
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>12}",
        "answer", "p50 ms", "p95 ms", "median bytes", "~tokens"
    );
    for (name, ms, bytes) in [
        ("search (5 sessions)", &mut search_ms, &mut search_b),
        (
            "get_message (whole, 2+2 previews)",
            &mut message_ms,
            &mut message_b,
        ),
        ("get_session (first page of 20)", &mut page_ms, &mut page_b),
    ] {
        ms.sort_by(f64::total_cmp);
        bytes.sort_by(f64::total_cmp);
        let median = percentile(bytes, 0.5);
        println!(
            "{name:<34} {:>9.1} {:>9.1} {:>12.0} {:>12.0}",
            percentile(ms, 0.5),
            percentile(ms, 0.95),
            median,
            median / 4.0
        );
    }
}
