//! Tests of both opencode layouts, on the fixtures and on synthetic trees.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::clients::testing::{assert_results_pair_per_session, read_junk};

#[test]
fn ids_that_could_leave_the_storage_tree_are_never_paths() {
    for bad in ["..", "../../etc", "/etc/passwd", "a/b", "c:\\x", ""] {
        assert!(!is_plain_id(bad), "{bad}");
    }
    for good in ["msg_01JABC", "prt-2", "ses_04ca851f7ffevKrKMHW3RsPK1U"] {
        assert!(is_plain_id(good), "{good}");
    }
    assert!(read_parts(Path::new("/"), "../../etc").is_empty());
    assert!(find_message(Path::new("/"), Some(".."), "x").is_none());
}
use crate::translate::{Translation, translate_bytes};

fn fixtures() -> PathBuf {
    crate::clients::testing::fixtures("opencode")
}

fn translate_file(file: &SourceFile) -> Translation {
    match file.layout {
        Layout::Database => {
            let rows = Opencode.read_database(file).expect("readable database");
            translate_bytes(&Opencode, file, &jsonl(&rows))
        }
        _ => translate_bytes(&Opencode, file, &std::fs::read(&file.path).unwrap()),
    }
}

fn jsonl(rows: &[Value]) -> Vec<u8> {
    let mut buf = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut buf, row).unwrap();
        buf.push(b'\n');
    }
    buf
}

/// Every message of every file under `root`, last copy per id (as the
/// store keeps revised messages), plus the merged facts per session.
fn read_all(
    root: &Path,
) -> (
    BTreeMap<String, Message>,
    BTreeMap<String, SessionFacts>,
    Vec<SourceFile>,
) {
    let found = Opencode.discover(root);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let mut messages = BTreeMap::new();
    let mut facts: BTreeMap<String, SessionFacts> = BTreeMap::new();
    for file in &found.files {
        let t = translate_file(file);
        for m in t.messages {
            assert!(t.revised.contains(&m.id), "{} not revisable", m.id);
            messages.insert(m.id.clone(), m);
        }
        for (sid, f) in t.facts {
            facts.entry(sid).or_default().absorb(f);
        }
    }
    (messages, facts, found.files)
}

fn storage_root() -> PathBuf {
    fixtures().join("agent-sessions-storage_v2")
}

fn db_file() -> SourceFile {
    SourceFile::new(
        fixtures().join("opencode-db/opencode.db"),
        "opencode.db",
        Layout::Database,
    )
}

/// A copy of the fixture database that a test may write to, in a
/// directory that lives as long as the guard.
fn writable_db() -> (tempfile::TempDir, SourceFile) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opencode.db");
    std::fs::copy(db_file().path, &db).unwrap();
    let file = SourceFile {
        path: db,
        ..db_file()
    };
    (dir, file)
}

fn count(messages: &BTreeMap<String, Message>, kind: PartKind) -> usize {
    messages
        .values()
        .flat_map(|m| &m.parts)
        .filter(|p| p.kind == kind)
        .count()
}

#[test]
fn discovers_every_session_file_and_the_database() {
    let found = Opencode.discover(&fixtures());
    assert!(found.problems.is_empty());
    let docs = found
        .files
        .iter()
        .filter(|f| f.layout == Layout::Document)
        .count();
    let dbs: Vec<&str> = found
        .files
        .iter()
        .filter(|f| f.layout == Layout::Database)
        .map(|f| f.rel_path.as_str())
        .collect();
    // 2 session + 6 message + 14 part files; `migration` is no session.
    assert_eq!(docs, 22);
    assert_eq!(dbs, ["opencode-db/opencode.db"]);
    assert!(
        !found
            .files
            .iter()
            .any(|f| f.rel_path.ends_with("migration"))
    );
    let hinted = found
        .files
        .iter()
        .find(|f| f.rel_path.ends_with("message/s_stage0_small/msg_0001.json"))
        .unwrap();
    assert_eq!(hinted.session_hint.as_deref(), Some("s_stage0_small"));
}

#[test]
fn skips_snapshot_dirs_and_reports_missing_roots() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshot/proj/objects/session/x");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("y.json"), "{}").unwrap();
    assert!(Opencode.discover(dir.path()).files.is_empty());
    let missing = Opencode.discover(&dir.path().join("nope"));
    assert!(missing.files.is_empty());
    assert_eq!(missing.problems.len(), 1);
}

