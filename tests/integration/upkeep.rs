//! Rules 41, 42 and 50: store upkeep bounds what a fleet's syncs leave behind,
//! one host at a time, without losing a row, and readers never notice.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Pond, assert_success, count, field_of_each};
use crate::serve::{Server, http, write_session};

/// A store as a fleet leaves it: `hosts` hosts each syncing their own
/// session `rounds` times, a few messages more each time.
pub(crate) fn fleet_store(pond: &Pond, hosts: usize, rounds: usize) {
    for round in 1..=rounds {
        fleet_store_round(pond, hosts, round);
    }
}

/// What every reader must still see after upkeep.
pub(crate) fn contents(pond: &Pond) -> (Value, Vec<String>, Value) {
    let status = pond.json(&["status", "--json"]);
    let mut ids = pond.session_ids();
    ids.sort();
    let hits = pond.json(&["search", "quokka", "--limit", "500", "--json"]);
    // Which message ranks first within a session moves with the index's
    // statistics; the sessions found and the rows in scope may not.
    let mut found = field_of_each(&hits["hits"], "session_id");
    found.sort();
    (
        json!({"sessions": status["sessions"], "messages": status["messages"], "raw_records": status["raw_records"]}),
        ids,
        json!({"sessions": found, "in_scope": hits["in_scope"]}),
    )
}

pub(crate) fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

pub(crate) fn maintain(pond: &Pond, extra: &[(&str, &str)]) -> Value {
    let mut cmd = pond.cmd(&["maintain", "--retain", "1s", "--json"]);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run pond");
    assert_success(&out);
    serde_json::from_slice(&out.stdout).expect("maintain JSON")
}

pub(crate) fn exports_byte_exact(pond: &Pond, hosts: usize) {
    for host in 0..hosts {
        let id = format!("{host:08x}-0000-4000-8000-000000000001");
        let out = pond.root.join(format!("export-{host}"));
        pond.ok(&[
            "export",
            &id,
            "--raw",
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        let rel = format!("-work-fleet/{id}.jsonl");
        let exported = std::fs::read(out.join(&rel)).expect("exported");
        let source = std::fs::read(pond.root.join(format!("src-{host}")).join(&rel)).expect("src");
        assert!(exported == source, "host {host}: export differs");
    }
}

#[test]
fn rule41_upkeep_compacts_and_prunes_and_every_row_stays() {
    let pond = Pond::new();
    fleet_store(&pond, 4, 3);
    let before = contents(&pond);

    let first = maintain(&pond, &[]);
    assert_eq!(first["outcome"], "done", "{first}");
    let messages = table(&first, "messages");
    assert_eq!(count(&messages["before"], "fragments"), 12, "{first}");
    assert_eq!(count(&messages["after"], "fragments"), 1, "{first}");
    assert!(
        count(&messages["compacted"], "fragments_removed") >= 12,
        "{first}"
    );
    // Each keyed column got its B-tree.
    assert!(count(messages, "key_indexes_built") >= 1, "{first}");
    assert_eq!(contents(&pond), before, "upkeep changed what readers see");

    // Once the retention has passed, the superseded versions go.
    std::thread::sleep(Duration::from_millis(1_500));
    let second = maintain(&pond, &[]);
    let messages = table(&second, "messages");
    assert!(
        count(&messages["pruned"], "versions_removed") > 0,
        "{second}"
    );
    assert!(
        count(&messages["after"], "versions")
            < count(&table(&first, "messages")["before"], "versions"),
        "{second}"
    );
    assert_eq!(contents(&pond), before);
    exports_byte_exact(&pond, 4);

    // Status shows the store's shape and who ran upkeep last.
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["upkeep"]["last"]["host"], "test-host", "{status}");
    assert_eq!(status["upkeep"]["overdue"], false, "{status}");
    assert!(status["tables"].as_array().expect("tables").len() >= 6);
}

/// Writes lease epoch `epoch` as another host would have.
fn plant_lease(pond: &Pond, epoch: u64, holder: &str, expires_in: i64) {
    let dir = pond.store.join("_pond/upkeep");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let now = chrono::Utc::now();
    let record = json!({
        "holder": holder,
        "pid": 1,
        "taken_at": now.to_rfc3339(),
        "expires_at": (now + chrono::Duration::seconds(expires_in)).to_rfc3339(),
    });
    std::fs::write(dir.join(format!("lease-{epoch:020}")), record.to_string()).expect("write");
}

#[test]
fn rule41_one_host_at_a_time_and_a_dead_holders_lease_expires() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 2);
    plant_lease(&pond, 7, "other-host", 600);
    let busy = maintain(&pond, &[]);
    assert_eq!(busy["outcome"], "busy", "{busy}");
    assert_eq!(busy["holder"]["holder"], "other-host");
    let fragments = |r: &Value| count(&table(r, "messages")["before"], "fragments");
    assert_eq!(
        fragments(&pond.json(&["maintain", "--dry-run", "--json"])),
        4
    );

    // The holder died: its lease ran out and the next host takes over.
    plant_lease(&pond, 8, "other-host", -1);
    let done = maintain(&pond, &[]);
    assert_eq!(done["outcome"], "done", "{done}");
    assert_eq!(count(&table(&done, "messages")["after"], "fragments"), 1);

    // A sync with --upkeep runs it only when due: just done, so not.
    let src = pond.root.join("src-0");
    let report: Value = serde_json::from_slice(
        &pond
            .cmd(&[
                "sync",
                "claude-code",
                "--path",
                src.to_str().expect("utf-8"),
                "--upkeep",
                "--json",
            ])
            .output()
            .expect("run pond")
            .stdout,
    )
    .expect("sync JSON");
    assert_eq!(report["upkeep"], "not due", "{report}");
}

