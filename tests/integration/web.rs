//! The pages in a real browser (rule 49): Playwright (Python) drives
//! Debian's headless Chromium against a real `pond serve` over the shipped
//! fixtures, a hostile session and a fleet with a dead host. The browser
//! side is `tests/web/pages.py`; this sets up the archive and the server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Pond, fixtures, open_store};
use crate::prometheus::run_row;
use crate::serve::{Server, project_token, token, write_session, write_team_a_session};

const TEAM_A: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
const HOSTILE: &str = "bbbbbbbb-0000-4000-8000-0000000000b6";
/// The parent session of the shipped subagent fixture, and its subagent.
const PARENT: &str = "claude-code:0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f";

/// What a message may hold to attack the page that shows it.
const HOSTILE_TEXT: &str = "hostile <script>alert('script')</script> \
    <img src=x onerror=\"alert('img')\"> [click me](javascript:alert('link')) \
    ![pixel](http://evil.example/pixel.png) <a href=\"http://evil.example\">raw</a> \
    <iframe src=\"http://evil.example\"></iframe> `<b>code</b>`";

fn tools() -> PathBuf {
    PathBuf::from(
        std::env::var("POND_TEST_TOOLS").unwrap_or_else(|_| "/var/tmp/pond-test-tools".into()),
    )
}

fn python() -> PathBuf {
    let python = tools().join("venv-web/bin/python");
    assert!(
        python.exists(),
        "{} is missing: Playwright is installed by `make test` (scripts/test-services.sh)",
        python.display()
    );
    python
}

/// The archive the pages are tested on: the shipped Claude Code fixtures
/// (a subagent among them), Codex, a team's session, a hostile session with
/// a 5 MB message, and a host that stopped syncing a week ago.
fn archive() -> Pond {
    let pond = Pond::new();
    pond.sync_as("laptop", "claude-code", &fixtures("claude-code"));
    pond.sync_as("laptop", "codex", &fixtures("codex"));
    let src = pond.root.join("src");
    write_team_a_session(&src, TEAM_A);
    let huge = "a long log line of the nightly build\n".repeat(5 * 1024 * 1024 / 37);
    write_session(
        &src,
        HOSTILE,
        "/work/team-b/web",
        &[HOSTILE_TEXT, "flaky retry in the checkout page", &huge],
    );
    pond.sync_as("laptop", "claude-code", &src);
    let (runtime, store) = open_store(&pond.store_url, Vec::new());
    runtime
        .block_on(store.record_runs(&[run_row("old-laptop", None, 7 * 86_400, "ok")]))
        .expect("record a dead host's last run");
    // A host's last drain of the embedding backlog, as rule 53's drains leave
    // it (the archive itself is synced without a model: all of it waits).
    let drains = pond.store.join("_pond/backlog/hosts");
    std::fs::create_dir_all(&drains).expect("drain records dir");
    let drained = json!({
        "host": "gpu-box", "model": "onnx:all-MiniLM-L6-v2:pca256",
        "rows": 5600, "secs": 200.0, "finished_at": chrono::Utc::now(),
    });
    std::fs::write(drains.join("gpu-box.json"), drained.to_string()).expect("drain record");
    pond
}

