//! Rule 50 at its edges (issue 31, item 12): no write in flight loses a file
//! to a sweep when the retention is zero (`erase --now`), when the writer
//! stops between its files and its commit for longer than the retention or
//! until its intent is gone, when the writer is a pond from before write
//! intents, or when the sweeping host's clock is off the store's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Pond, assert_success};
use crate::serve::write_session;
use crate::upkeep::{
    age, contents, exports_byte_exact, fleet_store, maintain, plant_intent, table,
    unreferenced_copy,
};

const PAUSE_STEP: &str = "write-commit-messages";

/// A sync of host 0's session, grown to `round`, stopped at the commit of
/// its messages (their files put, the manifest naming them not). The step
/// names the table: a sync commits messages, search rows and usage at once,
/// and a stop at whichever came first left, now and then, the messages'
/// files not yet put (CI of f97f7f4).
struct StoppedSync {
    child: Child,
    dir: tempfile::TempDir,
}

impl StoppedSync {
    fn start(pond: &Pond, round: usize) -> StoppedSync {
        let src = pond.root.join("src-0");
        let id = "00000000-0000-4000-8000-000000000001";
        let texts: Vec<String> = (0..round * 3)
            .map(|i| format!("host 0 note {i} about the quokka deploy"))
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        write_session(&src, id, "/work/fleet", &texts);
        let dir = tempfile::tempdir().expect("pause dir");
        let mut cmd: Command = pond.sync_cmd("claude-code", &src);
        let child = cmd
            .env("POND_HOST", "host-0")
            .env("POND_PAUSE_AT", PAUSE_STEP)
            .env("POND_PAUSE_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sync");
        let mut stopped = StoppedSync { child, dir };
        stopped.wait_stopped();
        stopped
    }

    fn wait_stopped(&mut self) {
        let paused = self.dir.path().join(format!("{PAUSE_STEP}.paused"));
        let start = Instant::now();
        while !paused.exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the sync finished without stopping ({status})");
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the sync never stopped"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lets the sync commit and requires it to end well.
    fn finish(self) -> Value {
        std::fs::write(self.dir.path().join(format!("{PAUSE_STEP}.go")), b"").expect("go");
        let out = self.child.wait_with_output().expect("wait for sync");
        crate::harness::success_json(&out, "the stopped sync")
    }
}

/// The data files of the messages table no manifest references yet: what
/// the stopped sync put for its commit.
fn data_files(pond: &Pond) -> Vec<PathBuf> {
    let data = pond.store.join("messages.lance").join("data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn intents(pond: &Pond) -> Vec<PathBuf> {
    let dir = pond.store.join("_pond").join("writes");
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Host 0's session holds every message of round 2.
fn round_two_shown(pond: &Pond) {
    let shown = pond.json(&["show", "00000000-0000-4000-8000-000000000001", "--json"]);
    assert_eq!(
        shown["messages"].as_array().map(Vec::len),
        Some(12),
        "{shown}"
    );
}

/// Everything a reader sees of host 0's session after round 2: the
/// synced file exported byte for byte, and every message found.
fn whole_after_round_two(pond: &Pond) {
    exports_byte_exact(pond, 2);
    round_two_shown(pond);
    // Every table still reads: nothing names a file that is gone.
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["messages"], 12 + 6, "{status}");
}

#[test]
fn rule50_a_write_stopped_before_its_commit_survives_a_sweep_at_retention_zero() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 1);
    let stopped = StoppedSync::start(&pond, 2);
    // Stopped longer than the retention, and then `erase --now` (retention
    // zero) of the other host's session sweeps while the write waits.
    std::thread::sleep(Duration::from_secs(3));
    let erased = pond.json(&[
        "erase",
        "00000001-0000-4000-8000-000000000001",
        "--now",
        "--yes",
        "--json",
    ]);
    assert_eq!(erased["outcome"], "erased", "{erased}");
    let report = stopped.finish();
    assert_eq!(report["outcome"], "ok", "{report}");
    round_two_shown(&pond);
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["messages"], 12, "{status}");
}

