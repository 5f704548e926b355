//! Rule 44, sharpened by issue 31: an erasure reaches every copy pond made,
//! not only the store: the mirror `pond serve` keeps of pushed files, with
//! its cursors, is purged by the server within seconds of an erasure made
//! on any host, and by `pond erase` on the server's own machine; and the
//! mirror is readable by its owner alone.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{Pond, assert_success};
use crate::serve::{Server, token, write_session};

const FIRST: &str = "f1f1f1f1-0000-4000-8000-000000000001";
const SECOND: &str = "f2f2f2f2-0000-4000-8000-000000000002";
const KEPT: &str = "f3f3f3f3-0000-4000-8000-000000000003";

/// Files under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|e| e.path().display().to_string())
        .collect()
}

/// Waits until no file under `dir` holds `needle`; the ones left otherwise.
fn gone_within(dir: &Path, needle: &str, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = files_holding(dir, needle);
        if left.is_empty() || start.elapsed() > limit {
            return left;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn rule44_an_erasure_removes_every_pushed_copy_from_the_server() {
    let server_pond = Pond::new();
    let ingest = token(&server_pond, "laptops", &["--scope", "ingest"]);
    let server = Server::start(&server_pond, "127.0.0.1:0", &[]);

    let laptop = Pond::new();
    let src = laptop.root.join("src");
    write_session(&src, FIRST, "/work/app", &["narwhal-ledger-4410 rotation"]);
    write_session(&src, SECOND, "/work/app", &["okapi-vault-5521 backup"]);
    write_session(&src, KEPT, "/work/app", &["heron-notes-6632 kept"]);
    let out = crate::serve::push_cmd(&laptop, &src, &server, &ingest)
        .output()
        .unwrap();
    assert_success(&out);
    let pushed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pushed["files_sent"].as_u64().unwrap() >= 3, "{pushed}");
    let state = &server_pond.state;
    for words in [
        "narwhal-ledger-4410",
        "okapi-vault-5521",
        "heron-notes-6632",
    ] {
        assert!(
            !files_holding(state, words).is_empty(),
            "the mirror lacks {words}"
        );
    }

    // Owner-only: every file and directory of the spool.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let spool = state.join("pond/ingest");
        for entry in walkdir::WalkDir::new(&spool).min_depth(1) {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.path().display());
        }
    }

    // Erased on the server's own machine: `pond erase` purges the spool.
    server_pond.ok(&["erase", &format!("claude-code:{FIRST}"), "--now", "--yes"]);
    let left = files_holding(state, "narwhal-ledger-4410");
    assert!(
        left.is_empty(),
        "pushed copies left after erase --now: {left:?}"
    );

    // Erased from another host that shares only the store: the running
    // server notices the tombstone and purges its own spool.
    let elsewhere = Pond::remote(&server_pond.store_url, vec![]);
    elsewhere.ok(&["erase", &format!("claude-code:{SECOND}"), "--yes"]);
    let left = gone_within(state, "okapi-vault-5521", Duration::from_secs(30));
    assert!(left.is_empty(), "the server kept pushed copies: {left:?}");

    // What was not erased stays, on disk and in the store.
    assert!(!files_holding(state, "heron-notes-6632").is_empty());
    assert_eq!(
        server_pond.session_ids(),
        vec![format!("claude-code:{KEPT}")]
    );
    drop(server);
}

#[test]
fn rule44_erasing_a_session_finds_the_copies_its_resumed_session_holds() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    write_session(&src, FIRST, "/work/app", &["narwhal-ledger-4410 rotation"]);
    // Claude Code resumes a session in a new file that starts with copies
    // of the earlier records (their uuids kept), then goes on.
    let project = src.join("-work-app");
    let earlier = std::fs::read_to_string(project.join(format!("{FIRST}.jsonl"))).unwrap();
    let mut resumed = earlier.replace(FIRST, SECOND);
    resumed.push_str(
        &serde_json::json!({
            "type": "user", "uuid": "f2f2f2f2-new-0", "sessionId": SECOND,
            "timestamp": "2026-03-05T10:00:00Z", "cwd": "/work/app",
            "message": {"role": "user", "content": "carry on"},
        })
        .to_string(),
    );
    resumed.push('\n');
    std::fs::write(project.join(format!("{SECOND}.jsonl")), resumed).unwrap();
    write_session(&src, KEPT, "/work/app", &["heron-notes-6632 kept"]);
    pond.sync("claude-code", &src);

    let (first, second) = (
        format!("claude-code:{FIRST}"),
        format!("claude-code:{SECOND}"),
    );
    let planned = pond.json(&["erase", &first, "--dry-run", "--json"]);
    assert_eq!(
        planned["plan"]["copies_in"],
        serde_json::json!([second]),
        "{planned}"
    );

    let refused = pond.output(&["erase", &first, "--yes"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "erased the original and left its copies"
    );
    assert!(
        stderr.contains(&second),
        "the refusal does not name the copy: {stderr}"
    );
    assert_eq!(
        pond.session_ids().len(),
        3,
        "a refused erasure changed the store"
    );

    pond.ok(&["erase", &first, &second, "--yes"]);
    assert_eq!(pond.session_ids(), vec![format!("claude-code:{KEPT}")]);
}