#[test]
fn rule49_the_pages_work_in_a_real_browser_and_stay_inert_and_within_the_token() {
    let pond = archive();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let team = project_token(&pond, "team-a", "read", "/work/team-a");
    let sharer = token(&pond, "sharer", &["--scope", "read", "--may-share"]);
    let lead = token(&pond, "lead", &["--scope", "stats"]);
    let server = Server::start(&pond, "127.0.0.1:0", &["--stale-after", "1d"]);
    let shots = pond.root.join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    // A later sync from a new host, made while the fleet page is open.
    let live = pond.root.join("live");
    write_session(
        &live,
        "cccccccc-0000-4000-8000-0000000000c1",
        "/work/team-a/live",
        &["a sync made while the page was open"],
    );
    let mut sync = pond.sync_cmd("claude-code", &live);
    sync.env("POND_HOST", "live-host");
    let sync_argv: Vec<String> = std::iter::once(sync.get_program())
        .chain(sync.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let sync_env: serde_json::Map<String, serde_json::Value> = sync
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                json!(v?.to_string_lossy()),
            ))
        })
        .collect();
    let config = json!({
        "url": server.url(),
        "reader": reader,
        "team": team,
        "sharer": sharer,
        "lead": lead,
        "team_session": format!("claude-code:{TEAM_A}"),
        "hostile_session": format!("claude-code:{HOSTILE}"),
        "parent_session": PARENT,
        "image_session": WITH_IMAGE,
        "sync_argv": sync_argv,
        "sync_env": sync_env,
        "axe": tools().join("node_modules/axe-core/axe.min.js"),
        "shots": shots,
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/pages.py");
    let mut cmd = std::process::Command::new(python());
    cmd.arg(&script)
        .env("POND_WEB_CONFIG", config.to_string())
        .current_dir(&pond.root);
    let out = crate::harness::output_within(&mut cmd, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
    println!("{stdout}");
    // `POND_UPDATE_SCREENSHOTS=1` refreshes the ones the README shows.
    if std::env::var_os("POND_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for entry in std::fs::read_dir(&shots).expect("screenshots") {
            let entry = entry.expect("screenshot");
            std::fs::copy(entry.path(), docs.join(entry.file_name())).expect("copy screenshot");
        }
    }
}

/// The fleet page's runs over time (rule 49): every day of the window is
/// there, runs are counted by outcome on the day they finished, and a token
/// limited to some hosts never counts another host's runs.
#[test]
fn rule49_runs_over_time_count_each_run_once_within_the_tokens_hosts() {
    let pond = Pond::new();
    // A real sync makes the store and records the first run: desk's, now.
    pond.sync_as("desk", "codex", &fixtures("codex"));
    let (runtime, store) = open_store(&pond.store_url, Vec::new());
    // Yesterday at noon: the same day bucket whatever the time of the test.
    let now = chrono::Utc::now();
    let noon = (now - chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .expect("noon")
        .and_utc();
    let ago = |later: i64| (now - noon).num_seconds() - later;
    let runs = [
        run_row("ci-1", None, ago(0), "ok"),
        run_row("ci-1", None, ago(60), "failed"),
        run_row("ci-2", None, 3 * 86_400, "partial"),
        run_row("laptop", None, ago(30), "ok"),
        run_row("laptop", None, 30 * 86_400, "ok"),
    ];
    runtime
        .block_on(store.record_runs(&runs))
        .expect("record runs");
    let limited = token(&pond, "ci", &["--scope", "read", "--host-prefix", "ci-"]);
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let timeline = |token: &str, query: &str| -> serde_json::Value {
        let reply = crate::serve::http(
            &server.addr,
            "GET",
            &format!("/v1/runs{query}"),
            Some(token),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        serde_json::from_str(&reply.body).expect("json")
    };
    let sum = |t: &serde_json::Value, key: &str| -> u64 {
        t["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| b[key].as_u64().unwrap_or(0))
            .sum()
    };

    let all = timeline(&reader, "");
    assert_eq!(all["bucket"], "day");
    assert_eq!(all["buckets"].as_array().map(Vec::len), Some(14));
    // Before today (desk's sync, ok or partial as the fixtures go): the run
    // 30 days ago is outside the window.
    let today = all["buckets"][13].clone();
    let runs_today = ["ok", "partial", "failed", "skipped"]
        .iter()
        .map(|k| today[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert_eq!((runs_today, &today["hosts"]), (1, &json!(1)), "{all}");
    assert_eq!(
        (
            sum(&all, "ok") + sum(&all, "partial") - runs_today,
            sum(&all, "failed")
        ),
        (3, 1),
        "{all}"
    );
    // ci-1 ran twice yesterday and laptop once: two hosts.
    let yesterday = &all["buckets"][12];
    assert_eq!(
        (&yesterday["ok"], &yesterday["failed"], &yesterday["hosts"]),
        (&json!(2), &json!(1), &json!(2)),
        "{yesterday}"
    );

    let ci = timeline(&limited, "?days=7&bucket=hour");
    assert_eq!(ci["buckets"].as_array().map(Vec::len), Some(7 * 24));
    assert_eq!(
        (sum(&ci, "ok"), sum(&ci, "failed"), sum(&ci, "partial")),
        (1, 1, 1),
        "laptop's runs are outside the token's hosts: {ci}"
    );

    let bad = crate::serve::http(
        &server.addr,
        "GET",
        "/v1/runs?bucket=week",
        Some(&reader),
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("`bucket`"), "{}", bad.body);
    let too_long = crate::serve::http(
        &server.addr,
        "GET",
        "/v1/runs?days=1000",
        Some(&reader),
        None,
    );
    assert_eq!(too_long.status, 400, "{}", too_long.body);
}

/// The real Claude Code session whose user pasted a screenshot.
const WITH_IMAGE: &str = "claude-code:062a8bdd-4322-4ffa-bc38-3e8b8bfb5a56";

/// A message's inline image is served back as the bytes its client stored
/// (rule 49): decoded from the raw record, typed, and only within the token.
#[test]
fn rule49_a_messages_stored_image_is_served_within_the_token() {
    let pond = Pond::new();
    pond.sync_as("laptop", "claude-code", &fixtures("claude-code/entire"));
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let other = project_token(&pond, "other", "read", "/work/elsewhere");
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let get =
        |path: &str, token: &str| crate::serve::http(&server.addr, "GET", path, Some(token), None);
    let page = get(
        &format!("/v1/sessions/{WITH_IMAGE}?full=true&limit=200"),
        &reader,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let page: serde_json::Value = serde_json::from_str(&page.body).expect("json");
    let with_image = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| {
            m["parts"].as_array().is_some_and(|parts| {
                parts.iter().any(|p| {
                    p["kind"] == "file"
                        && p["text"].as_str().is_some_and(|t| t.starts_with("[image"))
                })
            })
        })
        .expect("a message names its image");
    let id = with_image["id"].as_str().expect("id").replace('/', "%2F");

    let image = get(&format!("/v1/messages/{id}/images/0"), &reader);
    assert_eq!(image.status, 200, "{}", image.body);
    assert!(
        image
            .head
            .to_ascii_lowercase()
            .contains("content-type: image/png"),
        "{}",
        image.head
    );
    assert!(
        image.raw_body.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG"
    );
    assert_eq!(
        get(&format!("/v1/messages/{id}/images/1"), &reader).status,
        404
    );
    assert_eq!(
        get(&format!("/v1/messages/{id}/images/x"), &reader).status,
        400
    );
    assert_eq!(
        get(&format!("/v1/messages/{id}/images/0"), &other).status,
        404,
        "a token that cannot see the session cannot see its images"
    );
}
