//! Tests of the Gemini CLI adapter, on the fixtures and on synthetic files.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::clients::testing::{message_ids, role_counts, roles};
use crate::digest::sha256_hex;
use crate::translate::{Translation, translate_bytes};

fn root() -> PathBuf {
    crate::clients::testing::fixtures("gemini")
}

fn file(rel: &str) -> SourceFile {
    Gemini
        .discover(&root())
        .files
        .into_iter()
        .find(|f| f.rel_path == rel)
        .unwrap_or_else(|| panic!("{rel} not discovered"))
}

fn read(rel: &str) -> Translation {
    let f = file(rel);
    let bytes = std::fs::read(&f.path).expect("fixture");
    translate_bytes(&Gemini, &f, &bytes)
}

/// Every tool result answers a call of the same session.
fn assert_paired(t: &Translation) {
    let calls: HashSet<(&str, &str)> = t
        .messages
        .iter()
        .flat_map(|m| m.parts.iter().map(move |p| (m, p)))
        .filter(|(_, p)| p.kind == PartKind::ToolCall)
        .filter_map(|(m, p)| Some((m.session_id.as_str(), p.tool_call_id.as_deref()?)))
        .collect();
    for m in &t.messages {
        for p in m.parts.iter().filter(|p| p.kind == PartKind::ToolResult) {
            let id = p.tool_call_id.as_deref().expect("result names its call");
            assert!(
                calls.contains(&(m.session_id.as_str(), id)),
                "{id} unpaired"
            );
        }
    }
}

const FIXTURES: &[(&str, &str, usize)] = &[
    ("agent-sessions-jsonl_v040.jsonl", "gemini_stage0_jsonl", 3),
    (
        "agent-sessions-small.json",
        "session-2026-01-16T18-34-3739ef95",
        2,
    ),
    ("agentsview-standard_session.json", "sess-uuid-1", 4),
    ("agentsview-thinking_only.json", "sess-uuid-thinking", 2),
    ("agentsview-tool_calls.json", "sess-uuid-2", 2),
    (
        "entire/12_cbfeaa512b_0.json",
        "faff42ab-6ea5-4f78-b8c4-f7dd6272af08",
        6,
    ),
    (
        "entire/9c_53780d06b7_0.json",
        "f7633853-6663-4dbb-bbf4-6159afa29df8",
        8,
    ),
    (
        "entire/c9_45f262e88d_0.json",
        "f7633853-6663-4dbb-bbf4-6159afa29df8",
        3,
    ),
    (
        "entire/ec_38b74f08e3_2.json",
        "29eb990e-c773-4302-a4e7-317f0af0001f",
        1,
    ),
    (
        "m-gemini/session-2025-12-24T06-27-36e8d28f.json",
        "36e8d28f-d561-4a3d-8823-4964a2919723",
        41,
    ),
    (
        "m-gemini/session-2025-12-28T04-02-3d0463e2.json",
        "3d0463e2-5112-49de-9fde-a36e17975bd8",
        9,
    ),
    (
        "m-gemini/session-2025-12-30T01-16-3f9ce747.json",
        "3f9ce747-7498-479f-9b91-936cc1549014",
        13,
    ),
    (
        "m-gemini/session-2025-12-30T22-54-d2230b34.json",
        "d2230b34-e170-4c53-976d-5fec7ff9a796",
        20,
    ),
    (
        "m-gemini/session-2026-01-01T06-04-e0af73a9.json",
        "e0af73a9-cb76-4a45-b6ad-deffb324d708",
        7,
    ),
];

#[test]
fn every_fixture_is_discovered_with_its_layout() {
    let found = Gemini.discover(&root());
    assert!(found.problems.is_empty());
    let rels: Vec<&str> = found.files.iter().map(|f| f.rel_path.as_str()).collect();
    assert_eq!(rels.len(), FIXTURES.len());
    for (rel, _, _) in FIXTURES {
        assert!(rels.contains(rel), "{rel}");
        let expected = if rel.ends_with(".jsonl") {
            Layout::Jsonl
        } else {
            Layout::Document
        };
        assert_eq!(file(rel).layout, expected, "{rel}");
    }
}

