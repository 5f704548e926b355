//! What the pages cost a person over a million messages (issue 20's
//! targets): search results painted within 300 ms of the debounce, a
//! 2,000-message session interactive within 1.5 s, the fleet page with 200
//! hosts within 1 s, each timed in headless Chromium (benches/web.py) against
//! a real `pond serve`.
//!
//! `make bench-web` (= `cargo bench --profile dev --bench web`). Settings
//! (env): `WEB_STORE` (/var/tmp/pond-web-store: built once, then reused),
//! `WEB_MESSAGES` (1,000,000), `WEB_HOSTS` (200), `WEB_LONG_SESSION` (2,000
//! messages), `WEB_RUNS` (10 timed runs of each), `POND_TEST_TOOLS` (where
//! `make test` installed Playwright; /var/tmp/pond-test-tools).

#[path = "common/measure.rs"]
mod measure;
#[path = "common/probe_store.rs"]
mod probe_store;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::{Duration, Utc};
use measure::{core_secs, env_usize, percentile, process_core_secs, spawn_server};
use pond::store::{StoreLocation, TableKind};
use probe_store::command_checks::output_ok;
use probe_store::{PER_SESSION, append_messages, append_sessions, build_probe_store, run_row};

/// Typed one after another into the search box: common words of the probe
/// store, so every query has many thousands of candidates to rank.
const QUERIES: [&str; 5] = [
    "compaction retry",
    "deadlock mutex",
    "flamegraph allocation",
    "rollback migration",
    "unicode newline escape",
];

fn pond(store: &Path, state: &Path) -> Command {
    let mut cmd = Command::new(measure::binary());
    cmd.env("POND_STORE", store)
        .env("POND_HOST", "bench")
        .env("XDG_STATE_HOME", state)
        // The probe store's rows carry no vectors: search is full-text.
        .env("POND_EMBED_MODEL", "off")
        .env_remove("POND_CONFIG");
    cmd
}

/// The long session's id, the same on every run over the same store.
fn long_session_id(messages: usize, long: usize) -> String {
    probe_store::session(
        messages.div_ceil(PER_SESSION),
        String::new(),
        long,
        Utc::now(),
    )
    .id
}

/// The million-message probe store, one session of `long` messages, and
/// `hosts` hosts with a day of runs each (every tenth stopped a week ago,
/// every seventh failing), compacted and indexed as upkeep leaves a store.
fn build(dir: &Path, state: &Path, messages: usize, hosts: usize, long: usize) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let location = StoreLocation::parse(&dir.display().to_string()).expect("store location");
    let started = Instant::now();
    let store = build_probe_store(&rt, &location, messages);
    let now = Utc::now();
    let long_session =
        probe_store::session(messages.div_ceil(PER_SESSION), "host-000".into(), long, now);
    let sessions = std::slice::from_ref(&long_session);
    append_sessions(&rt, &store, sessions, now);
    append_messages(&rt, &store, sessions, long, 0..long, now);
    let mut runs = Vec::new();
    for h in 0..hosts {
        let last = if h % 10 == 9 {
            now - Duration::days(7)
        } else {
            now - Duration::minutes(h as i64 % 15)
        };
        for r in 0..96 {
            let failed = h % 7 == 3 && r == 0;
            runs.push(run_row(
                format!("host-{h:03}"),
                None,
                last - Duration::minutes(15 * r),
                failed,
            ));
        }
    }
    rt.block_on(store.record_runs(&runs)).expect("record runs");
    output_ok(
        pond(dir, state).args(["maintain", "--retain", "0s", "--json"]),
        "pond maintain",
    );
    let rows = rt
        .block_on(store.count(TableKind::Messages, None))
        .expect("count messages");
    println!(
        "built {} with {rows} messages and {hosts} hosts in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let messages = env_usize("WEB_MESSAGES", 1_000_000);
    let hosts = env_usize("WEB_HOSTS", 200);
    let long = env_usize("WEB_LONG_SESSION", 2_000);
    let runs = env_usize("WEB_RUNS", 10).max(1);
    let dir = PathBuf::from(
        std::env::var("WEB_STORE").unwrap_or_else(|_| "/var/tmp/pond-web-store".into()),
    );
    let tools = PathBuf::from(
        std::env::var("POND_TEST_TOOLS").unwrap_or_else(|_| "/var/tmp/pond-test-tools".into()),
    );
    let python = tools.join("venv-web/bin/python");
    assert!(
        python.exists(),
        "{} is missing: `make test` (scripts/test-services.sh) installs Playwright there",
        python.display()
    );
    let work = tempfile::tempdir().expect("tempdir");
    let state = work.path().join("state");
    if !dir.join("messages.lance").exists() {
        build(&dir, &state, messages, hosts, long);
    }

    let mut serve = pond(&dir, &state);
    serve.args(["serve", "--listen", "127.0.0.1:0", "--stale-after", "1d"]);
    let (mut server, addr) = spawn_server(serve);
    let server_before = process_core_secs(server.id()).unwrap_or(0.0);

    let config = serde_json::json!({
        "url": format!("http://{addr}"),
        "runs": runs,
        "queries": QUERIES,
        "long_session": long_session_id(messages, long),
        "hosts": hosts,
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/web.py");
    let (wall, browser_before) = (Instant::now(), core_secs());
    let out = Command::new(&python)
        .arg(&script)
        .env("POND_WEB_BENCH", config.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run benches/web.py");
    let (wall, browser_cores) = (wall.elapsed().as_secs_f64(), core_secs() - browser_before);
    let server_cores = process_core_secs(server.id()).unwrap_or(0.0) - server_before;
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "benches/web.py failed:\n{stdout}");
    let timings: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("benches/web.py printed its timings");

    println!(
        "store: {} ({messages} messages, a {long}-message session, {hosts} hosts); {runs} timed runs of each after a warm-up",
        dir.display()
    );
    println!("\n| page | what is timed | p50 ms | p95 ms | target |");
    println!("|---|---|---:|---:|---|");
    for (key, what, target) in [
        ("search", "debounce fired → results painted", "p50 ≤ 300 ms"),
        (
            "session",
            "navigation → first page of the long session painted",
            "≤ 1,500 ms",
        ),
        ("fleet", "navigation → every host painted", "≤ 1,000 ms"),
    ] {
        let v: Vec<f64> = timings[key]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        if v.is_empty() {
            println!("| {key} | {what} | – | – | {target} |");
            continue;
        }
        println!(
            "| {key} | {what} | {:.0} | {:.0} | {target} |",
            percentile(v.clone(), 0.5),
            percentile(v, 0.95)
        );
    }
    println!(
        "\nall pages: {wall:.1} s wall; pond serve {server_cores:.1} core-s, Chromium and Playwright {browser_cores:.1} core-s"
    );
}
