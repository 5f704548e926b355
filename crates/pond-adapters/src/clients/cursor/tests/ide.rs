//! The IDE database, on a synthetic `state.vscdb`.

use super::*;
use crate::clients::testing::message_ids;

const C1: &str = "c0000000-0000-4000-8000-000000000001";
const C2: &str = "c0000000-0000-4000-8000-000000000002";
const C3: &str = "c0000000-0000-4000-8000-000000000003";

/// SYNTHETIC IDE `state.vscdb` written for this test from the layout
/// other tools describe (no real database is available): a split-storage
/// composer with a tool call, an inline-conversation composer, a
/// sub-composer, the old chat panel, a workspace composer list, and keys
/// that must not be read.
fn synthetic_vscdb(dir: &Path, extra_bubble: bool) -> PathBuf {
    let ws = dir.join("workspaceStorage").join("0123abcd");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(
        ws.join("workspace.json"),
        r#"{"folder":"file:///home/dev/my%20proj"}"#,
    )
    .unwrap();
    let mut headers = vec![
        json!({"bubbleId": "b1", "type": 1}),
        json!({"bubbleId": "b2", "type": 2}),
        json!({"bubbleId": "b3", "type": 2}),
    ];
    if extra_bubble {
        headers.push(json!({"bubbleId": "b5", "type": 1}));
    }
    let mut kv = vec![
        (
            format!("composerData:{C1}"),
            json!({
                "_v": 10, "composerId": C1, "name": "Fix build",
                "createdAt": 1_750_000_000_000i64, "lastUpdatedAt": 1_750_000_600_000i64,
                "modelConfig": {"modelName": "claude-4-sonnet", "maxMode": false},
                "createdOnBranch": "main",
                "fullConversationHeadersOnly": headers,
                "subComposerIds": [C3],
                "originalFileStates": {"file:///x": {"content": "large"}},
                "blobEncryptionKey": "SECRET-KEY"
            })
            .to_string(),
        ),
        (
            format!("bubbleId:{C1}:b1"),
            json!({"_v": 3, "type": 1, "bubbleId": "b1", "text": "Why does the build fail?",
                   "createdAt": "2025-06-15T15:06:40.000Z"})
            .to_string(),
        ),
        (
            format!("bubbleId:{C1}:b2"),
            json!({"_v": 3, "type": 2, "bubbleId": "b2", "text": "",
                   "thinking": {"text": "Check the manifest."},
                   "toolFormerData": {"name": "read_file", "tool": 5,
                       "rawArgs": "{\"path\":\"Cargo.toml\"}",
                       "result": "{\"contents\":\"[package]\"}",
                       "status": "completed", "toolCallId": "toolu_1"},
                   "createdAt": "2025-06-15T15:06:45.000Z"})
            .to_string(),
        ),
        (
            format!("bubbleId:{C1}:b3"),
            json!({"_v": 3, "type": 2, "bubbleId": "b3", "text": "A feature flag is missing.",
                   "createdAt": "2025-06-15T15:06:50.000Z"})
            .to_string(),
        ),
        (format!("bubbleId:{C1}:b9"), "null".to_string()),
        (
            format!("composerData:{C2}"),
            json!({"composerId": C2, "name": "Inline", "createdAt": 1_700_000_000_000i64,
            "conversation": [
                {"type": 1, "bubbleId": "x1", "text": "hi"},
                {"type": 2, "bubbleId": "x2", "text": "hello"}
            ]})
            .to_string(),
        ),
        (
            format!("composerData:{C3}"),
            json!({"composerId": C3, "name": "Sub", "createdAt": 1_750_000_100_000i64,
                   "fullConversationHeadersOnly": [{"bubbleId": "b4", "type": 1}]})
            .to_string(),
        ),
        (
            format!("bubbleId:{C3}:b4"),
            json!({"type": 1, "bubbleId": "b4", "text": "subtask"}).to_string(),
        ),
        (
            format!("checkpointId:{C1}:b1"),
            json!({"note": "NOT-READ"}).to_string(),
        ),
    ];
    if extra_bubble {
        kv.push((
            format!("bubbleId:{C1}:b5"),
            json!({"type": 1, "bubbleId": "b5", "text": "thanks"}).to_string(),
        ));
    }
    let items = [
        ("cursorAuth/accessToken", "SECRET-TOKEN".to_string()),
        (
            "composer.composerData",
            json!({"allComposers": [{"composerId": C1, "name": "Fix build",
                                     "createdAt": 1_750_000_000_000i64}]})
            .to_string(),
        ),
        (
            "workbench.panel.aichat.view.aichat.chatdata",
            json!({"tabs": [{"tabId": "t1", "chatTitle": "Panel chat",
                             "lastSendTime": 1_690_000_000_000i64,
                             "bubbles": [{"type": "user", "id": "u1", "text": "old question"},
                                         {"type": "ai", "id": "a1", "text": "old answer"}]}]})
            .to_string(),
        ),
    ];
    let path = ws.join("state.vscdb");
    let conn = fresh_db(
        &path,
        "CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);
         CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);",
    );
    // Cursor stores values as blobs of JSON text.
    insert_pairs(
        &conn,
        "cursorDiskKV",
        kv.iter().map(|(k, v)| (k, v.as_bytes())),
    );
    insert_pairs(&conn, "ItemTable", items);
    path
}