#[test]
fn rule50_a_commit_whose_intent_is_gone_is_made_again_under_a_fresh_one() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 1);
    let before = data_files(&pond);
    let stopped = StoppedSync::start(&pond, 2);
    let put = data_files(&pond);
    assert!(put.len() > before.len(), "the stopped write put no file");
    // The writer stays stopped past its intent's life (a laptop asleep for
    // a week): a sweep takes the intent as a dead writer's, and with it the
    // files no manifest names yet.
    std::thread::sleep(Duration::from_secs(3));
    for intent in intents(&pond) {
        std::fs::remove_file(intent).expect("expire the intent");
    }
    let swept = maintain(&pond, &[]);
    assert!(
        put.iter()
            .filter(|f| !before.contains(f))
            .all(|f| !f.exists()),
        "the sweep kept the stopped write's files: {swept}"
    );
    // Waking, the writer must not commit a manifest naming files that are
    // gone: it writes them again under a fresh intent.
    let report = stopped.finish();
    assert_eq!(report["outcome"], "ok", "{report}");
    whole_after_round_two(&pond);
    assert!(intents(&pond).is_empty(), "the sync left an intent");
}

#[test]
fn rule50_a_pond_from_before_intents_keeps_its_writes_for_a_week() {
    let pond = Pond::new();
    fleet_store(&pond, 2, 1);
    // A store a pond from before write intents (format 4) still writes to:
    // stamped 4, without the note of when intents became required, and
    // with a file that pond put an hour ago for a commit still to come.
    let location =
        pond::store::StoreLocation::parse(pond.store.to_str().expect("utf-8")).expect("location");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(pond::store::restamp_format_version(&location, 4))
        .expect("restamp");
    let note = pond.store.join("_pond").join("intents-required");
    if note.exists() {
        std::fs::remove_file(&note).expect("remove the note");
    }
    let in_flight = unreferenced_copy(&pond, "older-pond.lance", "1 hour ago");
    std::thread::sleep(Duration::from_millis(1_500));

    // The first sweep raises the store to format 5 (so the older pond
    // refuses it at its next open), but that pond may be mid-write now.
    let first = maintain(&pond, &[]);
    assert_eq!(first["outcome"], "done", "{first}");
    assert!(in_flight.exists(), "an older pond's write lost a file");
    let held = table(&first, "messages")["pruned"]["sweep_held_until"]
        .as_str()
        .map(str::to_owned);
    let held =
        held.unwrap_or_else(|| panic!("the report says until when the sweep holds back: {first}"));
    let until = chrono::DateTime::parse_from_rfc3339(&held).expect("a time");
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() / 24;
    assert_eq!(days, 6, "held for a week from now: {held}");
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["format_version"], pond::store::FORMAT_VERSION);

    // A week after the raise, no write of an older pond is in flight.
    age(&note, "8 days ago");
    std::thread::sleep(Duration::from_millis(1_500));
    let later = maintain(&pond, &[]);
    assert!(!in_flight.exists(), "a week-old unreferenced file stayed");
    assert!(
        table(&later, "messages")["pruned"]["sweep_held_until"].is_null(),
        "{later}"
    );
    exports_byte_exact(&pond, 2);
}

/// Runs `pond maintain` with this host's clock `offset` off (libfaketime,
/// Debian's `faketime`): the store, a local directory, still stamps its
/// objects by the real clock.
fn maintain_with_clock(pond: &Pond, offset: &str) -> Value {
    let out = crate::harness::with_clock(pond, offset, &["maintain", "--retain", "1s", "--json"])
        .output()
        .expect("run faketime (Debian package faketime)");
    assert_success(&out);
    serde_json::from_slice(&out.stdout).expect("maintain JSON")
}

