//! Rules 3, 11, 12 and 39 at their edges: commits that land in part, stores
//! that already hold such gaps, same-size rewrites of documents, stores made
//! before a table existed, and sessions updated by racing writers.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Pond, copy_fixture, count, fixtures};

const CLAUDE_SESSION: &str = "sample-project/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl";
const OTHER_CLAUDE_SESSION: &str = "sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl";

/// A fresh pond that has synced the Claude Code fixture files `rels`, copied
/// to `ROOT/src` so that a test can add to them; returns that folder too.
fn synced_claude_files(rels: &[&str]) -> (Pond, PathBuf) {
    let pond = Pond::new();
    let src = pond.root.join("src");
    for rel in rels {
        copy_fixture("claude-code", rel, &src);
    }
    pond.sync("claude-code", &src);
    (pond, src)
}

/// Makes directories immutable (`chattr +i`, which binds root too) and
/// undoes it when dropped, even when the test fails.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(dirs: Vec<PathBuf>) -> Immutable {
        for dir in &dirs {
            chattr("+i", dir);
        }
        Immutable(dirs)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for dir in &self.0 {
            chattr("-i", dir);
        }
    }
}

fn chattr(flag: &str, dir: &Path) {
    let status = Command::new("chattr")
        .args(["-R", flag])
        .arg(dir)
        .status()
        .expect("chattr runs (e2fsprogs)");
    assert!(status.success(), "chattr {flag} {}", dir.display());
}

fn table_dir(pond: &Pond, table: pond::store::TableKind) -> PathBuf {
    pond.store.join(format!("{}.lance", table.name()))
}

#[test]
fn rule12_a_first_commit_that_lands_in_part_never_hides_its_session() {
    use pond::store::TableKind;
    let (pond, src) = synced_claude_files(&[CLAUDE_SESSION]);
    let before = pond.session_ids();

    // A new session file arrives while every table but the raw records
    // refuses writes (a store failing one table, a retry budget running out).
    copy_fixture("claude-code", OTHER_CLAUDE_SESSION, &src);
    {
        let _refusing = Immutable::set(vec![
            table_dir(&pond, TableKind::Messages),
            table_dir(&pond, TableKind::Sessions),
            table_dir(&pond, TableKind::Search),
        ]);
        let failed = pond
            .sync_cmd("claude-code", &src)
            .output()
            .expect("run pond");
        assert!(!failed.status.success(), "the sync cannot have succeeded");
    }

    let report = pond.sync("claude-code", &src);
    assert_eq!(report["outcome"], "ok", "{report}");
    let after = pond.session_ids();
    assert_eq!(
        after.len(),
        before.len() + 1,
        "the new session is listed: {after:?}"
    );
    assert!(
        after
            .iter()
            .any(|id| id.starts_with("claude-code:fe5e1c67")),
        "{after:?}"
    );
    let shown = pond.json(&["show", "fe5e1c67", "--json"]);
    assert!(
        !shown["messages"].as_array().expect("messages").is_empty(),
        "{shown}"
    );
    pond.assert_exports_back(&src);
}

/// Deletes rows from a local store's table behind pond's back, as a commit
/// that never landed would have left it.
fn delete_rows(pond: &Pond, table: pond::store::TableKind, filter: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let db = lancedb::connect(pond.store.to_str().expect("utf-8"))
            .execute()
            .await
            .expect("connect");
        let t = db.open_table(table.name()).execute().await.expect("open");
        t.delete(filter).await.expect("delete");
    });
}

#[test]
fn rule12_repair_rederives_what_is_missing_beside_stored_raw_records() {
    use pond::store::TableKind;
    let (pond, _src) = synced_claude_files(&[CLAUDE_SESSION, OTHER_CLAUDE_SESSION]);
    let sessions_before = pond.json(&["sessions", "--json"]);
    let status_before = pond.json(&["status", "--json"]);
    let gone = "claude-code:fe5e1c67-53e7-4862-81ae-d0e013e3270b";
    let thinned = "claude-code:1af7fc5e-8455-4414-9ccd-011d40f70b2a";

    // A store written by an earlier pond: one session's derived rows never
    // landed at all, another lost some of its messages.
    delete_rows(&pond, TableKind::Sessions, &format!("id = '{gone}'"));
    delete_rows(
        &pond,
        TableKind::Messages,
        &format!("session_id = '{gone}'"),
    );
    delete_rows(&pond, TableKind::Search, &format!("session_id = '{gone}'"));
    delete_rows(
        &pond,
        TableKind::Messages,
        &format!("session_id = '{thinned}' AND id LIKE '%a%'"),
    );
    assert!(!pond.session_ids().iter().any(|id| id == gone));

    let dry = pond.json(&["repair", "--dry-run", "--json"]);
    assert_eq!(dry["files_with_gaps"], 2, "{dry}");
    assert_eq!(dry["sessions_missing"], 1, "{dry}");
    assert_eq!(
        dry["messages_restored"], 0,
        "a dry run writes nothing: {dry}"
    );
    assert!(!pond.session_ids().iter().any(|id| id == gone));

    let repaired = pond.json(&["repair", "--json"]);
    assert_eq!(repaired["files_with_gaps"], 2, "{repaired}");
    assert_eq!(repaired["sessions_restored"], 1, "{repaired}");
    assert_eq!(
        repaired["messages_restored"], dry["messages_missing"],
        "{repaired}"
    );
    assert!(count(&repaired, "search_rows_restored") > 0, "{repaired}");

    assert_eq!(pond.json(&["sessions", "--json"]), sessions_before);
    let status_after = pond.json(&["status", "--json"]);
    assert_eq!(status_after["messages"], status_before["messages"]);
    assert_eq!(status_after["sessions"], status_before["sessions"]);
    let again = pond.json(&["repair", "--json"]);
    assert_eq!(again["files_with_gaps"], 0, "{again}");
    assert_eq!(again["files_checked"], 2, "{again}");
}

