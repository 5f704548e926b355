//! Tests of the Goose adapter, on the fixtures and on synthetic files.

use std::collections::BTreeMap;

use super::*;
use crate::clients::testing::{assert_discovers, assert_results_pair_per_session};
use crate::clients::testing::{message_ids, read_junk, roles};
use crate::digest::sha256_hex;
use crate::translate::{Translation, translate_bytes};

// SYNTHETIC: no real goose session was available. These lines were
// written for this test from goose's source (session storage and
// message serialization); they are not captured from a goose run.
const SYNTHETIC_JSONL: &str = concat!(
    r#"{"working_dir":"/home/dev/app","description":"fix the build","message_count":4,"total_tokens":120,"input_tokens":100,"output_tokens":20,"schedule_id":null}"#,
    "\n",
    r#"{"id":"msg_1","role":"user","created":1740000000,"content":[{"type":"text","text":"Why does the build fail?"}],"metadata":{"userVisible":true,"agentVisible":true}}"#,
    "\n",
    r#"{"id":"msg_2","role":"assistant","created":1740000003,"content":[{"type":"text","text":"Let me look."},{"type":"toolRequest","id":"toolu_1","toolCall":{"status":"success","value":{"name":"developer__shell","arguments":{"command":"cargo build"}}}}]}"#,
    "\n",
    r#"{"id":"msg_3","role":"user","created":1740000009,"content":[{"type":"toolResponse","id":"toolu_1","toolResult":{"status":"success","value":[{"type":"text","text":"error[E0425]: cannot find value `x`"}]}}]}"#,
    "\n",
    r#"{"id":"msg_4","role":"assistant","created":1740000012,"content":[{"type":"thinking","thinking":"x is undefined","signature":"sig"},{"type":"text","text":"`x` is not defined in main.rs."}]}"#,
    "\n",
);

/// The schema goose creates (v5, after its migrations), filled with
/// SYNTHETIC rows: the session of `SYNTHETIC_JSONL` as goose's import
/// would store it, and a second session with newer result shapes.
fn synthetic_db(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        r#"
        CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
        INSERT INTO schema_version (version) VALUES (5);
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
            user_set_name BOOLEAN DEFAULT FALSE, session_type TEXT NOT NULL DEFAULT 'user',
            working_dir TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, extension_data TEXT DEFAULT '{}',
            total_tokens INTEGER, input_tokens INTEGER, output_tokens INTEGER,
            accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER,
            accumulated_output_tokens INTEGER, schedule_id TEXT, recipe_json TEXT,
            user_recipe_values_json TEXT);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
            role TEXT NOT NULL, content_json TEXT NOT NULL, created_timestamp INTEGER NOT NULL,
            timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, tokens INTEGER, metadata_json TEXT);
        INSERT INTO sessions (id, name, working_dir, created_at, updated_at) VALUES
            ('20250219_120000', 'fix the build', '/home/dev/app', '2025-02-19 21:20:00', '2025-02-19 21:20:12'),
            ('20251015_1', 'list files', '/home/dev/other', '2025-10-15T09:00:00Z', '2025-10-15T09:00:30Z');
        "#,
    )
    .unwrap();
    let mut lines = SYNTHETIC_JSONL.lines();
    lines.next();
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap();
        conn.execute(
            "INSERT INTO messages (session_id, role, content_json, created_timestamp, metadata_json) VALUES ('20250219_120000', ?1, ?2, ?3, '{}')",
            rusqlite::params![
                v["role"].as_str().unwrap(),
                v["content"].to_string(),
                v["created"].as_i64().unwrap()
            ],
        )
        .unwrap();
    }
    conn.execute_batch(
        r#"
        INSERT INTO messages (session_id, role, content_json, created_timestamp) VALUES
          ('20251015_1', 'user', '[{"type":"text","text":"list files"}]', 1760518800),
          ('20251015_1', 'assistant', '[{"type":"toolRequest","id":"call_a","toolCall":{"status":"success","value":{"name":"shell","arguments":{"command":"ls"}}}},{"type":"toolRequest","id":"call_b","toolCall":{"status":"error","error":"bad json"}}]', 1760518805),
          ('20251015_1', 'user', '[{"type":"toolResponse","id":"call_a","toolResult":{"status":"success","value":{"content":[{"type":"text","text":"a.txt"}],"isError":false}}},{"type":"toolResponse","id":"call_b","toolResult":{"status":"error","error":"could not parse"}}]', 1760518806),
          ('20251015_1', 'assistant', '[{"type":"text","text":"One file: a.txt"},{"type":"fancyNewBlock"}]', 1760518810);
        "#,
    )
    .unwrap();
}