fn faketime_present() -> bool {
    Command::new("faketime")
        .args(["-f", "+15m", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn rule50_a_sweep_judges_ages_by_the_stores_clock_not_its_hosts() {
    assert!(
        faketime_present(),
        "this test needs Debian's faketime (make test installs it)"
    );
    let pond = Pond::new();
    fleet_store(&pond, 2, 1);
    let before = contents(&pond);
    // A writer whose intent the store stamped a week less ten minutes ago
    // (it has been writing since, or rotated it just before sleeping) and
    // a file it put five minutes ago.
    let intent = plant_intent(&pond, "intent-long-writer", "7 days ago + 10 minutes");
    let in_flight = unreferenced_copy(&pond, "long-writer.lance", "5 minutes ago");
    let lost = unreferenced_copy(&pond, "lost-race.lance", "8 days ago");
    std::thread::sleep(Duration::from_millis(1_500));

    // The sweeping host's clock runs 15 minutes ahead: by it, the intent is
    // past its week; by the store's, it has ten minutes left.
    let report = maintain_with_clock(&pond, "+15m");
    assert_eq!(report["outcome"], "done", "{report}");
    assert!(intent.exists(), "a live intent was taken as expired");
    assert!(in_flight.exists(), "a live writer's file was swept");
    assert!(!lost.exists(), "a file older than every intent stayed");

    assert_eq!(
        contents(&pond),
        before,
        "the sweep changed what readers see"
    );
    exports_byte_exact(&pond, 2);
}

/// Debian's libfaketime, which `faketime` preloads.
fn libfaketime() -> PathBuf {
    let lib = std::fs::read_dir("/usr/lib")
        .expect("/usr/lib")
        .filter_map(Result::ok)
        .map(|e| e.path().join("faketime").join("libfaketime.so.1"))
        .find(|p| p.exists());
    lib.expect("libfaketime (Debian package faketime; make test installs it)")
}

/// Rotation of a long-lived writer's intent follows the wall clock, which
/// runs on while a laptop sleeps (a monotonic clock stops with it): after
/// two days asleep, the next write puts a fresh intent and the old one
/// goes, so no sweep ever finds the writer's only intent a week old.
#[test]
fn rule50_intent_rotation_survives_a_suspended_laptop() {
    let server_pond = Pond::new();
    let ingest = crate::serve::token(&server_pond, "laptops", &["--scope", "ingest"]);
    // The server's wall clock is read from a file the test moves forward
    // while its monotonic clock keeps the real time: a suspend and resume.
    let clock = server_pond.root.join("faketime");
    std::fs::write(&clock, "+0").expect("clock file");
    let mut command = server_pond.cmd(&["serve", "--listen", "127.0.0.1:0"]);
    command
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME_TIMESTAMP_FILE", &clock)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("DONT_FAKE_MONOTONIC", "1");
    let server = crate::serve::Server::spawn(command);

    let laptop = Pond::new();
    let src = laptop.root.join("src");
    let push = |texts: &[&str]| {
        write_session(
            &src,
            "0a0a0a0a-0000-4000-8000-00000000000a",
            "/work/app",
            texts,
        );
        let out = crate::serve::push_cmd(&laptop, &src, &server, &ingest)
            .output()
            .expect("push");
        assert_success(&out);
    };
    push(&["before the laptop slept"]);
    let first = intents(&server_pond);
    assert_eq!(first.len(), 1, "the server holds one intent while it lives");

    std::fs::write(&clock, "+2d").expect("move the clock");
    push(&["before the laptop slept", "after it woke"]);
    let second = intents(&server_pond);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "the intent was not replaced after two days");
    let shown = server_pond.json(&["show", "0a0a0a0a-0000-4000-8000-00000000000a", "--json"]);
    assert_eq!(
        shown["messages"].as_array().map(Vec::len),
        Some(4),
        "{shown}"
    );
}
