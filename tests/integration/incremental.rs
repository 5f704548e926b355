//! Rules 3–5: reading only what changed, partial lines, rewritten files.

use std::io::Write;

use crate::harness::{Pond, assert_same_tree, count, fixtures};

/// A fresh pond and the lines of a real 438-line Claude Code session: what
/// each test here cuts its source file from.
fn pond_and_lines() -> (Pond, Vec<Vec<u8>>) {
    let all = std::fs::read(
        fixtures("claude-code").join("sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"),
    )
    .expect("fixture");
    let lines: Vec<Vec<u8>> = all
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    (Pond::new(), lines)
}

const NAME: &str = "proj/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl";

/// Writes the session file holding `content` under `ROOT/src` and syncs it
/// once: each test's first run. Returns the folder and that run's report.
fn sync_first(pond: &Pond, content: &[u8]) -> (std::path::PathBuf, serde_json::Value) {
    let src = pond.root.join("src");
    std::fs::create_dir_all(src.join("proj")).unwrap();
    std::fs::write(src.join(NAME), content).unwrap();
    let report = pond.sync("claude-code", &src);
    (src, report)
}

/// Appends `bytes` to the session file and syncs: how a session grows
/// between two runs.
fn append_and_sync(pond: &Pond, src: &std::path::Path, bytes: &[u8]) -> serde_json::Value {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(src.join(NAME))
        .unwrap();
    f.write_all(bytes).unwrap();
    pond.sync("claude-code", src)
}

fn session_messages(pond: &Pond) -> u64 {
    let s = pond.json(&["sessions", "--json"]);
    s[0]["messages"].as_u64().unwrap()
}

fn export_matches(pond: &Pond, src: &std::path::Path) {
    let out = pond.root.join(format!("out-{}", rand_suffix()));
    pond.export_all(&out);
    assert_same_tree(src, &out);
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn rule3_appended_records_are_inserted_exactly_once() {
    let (pond, all_lines) = pond_and_lines();
    let (src, first) = sync_first(&pond, &all_lines[..100].concat());
    assert_eq!(count(&first, "records_inserted"), 100);
    let after_first = session_messages(&pond);

    let second = append_and_sync(&pond, &src, &all_lines[100..].concat());
    assert_eq!(
        count(&second, "records_inserted"),
        (all_lines.len() - 100) as u64,
        "{second}"
    );
    assert_eq!(count(&second, "files_rewritten"), 0);
    assert_eq!(
        session_messages(&pond),
        after_first + count(&second, "messages_inserted"),
        "message count follows the inserts"
    );
    // Reading from the offset must equal reading the whole file at once.
    let whole = Pond::new();
    sync_first(&whole, &all_lines.concat());
    assert_eq!(session_messages(&pond), session_messages(&whole));
    export_matches(&pond, &src);
}

#[test]
fn rule4_partial_last_line_is_ingested_once_after_completion() {
    let (pond, all_lines) = pond_and_lines();
    let eleventh = &all_lines[10];
    let (head, rest) = eleventh.split_at(eleventh.len() / 2);
    let (src, first) = sync_first(&pond, &[all_lines[..10].concat(), head.to_vec()].concat());
    assert_eq!(count(&first, "records_inserted"), 10, "{first}");
    assert_eq!(
        count(&first, "unparsed_records"),
        0,
        "a partial line is not an error"
    );
    let again = pond.sync("claude-code", &src);
    assert_eq!(count(&again, "records_inserted"), 0);

    let completed = append_and_sync(&pond, &src, rest);
    assert_eq!(count(&completed, "records_inserted"), 1, "{completed}");
    export_matches(&pond, &src);
}

#[test]
fn rule4_complete_line_without_newline_is_kept_and_continues_exactly() {
    let (pond, all_lines) = pond_and_lines();
    let mut content = all_lines[..10].concat();
    content.pop(); // the tenth record, complete but unterminated
    let (src, first) = sync_first(&pond, &content);
    assert_eq!(count(&first, "records_inserted"), 10);
    export_matches(&pond, &src);

    let closing = [b"\n".as_slice(), all_lines[10].as_slice()].concat();
    let second = append_and_sync(&pond, &src, &closing);
    // The newline that closes line 10 is kept as its own record, so no byte moves.
    assert_eq!(count(&second, "records_inserted"), 2, "{second}");
    assert_eq!(count(&second, "messages_inserted"), 1, "{second}");
    export_matches(&pond, &src);
}

#[test]
fn rule5_truncated_or_rewritten_file_is_reread_without_duplicates() {
    let (pond, all_lines) = pond_and_lines();
    let (src, _) = sync_first(&pond, &all_lines[..80].concat());
    let before = session_messages(&pond);

    // Truncated to a prefix: nothing new to insert, export follows the file.
    std::fs::write(src.join(NAME), all_lines[..30].concat()).unwrap();
    let truncated = pond.sync("claude-code", &src);
    assert_eq!(count(&truncated, "files_rewritten"), 1, "{truncated}");
    assert_eq!(count(&truncated, "messages_inserted"), 0, "{truncated}");
    assert_eq!(
        session_messages(&pond),
        before,
        "messages survive a truncation"
    );
    export_matches(&pond, &src);

    // Rewritten with some records dropped and others added.
    let rewritten = [all_lines[..20].concat(), all_lines[90..120].concat()].concat();
    std::fs::write(src.join(NAME), &rewritten).unwrap();
    let third = pond.sync("claude-code", &src);
    assert_eq!(count(&third, "files_rewritten"), 1);
    assert_eq!(
        count(&third, "messages_inserted"),
        session_messages(&pond) - before,
        "{third}"
    );
    export_matches(&pond, &src);

    // Appending after a rewrite resumes in the new generation.
    let fourth = append_and_sync(&pond, &src, &all_lines[120..130].concat());
    assert_eq!(count(&fourth, "records_inserted"), 10);
    assert_eq!(count(&fourth, "files_rewritten"), 0);
    export_matches(&pond, &src);
}

#[test]
fn rule2_lost_cursors_are_rebuilt_from_the_store_without_duplicates() {
    let (pond, all_lines) = pond_and_lines();
    let (src, _) = sync_first(&pond, &all_lines[..200].concat());
    std::fs::remove_dir_all(&pond.state).unwrap();

    let after = append_and_sync(&pond, &src, &all_lines[200..210].concat());
    assert_eq!(count(&after, "records_inserted"), 10, "{after}");
    export_matches(&pond, &src);
}
