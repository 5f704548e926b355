//! Tests of every Cursor format, on the fixtures and on synthetic databases.

use super::*;
use crate::clients::testing::{assert_discovers, message_ids, role_counts, roles};
use crate::translate::{Translation, translate_bytes};

mod ide;

fn fixture(name: &str) -> SourceFile {
    let root = crate::clients::testing::fixtures("cursor");
    Cursor
        .discover(&root)
        .files
        .into_iter()
        .find(|f| f.rel_path == name)
        .unwrap_or_else(|| panic!("{name} not discovered"))
}

fn read(file: &SourceFile) -> Translation {
    let bytes = std::fs::read(&file.path).expect("fixture");
    translate_bytes(&Cursor, file, &bytes)
}

/// What a sync does with a database: rows as JSON lines, translated.
fn read_db(file: &SourceFile) -> Translation {
    let rows = Cursor.read_database(file).expect("readable database");
    translate_bytes(&Cursor, file, &json_lines(&rows))
}

fn json_lines(rows: &[Value]) -> Vec<u8> {
    let mut buf = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut buf, row).expect("serialisable");
        buf.push(b'\n');
    }
    buf
}

fn db_file(path: &Path) -> SourceFile {
    SourceFile::new(
        path.to_path_buf(),
        path.file_name().unwrap().to_string_lossy().into_owned(),
        Layout::Database,
    )
}

fn facts<'a>(t: &'a Translation, session: &str) -> &'a SessionFacts {
    &t.facts
        .iter()
        .find(|(s, _)| s == session)
        .unwrap_or_else(|| panic!("no facts for {session}"))
        .1
}

/// Every tool result names a call of the same session.
fn assert_results_paired(t: &Translation) {
    for m in &t.messages {
        for p in m.parts.iter().filter(|p| p.kind == PartKind::ToolResult) {
            let id = p.tool_call_id.as_deref().expect("result names its call");
            assert!(
                t.messages.iter().any(|c| c.session_id == m.session_id
                    && c.parts
                        .iter()
                        .any(|q| q.kind == PartKind::ToolCall
                            && q.tool_call_id.as_deref() == Some(id))),
                "result {id} in {} has no call",
                m.session_id
            );
        }
    }
}

#[test]
fn every_fixture_is_discovered() {
    assert_discovers(
        &Cursor,
        &crate::clients::testing::fixtures("cursor"),
        &[
            ("agent-sessions-large.jsonl", Layout::Jsonl),
            ("agent-sessions-small.jsonl", Layout::Jsonl),
            ("agent-sessions-test-session.jsonl", Layout::Jsonl),
            ("agent-sessions-test-store.db", Layout::Database),
        ],
    );
}

#[test]
fn transcripts_count_as_read_by_hand() {
    // (file, user, assistant, tool, tool calls)
    for (name, user, assistant, tool, calls) in [
        ("agent-sessions-large.jsonl", 3, 5, 2, 2),
        ("agent-sessions-small.jsonl", 2, 2, 0, 1),
        ("agent-sessions-test-session.jsonl", 2, 4, 0, 2),
    ] {
        let t = read(&fixture(name));
        assert_eq!(
            role_counts(&t, [Role::User, Role::Assistant, Role::Tool]),
            [user, assistant, tool],
            "{name}"
        );
        let n_calls = t
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == PartKind::ToolCall)
            .count();
        assert_eq!(n_calls, calls, "{name}");
        assert_eq!(t.unknown_records, 0, "{name}");
        assert_eq!(t.facts.len(), 1, "{name}: one session");
        // Transcripts carry no times.
        assert!(t.messages.iter().all(|m| m.timestamp.is_none()));
        assert_eq!(
            message_ids(&t),
            message_ids(&read(&fixture(name))),
            "{name}: stable ids"
        );
    }
}

