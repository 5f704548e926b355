//! A fleet syncing into one shared store over time: H hosts × R rounds of
//! small syncs, each host a separate `pond` process with its own host name,
//! state, Claude Code sessions (appended to) and, on every fourth host, a
//! Gemini CLI session (a JSON document its client rewrites whole). Single-shot benches measure a store built
//! in one go; a real store is built by thousands of small commits, and this
//! bench shows what that does to it (fragments, versions, manifest size,
//! files on disk) and to the commands people run against it (sync, search,
//! get_message, fleet status), with and without upkeep. At the end the same
//! sessions are ingested once into a fresh store, for the ratio.
//!
//! `cargo bench --bench fleet`. Settings (env): `FLEET_HOSTS` (20),
//! `FLEET_ROUNDS` (100), `FLEET_CHECKPOINT_EVERY` (25), `FLEET_PARALLEL` (2
//! syncs at once within a round), `FLEET_UPKEEP` (`off`; `maintain`: `pond
//! maintain` as host-00 after every round; `auto`: `pond sync --upkeep`, which
//! runs upkeep when due, see `POND_UPKEEP_AFTER_COMMITS`), `FLEET_RETAIN`
//! (1h), `FLEET_STORE` (a temp dir; an `s3://` URL needs
//! `POND_TEST_S3_ENDPOINT`, see benches/multiwriter.rs), `FLEET_MODEL` (`off`,
//! or anything else for pond's default model and hybrid timings), `FLEET_OUT`
//! (a file for the checkpoint rows as JSON lines), `FLEET_PUSH` (`1`: hosts
//! push with `pond sync --to` to one `pond serve` in front of the store,
//! and each checkpoint prints what the pushes sent against the session
//! files' size). With upkeep on and a
//! local store, the end also ages every file by 8 days and runs upkeep
//! again ("after a week"): the files Lance keeps for its 7-day window.
//!
//! `FLEET_PROBE_STORE=DIR` instead times `get_message` on the store at
//! DIR; with `FLEET_PROBE_BUILD=N` it first builds one of N messages there.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[path = "../common/probe_store.rs"]
mod probe_store;

mod measure;
mod probe;
mod report;
mod sessions;
mod stores;

use pond::store::upkeep::TableHealth;
use pond::store::{OpenMode, Store, StoreLocation};
use probe_store::{build_probe_store, prose, uuid, word};
use serde_json::{Value, json};

use measure::*;
use report::*;
use sessions::*;
use stores::*;

/// What `FLEET_UPKEEP=auto` adds to every sync: upkeep when thresholds are crossed.
const AUTO_UPKEEP_ARGS: [&str; 1] = ["--upkeep"];

/// Timed runs per read command at each checkpoint.
const RUNS: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Upkeep {
    Off,
    Maintain,
    Auto,
}