#[test]
fn rule41_a_holder_killed_in_any_phase_loses_nothing() {
    let pond = Pond::new();
    fleet_store(&pond, 4, 3);
    let before = contents(&pond);
    let ttl = [("POND_UPKEEP_LEASE_TTL", "1s")];
    // Kill points spread over the run: compaction, indexes, pruning.
    for delay_ms in [40, 120, 250, 400, 700] {
        let mut child = pond
            .cmd(&["maintain", "--retain", "0s", "--json"])
            .env(ttl[0].0, ttl[0].1)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn maintain");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(contents(&pond), before, "after a kill at {delay_ms} ms");
        // A sync still lands beside whatever the dead holder left.
        pond.sync_as("host-1", "claude-code", &pond.root.join("src-1"));
        std::thread::sleep(Duration::from_millis(1_100));
    }
    let finished = maintain(&pond, &ttl);
    assert_eq!(finished["outcome"], "done", "{finished}");
    assert_eq!(contents(&pond), before);
    exports_byte_exact(&pond, 4);
}

#[test]
fn rule42_a_long_running_server_keeps_answering_while_upkeep_prunes() {
    let pond = Pond::new();
    fleet_store(&pond, 3, 2);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let addr = server.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut requests = 0;
            let body = json!({"query": "quokka", "mode": "fts"}).to_string();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (method, path, body) in [
                    ("GET", "/v1/sessions", None),
                    (
                        "POST",
                        "/v1/search",
                        Some(("application/json", body.as_bytes())),
                    ),
                    ("GET", "/v1/sessions/00000001", None),
                ] {
                    let reply = http(&addr, method, path, None, body);
                    requests += 1;
                    if reply.status != 200 {
                        failures.push(format!("{method} {path}: {} {}", reply.status, reply.body));
                    }
                }
            }
            (requests, failures)
        })
    };
    let started = Instant::now();
    for round in 3..=5 {
        fleet_store_round(&pond, 3, round);
        maintain(&pond, &[]);
    }
    // Keep reading a little past the last prune.
    while started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (requests, failures) = reader.join().expect("reader");
    assert!(requests > 10, "only {requests} requests");
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:#?}\n{}",
        failures.len(),
        server.log()
    );
}

pub(crate) fn fleet_store_round(pond: &Pond, hosts: usize, round: usize) {
    for host in 0..hosts {
        let src = pond.root.join(format!("src-{host}"));
        let id = format!("{host:08x}-0000-4000-8000-000000000001");
        let texts: Vec<String> = (0..round * 3)
            .map(|i| format!("host {host} note {i} about the quokka deploy"))
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        write_session(&src, &id, "/work/fleet", &texts);
        pond.sync_as(&format!("host-{host}"), "claude-code", &src);
    }
}