#[test]
fn transcript_blocks_become_parts() {
    let t = read(&fixture("agent-sessions-large.jsonl"));
    let second = &t.messages[1];
    let kinds: Vec<PartKind> = second.parts.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        vec![PartKind::Thinking, PartKind::Text, PartKind::ToolCall]
    );
    assert_eq!(second.parts[2].tool_name.as_deref(), Some("Bash"));
    assert_eq!(
        second.parts[2].text.as_deref(),
        Some(r#"{"command":"ls -la"}"#)
    );
    let result = &t.messages[2].parts[0];
    assert_eq!(result.kind, PartKind::ToolResult);
    assert_eq!(result.text.as_deref(), Some("file1.txt\nfile2.txt"));
    // This fixture's calls carry no id while its results name `t1`,
    // `t2`: nothing to pair them by, so the source ids are kept as is.
    assert_eq!(second.parts[2].tool_call_id, None);
    assert_eq!(result.tool_call_id.as_deref(), Some("t1"));
    // The real transcript has no results at all: pairing holds there.
    assert_results_paired(&read(&fixture("agent-sessions-test-session.jsonl")));
}

#[test]
fn transcript_ids_come_from_the_path() {
    let file = SourceFile {
        path: crate::clients::testing::fixtures("cursor").join("agent-sessions-test-session.jsonl"),
        rel_path: "x/agent-transcripts/0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f/subagents/\
                   11111111-2222-4333-8444-555555555555.jsonl"
            .into(),
        layout: Layout::Jsonl,
        session_hint: Some("11111111-2222-4333-8444-555555555555".into()),
        parent_hint: Some("0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f".into()),
    };
    let t = read(&file);
    assert_eq!(t.session_id, "11111111-2222-4333-8444-555555555555");
    assert!(t.messages.iter().all(|m| m.session_id == t.session_id));
}

#[test]
fn agent_store_fixture_gives_its_session_facts() {
    let t = read_db(&fixture("agent-sessions-test-store.db"));
    let id = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
    assert_eq!(t.session_id, id);
    let f = facts(&t, id);
    assert_eq!(f.title.as_deref(), Some("Test Session"));
    assert_eq!(f.model.as_deref(), Some("claude-4-sonnet"));
    assert_eq!(
        f.first_seen,
        DateTime::from_timestamp_millis(1_775_522_590_321)
    );
    // Its blob table is empty: a session with no messages yet.
    assert!(t.messages.is_empty());
    assert_eq!(t.unknown_records, 0);
}

fn sha_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn tree_node(children: &[&str]) -> Vec<u8> {
    let mut node = Vec::new();
    for c in children {
        node.extend([0x0a, 0x20]);
        node.extend(unhex(c).expect("hex id"));
    }
    node
}

