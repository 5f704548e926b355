//! Rule 1 (lossless) and rule 2 (idempotent) on every real fixture file.

use crate::harness::{Pond, assert_resync_adds_nothing, count, fixtures, item_where};

fn roundtrip(client: &str) {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures(client));

    let first = pond.sync(client, &src);
    assert_eq!(first["outcome"], "ok", "{first}");
    assert_eq!(count(&first, "unparsed_records"), 0, "{first}");
    // Every record type in the real fixtures is known to its adapter.
    assert_eq!(count(&first, "unknown_records"), 0, "{first}");
    assert!(count(&first, "records_inserted") > 0);
    assert!(count(&first, "messages_inserted") > 0);

    pond.assert_exports_back(&src);

    // Rule 2: a second sync with nothing new inserts nothing and commits nothing.
    assert_resync_adds_nothing(&pond, client, &src, &["files_changed"]);
}

#[test]
fn rule1_every_claude_code_fixture_exports_byte_exact() {
    roundtrip("claude-code");
}

#[test]
fn rule1_every_codex_fixture_exports_byte_exact() {
    roundtrip("codex");
}

#[test]
fn rule2_same_sessions_from_a_second_host_add_no_messages() {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures("claude-code"));
    let first = pond.sync("claude-code", &src);
    let sessions_before = pond.session_ids().len();

    let other = pond
        .sync_cmd("claude-code", &src)
        .env("POND_HOST", "second-host")
        .output()
        .expect("run");
    assert!(other.status.success());
    let other: serde_json::Value = serde_json::from_slice(&other.stdout).expect("json");
    assert_eq!(count(&other, "messages_inserted"), 0, "{other}");
    assert_eq!(count(&other, "sessions_inserted"), 0, "{other}");
    assert_eq!(pond.session_ids().len(), sessions_before);
    assert!(count(&first, "messages_inserted") > 0);
}

#[test]
fn subagents_become_child_sessions_in_both_layouts() {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures("claude-code"));
    pond.sync("claude-code", &src);
    let sessions = pond.json(&["sessions", "--limit", "1000", "--json"]);
    let parent_of = |id: &str| item_where(&sessions, "id", id)["parent_id"].clone();
    // New layout: <session>/subagents/agent-<id>.jsonl
    assert_eq!(
        parent_of("claude-code:agent-a0ad4f44468bdf20d"),
        "claude-code:0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f"
    );
    // Subagent file beside the project's sessions, parent named in its records.
    assert_eq!(
        parent_of("claude-code:agent-a4becfc08a776e405"),
        "claude-code:4530697c-5596-4c05-851f-01d49eb6fd68"
    );
}