/// Each table's current version on an S3 store, read through the library.
fn versions(url: &str, options: Vec<(String, String)>) -> Vec<(String, u64)> {
    use pond::store::{OpenMode, Store, StoreLocation, TableKind};
    let location = StoreLocation::parse(url)
        .expect("location")
        .with_options(options);
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let store = Store::open(&location, OpenMode::Existing)
                .await
                .expect("open");
            let mut out = Vec::new();
            for kind in TableKind::ALL {
                out.push((
                    kind.name().to_string(),
                    store.table_version(kind).await.expect("version"),
                ));
            }
            out
        })
}

#[test]
fn rule41_a_sync_with_nothing_new_commits_only_its_hosts_row_on_s3() {
    let s = crate::harness::services();
    let pond = Pond::on_new_s3_archive(&s, "quiet");
    let src = pond.root.join("src");
    write_session(
        &src,
        "dddddddd-0000-4000-8000-000000000004",
        "/work/quiet",
        &["one", "two"],
    );
    pond.sync("claude-code", &src);
    let before = versions(&pond.store_url, s.s3_options());
    let quiet = pond.sync("claude-code", &src);
    assert_eq!(quiet["outcome"], "ok", "{quiet}");
    let after = versions(&pond.store_url, s.s3_options());
    let moved: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| a.1 != b.1)
        .map(|(b, _)| b.0.as_str())
        .collect();
    assert_eq!(moved, vec!["hosts"], "{before:?} -> {after:?}");
    assert_eq!(
        after.iter().find(|v| v.0 == "hosts").map(|v| v.1),
        before.iter().find(|v| v.0 == "hosts").map(|v| v.1 + 1)
    );

    // The fleet view still tells this quiet host from a stale one.
    let fleet = pond.json(&["status", "--all-hosts", "--json"]);
    assert_eq!(fleet["hosts"][0]["stale"], false, "{fleet}");
    assert_eq!(fleet["hosts"][0]["runs"], 2, "{fleet}");
}

/// The Lance file format a data file was written in, from its footer:
/// major and minor version, then the magic `LANC` (2.0 files say 0.3).
fn file_format(path: &std::path::Path) -> (u16, u16) {
    let bytes = std::fs::read(path).expect("read data file");
    let tail = &bytes[bytes.len() - 8..];
    assert_eq!(
        &tail[4..],
        b"LANC",
        "{} is not a Lance file",
        path.display()
    );
    (
        u16::from_le_bytes([tail[0], tail[1]]),
        u16::from_le_bytes([tail[2], tail[3]]),
    )
}

fn table_formats(pond: &Pond, table: &str) -> std::collections::BTreeSet<(u16, u16)> {
    let dir = pond.store.join(format!("{table}.lance")).join("data");
    std::fs::read_dir(&dir)
        .expect("data dir")
        .map(|e| file_format(&e.expect("entry").path()))
        .collect()
}

/// docs/decisions.md, "Messages in Lance 2.2": the table read a row at a
/// time is written in 2.2, whose values are read from small chunks, and
/// stays so through upkeep's rewrites; the others keep 2.0's whole-page
/// compression.
#[test]
fn messages_are_written_in_lance_2_2_and_the_other_tables_in_2_0() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 2);
    let first = maintain(&pond, &[]);
    assert_eq!(first["outcome"], "done", "{first}");
    assert_eq!(
        table_formats(&pond, "messages"),
        [(2, 2)].into_iter().collect(),
        "messages"
    );
    for table in ["raw_records", "search", "sessions"] {
        assert_eq!(
            table_formats(&pond, table),
            [(0, 3)].into_iter().collect(),
            "{table}"
        );
    }
}

