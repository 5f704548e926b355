//! Client format variants not covered by a fixture file of their own.

use crate::harness::{Pond, count, field_of_each, fixtures};

#[test]
fn codex_pre_envelope_rollout_is_understood() {
    let pond = Pond::new();
    let src = pond.root.join("src/2025/05/01");
    std::fs::create_dir_all(&src).unwrap();
    let name = "rollout-2025-05-01T10-00-00-5f0c7a0e-1111-4222-8333-944455556666.jsonl";
    std::fs::write(
        src.join(name),
        concat!(
            r#"{"id":"5f0c7a0e-1111-4222-8333-944455556666","timestamp":"2025-05-01T10:00:00.000Z","instructions":null}"#, "\n",
            r#"{"record_type":"state"}"#, "\n",
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":"list the files"}]}"#, "\n",
            r#"{"type":"function_call","name":"shell","arguments":"{\"command\":[\"ls\"]}","call_id":"c1"}"#, "\n",
            r#"{"type":"function_call_output","call_id":"c1","output":"{\"output\":\"a.txt\\n\",\"metadata\":{\"exit_code\":0}}"}"#, "\n",
            r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"There is a.txt."}]}"#, "\n",
        ),
    )
    .unwrap();
    let root = pond.root.join("src");
    let report = pond.sync("codex", &root);
    assert_eq!(report["outcome"], "ok", "{report}");
    assert_eq!(count(&report, "messages_inserted"), 4);
    assert_eq!(count(&report, "unknown_records"), 0);

    let shown = pond.json(&["show", "5f0c7a0e-1111-4222-8333-944455556666", "--json"]);
    let roles = field_of_each(&shown["messages"], "role");
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"]);
    assert_eq!(shown["messages"][1]["parts"][0]["tool_name"], "shell");

    pond.assert_exports_back(&root);
}

#[test]
fn claude_code_old_layout_subagent_beside_sessions_is_a_child() {
    let pond = Pond::new();
    let project = pond.root.join("src/E--AI-TestProject-v2");
    std::fs::create_dir_all(&project).unwrap();
    let original = fixtures("claude-code")
        .join("cc-archives/E--AI-TestProject-v2/subagents/agent-a4becfc08a776e405.jsonl");
    std::fs::copy(original, project.join("agent-a4becfc08a776e405.jsonl")).unwrap();
    pond.sync("claude-code", &pond.root.join("src"));
    let sessions = pond.json(&["sessions", "--json"]);
    assert_eq!(sessions[0]["id"], "claude-code:agent-a4becfc08a776e405");
    assert_eq!(
        sessions[0]["parent_id"],
        "claude-code:4530697c-5596-4c05-851f-01d49eb6fd68"
    );
}

#[test]
fn claude_code_config_dir_overrides_the_default_root() {
    let pond = Pond::new();
    let config = pond.root.join("claude-config");
    crate::harness::copy_dir(
        &fixtures("claude-code").join("sample-project"),
        &config.join("projects/sample-project"),
    );
    let report: serde_json::Value = serde_json::from_slice(
        &pond
            .cmd(&["sync", "claude-code", "--json"])
            .env("CLAUDE_CONFIG_DIR", &config)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(count(&report, "files_scanned"), 2, "{report}");
    assert_eq!(count(&report, "sessions_inserted"), 2);
}