struct Settings {
    hosts: usize,
    rounds: usize,
    checkpoint_every: usize,
    parallel: usize,
    upkeep: Upkeep,
    retain: String,
    store: Option<String>,
    model_on: bool,
    /// Hosts push to one `pond serve` in front of the store (`sync --to`).
    push: bool,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_string(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

impl Settings {
    fn from_env() -> Settings {
        let upkeep = match env_string("FLEET_UPKEEP", "off").as_str() {
            "off" => Upkeep::Off,
            "maintain" => Upkeep::Maintain,
            "auto" => Upkeep::Auto,
            other => panic!("FLEET_UPKEEP must be off, maintain or auto, not `{other}`"),
        };
        Settings {
            hosts: env_usize("FLEET_HOSTS", 20).max(1),
            rounds: env_usize("FLEET_ROUNDS", 100).max(1),
            checkpoint_every: env_usize("FLEET_CHECKPOINT_EVERY", 25).max(1),
            parallel: env_usize("FLEET_PARALLEL", 2).max(1),
            upkeep,
            retain: env_string("FLEET_RETAIN", "1h"),
            store: std::env::var("FLEET_STORE").ok().filter(|s| !s.is_empty()),
            model_on: !env_string("FLEET_MODEL", "off").eq_ignore_ascii_case("off"),
            push: !matches!(env_string("FLEET_PUSH", "").as_str(), "" | "0" | "off"),
        }
    }

    fn is_checkpoint(&self, round: usize) -> bool {
        round == 1 || round.is_multiple_of(self.checkpoint_every) || round == self.rounds
    }
}

/// A store the hosts sync into, and where their per-host dirs live.
struct Target {
    url: String,
    location: StoreLocation,
    hosts_root: PathBuf,
    /// The `pond serve` the hosts push to instead of writing the store.
    push_to: Option<String>,
}

impl Target {
    fn host_dir(&self, host: usize) -> PathBuf {
        self.hosts_root.join(format!("host-{host:02}"))
    }
}

struct Fleet {
    settings: Settings,
    sources: PathBuf,
    s3_endpoint: Option<String>,
    /// The real cache dir: each host's HOME is fake, and the model lives here.
    cache_home: Option<PathBuf>,
}

#[derive(Clone, Copy)]
struct SyncRun {
    ms: f64,
    changed: bool,
    ok: bool,
    commits: u64,
    retries: u64,
    /// Whether the sync went on to run store upkeep itself (`auto`).
    upkept: bool,
    /// A push: the bytes it sent, and the size of the host's largest
    /// session file (what sending whole files would send at least).
    pushed: Option<(u64, u64)>,
}

impl Fleet {
    fn source(&self, host: usize) -> PathBuf {
        self.sources.join(format!("host-{host:02}"))
    }

    fn target(&self, url: &str, hosts_root: PathBuf) -> Target {
        let mut location = StoreLocation::parse(url).expect("store location");
        if let Some(endpoint) = self
            .s3_endpoint
            .as_deref()
            .filter(|_| url.starts_with("s3://"))
        {
            location = location.with_options(s3_options(endpoint));
        }
        Target {
            url: url.to_string(),
            location,
            hosts_root,
            push_to: None,
        }
    }

    fn pond(&self, target: &Target, host: usize) -> Command {
        let dir = target.host_dir(host);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pond"));
        cmd.env("HOME", dir.join("home"))
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("POND_STORE", &target.url)
            .env("POND_HOST", format!("host-{host:02}"))
            // Every client's default location is under the fake HOME (empty)
            // except the two this host's sessions are in.
            .env("CLAUDE_CONFIG_DIR", claude_root(&self.source(host)))
            .env("GEMINI_CLI_HOME", gemini_home(&self.source(host)))
            .env_remove("CODEX_HOME")
            .env_remove("POND_CONFIG")
            .env_remove("POND_LOG");
        if self.settings.model_on {
            cmd.env_remove("POND_EMBED_MODEL");
            if let Some(cache) = &self.cache_home {
                cmd.env("XDG_CACHE_HOME", cache);
            }
        } else {
            cmd.env("POND_EMBED_MODEL", "off");
        }
        if let Some(endpoint) = &self.s3_endpoint {
            for (k, v) in s3_env(endpoint) {
                cmd.env(k, v);
            }
        }
        cmd
    }

    fn sync(&self, target: &Target, host: usize, changed: bool, auto: bool) -> SyncRun {
        if let Some(server) = &target.push_to {
            return self.push(target, host, changed, server);
        }
        let mut cmd = self.pond(target, host);
        // Every client, as a scheduled sync or `pond agent` runs it.
        cmd.args(["sync", "--json"]);
        if auto {
            cmd.args(AUTO_UPKEEP_ARGS);
            cmd.env("POND_UPKEEP_RETAIN", &self.settings.retain);
        }
        let (ms, out) = timed(&mut cmd);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let ok = out.status.success() && report["outcome"] == "ok";
        if !ok {
            warn(&format!("sync host-{host:02}"), &out);
        }
        SyncRun {
            ms,
            changed,
            ok,
            commits: report["commits"].as_u64().unwrap_or(0),
            retries: report["commit_retries"].as_u64().unwrap_or(0),
            upkept: match report["upkeep"].as_str() {
                Some(u) if u.starts_with("done") => true,
                // Anything but "not due" and "busy" is worth seeing.
                Some(u) if !u.starts_with("not due") && !u.starts_with("busy") => {
                    eprintln!("fleet bench: upkeep on {}: {u}", report["host"]);
                    false
                }
                _ => false,
            },
            pushed: None,
        }
    }

    /// `pond sync --to`: the host sends what changed to the server, which
    /// syncs its copy into the store as this host.
    fn push(&self, target: &Target, host: usize, changed: bool, server: &str) -> SyncRun {
        let mut cmd = self.pond(target, host);
        cmd.args(["sync", "--to", server, "--json"]);
        let (ms, out) = timed(&mut cmd);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let ok =
            out.status.success() && report["problems"].as_array().is_some_and(|p| p.is_empty());
        if !ok {
            warn(&format!("push host-{host:02}"), &out);
        }
        let largest = pond::store::file_sizes(&self.source(host))
            .max()
            .unwrap_or(0);
        SyncRun {
            ms,
            changed,
            ok,
            commits: 0,
            retries: 0,
            upkept: false,
            pushed: Some((report["bytes_sent"].as_u64().unwrap_or(0), largest)),
        }
    }

    /// Syncs every host once, `parallel` at a time, in host order.
    fn sync_all(&self, target: &Target, changed: &[bool], auto: bool) -> Vec<SyncRun> {
        let next = AtomicUsize::new(0);
        let done = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..self.settings.parallel {
                s.spawn(|| {
                    loop {
                        let h = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&c) = changed.get(h) else { break };
                        let run = self.sync(target, h, c, auto);
                        done.lock().expect("results lock").push(run);
                    }
                });
            }
        });
        done.into_inner().expect("results lock")
    }

    /// `pond maintain` as host-00; its own duration, when it reports one.
    fn maintain(&self, target: &Target) -> Option<f64> {
        let mut cmd = self.pond(target, 0);
        cmd.args(["maintain", "--retain", &self.settings.retain, "--json"]);
        let out = cmd.output().expect("spawn pond maintain");
        if !out.status.success() {
            warn("maintain", &out);
            return None;
        }
        serde_json::from_slice::<Value>(&out.stdout).ok()?["duration_secs"].as_f64()
    }

    /// One-shot search processes: an untimed probe for a known message (its
    /// id is returned for get_message), then `RUNS` timed word queries.
    fn time_search(
        &self,
        target: &Target,
        mode: &str,
        probe: Option<&str>,
        seed: usize,
    ) -> (Option<Pct>, Option<String>) {
        let search = |query: &str| {
            let mut cmd = self.pond(target, 0);
            cmd.args(["search", "--json", "--mode", mode, query]);
            if mode == "fts" {
                cmd.env("POND_EMBED_MODEL", "off");
            }
            let (ms, out) = timed(&mut cmd);
            if !out.status.success() {
                warn(&format!("search --mode {mode}"), &out);
            }
            let hits: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            (
                ms,
                hits["hits"][0]["message_id"].as_str().map(str::to_string),
            )
        };
        let mut id = probe.and_then(|q| search(q).1);
        let mut times = Vec::new();
        for i in 0..RUNS {
            let (ms, hit) = search(word(seed * RUNS + i * 13));
            times.push(ms);
            id = id.or(hit);
        }
        (pct(times), id)
    }

    fn time_status(&self, target: &Target) -> Option<Pct> {
        let times = (0..RUNS)
            .map(|_| {
                let mut cmd = self.pond(target, 0);
                cmd.args(["status", "--all-hosts", "--json"]);
                let (ms, out) = timed(&mut cmd);
                if !out.status.success() {
                    warn("status --all-hosts", &out);
                }
                ms
            })
            .collect();
        pct(times)
    }

    /// Everything a checkpoint records about a store and reading from it.
    fn measure(
        &self,
        rt: &tokio::runtime::Runtime,
        target: &Target,
        probe: Option<&str>,
        seed: usize,
    ) -> Measures {
        let store = rt
            .block_on(Store::open(&target.location, OpenMode::Existing))
            .expect("open the store in-process");
        let tables = rt.block_on(store.health()).expect("store health");
        let disk = match target.location.local_dir.as_deref() {
            Some(dir) => Some(dir_usage(dir)),
            None => rt.block_on(bucket_usage(&target.location)),
        };
        let (fts, mut id) = self.time_search(target, "fts", probe, seed);
        let hybrid = self.settings.model_on.then(|| {
            let (p, hit) = self.time_search(target, "hybrid", probe, seed);
            id = id.take().or(hit);
            p
        });
        let status = self.time_status(target);
        let get_message = id.and_then(|id| time_get_message(rt, &store, &id));
        Measures {
            tables,
            disk,
            fts,
            hybrid: hybrid.flatten(),
            get_message,
            status,
        }
    }
}