#[test]
fn storage_tree_gives_whole_messages() {
    let (messages, facts, _) = read_all(&storage_root());
    let per_session: BTreeMap<&str, usize> =
        messages.values().fold(BTreeMap::new(), |mut acc, m| {
            *acc.entry(m.session_id.as_str()).or_default() += 1;
            acc
        });
    assert_eq!(
        per_session,
        BTreeMap::from([("s_stage0_large", 4), ("s_stage0_small", 2)])
    );
    let users = messages.values().filter(|m| m.role == Role::User).count();
    assert_eq!(users, 3);
    assert!(messages.values().all(|m| m.timestamp.is_some()));

    let small = &messages["s_stage0_small/m_assistant_small"];
    let kinds: Vec<PartKind> = small.parts.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [PartKind::ToolCall, PartKind::ToolResult, PartKind::Text]
    );
    assert_eq!(small.parts[1].text.as_deref(), Some("a.txt\nb.txt\n"));
    assert_eq!(small.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        messages["s_stage0_small/m_user_small"].plain_text(),
        "Hello"
    );

    let large = &messages["s_stage0_large/m_assistant_large_1"];
    let kinds: Vec<PartKind> = large.parts.iter().map(|p| p.kind).collect();
    // tool call + result, text, file, reasoning, (step-start and
    // step-finish skipped), compaction, patch, the message's error.
    assert_eq!(
        kinds,
        [
            PartKind::ToolCall,
            PartKind::ToolResult,
            PartKind::Text,
            PartKind::File,
            PartKind::Thinking,
            PartKind::Other,
            PartKind::Other,
            PartKind::Other,
        ]
    );
    assert_eq!(large.parts[3].text.as_deref(), Some("error.log"));
    assert!(large.parts[7].is_error);
    assert_results_pair_per_session(messages.values());

    // Source order: by creation time within each session.
    let order: Vec<&str> = messages
        .values()
        .filter(|m| m.session_id == "s_stage0_large")
        .map(|m| (m.seq, m.id.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(
        order,
        [
            "s_stage0_large/m_user_large_1",
            "s_stage0_large/m_assistant_large_1",
            "s_stage0_large/m_user_large_2",
            "s_stage0_large/m_assistant_large_2",
        ]
    );

    let f = &facts["s_stage0_large"];
    assert_eq!(f.project.as_deref(), Some("/tmp/large"));
    assert_eq!(f.title.as_deref(), Some("OpenCode Large"));
    assert_eq!(
        f.first_seen,
        chrono::DateTime::from_timestamp_millis(1_730_000_100_000)
    );
    assert_eq!(
        facts["s_stage0_small"].title.as_deref(),
        Some("OpenCode Small")
    );
}

#[test]
fn a_part_file_alone_yields_its_whole_message() {
    // This part file names neither its session nor its message: both
    // come from its directory and the message file found beside it.
    let part = storage_root().join("part/m_user_small/001.json");
    let file = SourceFile::new(part.clone(), "part/m_user_small/001.json", Layout::Document);
    let t = translate_bytes(&Opencode, &file, &std::fs::read(&part).unwrap());
    assert_eq!(t.session_id, "s_stage0_small");
    assert_eq!(t.messages.len(), 1);
    assert_eq!(t.messages[0].id, "s_stage0_small/m_user_small");
    assert_eq!(t.messages[0].role, Role::User);
    assert!(t.revised.contains("s_stage0_small/m_user_small"));
}

#[test]
fn database_gives_the_real_session() {
    let file = db_file();
    let t = translate_file(&file);
    assert_eq!(t.session_id, "ses_04ca851f7ffevKrKMHW3RsPK1U");
    assert_eq!(t.unknown_records, 0);
    assert_eq!(t.messages.len(), 35);
    let messages: BTreeMap<String, Message> = t
        .messages
        .iter()
        .map(|m| (m.id.clone(), m.clone()))
        .collect();
    assert_eq!(
        messages.values().filter(|m| m.role == Role::User).count(),
        8
    );
    assert_eq!(
        messages
            .values()
            .filter(|m| m.role == Role::Assistant)
            .count(),
        27
    );
    assert!(messages.values().all(|m| m.timestamp.is_some()));
    assert_eq!(count(&messages, PartKind::ToolCall), 21);
    assert_eq!(count(&messages, PartKind::ToolResult), 21);
    assert_results_pair_per_session(messages.values());
    let first = &t.messages[0];
    assert_eq!(
        first.plain_text(),
        "Read SPEC.md and improve it for you and other ais to read and understand better"
    );
    // Rows come in id order, which is creation order.
    assert!(t.messages.windows(2).all(|w| w[0].seq <= w[1].seq));
    let facts = &t.facts[0].1;
    assert_eq!(facts.project.as_deref(), Some("/workspace"));
    assert_eq!(
        facts.model.as_deref(),
        Some("monkeycode-basic/deepseek-v4-flash")
    );
    assert!(facts.title.is_some() && facts.first_seen.is_some());
    assert!(facts.parent_id.is_none());
}

/// Writes the database's session as an opencode storage tree, the shape
/// older releases kept (and migrated from).
fn export_storage(db: &Path, storage: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let write = |path: PathBuf, v: Value| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, v.to_string()).unwrap();
    };
    let mut stmt = conn
        .prepare("SELECT id, project_id, directory, title, time_created, time_updated FROM session")
        .unwrap();
    let sessions: Vec<(String, String, String, String, i64, i64)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, project, dir, title, created, updated) in sessions {
        write(
            storage.join(format!("session/{project}/{id}.json")),
            serde_json::json!({"id": id, "projectID": project, "directory": dir,
                "title": title, "time": {"created": created, "updated": updated}}),
        );
    }
    let mut stmt = conn
        .prepare("SELECT id, session_id, data FROM message")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, sid, data) in rows {
        let mut v: Value = serde_json::from_str(&data).unwrap();
        v["id"] = id.clone().into();
        v["sessionID"] = sid.clone().into();
        write(storage.join(format!("message/{sid}/{id}.json")), v);
    }
    let mut stmt = conn
        .prepare("SELECT id, message_id, session_id, data FROM part")
        .unwrap();
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, mid, sid, data) in rows {
        let mut v: Value = serde_json::from_str(&data).unwrap();
        v["id"] = id.clone().into();
        v["messageID"] = mid.clone().into();
        v["sessionID"] = sid.into();
        write(storage.join(format!("part/{mid}/{id}.json")), v);
    }
}