fn jsonl_file(path: &Path) -> SourceFile {
    SourceFile::new(path.to_path_buf(), "20250219_120000.jsonl", Layout::Jsonl)
}

fn db_file(path: &Path) -> SourceFile {
    SourceFile::new(path.to_path_buf(), "sessions.db", Layout::Database)
}

fn read_db(file: &SourceFile) -> Translation {
    let rows = Goose.read_database(file).expect("readable database");
    let mut buf = Vec::new();
    for row in &rows {
        serde_json::to_writer(&mut buf, row).unwrap();
        buf.push(b'\n');
    }
    translate_bytes(&Goose, file, &buf)
}

#[test]
fn discovers_jsonl_sessions_and_the_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("20250219_120000.jsonl"), SYNTHETIC_JSONL).unwrap();
    synthetic_db(&dir.path().join("sessions.db"));
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    assert_discovers(
        &Goose,
        dir.path(),
        &[
            ("20250219_120000.jsonl", Layout::Jsonl),
            ("sessions.db", Layout::Database),
        ],
    );
}

#[test]
fn an_appended_file_continues_its_session_and_adds_only_new_messages() {
    let file = jsonl_file(Path::new("/x/20250219_120000.jsonl"));
    let bytes = SYNTHETIC_JSONL.as_bytes();
    let whole = translate_bytes(&Goose, &file, bytes);
    // The first read stops after the second message; the next resumes
    // there, in the session the first named, as a sync's cursor does.
    let cut = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .map_or(bytes.len(), |(i, _)| i + 1);
    let first = translate_bytes(&Goose, &file, &bytes[..cut]);
    let (rest, _) = crate::translate::segments(&Goose, file.layout, &bytes[cut..], cut as u64, 4);
    let second = crate::translate::translate(
        &Goose,
        &file,
        &rest,
        Some(first.current_session.clone()),
        || "not-resumed".to_string(),
    );
    assert_eq!(first.messages.len(), 2);
    assert_eq!(second.messages.len(), 2);
    assert_eq!(
        [message_ids(&first), message_ids(&second)].concat(),
        message_ids(&whole)
    );
}