/// SYNTHETIC `store.db` written for this test from the layout other
/// tools describe (the real fixture's blob table is empty): a nested
/// tree of messages, plus one message blob the tree no longer reaches.
fn synthetic_store(dir: &Path, extra: Option<&str>) -> PathBuf {
    let messages = [
        r#"{"role":"system","content":"You are a coding agent."}"#,
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"<user_info>\\nWorkspace Path: /home/dev/proj\\n</user_info>\\n<user_query>list files</user_query>\"}]}",
        r#"{"role":"assistant","id":"1","content":[{"type":"reasoning","text":"ls will do"},{"type":"text","text":"Listing."},{"type":"tool-call","toolCallId":"call_1","toolName":"run_terminal_cmd","args":{"command":"ls"}}]}"#,
        r#"{"role":"tool","id":"2","content":[{"type":"tool-result","toolCallId":"call_1","toolName":"run_terminal_cmd","result":"a.txt\nb.txt"}]}"#,
        r#"{"role":"assistant","id":"1","content":[{"type":"text","text":"Two files."}]}"#,
    ];
    let mut blobs: Vec<(String, Vec<u8>)> = messages
        .iter()
        .chain(extra.iter())
        .map(|m| (sha_hex(m.as_bytes()), m.as_bytes().to_vec()))
        .collect();
    let first = tree_node(&[&blobs[0].0, &blobs[1].0, &blobs[2].0]);
    let first_id = sha_hex(&first);
    let rest: Vec<&str> = blobs[3..].iter().map(|(id, _)| id.as_str()).collect();
    let mut top = vec![first_id.as_str()];
    top.extend(rest);
    let root = tree_node(&top);
    let root_id = sha_hex(&root);
    blobs.push((first_id.clone(), first));
    blobs.push((root_id.clone(), root));
    let orphan = r#"{"role":"user","content":"an edited-away prompt"}"#;
    blobs.push((sha_hex(orphan.as_bytes()), orphan.as_bytes().to_vec()));
    let meta = json!({
        "agentId": "5e1d7c1a-0000-4000-8000-00000000000a",
        "name": "Synthetic",
        "createdAt": 1_760_000_000_000i64,
        "lastUsedModel": "gpt-5",
        "mode": "default",
        "latestRootBlobId": root_id,
        "subagentInfo": {"parentAgentId": "5e1d7c1a-0000-4000-8000-000000000001"}
    });
    let path = dir.join("store.db");
    let conn = fresh_db(
        &path,
        "CREATE TABLE blobs (id TEXT PRIMARY KEY, data BLOB);
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);",
    );
    conn.execute(
        "INSERT INTO meta VALUES ('0', ?1)",
        [hex(meta.to_string().as_bytes())],
    )
    .unwrap();
    insert_pairs(&conn, "blobs", blobs);
    path
}

/// A synthetic database at `path`, made anew with the tables of `schema`.
fn fresh_db(path: &Path, schema: &str) -> Connection {
    let _ = std::fs::remove_file(path);
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(schema).unwrap();
    conn
}

/// Fills the two-column `table` of a synthetic database with `rows`.
fn insert_pairs<K: rusqlite::ToSql, V: rusqlite::ToSql>(
    conn: &Connection,
    table: &str,
    rows: impl IntoIterator<Item = (K, V)>,
) {
    for (k, v) in rows {
        conn.execute(
            &format!("INSERT INTO {table} VALUES (?1, ?2)"),
            rusqlite::params![k, v],
        )
        .unwrap();
    }
}

#[test]
fn agent_store_messages_follow_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let t = read_db(&db_file(&synthetic_store(dir.path(), None)));
    let id = "5e1d7c1a-0000-4000-8000-00000000000a";
    assert_eq!(t.session_id, id);
    assert_eq!(
        roles(&t),
        vec![
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Assistant,
            Role::User
        ]
    );
    let seqs: Vec<u64> = t.messages.iter().map(|m| m.seq).collect();
    assert_eq!(&seqs[..5], &[0, 1, 2, 3, 4]);
    assert!(seqs[5] >= UNPLACED, "the unreachable blob sorts last");
    assert_results_paired(&t);
    let f = facts(&t, id);
    assert_eq!(f.project.as_deref(), Some("/home/dev/proj"));
    assert_eq!(
        f.parent_id.as_deref(),
        Some("5e1d7c1a-0000-4000-8000-000000000001")
    );
    assert_eq!(f.model.as_deref(), Some("gpt-5"));
    assert_eq!(t.unknown_records, 0);
    assert!(
        t.revised.len() == t.messages.len(),
        "database messages revise"
    );

    // One more message: one more id, the others unchanged.
    let more = synthetic_store(
        dir.path(),
        Some(r#"{"role":"user","content":[{"type":"text","text":"thanks"}]}"#),
    );
    let t2 = read_db(&db_file(&more));
    let (old, new) = (message_ids(&t), message_ids(&t2));
    assert_eq!(new.len(), old.len() + 1);
    assert!(old.iter().all(|i| new.contains(i)));
}

