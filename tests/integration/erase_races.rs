//! Rule 44, sharpened by issue 31: no path writes rows of a session erased
//! while it ran. Each writer (the embedding backlog behind `pond model
//! reembed`, a sync, `pond repair`) is stopped just before its write, an
//! erasure lands, and the writer goes on: afterwards no table holds a row
//! of the erased session, and the other session is whole.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Pond, column, open_store};
use crate::serve::write_session;

const ERASED: &str = "e5e5e5e5-0000-4000-8000-00000000000e";
const KEPT: &str = "e6e6e6e6-0000-4000-8000-00000000000f";

fn key(id: &str) -> String {
    format!("claude-code:{id}")
}

/// Runs `command` stopped at `step`, lands `erase` while it waits, lets it
/// go on, and requires it to finish well.
fn erase_during(mut command: Command, step: &str, erase: impl FnOnce()) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command
        .env("POND_PAUSE_AT", step)
        .env("POND_PAUSE_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let paused = dir.path().join(format!("{step}.paused"));
    let start = Instant::now();
    while !paused.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{step}: finished without stopping ({status})");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{step}: never stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    erase();
    std::fs::write(dir.path().join(format!("{step}.go")), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{step}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tables' rows of `session`, by table.
fn rows_of(pond: &Pond, session: &str) -> Vec<(String, usize)> {
    use pond::store::TableKind;
    let (rt, store) = open_store(&pond.store_url, vec![]);
    [
        (TableKind::Raw, "session_id"),
        (TableKind::Messages, "session_id"),
        (TableKind::Search, "session_id"),
        (TableKind::Sessions, "id"),
    ]
    .into_iter()
    .map(|(table, col)| {
        let n = column(&rt, &store, table, col)
            .into_iter()
            .filter(|s| s == session)
            .count();
        (format!("{table:?}"), n)
    })
    .filter(|(_, n)| *n > 0)
    .collect()
}

/// Writes and syncs the session to erase and the one to keep: the store
/// every race here starts from.
fn sync_two_sessions(pond: &Pond) {
    let src = pond.root.join("src");
    write_session(
        &src,
        ERASED,
        "/work/a",
        &["pangolin ledger", "second thought"],
    );
    write_session(&src, KEPT, "/work/b", &["heron notes"]);
    pond.sync("claude-code", &src);
}

fn erase(pond: &Pond) {
    pond.ok(&["erase", &key(ERASED), "--yes"]);
}

fn assert_erased_and_kept(pond: &Pond, what: &str) {
    let left = rows_of(pond, &key(ERASED));
    assert!(
        left.is_empty(),
        "{what} put back rows of the erased session: {left:?}"
    );
    let kept = rows_of(pond, &key(KEPT));
    assert_eq!(
        kept.len(),
        4,
        "{what}: the other session lost rows: {kept:?}"
    );
}

#[test]
fn rule44_the_embedding_backlog_never_puts_back_an_erased_sessions_rows() {
    let mut pond = Pond::new();
    pond.env.push(("POND_EMBED_MODEL".into(), "off".into()));
    sync_two_sessions(&pond);
    let mut reembed = pond.cmd(&["model", "reembed", "--json"]);
    reembed.env(
        "POND_EMBED_MODEL",
        crate::search::model_dir().display().to_string(),
    );
    erase_during(reembed, "backlog-write", || erase(&pond));
    assert_erased_and_kept(&pond, "the backlog");
}

#[test]
fn rule44_a_sync_racing_an_erasure_keeps_nothing_of_it() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    write_session(&src, ERASED, "/work/a", &["pangolin ledger"]);
    write_session(&src, KEPT, "/work/b", &["heron notes"]);
    pond.sync("claude-code", &src);
    // The session grows; the sync that reads it stops before its commit.
    write_session(
        &src,
        ERASED,
        "/work/a",
        &["pangolin ledger", "second thought", "third"],
    );
    let sync = pond.sync_cmd("claude-code", &src);
    erase_during(sync, "sync-commit", || erase(&pond));
    assert_erased_and_kept(&pond, "the sync");
    // And the next sync stores nothing of it either.
    let again = pond.sync("claude-code", &src);
    assert_eq!(again["messages_inserted"], 0, "{again}");
    assert_erased_and_kept(&pond, "the next sync");
}

#[test]
fn rule44_repair_never_restores_an_erased_sessions_rows() {
    let pond = Pond::new();
    sync_two_sessions(&pond);
    // A gap for repair to close: the session's messages are gone, its raw
    // records stay.
    {
        let (rt, store) = open_store(&pond.store_url, vec![]);
        rt.block_on(store.delete_where(
            pond::store::TableKind::Messages,
            &format!("session_id = '{}'", key(ERASED)),
        ))
        .unwrap();
    }
    let repair = pond.cmd(&["repair", "--json"]);
    erase_during(repair, "repair-write", || erase(&pond));
    assert_erased_and_kept(&pond, "repair");
}

#[test]
fn rule44_erase_and_forget_are_ordered_by_the_store_not_by_a_hosts_clock() {
    use pond::store::tables::erasures::{Erasure, ErasureKind};
    let pond = Pond::new();
    sync_two_sessions(&pond);
    // A host whose clock runs a day ahead lifted a tombstone of the session
    // (harmless: it was not erased yet).
    {
        let (rt, store) = open_store(&pond.store_url, vec![]);
        rt.block_on(store.stamp_current_format()).unwrap();
        rt.block_on(store.record_erasure(&Erasure {
            erasure_id: "clock-ahead".into(),
            kind: ErasureKind::Forget,
            session_ids: vec![key(ERASED)],
            selection: "--forget-tombstone".into(),
            host: "clock-ahead".into(),
            user: "someone".into(),
            at: chrono::Utc::now() + chrono::Duration::days(1),
            rows: Default::default(),
        }))
        .unwrap();
        rt.block_on(store.finish_writes());
    }
    // Later in fact, this host erases it: the erasure must hold.
    erase(&pond);
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let erased = rt.block_on(store.erased_sessions()).unwrap();
    assert!(
        erased.contains(&key(ERASED)),
        "a forgetting stamped by a clock a day ahead undid a later erasure"
    );
    assert_erased_and_kept(&pond, "the erasure");
}