/// What the rounds leave for the summary.
struct FleetRun {
    last: Row,
    first_small: Option<Pct>,
    /// The last checkpoint window's small syncs (the rows measured after
    /// the rounds ran no syncs).
    last_small: Option<Pct>,
    maintain_secs: f64,
}

impl Fleet {
    fn run_rounds(
        &self,
        rt: &tokio::runtime::Runtime,
        target: &Target,
        hosts: &mut [Host],
        json_out: &mut Option<std::fs::File>,
    ) -> FleetRun {
        let s = &self.settings;
        let started = Instant::now();
        let (mut totals, mut window) = (Totals::default(), Window::default());
        let (mut first_small, mut last_small, mut last, mut maintain_secs) =
            (None, None, None, 0.0);
        println!("{HEADER}");
        for round in 1..=s.rounds {
            let changed: Vec<bool> = hosts.iter_mut().map(|h| h.step(round)).collect();
            let round_started = Instant::now();
            for run in self.sync_all(target, &changed, s.upkeep == Upkeep::Auto) {
                totals.add(&run);
                let bucket = if run.changed {
                    &mut window.small
                } else {
                    &mut window.noop
                };
                bucket.push(run.ms);
                if let Some((sent, largest)) = run.pushed.filter(|_| run.changed) {
                    window.pushed.push((sent as f64, largest as f64));
                }
            }
            if s.upkeep == Upkeep::Maintain {
                let secs = self.maintain(target).unwrap_or(0.0);
                window.maintain_secs += secs;
                maintain_secs += secs;
            }
            let secs = round_started.elapsed().as_secs_f64();
            eprintln!("round {round}/{}: {secs:.1}s", s.rounds);
            if !s.is_checkpoint(round) {
                continue;
            }
            let m = self.measure(rt, target, latest_token(hosts).as_deref(), round);
            let closed = std::mem::take(&mut window);
            print_pushes(round, &closed.pushed);
            let row = Row::new("fleet", round, &totals, closed, m, started);
            if round == 1 {
                first_small = row.small_sync_ms;
            }
            last_small = row.small_sync_ms;
            println!("{}", row.markdown());
            write_json(json_out, &row);
            last = Some(row);
        }
        let mut last = last.expect("the last round is a checkpoint");
        // "Once retention has passed": wait it out, run upkeep once more
        // and measure the store as a fleet that paused would leave it.
        let mut upkeep_then_measure = |label: &'static str, maintain_secs: &mut f64| {
            *maintain_secs += self.maintain(target).unwrap_or(0.0);
            let m = self.measure(rt, target, latest_token(hosts).as_deref(), s.rounds);
            let row = Row::new(label, s.rounds, &totals, Window::default(), m, started);
            if let Some(dir) = target.location.local_dir.as_deref() {
                print_usage_by_kind(label, dir);
            }
            println!("{}", row.markdown());
            write_json(json_out, &row);
            row
        };
        if s.upkeep != Upkeep::Off
            && let Ok(retain) = humantime::parse_duration(&s.retain)
            && retain <= std::time::Duration::from_secs(600)
        {
            std::thread::sleep(retain + std::time::Duration::from_secs(1));
            last = upkeep_then_measure("after retention", &mut maintain_secs);
            // Files no manifest references (index segments of folds that
            // lost a commit race) Lance keeps for 7 days, since an
            // unfinished write's files look the same. On a local store the
            // week is simulated by ageing every file's mtime, which is what
            // Lance reads.
            // The upkeep that deletes them may itself rewrite a table, and the
            // versions that rewrite supersedes are kept for the retention
            // too: wait that out and run upkeep once more before measuring.
            if let Some(dir) = target.location.local_dir.as_deref() {
                age_files(dir, "8 days ago");
                maintain_secs += self.maintain(target).unwrap_or(0.0);
                std::thread::sleep(retain + std::time::Duration::from_secs(1));
                last = upkeep_then_measure("after a week", &mut maintain_secs);
            }
        }
        FleetRun {
            last,
            first_small,
            last_small,
            maintain_secs,
        }
    }

    /// The same sessions in one sync per host into a new local store: what
    /// the store would hold without its history of small commits.
    fn fresh_ingest(&self, rt: &tokio::runtime::Runtime, work: &Path, hosts: &[Host]) -> Row {
        let url = work.join("fresh-store").display().to_string();
        let fresh = self.target(&url, work.join("fresh"));
        let started = Instant::now();
        let mut totals = Totals::default();
        for run in self.sync_all(&fresh, &vec![true; hosts.len()], false) {
            totals.add(&run);
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!("fresh ingest: {secs:.1}s");
        let m = self.measure(
            rt,
            &fresh,
            latest_token(hosts).as_deref(),
            self.settings.rounds,
        );
        Row::new(
            "fresh",
            self.settings.rounds,
            &totals,
            Window::default(),
            m,
            started,
        )
    }
}

