//! Rule 7: one sync per store per host at a time.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use pond::sync::lock::{Acquired, acquire, lock_path};

use crate::harness::{Pond, count, fixtures};

/// The sync lock of `pond`'s store, where the binary takes it: holding it
/// here stands for another sync running.
fn lock_file(pond: &Pond) -> PathBuf {
    let key = pond::store::StoreLocation::parse(pond.store.to_str().unwrap())
        .unwrap()
        .key;
    lock_path(&pond.state.join("pond"), &key)
}

#[test]
fn rule7_a_held_lock_makes_no_wait_skip_and_others_wait() {
    let pond = Pond::new();
    let Acquired::Locked(held) = acquire(&lock_file(&pond), true, |_| {}).unwrap() else {
        panic!("fresh lock must be free");
    };
    let codex = fixtures("codex");
    let codex = codex.to_str().unwrap();

    let busy = pond.output(&["sync", "codex", "--path", codex, "--no-wait", "--json"]);
    assert_eq!(busy.status.code(), Some(75), "busy is exit 75 (rule 57)");
    let skipped: serde_json::Value = serde_json::from_slice(&busy.stdout).unwrap();
    assert_eq!(skipped["outcome"], "skipped", "{skipped}");
    assert_eq!(count(&skipped, "records_inserted"), 0);
    assert!(
        skipped["error"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {}", std::process::id()))
    );

    let mut waiting = pond
        .cmd(&["sync", "codex", "--path", codex, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = waiting.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the waiting sync says so");
    assert!(
        line.contains("waiting") && line.contains(&std::process::id().to_string()),
        "{line}"
    );
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "it must wait while the lock is held"
    );

    drop(held);
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["waited_for_lock"], true);
    assert!(count(&report, "records_inserted") > 0);
}

#[test]
fn rule7_status_names_the_lock_holder() {
    let pond = Pond::new();
    let Acquired::Locked(_held) = acquire(&lock_file(&pond), true, |_| {}).unwrap() else {
        panic!("fresh lock must be free");
    };
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["lock_holder"]["pid"], std::process::id());
}
