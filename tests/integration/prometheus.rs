//! Rules 45 and 46: the fleet's state as Prometheus series from the store,
//! alerts that fire in a real Prometheus when a host dies, and ephemeral
//! hosts (CI jobs) counted as groups.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use crate::harness::{Pond, assert_success, field_of_each, fixtures, open_store};
use crate::serve::{Server, http};

/// `pond metrics` once, parsed into `name{labels}` → value.
fn scrape_text(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn series_names(text: &str) -> BTreeSet<String> {
    scrape_text(text)
        .keys()
        .map(|s| s.split('{').next().unwrap_or(s).to_string())
        .collect()
}

/// A CI job's sync, of sessions no other host syncs (a session's row names
/// the host that stored it last).
fn ephemeral_sync(pond: &Pond, host: &str, group: &str) -> Value {
    let out = pond
        .sync_cmd("claude-code", &fixtures("claude-code"))
        .env("POND_HOST", host)
        .env("POND_EPHEMERAL", group)
        .output()
        .expect("run pond");
    assert_success(&out);
    serde_json::from_slice(&out.stdout).expect("sync JSON")
}

/// A run of host `host` (in `group` if ephemeral) finished `ago` seconds ago.
pub(crate) fn run_row(
    host: &str,
    group: Option<&str>,
    ago: i64,
    outcome: &str,
) -> pond::store::tables::runs::RunRow {
    let finished = Utc::now() - chrono::Duration::seconds(ago);
    pond::store::tables::runs::RunRow {
        id: format!("{host}/{}", finished.to_rfc3339()),
        host: host.to_string(),
        pond_version: "test".into(),
        started_at: finished - chrono::Duration::seconds(2),
        finished_at: finished,
        outcome: outcome.to_string(),
        error: (outcome == "failed").then(|| "bucket unreachable".to_string()),
        clients: "claude-code".into(),
        files_scanned: 3,
        sessions_inserted: 1,
        messages_inserted: 2,
        records_inserted: 2,
        unparsed_records: 0,
        commit_retries: 0,
        duration_secs: 2.0,
        group: group.map(str::to_string),
    }
}

/// Rule 46: an ephemeral host's sync counts in its group, which is one line
/// of `status --all-hosts` and one set of series however many jobs ran, and
/// is never stale; a real host beside it still is.
#[test]
fn rule46_ten_thousand_ephemeral_runs_are_one_group_never_stale() {
    let pond = Pond::new();
    pond.sync_as("laptop", "codex", &fixtures("codex"));
    let first = ephemeral_sync(&pond, "gha-1", "web-ci");
    assert_eq!(first["ephemeral_group"], "web-ci", "{first}");

    // A year of CI: ten thousand jobs, each its own host, written as the
    // syncs would have (one history row and one fold each).
    let (runtime, store) = open_store(&pond.store_url, Vec::new());
    let mut runs: Vec<_> = (0..10_000)
        .map(|i| {
            let outcome = if i % 97 == 0 { "failed" } else { "ok" };
            run_row(
                &format!("gha-{}", 100_000 + i),
                Some("web-ci"),
                86_400 * 300 - i * 2_500,
                outcome,
            )
        })
        .collect();
    runs.push(run_row("old-laptop", None, 7 * 86_400, "ok"));
    runtime
        .block_on(store.record_runs(&runs))
        .expect("record runs");
    drop(store);

    let fleet = pond.json(&["status", "--all-hosts", "--json"]);
    let hosts = field_of_each(&fleet["hosts"], "host");
    assert_eq!(hosts, ["laptop", "old-laptop"], "{fleet}");
    let groups = fleet["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{fleet}");
    assert_eq!(groups[0]["group"], "web-ci");
    assert_eq!(groups[0]["runs"], 10_001);
    assert_eq!(groups[0]["failures"], 104, "{}", groups[0]);
    assert_eq!(
        fleet["totals"]["stale"], 1,
        "only old-laptop is stale: {fleet}"
    );
    assert_eq!(fleet["totals"]["ephemeral_runs"], 10_001);

    let text = pond.ok(&["status", "--all-hosts"]);
    assert!(text.lines().count() < 12, "readable: {text}");
    assert!(!text.contains("gha-"), "no per-job lines: {text}");
    assert!(text.contains("web-ci"), "{text}");

    let metrics = pond.ok(&["metrics", "--stale-after", "1h"]);
    let series = scrape_text(&metrics);
    assert_eq!(
        series[r#"pond_fleet_group_runs_total{group="web-ci",outcome="failed"}"#],
        104.0
    );
    assert_eq!(
        series[r#"pond_fleet_group_runs_total{group="web-ci",outcome="succeeded"}"#],
        9_897.0
    );
    assert!(
        !series.keys().any(|k| k.contains("gha-")),
        "no per-job series: {metrics}"
    );
    assert_eq!(series["pond_fleet_stale_after_seconds"], 3600.0);
    assert!(
        series.contains_key(r#"pond_fleet_host_last_success_timestamp_seconds{host="old-laptop"}"#)
    );
}

/// Rule 45: `/metrics` is a read route: open on loopback until a token
/// exists, then only with a read token, limited to what the token sees.
#[test]
fn rule45_metrics_need_a_read_token_and_show_what_it_sees() {
    let pond = Pond::new();
    pond.sync_as("team-a-1", "codex", &fixtures("codex"));
    pond.sync_as("team-b-1", "codex", &fixtures("codex"));
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let open = http(&server.addr, "GET", "/metrics", None, None);
    assert_eq!(open.status, 200, "{}", open.body);
    assert!(open.body.contains(r#"host="team-b-1""#), "{}", open.body);
    // Issue 33: the embedding backlog, for a dashboard to watch it drain.
    let series = scrape_text(&open.body);
    assert!(
        series.contains_key("pond_fleet_store_search_parts_waiting"),
        "{}",
        open.body
    );

    let limited = pond.json(&[
        "token",
        "create",
        "team-a",
        "--scope",
        "read",
        "--host-prefix",
        "team-a",
        "--json",
    ])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let ingest = pond.json(&["token", "create", "pusher", "--scope", "ingest", "--json"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(
        http(&server.addr, "GET", "/metrics", None, None).status,
        401
    );
    assert_eq!(
        http(&server.addr, "GET", "/metrics", Some(&ingest), None).status,
        403
    );
    let seen = http(&server.addr, "GET", "/metrics", Some(&limited), None);
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains(r#"host="team-a-1""#), "{}", seen.body);
    assert!(!seen.body.contains("team-b"), "{}", seen.body);
    assert!(
        !seen.body.contains("pond_fleet_store_"),
        "the store's shape is for unlimited tokens: {}",
        seen.body
    );
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn deploy(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(path),
    )
    .expect("read deploy file")
}

/// Prometheus scraping `target` every second with the shipped rules, their
/// `for:` windows shortened to seconds (the only change).
fn start_prometheus(dir: &Path, target: &str) -> (Killed, String) {
    let rules = deploy("prometheus/alerts.yaml")
        .replace("for: 10m", "for: 3s")
        .replace("for: 15m", "for: 3s");
    std::fs::write(dir.join("alerts.yaml"), rules).expect("write rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: pond\n    static_configs:\n      - targets: [\"{target}\"]\n",
        dir.join("alerts.yaml").display()
    );
    std::fs::write(dir.join("prometheus.yaml"), config).expect("write config");
    let addr = format!("127.0.0.1:{}", free_port());
    let binary = which("prometheus").expect(
        "prometheus is not installed: `make test` installs Debian's package (apt-get install prometheus)",
    );
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yaml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let child = Killed(child);
    let started = Instant::now();
    while http_ok(&addr, "/-/ready").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "prometheus did not become ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (child, addr)
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// GET on Prometheus, `None` unless it answered 200.
fn http_ok(addr: &str, path: &str) -> Option<String> {
    std::net::TcpStream::connect(addr).ok()?;
    let reply = http(addr, "GET", path, None, None);
    (reply.status == 200).then_some(reply.body)
}

fn query(addr: &str, expr: &str) -> Value {
    let encoded: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    let body = http_ok(addr, &format!("/api/v1/query?query={encoded}"))
        .unwrap_or_else(|| panic!("query failed: {expr}"));
    serde_json::from_str(&body).expect("query JSON")
}

/// (alert name, host or group, state) of every alert Prometheus holds.
fn alerts(addr: &str) -> Vec<(String, String, String)> {
    let body = http_ok(addr, "/api/v1/alerts").expect("alerts");
    let parsed: Value = serde_json::from_str(&body).expect("alerts JSON");
    parsed["data"]["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            let labels = &a["labels"];
            let who = labels["host"]
                .as_str()
                .or(labels["group"].as_str())
                .unwrap_or("")
                .to_string();
            (
                labels["alertname"].as_str().unwrap_or("").to_string(),
                who,
                a["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Rule 45: a real Prometheus scrapes `pond serve` over a store three hosts
/// sync into; one host stops, and its PondHostStale alert goes pending,
/// then firing, while the hosts that keep syncing raise nothing; every
/// dashboard query evaluates and returns series.
#[test]
fn rule45_a_host_that_stops_syncing_fires_its_alert_in_a_real_prometheus() {
    let pond = Pond::new();
    for host in ["alive-1", "alive-2", "dies"] {
        pond.sync_as(host, "codex", &fixtures("codex"));
    }
    ephemeral_sync(&pond, "gha-7", "web-ci");
    pond.ok(&["maintain", "--retain", "1s"]);
    // Stale after 20 s: the hosts that live sync every few seconds, and the
    // server sees commits at most 5 s late.
    let server = Server::start(&pond, "127.0.0.1:0", &["--stale-after", "20s"]);
    let work = tempfile::tempdir().expect("tempdir");
    let (_prometheus, prom) = start_prometheus(work.path(), &server.addr);

    let done = AtomicBool::new(false);
    let mut seen: Vec<(String, String, String)> = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                for host in ["alive-1", "alive-2"] {
                    pond.sync_as(host, "codex", &fixtures("codex"));
                }
            }
        });
        let started = Instant::now();
        loop {
            let now = alerts(&prom);
            let fired = now.iter().any(|(name, who, state)| {
                name == "PondHostStale" && who == "dies" && state == "firing"
            });
            seen.extend(now);
            if fired || started.elapsed() > Duration::from_secs(150) {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        done.store(true, Ordering::Relaxed);
    });
    let of_dead: Vec<&str> = seen
        .iter()
        .filter(|(name, who, _)| name == "PondHostStale" && who == "dies")
        .map(|(_, _, state)| state.as_str())
        .collect();
    assert!(of_dead.contains(&"pending"), "never pending: {seen:?}");
    assert_eq!(
        of_dead.last(),
        Some(&"firing"),
        "never fired: {seen:?}\n{}",
        server.log()
    );
    let others: Vec<_> = seen.iter().filter(|(_, who, _)| who != "dies").collect();
    assert!(
        others.is_empty(),
        "alerts for live hosts or groups: {others:?}"
    );

    // Every dashboard query evaluates without error and returns series.
    let dashboard: Value =
        serde_json::from_str(&deploy("grafana/pond-fleet.json")).expect("dashboard parses");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            let answer = query(&prom, expr);
            assert_eq!(answer["status"], "success", "{expr}: {answer}");
            assert!(
                !answer["data"]["result"]
                    .as_array()
                    .expect("result")
                    .is_empty(),
                "{} ({expr}) returned no series",
                panel["title"]
            );
        }
    }
}

/// Every series the exposition can hold, as the dashboard test needs them.
pub fn exposition_names(pond: &Pond) -> BTreeSet<String> {
    series_names(&pond.ok(&["metrics"]))
}

/// For the dashboard test: a store with a host, a group and upkeep.
pub fn store_with_every_series(pond: &Pond) {
    ephemeral_sync(pond, "gha-1", "web-ci");
}

/// Rule 46: a push through a server cannot carry the group yet, so it is
/// refused with the reason rather than recorded as a host per job.
#[test]
fn rule46_an_ephemeral_push_is_refused_not_recorded_as_a_host() {
    let pond = Pond::new();
    let out = pond
        .cmd(&["sync", "codex", "--path"])
        .arg(fixtures("codex"))
        .args(["--to", "http://127.0.0.1:9", "--ephemeral", "web-ci"])
        .output()
        .expect("run pond");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--ephemeral web-ci"), "{stderr}");
}