#[test]
fn sessions_and_messages_are_counted() {
    for (rel, session, count) in FIXTURES {
        let t = read(rel);
        assert_eq!(t.session_id, *session, "{rel}");
        assert_eq!(t.messages.len(), *count, "{rel}");
        assert_eq!(t.unknown_records + t.unparsed_records, 0, "{rel}");
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()), "{rel}");
        assert!(t.messages.iter().all(|m| m.session_id == *session), "{rel}");
        let facts = &t.facts[0].1;
        assert!(
            facts.first_seen.is_some() && facts.last_seen.is_some(),
            "{rel}"
        );
        // No projects.json beside the fixtures: the project stays unknown.
        assert_eq!(facts.project, None, "{rel}");
        assert_paired(&t);
    }
}

#[test]
fn real_session_roles_parts_and_facts() {
    let t = read("m-gemini/session-2025-12-24T06-27-36e8d28f.json");
    assert_eq!(
        role_counts(&t, [Role::User, Role::Assistant, Role::System]),
        [4, 30, 7]
    );
    let parts = |k: PartKind| {
        t.messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == k)
            .count()
    };
    assert_eq!(parts(PartKind::ToolCall), 28);
    assert_eq!(parts(PartKind::ToolResult), 28);
    assert!(parts(PartKind::Thinking) > 0);
    let facts = &t.facts[0].1;
    assert_eq!(
        facts.title.as_deref(),
        Some("Set up Gemini-Playground and its context.")
    );
    assert!(facts.model.is_some());
    // Message ids are the source's, under the session.
    assert!(
        t.messages[0]
            .id
            .starts_with("36e8d28f-d561-4a3d-8823-4964a2919723/")
    );
    let seqs: Vec<u64> = t.messages.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn cancelled_tool_call_is_an_error_result() {
    let t = read("m-gemini/session-2025-12-30T01-16-3f9ce747.json");
    let errors: Vec<&Part> = t
        .messages
        .iter()
        .flat_map(|m| &m.parts)
        .filter(|p| p.kind == PartKind::ToolResult && p.is_error)
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .text
            .as_deref()
            .is_some_and(|t| t.contains("Operation Cancelled"))
    );
}

#[test]
fn jsonl_tool_result_text_comes_from_function_response() {
    let t = read("agent-sessions-jsonl_v040.jsonl");
    let result = t
        .messages
        .iter()
        .flat_map(|m| &m.parts)
        .find(|p| p.kind == PartKind::ToolResult)
        .expect("result");
    assert_eq!(
        result.tool_call_id.as_deref(),
        Some("run_shell_command_stage0")
    );
    assert!(
        result
            .text
            .as_deref()
            .is_some_and(|t| t.contains("README.md"))
    );
    assert_eq!(roles(&t), [Role::User, Role::Assistant, Role::Assistant]);
    assert_eq!(
        t.facts[0].1.model.as_deref(),
        Some("gemini-3-flash-preview")
    );
}

#[test]
fn same_bytes_give_same_ids() {
    for (rel, _, _) in FIXTURES {
        assert_eq!(message_ids(&read(rel)), message_ids(&read(rel)), "{rel}");
    }
}