/// Rule 41: a compaction that cannot finish within its patience still
/// commits the part it rewrote. A store whose whole table is a candidate
/// (its first syncs wrote fragments below the full size) took longer than
/// the 10 s patience on every run at a million rows and gave way each time,
/// so upkeep never compacted it: here the patience is zero, and the tail
/// must move all the same.
#[test]
fn rule41_a_compaction_longer_than_its_patience_still_commits_what_it_rewrote() {
    use pond::store::{OpenMode, Store, StoreLocation, TableKind};
    let pond = Pond::new();
    fleet_store(&pond, 2, 6);
    let stored = contents(&pond);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let location = StoreLocation::parse(&pond.store_url).expect("store location");
        let store = Store::open(&location, OpenMode::Existing)
            .await
            .expect("open store");
        let fragments = |health: Vec<pond::store::upkeep::TableHealth>| {
            health
                .into_iter()
                .find(|h| h.table == "messages")
                .map(|h| h.fragments)
                .expect("messages health")
        };
        let before = fragments(store.health().await.expect("health"));
        assert!(before >= 12, "the fleet left {before} fragments");
        let compacted = store
            .compact(TableKind::Messages, Some(Duration::ZERO))
            .await
            .expect("compact");
        let compacted = compacted.expect("compaction gave way without committing anything");
        assert!(compacted.fragments_removed > 1, "{compacted:?}");
        store.refresh(TableKind::Messages).await.expect("refresh");
        let after = fragments(store.health().await.expect("health"));
        assert!(after < before, "{before} fragments before, {after} after");
    });
    assert_eq!(contents(&pond), stored);
}

/// Rule 12: a store whose creation was cut short (an ingest stopped at its
/// deadline between creating `pond_meta` and the other tables) is finished
/// by the next write, even when a read opened it first. The server's read
/// handle skipped the missing tables, and the ingest reused it: "table
/// raw_records is not open" (seen in
/// `rule37_an_ingest_past_its_deadline_is_stopped_and_sending_again_finishes_it`).
#[test]
fn rule12_a_half_created_store_is_finished_by_the_next_write_after_a_read() {
    use pond::store::reach::lazy::LazyStore;
    use pond::store::{OpenMode, Store, StoreLocation, TableKind};
    let pond = Pond::new();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let location = StoreLocation::parse(&pond.store_url).expect("store location");
    rt.block_on(async {
        drop(
            Store::open(&location, OpenMode::Create)
                .await
                .expect("create"),
        );
    });
    // As a creation cut short after `pond_meta` leaves it, once its
    // creator's grace has passed (no `ready` marker, no live claim).
    for table in ["raw_records", "messages", "search"] {
        std::fs::remove_dir_all(pond.store.join(format!("{table}.lance"))).expect("remove");
    }
    for marker in std::fs::read_dir(pond.store.join("_pond")).expect("markers") {
        let marker = marker.expect("marker").path();
        let name = marker
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("ready-") || name.starts_with("init-") {
            std::fs::remove_file(&marker).expect("remove marker");
        }
    }
    rt.block_on(async {
        let lazy = LazyStore::new(location, None);
        let read = lazy.get().await.expect("read").expect("the store exists");
        assert!(!read.has_table(TableKind::Raw));
        let written = lazy.for_writing().await.expect("open for writing");
        for kind in [TableKind::Raw, TableKind::Messages, TableKind::Search] {
            assert!(written.has_table(kind), "{} is not open", kind.name());
        }
        let read = lazy.get().await.expect("read").expect("the store exists");
        assert!(
            read.has_table(TableKind::Raw),
            "reads still see the half store"
        );
    });
}

/// Sets a file's mtime to `ago` before now (GNU touch's date), as the
/// store's clock would have stamped it then.
pub(crate) fn age(path: &std::path::Path, ago: &str) {
    let status = std::process::Command::new("touch")
        .args(["-m", "-d", ago])
        .arg(path)
        .status()
        .expect("run touch");
    assert!(status.success(), "touch {}", path.display());
}

/// A copy of one of the messages table's data files under a name no
/// manifest references, written `ago`: what a commit that lost its race
/// (or one still in flight) leaves in the table.
pub(crate) fn unreferenced_copy(pond: &Pond, name: &str, ago: &str) -> std::path::PathBuf {
    let data = pond.store.join("messages.lance").join("data");
    let real = std::fs::read_dir(&data)
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "lance"))
        .expect("a data file");
    let copy = data.join(name);
    std::fs::copy(&real, &copy).expect("copy data file");
    age(&copy, ago);
    copy
}