/// SYNTHETIC export written for this test after the layout Cursor's
/// "Export chat" is described to produce (no real export is available).
const EXPORT: &str = "# Fix the failing build\n\
    _Exported on 7/15/2025 at 10:22:33 GMT+2 from Cursor (1.2.4)_\n\
    \n\
    ---\n\
    \n\
    **User**\n\
    \n\
    Why does `cargo build` fail?\n\
    \n\
    ---\n\
    \n\
    **Cursor**\n\
    \n\
    The manifest lacks a feature:\n\
    \n\
    **User**\n\
    appears here mid-message, after no rule.\n\
    \n\
    ---\n\
    \n\
    **User**\n\
    \n\
    Thanks!\n\
    \n\
    ---\n\
    \n\
    **Cursor**\n\
    \n\
    You're welcome.\n";

fn export_file(dir: &Path) -> SourceFile {
    std::fs::write(dir.join("chat.md"), EXPORT).unwrap();
    std::fs::write(dir.join("notes.md"), "# Not an export\n").unwrap();
    let mut found = Cursor.discover(dir).files;
    assert_eq!(found.len(), 1, "only the export is discovered");
    found.remove(0)
}

#[test]
fn export_is_cut_at_headings() {
    let dir = tempfile::tempdir().unwrap();
    let file = export_file(dir.path());
    assert_eq!(file.layout, Layout::Text);
    let t = read(&file);
    assert!(t.session_id.starts_with("cursor-export-"));
    assert_eq!(
        roles(&t),
        vec![Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    // A heading-like line not after a rule stays in its message.
    assert_eq!(
        t.messages[1].plain_text(),
        "The manifest lacks a feature:\n\n**User**\nappears here mid-message, after no rule."
    );
    assert_eq!(t.messages[3].plain_text(), "You're welcome.");
    let f = facts(&t, &t.session_id);
    assert_eq!(f.title.as_deref(), Some("Fix the failing build"));
    assert_eq!(
        f.last_seen,
        crate::model::parse_timestamp("2025-07-15T08:22:33Z")
    );
    assert_eq!(t.unknown_records, 0);
    assert_eq!(message_ids(&t), message_ids(&read(&file)));
    // Without the end of the file, the last section waits.
    let lengths = Cursor.cut_text(EXPORT.as_bytes(), false);
    assert_eq!(lengths.len(), 4);
    assert_eq!(Cursor.cut_text(EXPORT.as_bytes(), true).len(), 5);
}

#[test]
fn truncated_and_garbage_input_do_not_panic() {
    for name in [
        "agent-sessions-large.jsonl",
        "agent-sessions-small.jsonl",
        "agent-sessions-test-session.jsonl",
    ] {
        let file = fixture(name);
        let bytes = std::fs::read(&file.path).unwrap();
        let cut = &bytes[..bytes.len() / 2 + 7];
        let t = translate_bytes(&Cursor, &file, cut);
        assert!(t.messages.len() < read(&file).messages.len());
        translate_bytes(&Cursor, &file, b"\x00\xff{garbage\n[1,2]\n\"x\"\n{}\n");
    }
    let dir = tempfile::tempdir().unwrap();
    // A database cut short, and one that is not a database at all.
    let store = std::fs::read(fixture("agent-sessions-test-store.db").path).unwrap();
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &store[..store.len() / 3]).unwrap();
    let _ = Cursor.read_database(&db_file(&cut));
    let junk = dir.path().join("state.vscdb");
    std::fs::write(&junk, b"not sqlite at all").unwrap();
    let err = Cursor.read_database(&db_file(&junk)).unwrap_err();
    assert!(err.to_string().contains("SQLite"), "{err}");
    // Rows of unexpected shapes.
    let file = db_file(&junk);
    let rows = [
        json!({"table": "cursorDiskKV", "key": "bubbleId:", "value": {"type": 1}}),
        json!({"table": "cursorDiskKV", "key": "bubbleId:c:b", "value": {"type": 7}}),
        json!({"table": "cursorDiskKV", "key": "composerData:c", "value": [1]}),
        json!({"table": "blobs", "key": "ab", "value": {"role": "robot"}}),
        json!({"table": "meta", "key": "0", "value": "x"}),
        json!({"table": "ItemTable", "key": "composer.composerData", "value": {}}),
        json!({"table": "cursorDiskKV", "key": "bubbleId:c:b", "omitted_bytes": 99}),
        json!(42),
    ];
    let t = translate_bytes(&Cursor, &file, &json_lines(&rows));
    assert!(t.messages.is_empty());
    assert_eq!(t.unknown_records, 7);
    // Text exports: garbage and a cut copy.
    let md_dir = dir.path().join("exports");
    std::fs::create_dir_all(&md_dir).unwrap();
    let md = export_file(&md_dir);
    translate_bytes(&Cursor, &md, &EXPORT.as_bytes()[..EXPORT.len() / 2]);
    translate_bytes(&Cursor, &md, b"\xff\xfe**User**\n---\n**Cursor**");
}

#[test]
fn real_layout_is_discovered_and_heavy_dirs_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let agent = "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f";
    let sub = "11111111-2222-4333-8444-555555555555";
    let store = root.join("chats/e4e90b7b/").join(agent);
    let transcripts = root.join("projects/home-dev-proj/agent-transcripts");
    let subagents = transcripts.join(agent).join("subagents");
    for d in [&store, &subagents, &root.join("extensions/x")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(
        fixture("agent-sessions-test-store.db").path,
        store.join("store.db"),
    )
    .unwrap();
    std::fs::write(transcripts.join(format!("{agent}.jsonl")), "{}\n").unwrap();
    std::fs::write(subagents.join(format!("{sub}.jsonl")), "{}\n").unwrap();
    std::fs::write(root.join("extensions/x/y.jsonl"), "{}\n").unwrap();
    let found = Cursor.discover(root).files;
    let got: Vec<(String, Option<String>, Option<String>)> = found
        .into_iter()
        .map(|f| (f.rel_path, f.session_hint, f.parent_hint))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                format!("chats/e4e90b7b/{agent}/store.db"),
                Some(agent.to_string()),
                None
            ),
            (
                format!("projects/home-dev-proj/agent-transcripts/{agent}/subagents/{sub}.jsonl"),
                Some(sub.to_string()),
                Some(agent.to_string())
            ),
            (
                format!("projects/home-dev-proj/agent-transcripts/{agent}.jsonl"),
                Some(agent.to_string()),
                None
            ),
        ]
    );
    // Cursor's own folders: exact names only, and no Markdown.
    let strict = |rel: &str| classify(&root.join(rel), rel.to_string(), false).is_some();
    assert!(strict("globalStorage/state.vscdb"));
    assert!(strict("workspaceStorage/abc/state.vscdb"));
    assert!(!strict("globalStorage/state.vscdb.backup"));
    assert!(strict(&format!("acp-sessions/{agent}/store.db")));
    assert!(!strict("globalStorage/some.extension/store.db"));
    assert!(!strict("projects/p/notes.jsonl"));
    assert!(!strict("exports/chat.md"));
}

#[test]
fn tree_nodes_and_uris_parse() {
    let a = "aa".repeat(32);
    let b = "bb".repeat(32);
    let mut node = tree_node(&[&a, &b]);
    node.extend([0x10, 0x05, 0x1a, 0x02, b'{', b'}']); // other fields
    assert_eq!(tree_children(&node), vec![a.clone(), b]);
    assert_eq!(tree_children(&[0x0a, 0xff, 0xff]), Vec::<String>::new());
    assert_eq!(
        crate::formats::time::instant(Some(&json!(1_700_000_000))),
        DateTime::from_timestamp(1_700_000_000, 0)
    );
}