#[test]
fn rewritten_document_keeps_old_ids() {
    // Two real snapshots of one session: the later one holds every earlier
    // id and the message that gained a tool call since.
    let early = read("entire/c9_45f262e88d_0.json");
    let late = read("entire/9c_53780d06b7_0.json");
    let late_ids = message_ids(&late);
    assert!(message_ids(&early).iter().all(|id| late_ids.contains(id)));
    assert!(late.revised.contains(&early.messages[2].id));

    // One message more yields exactly one id more.
    let f = file("entire/9c_53780d06b7_0.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&f.path).unwrap()).unwrap();
    doc["messages"].as_array_mut().unwrap().pop();
    let shorter = serde_json::to_vec_pretty(&doc).unwrap();
    let before = message_ids(&translate_bytes(&Gemini, &f, &shorter));
    assert_eq!(before.len() + 1, late_ids.len());
    assert_eq!(before[..], late_ids[..before.len()]);
}

#[test]
fn jsonl_reappended_message_keeps_last_copy() {
    let f = elsewhere(
        "chats/session-2026-01-01T00-00-abcdef01.jsonl",
        Layout::Jsonl,
    );
    // Shaped like the CLI writes (header, message, re-append, $set, rewind).
    let bytes = br#"{"sessionId":"s1","projectHash":"ab","startTime":"2026-01-01T00:00:00Z","lastUpdated":"2026-01-01T00:00:00Z","kind":"main"}
{"id":"m1","timestamp":"2026-01-01T00:00:01Z","type":"gemini","content":"","toolCalls":[{"id":"c1","name":"ls","args":{},"status":"executing","timestamp":"2026-01-01T00:00:01Z"}]}
{"id":"m1","timestamp":"2026-01-01T00:00:01Z","type":"gemini","content":"","toolCalls":[{"id":"c1","name":"ls","args":{},"status":"error","result":[{"functionResponse":{"id":"c1","name":"ls","response":{"error":"boom"}}}],"timestamp":"2026-01-01T00:00:02Z"}]}
{"$set":{"summary":"Listing","lastUpdated":"2026-01-01T00:00:03Z"}}
{"$rewindTo":"m1"}
"#;
    let t = translate_bytes(&Gemini, &f, bytes);
    assert_eq!(t.session_id, "s1");
    assert_eq!(t.unknown_records, 0);
    assert_eq!(t.messages.len(), 1);
    let parts = &t.messages[0].parts;
    assert_eq!(parts.len(), 2);
    assert!(parts[1].is_error);
    assert_eq!(parts[1].text.as_deref(), Some("boom"));
    assert_eq!(t.facts[0].1.title.as_deref(), Some("Listing"));
}

#[test]
fn subagent_file_names_its_parent() {
    let dir = std::env::temp_dir().join(format!("pond-gemini-sub-{}", std::process::id()));
    let parent = "11111111-2222-4333-8444-555555555555";
    let child = "66666666-7777-4888-9999-000000000000";
    let chats = dir.join("abc").join("chats").join(parent);
    std::fs::create_dir_all(&chats).unwrap();
    std::fs::write(
        chats.join(format!("{child}.jsonl")),
        format!("{{\"sessionId\":\"{child}\",\"projectHash\":\"x\",\"kind\":\"subagent\"}}\n"),
    )
    .unwrap();
    let found = Gemini.discover(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.files.len(), 1);
    let f = &found.files[0];
    assert_eq!(f.parent_hint.as_deref(), Some(parent));
    assert_eq!(f.session_hint.as_deref(), Some(child));
    let t = translate_bytes(
        &Gemini,
        f,
        format!("{{\"sessionId\":\"{child}\",\"projectHash\":\"x\",\"kind\":\"subagent\"}}\n")
            .as_bytes(),
    );
    assert_eq!(t.session_id, child);
    assert_eq!(t.facts[0].1.parent_id.as_deref(), Some(parent));
}

#[test]
fn project_comes_from_marker_or_registry_or_directories() {
    let home = std::env::temp_dir().join(format!("pond-gemini-proj-{}", std::process::id()));
    let tmp = home.join("tmp");
    let session = br#"{"sessionId":"s","projectHash":"h","messages":[]}"#;
    for dir in ["slugged", "registered"] {
        std::fs::create_dir_all(tmp.join(dir).join("chats")).unwrap();
        std::fs::write(tmp.join(dir).join("chats/session-x.json"), session).unwrap();
    }
    std::fs::write(tmp.join("slugged/.project_root"), "/work/marked\n").unwrap();
    std::fs::write(
        home.join("projects.json"),
        r#"{"projects":{"/work/registered":"registered"}}"#,
    )
    .unwrap();
    let found = Gemini.discover(&tmp);
    let projects: HashMap<String, Option<String>> = found
        .files
        .iter()
        .map(|f| {
            let t = translate_bytes(&Gemini, f, session);
            (f.rel_path.clone(), t.facts[0].1.project.clone())
        })
        .collect();
    let _ = std::fs::remove_dir_all(&home);
    assert_eq!(
        projects["slugged/chats/session-x.json"].as_deref(),
        Some("/work/marked")
    );
    assert_eq!(
        projects["registered/chats/session-x.json"].as_deref(),
        Some("/work/registered")
    );

    let hash = sha256_hex(b"/work/dir");
    let doc = format!(
        r#"{{"sessionId":"s","projectHash":"{hash}","directories":["/other","/work/dir"],"messages":[]}}"#
    );
    let f = file("agent-sessions-small.json");
    let t = translate_bytes(&Gemini, &f, doc.as_bytes());
    assert_eq!(t.facts[0].1.project.as_deref(), Some("/work/dir"));
}

#[test]
fn prompt_log_dates_its_sessions_without_messages() {
    let f = elsewhere("abc/logs.json", Layout::Document);
    let bytes = br#"[
  {"sessionId": "a", "messageId": 0, "timestamp": "2025-07-01T10:00:00.000Z", "type": "user", "message": "hi"},
  {"sessionId": "b", "messageId": 0, "timestamp": "2025-07-02T10:00:00.000Z", "type": "user", "message": "yo"},
  {"sessionId": "a", "messageId": 1, "timestamp": "2025-07-01T11:00:00.000Z", "type": "user", "message": "again"}
]"#;
    let t = translate_bytes(&Gemini, &f, bytes);
    assert_eq!(t.session_id, "a");
    assert!(t.messages.is_empty());
    assert_eq!(t.unknown_records, 0);
    assert_eq!(t.facts.len(), 2);
    let a = &t.facts[0].1;
    crate::clients::testing::assert_seen(a, "2025-07-01T10:00:00Z", "2025-07-01T11:00:00Z");
    assert_eq!(t.facts[1].0, "b");
}

