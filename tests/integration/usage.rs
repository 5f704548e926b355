//! Spend accounting (rules 47 and 48) checked against a peer: `pond usage
//! --by day,model` on real Claude Code sessions against the daily report of
//! ccusage 18.0.11 on the same files. Where the two differ on purpose
//! (docs/decisions.md), the test asserts the difference itself, computed
//! here from the files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{Pond, copy_dir, item_where, open_store, output_ok};

/// The shared bench corpus where this machine has it (it is not the
/// repository's to carry), else the repository's Claude Code fixtures.
fn corpus() -> PathBuf {
    let candidates = [
        std::env::var_os("POND_BENCH_CORPUS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench-corpus/claude-code")),
        Some(PathBuf::from("/work/shared/bench-corpus/claude-code")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_dir())
        .unwrap_or_else(|| crate::harness::fixtures("claude-code"))
}

fn ccusage() -> PathBuf {
    std::env::var_os("POND_TEST_CCUSAGE").map(PathBuf::from).unwrap_or_else(|| {
        panic!("POND_TEST_CCUSAGE is not set: this test runs the real ccusage; run `make test`, or `scripts/test-services.sh start` and source the env file it prints")
    })
}

/// Per (day, model): what the files say when each call counts once with
/// its largest output (pond's rule), and how far that is from counting its
/// first record (ccusage's), with the one-hour cache writes ccusage prices
/// at the five-minute rate.
#[derive(Debug, Default)]
struct Expected {
    output_max: u64,
    output_first: u64,
    cache_write_1h: u64,
}

fn expected_from_files(dir: &Path) -> BTreeMap<(String, String), Expected> {
    // ccusage reads files oldest first (by their earliest timestamp), so
    // "first" is in that order; the corpus's duplicates never cross a day.
    let mut files: Vec<(String, PathBuf)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read corpus file");
            let earliest = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| v["timestamp"].as_str().map(str::to_string))
                .min()
                .unwrap_or_default();
            (earliest, p)
        })
        .collect();
    files.sort();
    let mut calls: HashMap<String, (String, String, u64, u64, u64)> = HashMap::new();
    let mut unkeyed = 0;
    for (_, path) in &files {
        let text = std::fs::read_to_string(path).expect("read corpus file");
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (m, at) = (&v["message"], v["timestamp"].as_str());
            let (Some(usage), Some(at)) = (m["usage"].as_object(), at) else {
                continue;
            };
            let output = usage["output_tokens"].as_u64().unwrap_or(0);
            let h1 = usage
                .get("cache_creation")
                .and_then(|c| c["ephemeral_1h_input_tokens"].as_u64())
                .unwrap_or(0);
            let key = match (m["id"].as_str(), v["requestId"].as_str()) {
                (Some(id), Some(req)) => format!("{id}:{req}"),
                _ => {
                    unkeyed += 1;
                    format!("unkeyed-{unkeyed}")
                }
            };
            let day = at.get(..10).unwrap_or(at).to_string();
            let model = m["model"].as_str().unwrap_or("unknown").to_string();
            calls
                .entry(key)
                .and_modify(|c| c.3 = c.3.max(output))
                .or_insert((day, model, output, output, h1));
        }
    }
    let mut out: BTreeMap<(String, String), Expected> = BTreeMap::new();
    for (day, model, first, max, h1) in calls.into_values() {
        let e = out.entry((day, model)).or_default();
        e.output_first += first;
        e.output_max += max;
        e.cache_write_1h += h1;
    }
    out
}

/// Output and cache-write prices per million tokens from pond's table, for
/// the models the corpus uses.
fn prices() -> HashMap<&'static str, (f64, f64, f64)> {
    // (output, five-minute write, one-hour write), as src/spend/prices.toml.
    HashMap::from([
        ("claude-opus-4-6", (25.0, 6.25, 10.0)),
        ("claude-opus-4-5-20251101", (25.0, 6.25, 10.0)),
        ("claude-sonnet-4-5-20250929", (15.0, 3.75, 6.0)),
        ("claude-haiku-4-5-20251001", (5.0, 1.25, 2.0)),
    ])
}