#[test]
fn synthetic_jsonl_session() {
    let file = jsonl_file(Path::new("/x/20250219_120000.jsonl"));
    let t = translate_bytes(&Goose, &file, SYNTHETIC_JSONL.as_bytes());
    let sid = format!(
        "goose-20250219_120000-{}",
        &sha256_hex(b"/home/dev/app")[..8]
    );
    assert_eq!(t.session_id, sid);
    assert_eq!(t.unknown_records, 0);
    assert_eq!(
        roles(&t),
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
    assert_eq!(
        t.messages[0].timestamp,
        chrono::DateTime::from_timestamp(1_740_000_000, 0)
    );
    let call = &t.messages[1].parts[1];
    assert_eq!(call.kind, PartKind::ToolCall);
    assert_eq!(call.tool_name.as_deref(), Some("developer__shell"));
    assert_eq!(call.text.as_deref(), Some(r#"{"command":"cargo build"}"#));
    let result = &t.messages[2].parts[0];
    assert_eq!(result.kind, PartKind::ToolResult);
    assert!(result.text.as_deref().unwrap().starts_with("error[E0425]"));
    assert_eq!(t.messages[3].parts[0].kind, PartKind::Thinking);
    assert_results_pair_per_session(&t.messages);
    let facts = &t.facts[0].1;
    assert_eq!(facts.project.as_deref(), Some("/home/dev/app"));
    assert_eq!(facts.title.as_deref(), Some("fix the build"));
    assert!(facts.first_seen.is_some());
}

#[test]
fn synthetic_database_and_its_imported_jsonl_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db");
    synthetic_db(&db);
    let t = read_db(&db_file(&db));
    assert_eq!(t.unknown_records, 0);
    assert_eq!(t.messages.len(), 8);
    let per_session: BTreeMap<&str, usize> =
        t.messages.iter().fold(BTreeMap::new(), |mut acc, m| {
            *acc.entry(m.session_id.as_str()).or_default() += 1;
            acc
        });
    assert_eq!(per_session.len(), 2);
    assert!(per_session.values().all(|n| *n == 4));
    assert!(t.revised.len() == 8);
    assert_results_pair_per_session(&t.messages);

    // The imported session: same session id and message ids as its file.
    let from_file = translate_bytes(
        &Goose,
        &jsonl_file(Path::new("/x/20250219_120000.jsonl")),
        SYNTHETIC_JSONL.as_bytes(),
    );
    let db_ids: Vec<&str> = t
        .messages
        .iter()
        .filter(|m| m.session_id == from_file.session_id)
        .map(|m| m.id.as_str())
        .collect();
    let file_ids: Vec<&str> = from_file.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(db_ids, file_ids);

    // Newer result shape, failed calls and results, unknown blocks.
    let other: Vec<&Message> = t
        .messages
        .iter()
        .filter(|m| m.session_id != from_file.session_id)
        .collect();
    assert_eq!(other[2].role, Role::Tool);
    assert_eq!(other[2].parts[0].text.as_deref(), Some("a.txt"));
    assert!(!other[2].parts[0].is_error);
    assert!(other[2].parts[1].is_error);
    assert!(other[1].parts[1].is_error);
    assert_eq!(other[3].parts[1].kind, PartKind::Other);

    let facts: BTreeMap<&str, &SessionFacts> =
        t.facts.iter().map(|(id, f)| (id.as_str(), f)).collect();
    let f = facts[from_file.session_id.as_str()];
    assert_eq!(f.title.as_deref(), Some("fix the build"));
    assert_eq!(
        f.first_seen.unwrap().to_rfc3339(),
        "2025-02-19T21:20:00+00:00"
    );
    assert!(facts.values().all(|f| f.project.is_some()));
}

#[test]
fn rewritten_conversation_keeps_ids_and_one_more_row_adds_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db");
    synthetic_db(&db);
    let before: Vec<String> = read_db(&db_file(&db))
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect();
    let conn = rusqlite::Connection::open(&db).unwrap();
    // Goose replaces a conversation by deleting and re-inserting its rows.
    conn.execute_batch(
        r#"CREATE TEMP TABLE keep AS SELECT * FROM messages WHERE session_id = '20251015_1' ORDER BY id;
           DELETE FROM messages WHERE session_id = '20251015_1';
           INSERT INTO messages (session_id, role, content_json, created_timestamp)
             SELECT session_id, role, content_json, created_timestamp FROM keep ORDER BY id;
           INSERT INTO messages (session_id, role, content_json, created_timestamp)
             VALUES ('20251015_1', 'user', '[{"type":"text","text":"thanks"}]', 1760518900);"#,
    )
    .unwrap();
    drop(conn);
    let after: Vec<String> = read_db(&db_file(&db))
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(after.len(), before.len() + 1);
    assert!(before.iter().all(|id| after.contains(id)));
    assert_eq!(
        read_db(&db_file(&db)).messages,
        read_db(&db_file(&db)).messages
    );
}

#[test]
fn same_bytes_same_ids_and_broken_inputs_do_not_panic() {
    let file = jsonl_file(Path::new("/x/20250219_120000.jsonl"));
    let a = translate_bytes(&Goose, &file, SYNTHETIC_JSONL.as_bytes());
    let b = translate_bytes(&Goose, &file, SYNTHETIC_JSONL.as_bytes());
    assert_eq!(a.messages, b.messages);

    // Cut mid-record: the complete lines before it still count.
    let cut = &SYNTHETIC_JSONL.as_bytes()[..SYNTHETIC_JSONL.len() - 40];
    let t = translate_bytes(&Goose, &file, cut);
    assert_eq!(t.messages.len(), 3);
    read_junk(
        &Goose,
        &file,
        &[
            &b"\xff\xfe{{{\n"[..],
            b"[1,2]\n{\"role\":\"user\",\"content\":7}\n",
            b"{\"role\":\"user\",\"content\":[{\"type\":\"toolResponse\",\"toolResult\":5},3]}\n",
            b"",
        ],
    );
    // A file without metadata line still names its session.
    let headless = SYNTHETIC_JSONL.split_once('\n').unwrap().1;
    let t = translate_bytes(&Goose, &file, headless.as_bytes());
    assert_eq!(t.session_id, "goose-20250219_120000");
    assert_eq!(t.messages.len(), 4);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db");
    std::fs::write(&db, b"SQLite format 3\0 but then nothing").unwrap();
    assert!(Goose.read_database(&db_file(&db)).is_err());
    std::fs::remove_file(&db).unwrap();
    assert!(Goose.read_database(&db_file(&db)).is_err());
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE sessions (id TEXT)")
        .unwrap();
    let err = Goose.read_database(&db_file(&db)).unwrap_err();
    assert!(err.to_string().contains("not a goose database"), "{err}");
    let rows = [
        serde_json::json!({"table": "messages", "session_id": "s", "role": "user", "content_json": "nope"}),
        serde_json::json!({"table": "sessions"}),
        serde_json::json!({"table": "elsewhere"}),
    ];
    let mut buf = Vec::new();
    for row in &rows {
        serde_json::to_writer(&mut buf, row).unwrap();
        buf.push(b'\n');
    }
    let t = translate_bytes(&Goose, &db_file(&db), &buf);
    assert!(t.messages.is_empty());
    assert_eq!(t.unknown_records, 3);
}