#[test]
fn checkpoint_is_a_session_of_its_own() {
    let f = elsewhere("abc/checkpoint-v1.json", Layout::Document);
    let bytes = br#"{"history": [
  {"role": "user", "parts": [{"text": "list files"}]},
  {"role": "model", "parts": [{"text": "thinking", "thought": true}, {"functionCall": {"id": "c1", "name": "ls", "args": {"path": "."}}}]},
  {"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": "ls", "response": {"output": "a.txt"}}}]}
]}"#;
    let t = translate_bytes(&Gemini, &f, bytes);
    assert_eq!(t.session_id, "gemini-checkpoint/abc/v1");
    assert_eq!(roles(&t), [Role::User, Role::Assistant, Role::Tool]);
    assert_eq!(t.messages[1].parts[0].kind, PartKind::Thinking);
    assert_eq!(t.facts[0].1.title.as_deref(), Some("checkpoint: v1"));
    assert_paired(&t);
    // The legacy form is a bare array.
    let legacy = br#"[{"role": "user", "parts": [{"text": "hi"}]}]"#;
    assert_eq!(translate_bytes(&Gemini, &f, legacy).messages.len(), 1);
}

#[test]
fn truncated_and_garbage_input_do_not_panic() {
    for (rel, _, _) in FIXTURES {
        let f = file(rel);
        let bytes = std::fs::read(&f.path).unwrap();
        for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let _ = translate_bytes(&Gemini, &f, &bytes[..cut]);
        }
        let _ = translate_bytes(&Gemini, &f, b"\x00\xff{not json]]\n{\"id\":7}\n[1,2]");
    }
    for rec in [
        serde_json::json!(null),
        serde_json::json!({"messages": "x"}),
        serde_json::json!({"messages": [1, {"type": 3}, {"id": "a", "type": "gemini", "toolCalls": [1, {"result": 2}], "thoughts": [null]}]}),
        serde_json::json!({"$set": {"messages": [{"id": 1}], "directories": 5}}),
    ] {
        let f = file("agent-sessions-small.json");
        let _ = translate_bytes(&Gemini, &f, rec.to_string().as_bytes());
    }
}

/// A file at `rel` under a root that does not exist: for tests that hand
/// the adapter bytes of their own.
fn elsewhere(rel: &str, layout: Layout) -> SourceFile {
    SourceFile::new(Path::new("/nowhere").join(rel), rel, layout)
}