#[test]
fn rule47_usage_by_day_and_model_matches_ccusage_but_for_its_documented_differences() {
    let corpus = corpus();
    let pond = Pond::new();
    // ccusage reads `$CLAUDE_CONFIG_DIR/projects/**/*.jsonl`; pond syncs the same tree.
    let claude = pond.root.join("claude");
    let project = claude.join("projects/bench");
    copy_dir(&corpus, &project);

    let peer = output_ok(
        Command::new("node")
            .arg(ccusage())
            .args(["daily", "--offline", "--json"])
            .env("CLAUDE_CONFIG_DIR", &claude)
            .env("TZ", "UTC"),
        "ccusage",
    );
    let peer: Value = serde_json::from_slice(&peer.stdout).expect("ccusage JSON");

    pond.sync("claude-code", &claude.join("projects"));
    let ours = pond.json(&["usage", "--by", "day,model", "--tz", "UTC", "--json"]);
    let rows: HashMap<(String, String), &Value> = ours["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                (
                    r["day"].as_str().expect("day").to_string(),
                    r["model"].as_str().expect("model").to_string(),
                ),
                r,
            )
        })
        .collect();
    let expected = expected_from_files(&project);
    let prices = prices();

    let mut compared = 0;
    for day in peer["daily"].as_array().expect("daily") {
        let date = day["date"].as_str().expect("date");
        for b in day["modelBreakdowns"].as_array().expect("breakdowns") {
            let model = b["modelName"].as_str().expect("model");
            let key = (date.to_string(), model.to_string());
            let row = rows
                .get(&key)
                .unwrap_or_else(|| panic!("pond has no row for {key:?}"));
            let want = &expected[&key];
            let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(u64::MAX);
            // The same calls, the same prompt tokens of every kind.
            assert_eq!(n(row, "input_tokens"), n(b, "inputTokens"), "{key:?}");
            assert_eq!(
                n(row, "cache_write_tokens"),
                n(b, "cacheCreationTokens"),
                "{key:?}"
            );
            assert_eq!(
                n(row, "cache_read_tokens"),
                n(b, "cacheReadTokens"),
                "{key:?}"
            );
            // Difference 1: ccusage keeps a call's first record, whose
            // output is the count so far of a streamed response; pond the
            // largest. Its output is the files' first-record sum exactly.
            assert_eq!(n(b, "outputTokens"), want.output_first, "{key:?}");
            assert_eq!(n(row, "output_tokens"), want.output_max, "{key:?}");
            assert_eq!(
                n(row, "cache_write_1h_tokens"),
                want.cache_write_1h,
                "{key:?}"
            );
            // Difference 2: ccusage prices one-hour cache writes at the
            // five-minute rate. Past both, the costs agree within 0.5 %.
            let (out, five, hour) = prices[model];
            let theirs = b["cost"].as_f64().expect("ccusage cost");
            let adjusted = theirs
                + (want.output_max - want.output_first) as f64 * out / 1e6
                + want.cache_write_1h as f64 * (hour - five) / 1e6;
            let cost = row["cost_usd"].as_f64().expect("priced");
            assert!(
                (cost - adjusted).abs() <= 0.005 * adjusted.max(1e-9),
                "{key:?}: pond ${cost:.4}, ccusage ${theirs:.4} adjusted to ${adjusted:.4}"
            );
            compared += 1;
        }
    }
    assert!(
        compared > 0,
        "ccusage reported nothing on {}",
        corpus.display()
    );
    assert_eq!(ours["unpriced_models"], serde_json::json!([]));
}

#[test]
fn rule47_a_call_counts_once_however_many_files_and_syncs_report_it() {
    let pond = Pond::new();
    let claude = pond.root.join("claude/projects/p");
    let src = crate::harness::fixtures("claude-code").join("agent-sessions-small.jsonl");
    std::fs::create_dir_all(&claude).unwrap();
    std::fs::copy(
        &src,
        claude.join("0b1c2d3e-0000-4000-8000-00000000000a.jsonl"),
    )
    .unwrap();
    pond.sync("claude-code", &claude);
    let once = pond.json(&["usage", "--by", "model", "--json"]);
    // A resumed session copies the earlier records into a new file, and a
    // second host syncs both: the same calls, nothing more.
    std::fs::copy(
        &src,
        claude.join("0b1c2d3e-0000-4000-8000-00000000000b.jsonl"),
    )
    .unwrap();
    pond.sync("claude-code", &claude);
    pond.sync_as("other-host", "claude-code", &claude);
    let again = pond.json(&["usage", "--by", "model", "--json"]);
    assert_eq!(once["totals"], again["totals"]);
    assert!(once["totals"]["calls"].as_u64().unwrap() > 0, "{once}");
}