#[test]
fn ide_database_yields_composers_bubbles_and_old_chats() {
    let dir = tempfile::tempdir().unwrap();
    let path = synthetic_vscdb(dir.path(), false);
    let rows = Cursor.read_database(&db_file(&path)).unwrap();
    let text = String::from_utf8(json_lines(&rows)).unwrap();
    for never in [
        "SECRET-TOKEN",
        "SECRET-KEY",
        "NOT-READ",
        "originalFileStates\":{",
    ] {
        assert!(!text.contains(never), "{never} was read");
    }
    let t = read_db(&db_file(&path));
    assert_eq!(t.session_id, C1);
    assert_eq!(t.unknown_records, 0);
    let per = |s: &str| -> Vec<Role> {
        t.messages
            .iter()
            .filter(|m| m.session_id == s)
            .map(|m| m.role)
            .collect()
    };
    assert_eq!(
        per(C1),
        vec![Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    assert_eq!(per(C2), vec![Role::User, Role::Assistant]);
    assert_eq!(per(C3), vec![Role::User]);
    assert_eq!(per("t1"), vec![Role::User, Role::Assistant]);
    assert_eq!(t.messages.len(), 9);
    assert_results_paired(&t);

    let call = &t.messages[1];
    assert_eq!(call.id, format!("{C1}/b2"));
    assert_eq!(call.parts[0].kind, PartKind::Thinking);
    assert_eq!(call.parts[1].tool_name.as_deref(), Some("read_file"));
    assert_eq!(
        call.parts[1].text.as_deref(),
        Some(r#"{"path":"Cargo.toml"}"#)
    );
    assert_eq!(
        t.messages[0].timestamp,
        crate::model::parse_timestamp("2025-06-15T15:06:40Z")
    );

    let c1 = facts(&t, C1);
    assert_eq!(c1.title.as_deref(), Some("Fix build"));
    assert_eq!(c1.model.as_deref(), Some("claude-4-sonnet"));
    assert_eq!(c1.git_branch.as_deref(), Some("main"));
    assert_eq!(c1.project.as_deref(), Some("/home/dev/my proj"));
    assert_eq!(
        c1.first_seen,
        DateTime::from_timestamp_millis(1_750_000_000_000)
    );
    assert_eq!(facts(&t, C3).parent_id.as_deref(), Some(C1));
    assert_eq!(facts(&t, "t1").title.as_deref(), Some("Panel chat"));
    assert_eq!(
        facts(&t, "t1").project.as_deref(),
        Some("/home/dev/my proj")
    );
    assert!(
        t.revised.len() == t.messages.len(),
        "database messages revise"
    );

    // Same bytes, same ids; one more bubble, exactly one more id.
    assert_eq!(message_ids(&t), message_ids(&read_db(&db_file(&path))));
    let more = read_db(&db_file(&synthetic_vscdb(dir.path(), true)));
    let (old, new) = (message_ids(&t), message_ids(&more));
    assert_eq!(new.len(), old.len() + 1);
    assert!(old.iter().all(|i| new.contains(i)));
}