#[test]
fn a_session_in_both_layouts_is_one_session() {
    let dir = tempfile::tempdir().unwrap();
    export_storage(&db_file().path, &dir.path().join("storage"));
    let (from_files, file_facts, files) = read_all(dir.path());
    assert_eq!(files.len(), 1 + 35 + 118);
    let t = translate_file(&db_file());
    let from_db: BTreeMap<String, Message> =
        t.messages.into_iter().map(|m| (m.id.clone(), m)).collect();
    assert_eq!(from_files.len(), 35);
    assert_eq!(from_files, from_db);
    let sid = "ses_04ca851f7ffevKrKMHW3RsPK1U";
    assert_eq!(file_facts[sid].project.as_deref(), Some("/workspace"));
    assert_eq!(
        file_facts[sid].first_seen, t.facts[0].1.first_seen,
        "same session start from both"
    );
}

#[test]
fn same_bytes_same_ids() {
    let (a, _, _) = read_all(&storage_root());
    let (b, _, _) = read_all(&storage_root());
    assert_eq!(a, b);
    let x = translate_file(&db_file());
    let y = translate_file(&db_file());
    assert_eq!(x.messages, y.messages);
}

#[test]
fn one_more_message_in_the_tree_is_one_more_id() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    copy_tree(&storage_root(), &storage);
    let (before, _, _) = read_all(dir.path());
    std::fs::write(
        storage.join("message/s_stage0_small/msg_0003.json"),
        r#"{"id":"m_user_small_2","sessionID":"s_stage0_small","role":"user","time":{"created":1730000004000}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(storage.join("part/m_user_small_2")).unwrap();
    std::fs::write(
        storage.join("part/m_user_small_2/001.json"),
        r#"{"id":"p_user_2","sessionID":"s_stage0_small","messageID":"m_user_small_2","type":"text","text":"And now?"}"#,
    )
    .unwrap();
    let (after, _, _) = read_all(dir.path());
    assert_eq!(after.len(), before.len() + 1);
    for (id, m) in &before {
        assert_eq!(&after[id], m);
    }
    assert_eq!(
        after["s_stage0_small/m_user_small_2"].plain_text(),
        "And now?"
    );
}

#[test]
fn a_changed_part_revises_its_message_from_either_file() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    copy_tree(&storage_root(), &storage);
    let part = storage.join("part/m_assistant_large_2/001.json");
    std::fs::write(
        &part,
        r#"{"id":"p_text_large_2","sessionID":"s_stage0_large","messageID":"m_assistant_large_2","type":"text","text":"Ok, done."}"#,
    )
    .unwrap();
    for path in [part, storage.join("message/s_stage0_large/msg_0004.json")] {
        let file = SourceFile::new(path.clone(), String::new(), Layout::Document);
        let t = translate_bytes(&Opencode, &file, &std::fs::read(&path).unwrap());
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].id, "s_stage0_large/m_assistant_large_2");
        assert_eq!(t.messages[0].plain_text(), "Ok, done.");
        assert!(t.revised.contains(&t.messages[0].id));
    }
}

#[test]
fn one_more_row_in_the_database_is_one_more_id() {
    let (_dir, file) = writable_db();
    let db = file.path.clone();
    let before = translate_file(&file).messages;
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        r#"INSERT INTO message VALUES ('msg_zzzz', 'ses_04ca851f7ffevKrKMHW3RsPK1U',
             1785420900000, 1785420900000, '{"role":"user","time":{"created":1785420900000}}');
           INSERT INTO part VALUES ('prt_zzzz', 'msg_zzzz', 'ses_04ca851f7ffevKrKMHW3RsPK1U',
             1785420900000, 1785420900000, '{"type":"text","text":"one more"}');"#,
    )
    .unwrap();
    drop(conn);
    let after = translate_file(&file).messages;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after[before.len()].plain_text(), "one more");
}