fn latest_token(hosts: &[Host]) -> Option<String> {
    hosts.iter().rev().find_map(|h| h.last_token.clone())
}

fn main() {
    if let Ok(dir) = std::env::var("FLEET_PROBE_STORE") {
        return probe::probe(&dir);
    }
    let settings = Settings::from_env();
    let work = tempfile::tempdir().expect("bench temp dir");
    let s3_endpoint = std::env::var("POND_TEST_S3_ENDPOINT").ok();
    let url = store_url(&settings, work.path(), s3_endpoint.as_deref());
    print_settings(&settings, &url);
    let mut json_out =
        std::env::var_os("FLEET_OUT").map(|p| std::fs::File::create(p).expect("create FLEET_OUT"));
    // Each host's HOME is its own, so the model must be found in the real cache.
    let cache_home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    let fleet = Fleet {
        settings,
        sources: work.path().join("src"),
        s3_endpoint,
        cache_home,
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut target = fleet.target(&url, work.path().join("fleet"));
    let mut server = None;
    if fleet.settings.push {
        let (child, server_url) = start_server(&fleet, &target);
        target.push_to = Some(server_url);
        server = Some(child);
    }
    let mut hosts: Vec<Host> = (0..fleet.settings.hosts)
        .map(|h| Host::new(h, &fleet.source(h)))
        .collect();

    let started = Instant::now();
    let run = fleet.run_rounds(&rt, &target, &mut hosts, &mut json_out);
    if let Some(mut child) = server {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (fleet_wall, fleet_cores) = (started.elapsed().as_secs_f64(), children_core_secs());
    let fresh = fleet.fresh_ingest(&rt, work.path(), &hosts);
    write_json(&mut json_out, &fresh);
    print_comparison(&run.last, &fresh, run.first_small, run.last_small);

    println!(
        "\nrounds: {fleet_wall:.1}s wall, {fleet_cores:.1} core-seconds (user+system) in pond processes"
    );
    match fleet.settings.upkeep {
        Upkeep::Maintain => println!("pond maintain: {:.1}s in all", run.maintain_secs),
        Upkeep::Auto => println!("syncs that ran upkeep: {}", run.last.upkeep_runs),
        Upkeep::Off => {}
    }
    println!(
        "syncs: {}, failed {}, commit retries {}",
        run.last.syncs, run.last.failed_syncs, run.last.commit_retries
    );
    println!(
        "total with the fresh ingest: {:.1}s wall, {:.1} core-seconds",
        started.elapsed().as_secs_f64(),
        children_core_secs()
    );
}
