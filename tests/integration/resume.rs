//! Rule 34: a session resumes into its own client byte for byte, and into
//! the other client (Claude Code ↔ Codex) with its conversation intact.

use serde_json::Value;

use crate::harness::{Pond, fixtures, tree};

/// What a conversion must keep, part by part: who said it, what kind of
/// part it is, its text and the call it belongs to.
fn conversation(pond: &Pond, session: &str) -> Vec<(String, String, String, String)> {
    let t = pond.json(&["show", session, "--json"]);
    let mut out = Vec::new();
    for m in t["messages"].as_array().unwrap() {
        let role = m["role"].as_str().unwrap();
        for p in m["parts"].as_array().unwrap() {
            let kind = p["kind"].as_str().unwrap().to_string();
            let speaker = match kind.as_str() {
                "tool_result" => "tool",
                "tool_call" | "thinking" => "assistant",
                "text" if role == "tool" => "user",
                "text" => role,
                // Images and client-specific blocks have no form in the other client.
                _ => continue,
            };
            out.push((
                speaker.to_string(),
                kind,
                p["text"].as_str().unwrap_or("").to_string(),
                p["tool_call_id"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

fn resume(pond: &Pond, session: &str, to: &str, out: &std::path::Path) -> Value {
    pond.json(&[
        "resume",
        session,
        "--to",
        to,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ])
}

#[test]
fn rule34_resuming_into_the_same_client_is_byte_exact_with_children_and_never_overwrites() {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures("claude-code").join("subagent"));
    pond.sync("claude-code", &src);

    let out = pond.root.join("resumed");
    let parent = "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f";
    let done = resume(&pond, parent, "claude-code", &out);
    assert_eq!(done["byte_exact"], true, "{done}");
    let (source, written) = (tree(&src), tree(&out));
    let jsonl: Vec<&String> = source.keys().filter(|k| k.ends_with(".jsonl")).collect();
    assert_eq!(jsonl.len(), 2, "the session and its subagent");
    for rel in jsonl {
        assert_eq!(written.get(rel), source.get(rel), "{rel}");
    }

    let again = pond.output(&[
        "resume",
        parent,
        "--to",
        "claude-code",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
}

#[test]
fn rule34_claude_code_to_codex_and_back_keeps_the_conversation() {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures("claude-code").join("sample-project"));
    pond.sync("claude-code", &src);
    let original = "1af7fc5e-8455-4414-9ccd-011d40f70b2a";
    let before = conversation(&pond, original);
    assert!(
        before.iter().any(|p| p.1 == "tool_call") && before.iter().any(|p| p.1 == "tool_result")
    );

    let as_codex = pond.root.join("codex");
    let done = resume(&pond, original, "codex", &as_codex);
    assert_eq!(done["byte_exact"], false);
    let codex_id = done["session_id"].as_str().unwrap().to_string();
    let synced = pond.sync("codex", &as_codex);
    assert_eq!(synced["unknown_records"], 0, "{synced}");
    assert_eq!(
        conversation(&pond, &codex_id),
        before,
        "claude-code → codex"
    );

    let as_claude = pond.root.join("claude");
    let back = resume(&pond, &codex_id, "claude-code", &as_claude);
    let back_id = back["session_id"].as_str().unwrap().to_string();
    pond.sync("claude-code", &as_claude);
    assert_eq!(conversation(&pond, &back_id), before, "codex → claude-code");
}