#[test]
fn rule3_a_same_size_rewrite_in_the_middle_of_a_document_is_read_again() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    let rel = "entire/9c_53780d06b7_0.json";
    let file = copy_fixture("gemini", rel, &src);
    pond.sync("gemini-cli", &src);

    // Flip one letter far from both ends: same size, new content.
    let mut bytes = std::fs::read(&file).expect("read");
    assert!(
        bytes.len() > 3 * 4096,
        "the edit must be outside both 4 KiB windows"
    );
    let middle = bytes.len() / 2;
    let at = middle
        + bytes[middle..]
            .iter()
            .position(|b| b.is_ascii_lowercase())
            .expect("a letter past the middle");
    bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, &bytes).expect("rewrite");

    let report = pond.sync("gemini-cli", &src);
    assert_eq!(count(&report, "files_rewritten"), 1, "{report}");
    let out = pond.root.join("out");
    pond.export_all(&out);
    assert_eq!(
        std::fs::read(out.join(rel)).expect("exported"),
        bytes,
        "export gives the file as it is now"
    );
    let again = pond.sync("gemini-cli", &src);
    assert_eq!(count(&again, "records_inserted"), 0, "{again}");
}

/// Every file under `dir` whose name starts with `prefix`.
fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[test]
fn rule11_a_store_made_before_a_table_existed_gets_it_from_the_next_sync() {
    use pond::store::TableKind;
    let (pond, src) = synced_claude_files(&[CLAUDE_SESSION]);

    // Make it a store of the release before the redactions table: that
    // table absent, and the creation markers of its table set in place.
    std::fs::remove_dir_all(table_dir(&pond, TableKind::Redactions)).expect("drop table");
    let markers = files_named(&pond.store, "ready-");
    assert_eq!(markers.len(), 1, "{markers:?}");
    let pond_dir = markers[0].parent().expect("marker dir").to_path_buf();
    for old in files_named(&pond_dir, "") {
        if old.is_file() {
            std::fs::remove_file(old).expect("remove marker");
        }
    }
    std::fs::write(pond_dir.join("init-2"), "1 2025-01-01T00:00:00Z").expect("marker");
    std::fs::write(pond_dir.join("ready-2"), "ready").expect("marker");

    copy_fixture("claude-code", OTHER_CLAUDE_SESSION, &src);
    let report = pond.sync("claude-code", &src);
    assert_eq!(report["outcome"], "ok", "{report}");
    assert!(table_dir(&pond, TableKind::Redactions).is_dir());
    assert_eq!(pond.session_ids().len(), 2);
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["sessions"], 2, "{status}");
}

/// The lines of a real session, cut into `parts` growing prefixes.
fn growing_prefixes(bytes: &[u8], parts: usize) -> Vec<Vec<u8>> {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    (1..=parts)
        .map(|k| lines[..(lines.len() * k).div_ceil(parts)].concat())
        .collect()
}

#[test]
fn rule39_a_late_session_write_never_puts_back_an_older_count() {
    use crate::faultproxy::{Fault, FaultProxy, Rule};
    use pond::store::TableKind;
    let s = crate::harness::services();
    let url = crate::harness::new_s3_archive(&s.s3, "session-race");
    // Two hosts with the same session: `slow` reaches the store through the
    // proxy, `fast` directly.
    let proxy = FaultProxy::start(&s.s3);
    let slow = Pond::remote(&url, crate::harness::s3_env_for(&proxy.endpoint));
    let fast = Pond::remote(&url, s.s3_env());
    let whole = std::fs::read(fixtures("claude-code").join(CLAUDE_SESSION)).expect("fixture");
    let versions = growing_prefixes(&whole, 3);
    let place = |pond: &Pond, bytes: &[u8]| {
        let src = pond.root.join("src");
        let file = src.join(CLAUDE_SESSION);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, bytes).expect("write");
        src
    };
    let sync_as = |pond: &Pond, host: &str, src: &Path| {
        pond.sync_cmd("claude-code", src)
            .env("POND_HOST", host)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let finish = |child: std::process::Child| {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    finish(sync_as(&slow, "slow", &place(&slow, &versions[0])));

    // `slow` has a little more of the session, `fast` much more. The slow
    // host's session write is held at the proxy until the fast host has
    // counted every message and written the session: it arrives last,
    // carrying the count it made before the fast host's messages landed.
    proxy.arm(Rule {
        method: "PUT",
        path_contains: format!("{}.lance/_versions/", TableKind::Sessions.name()),
        fault: Fault::DelayBefore(std::time::Duration::from_secs(20)),
        times: 1,
    });
    let late = sync_as(&slow, "slow", &place(&slow, &versions[1]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while proxy.fired().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow host never wrote its session"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    finish(sync_as(&fast, "fast", &place(&fast, &versions[2])));
    finish(late);

    let sessions = fast.json(&["sessions", "--json"]);
    let shown = fast.json(&["show", "1af7fc5e", "--json"]);
    let stored = shown["messages"].as_array().expect("messages").len() as u64;
    assert_eq!(
        sessions[0]["messages"].as_u64(),
        Some(stored),
        "the session's count is its stored messages': {}",
        sessions[0]
    );
    // It is what one clean sync of the whole file makes.
    let reference = Pond::new();
    let src = place(&reference, &versions[2]);
    reference.sync("claude-code", &src);
    let expected = &reference.json(&["sessions", "--json"])[0];
    for field in ["messages", "started_at", "updated_at"] {
        assert_eq!(sessions[0][field], expected[field], "{field}");
    }
}