/// Puts a write intent as another writer would have, `ago`.
pub(crate) fn plant_intent(pond: &Pond, name: &str, ago: &str) -> std::path::PathBuf {
    let dir = pond.store.join("_pond").join("writes");
    std::fs::create_dir_all(&dir).expect("intents dir");
    let path = dir.join(name);
    std::fs::write(
        &path,
        br#"{"pid":1,"since":"2026-01-01T00:00:00Z","host":"elsewhere"}"#,
    )
    .expect("write intent");
    age(&path, ago);
    path
}

#[test]
fn rule50_a_sweep_removes_what_no_commit_kept_and_spares_a_write_in_flight() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 2);
    let before = contents(&pond);

    // A commit that lost its race an hour ago; another host's write that
    // began ten minutes ago and has put one file so far; a writer that died
    // eight days ago without taking its intent back.
    let lost = unreferenced_copy(&pond, "lost-race.lance", "1 hour ago");
    let in_flight_intent = plant_intent(&pond, "intent-in-flight", "10 minutes ago");
    let in_flight = unreferenced_copy(&pond, "in-flight.lance", "5 minutes ago");
    let dead_intent = plant_intent(&pond, "intent-dead", "8 days ago");

    std::thread::sleep(Duration::from_millis(1_500));
    let first = maintain(&pond, &[]);
    assert_eq!(first["outcome"], "done", "{first}");
    assert!(!lost.exists(), "the lost commit's file was kept: {first}");
    assert!(
        in_flight.exists(),
        "a file younger than a live intent was swept"
    );
    assert!(!dead_intent.exists(), "an expired intent was kept");
    assert!(
        count(
            &table(&first, "messages")["pruned"],
            "unreferenced_files_removed"
        ) >= 1,
        "{first}"
    );
    // The maintain run took its own intent back when it was done.
    let left: Vec<_> = std::fs::read_dir(pond.store.join("_pond").join("writes"))
        .expect("intents dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("intent-in-flight")]);
    // Status names what holds sweeps back.
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["upkeep"]["writes_in_flight"]["count"], 1, "{status}");

    // The other host gave up: its intent is gone, and its file goes with
    // the next sweep.
    std::fs::remove_file(&in_flight_intent).expect("end the write");
    std::thread::sleep(Duration::from_millis(1_500));
    let second = maintain(&pond, &[]);
    assert!(
        !in_flight.exists(),
        "an abandoned write's file stayed: {second}"
    );

    assert_eq!(
        contents(&pond),
        before,
        "the sweep changed what readers see"
    );
    exports_byte_exact(&pond, 2);
}

/// Writes lease epoch `epoch` as a holder whose clock is `skew_secs` off
/// would, with a time-to-live, stamped by the store `age_secs` ago.
fn plant_skewed_lease(pond: &Pond, epoch: u64, holder: &str, skew_secs: i64, age_secs: u64) {
    let dir = pond.store.join("_pond/upkeep");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let holders_now = chrono::Utc::now() + chrono::Duration::seconds(skew_secs);
    let record = json!({
        "holder": holder,
        "pid": 1,
        "taken_at": holders_now.to_rfc3339(),
        "expires_at": (holders_now + chrono::Duration::seconds(600)).to_rfc3339(),
        "ttl_secs": 600,
    });
    let path = dir.join(format!("lease-{epoch:020}"));
    std::fs::write(&path, record.to_string()).expect("write");
    let stamped = std::time::SystemTime::now() - Duration::from_secs(age_secs);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(stamped))
        .expect("set the store's stamp");
}

#[test]
fn rule41_the_lease_is_judged_by_the_stores_clock_not_the_holders() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 2);
    // Taken just now by a host whose clock runs two hours behind: by its
    // clock the lease ran out long ago, by the store's it has ten minutes.
    plant_skewed_lease(&pond, 3, "slow-clock", -7_200, 0);
    let busy = maintain(&pond, &[]);
    assert_eq!(busy["outcome"], "busy", "{busy}");
    assert_eq!(busy["holder"]["holder"], "slow-clock");

    // Last renewed 20 minutes ago by a host whose clock runs a day ahead:
    // by its clock the lease lasts a day more, by the store's it expired.
    plant_skewed_lease(&pond, 4, "fast-clock", 86_400, 1_200);
    let done = maintain(&pond, &[]);
    assert_eq!(done["outcome"], "done", "{done}");
}