#[test]
fn a_running_writer_and_a_locked_database_are_read() {
    let (_dir, file) = writable_db();
    let db = file.path.clone();
    // A client in WAL mode that has committed a row not yet checkpointed
    // into the main file, and holds a write transaction open.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .execute_batch(
            r#"PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
               INSERT INTO message VALUES ('msg_wal', 'ses_04ca851f7ffevKrKMHW3RsPK1U',
                 1785420900000, 1785420900000, '{"role":"user","time":{"created":1785420900000}}');
               BEGIN IMMEDIATE;
               INSERT INTO message VALUES ('msg_uncommitted', 'ses_04ca851f7ffevKrKMHW3RsPK1U',
                 1785420900001, 1785420900001, '{"role":"user","time":{"created":1785420900001}}');"#,
        )
        .unwrap();
    let ids: Vec<String> = translate_file(&file)
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids.len(), 36);
    assert!(ids.iter().any(|id| id.ends_with("/msg_wal")));
    assert!(!ids.iter().any(|id| id.ends_with("/msg_uncommitted")));
    writer.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn broken_inputs_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Garbage and a cut-off copy named like the database: an error each.
    let garbage = dir.path().join("opencode.db");
    std::fs::write(&garbage, b"\x00\x01 not sqlite at all \xff").unwrap();
    let file = SourceFile {
        path: garbage.clone(),
        ..db_file()
    };
    assert!(Opencode.read_database(&file).is_err());
    let bytes = std::fs::read(db_file().path).unwrap();
    std::fs::write(&garbage, &bytes[..bytes.len() / 3]).unwrap();
    let _ = Opencode.read_database(&file);
    let missing = SourceFile {
        path: dir.path().join("absent.db"),
        ..db_file()
    };
    assert!(Opencode.read_database(&missing).is_err());
    // Some other SQLite database.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = Opencode
        .read_database(&SourceFile {
            path: other,
            ..db_file()
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("not an opencode database"),
        "{err}"
    );

    // Cut storage files and junk: nothing understood, nothing panics.
    for rel in [
        "message/s_stage0_large/msg_0002.json",
        "part/m_assistant_large_1/001.json",
        "session/proj_test/ses_s_stage0_large.json",
    ] {
        let path = storage_root().join(rel);
        let bytes = std::fs::read(&path).unwrap();
        let file = SourceFile::new(path, rel, Layout::Document);
        let t = translate_bytes(&Opencode, &file, &bytes[..bytes.len() / 2]);
        assert!(t.messages.is_empty());
        read_junk(
            &Opencode,
            &file,
            &[&b"\xff\xfe{{{"[..], b"[1,2,3]", b"\"text\"", b"{}", b""],
        );
    }
    // Rows of unexpected shapes.
    let rows = [
        serde_json::json!({"table": "message", "id": "m", "session_id": "s", "data": "not json", "parts": 3}),
        serde_json::json!({"table": "message", "id": 1, "data": {}}),
        serde_json::json!({"table": "session"}),
        serde_json::json!({"table": "message", "id": "m", "session_id": "s",
            "data": {"role": 7, "time": {"created": "x"}, "error": 5},
            "parts": [{"data": {"type": "tool", "state": 3}}, {"data": {"type": 1}}, 4]}),
    ];
    let t = translate_bytes(&Opencode, &db_file(), &jsonl(&rows));
    assert_eq!(t.messages.len(), 1);
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

#[test]
fn each_database_row_belongs_to_the_session_it_names() {
    let (_dir, file) = writable_db();
    let db = rusqlite::Connection::open(&file.path).unwrap();
    db.execute_batch(
        "CREATE TEMP TABLE s AS SELECT * FROM session LIMIT 1;
         UPDATE s SET id = 'ses_other', directory = '/repos/other';
         INSERT INTO session SELECT * FROM s;
         CREATE TEMP TABLE m AS SELECT * FROM message LIMIT 1;
         UPDATE m SET id = 'msg_other', session_id = 'ses_other';
         INSERT INTO message SELECT * FROM m;",
    )
    .unwrap();
    drop(db);
    let t = translate_file(&file);
    let owners: std::collections::BTreeSet<&str> =
        t.records.iter().map(|r| r.session_id.as_str()).collect();
    assert!(owners.contains("ses_other"), "{owners:?}");
    assert!(
        owners.contains("ses_04ca851f7ffevKrKMHW3RsPK1U"),
        "{owners:?}"
    );
}