/// A fresh pond that has synced one [`session_with_usage`] per
/// `(id, cwd, model, calls)`: the start of the checks that compare usage
/// across sessions.
fn pond_with_usage(sessions: &[(&str, &str, &str, usize)]) -> Pond {
    let pond = Pond::new();
    let src = pond.root.join("src");
    for &(id, cwd, model, calls) in sessions {
        session_with_usage(&src, id, cwd, model, calls);
    }
    pond.sync("claude-code", &src);
    pond
}

/// A Claude Code session in `cwd` whose replies report usage: `calls`
/// responses of 100 input and 10 output tokens from `model`.
fn session_with_usage(dir: &Path, id: &str, cwd: &str, model: &str, calls: usize) {
    let project = dir.join(cwd.replace('/', "-"));
    std::fs::create_dir_all(&project).unwrap();
    let mut lines = String::new();
    for i in 0..calls {
        let record = serde_json::json!({
            "type": "assistant",
            "uuid": format!("{}-{i:04}", &id[..8]),
            "sessionId": id,
            "requestId": format!("req_{}_{i}", &id[..8]),
            "timestamp": format!("2026-03-0{}T10:00:00Z", 1 + i % 2),
            "cwd": cwd,
            "message": {"id": format!("msg_{}_{i}", &id[..8]), "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "done"}],
                "usage": {"input_tokens": 100, "output_tokens": 10,
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}},
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(project.join(format!("{id}.jsonl")), lines).unwrap();
}

#[test]
fn rule47_the_api_and_the_mcp_tool_answer_as_the_cli_within_a_tokens_limits() {
    use crate::serve::{Server, http, mcp_client, project_token, result_json, token};
    let pond = pond_with_usage(&[
        (
            "aaaaaaaa-0000-4000-8000-000000000001",
            "/work/team-a/api",
            "claude-sonnet-4-5-20250929",
            3,
        ),
        (
            "bbbbbbbb-0000-4000-8000-000000000002",
            "/work/team-b/web",
            "claude-opus-4-5-20251101",
            2,
        ),
        (
            "cccccccc-0000-4000-8000-000000000003",
            "/work/team-b/web",
            "claude-next-9",
            1,
        ),
    ]);

    let cli = pond.json(&["usage", "--by", "project,model", "--json"]);
    assert_eq!(cli["totals"]["calls"], 6, "{cli}");
    assert_eq!(cli["totals"]["input_tokens"], 600);
    // An unknown model is named and unpriced, never free.
    assert_eq!(cli["unpriced_models"], serde_json::json!(["claude-next-9"]));
    let unknown = item_where(&cli["rows"], "model", "claude-next-9");
    assert_eq!(unknown["cost_usd"], Value::Null);
    assert_eq!(unknown["unpriced_calls"], 1);
    // Sonnet 4.5: 300 input at $3/M and 30 output at $15/M.
    let sonnet = item_where(&cli["rows"], "model", "claude-sonnet-4-5-20250929");
    assert!(
        (sonnet["cost_usd"].as_f64().unwrap() - (300.0 * 3.0 + 30.0 * 15.0) / 1e6).abs() < 1e-12
    );

    let all = token(&pond, "all", &["--scope", "read"]);
    let team_b = project_token(&pond, "team-b", "read", "/work/team-b");
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let path = "/v1/usage?by=project,model";
    let everything = http(&server.addr, "GET", path, Some(&all), None);
    assert_eq!(everything.status, 200, "{}", everything.body);
    assert_eq!(everything.json(), cli);
    let limited = http(&server.addr, "GET", path, Some(&team_b), None).json();
    assert_eq!(limited["totals"]["calls"], 3, "{limited}");
    assert!(
        limited["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["project"] == "/work/team-b/web")
    );
    let bad = http(&server.addr, "GET", "/v1/usage?by=colour", Some(&all), None);
    assert_eq!(bad.status, 400, "{}", bad.body);

    let calls = serde_json::json!([
        {"tool": "usage", "arguments": {"by": "project,model"}},
    ]);
    let url = format!("{}/mcp", server.url());
    let out = mcp_client(&pond, &calls, &["--http", &url, "--token", &team_b]);
    assert_eq!(result_json(&out["results"][0]), limited);
}

#[test]
fn rule47_repair_fills_in_the_usage_of_sessions_stored_before_it_was_kept() {
    let pond = Pond::new();
    let claude = pond.root.join("claude");
    copy_dir(&crate::harness::fixtures("claude-code"), &claude);
    pond.sync("claude-code", &claude);
    let synced = pond.json(&["usage", "--by", "day,model", "--json"]);
    assert!(synced["totals"]["calls"].as_u64().unwrap() > 0, "{synced}");

    // A store written before usage was kept: every other table whole, the
    // usage table empty.
    let (runtime, store) = open_store(&pond.store_url, vec![]);
    runtime
        .block_on(store.delete_where(pond::store::TableKind::Usage, "true"))
        .expect("empty the usage table");
    // Closed before the commands below open the store themselves.
    drop(store);
    drop(runtime);
    let emptied = pond.json(&["usage", "--json"]);
    assert_eq!(emptied["totals"]["calls"], 0, "{emptied}");

    let dry = pond.json(&["repair", "--dry-run", "--json"]);
    assert_eq!(
        dry["usage_calls_missing"], synced["totals"]["calls"],
        "{dry}"
    );
    let repaired = pond.json(&["repair", "--json"]);
    assert_eq!(
        repaired["usage_calls_restored"], synced["totals"]["calls"],
        "{repaired}"
    );
    assert_eq!(repaired["messages_restored"], 0, "{repaired}");
    assert_eq!(pond.json(&["usage", "--by", "day,model", "--json"]), synced);
}

#[test]
fn rule44_an_erased_sessions_usage_goes_with_it() {
    let pond = pond_with_usage(&[
        (
            "aaaaaaaa-0000-4000-8000-000000000001",
            "/work/a",
            "claude-sonnet-4-5-20250929",
            3,
        ),
        (
            "bbbbbbbb-0000-4000-8000-000000000002",
            "/work/b",
            "claude-sonnet-4-5-20250929",
            2,
        ),
    ]);
    let erased = pond.json(&[
        "erase",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "--yes",
        "--json",
    ]);
    assert_eq!(erased["deleted"]["usage_rows"], 3, "{erased}");
    let left = pond.json(&["usage", "--by", "project", "--json"]);
    assert_eq!(left["totals"]["calls"], 2, "{left}");
    assert_eq!(left["rows"][0]["project"], "/work/b");
}

/// Usage grouped by person (issue 35): off unless a host's config records
/// who runs it; every call of a host that records nobody is `unknown`.
#[test]
fn rule47_usage_by_user_groups_calls_by_the_person_their_host_recorded() {
    let pond = Pond::new();
    let config = |name: &str, body: &str| {
        let path = pond.root.join(format!("{name}.toml"));
        std::fs::write(&path, body).unwrap();
        path
    };
    let alice = config("alice", "[usage]\nrecord_user = true\n");
    let ci = config(
        "ci",
        "[usage]\nrecord_user = true\nuser = \"bob@example.com\"\n",
    );
    for (host, session, calls, settings) in [
        (
            "laptop-a",
            "aaaa0000-0000-4000-8000-000000000001",
            3,
            Some(&alice),
        ),
        ("ci-7", "bbbb0000-0000-4000-8000-000000000002", 2, Some(&ci)),
        ("desk-c", "cccc0000-0000-4000-8000-000000000003", 1, None),
    ] {
        let src = pond.root.join(format!("src-{host}"));
        session_with_usage(
            &src,
            session,
            "/work/app",
            "claude-sonnet-4-5-20250929",
            calls,
        );
        let mut cmd = pond.sync_cmd("claude-code", &src);
        cmd.env("POND_HOST", host).env("USER", "alice");
        match settings {
            Some(path) => cmd.env("POND_CONFIG", path),
            None => cmd.env_remove("POND_CONFIG"),
        };
        crate::harness::assert_success(&cmd.output().unwrap());
    }
    let report = pond.json(&["usage", "--by", "user", "--json"]);
    let calls: BTreeMap<String, u64> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                r["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        BTreeMap::from([
            ("alice".to_string(), 3),
            ("bob@example.com".to_string(), 2),
            ("unknown".to_string(), 1),
        ]),
        "{report}"
    );
    let text = pond.ok(&["usage", "--by", "user,model"]);
    assert!(text.contains("bob@example.com"), "{text}");
}
