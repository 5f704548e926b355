//! Goose (Block): `<data>/sessions/`, where `<data>` is `$GOOSE_PATH_ROOT/data`
//! when that variable is set, else `%APPDATA%\Block\goose\data` on Windows and
//! `$XDG_DATA_HOME/goose` (default `~/.local/share/goose`) on Linux and macOS
//! (goose picks its directories with the `etcetera` crate's default
//! strategy, which is XDG everywhere but Windows).
//!
//! Two layouts, both read:
//! * `<session name>.jsonl` (before ~v1.10): a first line of metadata
//!   (`working_dir`, `description`, token counts, `schedule_id`), then one
//!   message per line: `{id?, role, created (epoch s), content: [...],
//!   metadata?}`.
//! * `sessions.db` (SQLite, since ~v1.10): table `sessions` (`id` like
//!   `20251015_1`, `working_dir`, `name`/`description`, `created_at`,
//!   `updated_at`, ...) and table `messages` (`id` autoincrement,
//!   `session_id`, `role`, `content_json`, `created_timestamp`, ...). Goose
//!   imports the JSONL files into it on first start.
//!
//! Content blocks: `text`, `image` (file), `toolRequest` / `frontendToolRequest`
//! (tool call: `toolCall.value.{name, arguments}`, or `toolCall.error`),
//! `toolResponse` (result paired by `id`; `toolResult.value` is a list of MCP
//! contents or `{content, isError}`, or `toolResult.error`), `thinking`,
//! `redactedThinking`, and notices (`toolConfirmationRequest`,
//! `actionRequired`, `systemNotification`, `contextLengthExceeded`,
//! `summarizationRequested`) kept as other parts.
//!
//! Ids: goose's session ids are per-machine (a date and a counter, or the
//! user's session name), so two people's first session of a day would share
//! one. The session id here is `goose-<id>-<8 hex of the working dir's
//! SHA-256>`: the same in both layouts (goose keeps the name and the working
//! dir when it imports a JSONL file), distinct across people whose working
//! dirs differ. Messages have no stable id of their own (database rows are
//! renumbered when goose rewrites a conversation), so a message's id hashes
//! its role, creation time and content, the same in both layouts; two
//! identical messages created in the same second are one message.
//!
//! UNVERIFIED: no real goose file was available. Everything here comes from
//! goose's source and docs; the tests run on synthetic inputs written to that
//! description. Unknown lines and rows are kept raw and counted, unknown
//! content blocks become other parts, and missing columns or fields leave
//! the corresponding fact empty.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile, env_dir, json_text,
    sqlite, str_field, walk,
};
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

pub struct Goose;

impl Adapter for Goose {
    fn name(&self) -> &'static str {
        "goose"
    }

    /// Not unique across machines: session ids are a per-day counter (with the working directory).
    fn session_ids_are_global(&self) -> bool {
        false
    }

    fn default_root(&self) -> PathBuf {
        data_dir().join("sessions")
    }

    fn discover(&self, root: &Path) -> Discovery {
        let (found, problems) = walk(root, |p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".jsonl") || name == "sessions.db"
        });
        let files = found
            .into_iter()
            .map(|(path, rel_path)| {
                let layout = if path.extension().is_some_and(|e| e == "db") {
                    Layout::Database
                } else {
                    Layout::Jsonl
                };
                SourceFile {
                    path,
                    rel_path,
                    layout,
                    // The name is goose's id, not pond's: see `session_id`.
                    session_hint: None,
                    parent_hint: None,
                }
            })
            .collect();
        Discovery { files, problems }
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        if file.layout == Layout::Database {
            return first_records
                .iter()
                .find_map(|r| match str_field(r, "table") {
                    Some("sessions") => {
                        Some(session_id(str_field(r, "id")?, str_field(r, "working_dir")))
                    }
                    Some("messages") => Some(session_id(
                        str_field(r, "session_id")?,
                        str_field(r, "session_working_dir"),
                    )),
                    _ => None,
                });
        }
        let name = file.path.file_stem()?.to_str()?;
        let working_dir = first_records
            .first()
            .filter(|r| is_metadata(r))
            .and_then(|r| str_field(r, "working_dir"));
        Some(session_id(name, working_dir))
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if ctx.file.layout == Layout::Database {
            return interpret_row(ctx, record);
        }
        if is_metadata(record) {
            let facts = SessionFacts {
                project: str_field(record, "working_dir").map(str::to_string),
                title: str_field(record, "name")
                    .or_else(|| str_field(record, "description"))
                    .map(str::to_string),
                ..SessionFacts::default()
            };
            return Interpretation::facts(facts);
        }
        let (Some(role), Some(content)) = (str_field(record, "role"), record.get("content")) else {
            return Interpretation::unknown();
        };
        let Some(message) = build_message(
            ctx.session_id,
            role,
            record.get("created"),
            content,
            ctx.offset,
        ) else {
            return Interpretation::unknown();
        };
        let mut facts = SessionFacts::default();
        facts.saw(message.timestamp);
        Interpretation::message(facts, message)
    }

    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, String> {
        let snap =
            sqlite::snapshot(&file.path).map_err(|e| format!("{}: {e}", file.path.display()))?;
        let conn = &snap.conn;
        if !sqlite::has_table(conn, "sessions") || !sqlite::has_table(conn, "messages") {
            return Err(format!(
                "{}: no `sessions` and `messages` tables; not a goose database",
                file.path.display()
            ));
        }
        let mut out = Vec::new();
        let mut dirs: HashMap<String, Value> = HashMap::new();
        for row in sqlite::rows(conn, "SELECT * FROM sessions ORDER BY id")? {
            if let (Some(id), Some(dir)) = (str_field(&row, "id"), row.get("working_dir")) {
                dirs.insert(id.to_string(), dir.clone());
            }
            out.push(tagged("sessions", row, None));
        }
        for row in sqlite::rows(conn, "SELECT * FROM messages ORDER BY session_id, id")? {
            // Each message names its session's working dir, which is part of
            // the session id pond gives it.
            let dir = str_field(&row, "session_id")
                .and_then(|s| dirs.get(s))
                .cloned();
            out.push(tagged("messages", row, dir));
        }
        Ok(out)
    }
}

fn data_dir() -> PathBuf {
    if let Some(root) = env_dir("GOOSE_PATH_ROOT").filter(|p| p.is_absolute()) {
        return root.join("data");
    }
    if cfg!(target_os = "windows")
        && let Some(appdata) = env_dir("APPDATA")
    {
        return appdata.join("Block").join("goose").join("data");
    }
    env_dir("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| crate::paths::home_dir().join(".local").join("share"))
        .join("goose")
}

fn tagged(table: &str, row: Value, working_dir: Option<Value>) -> Value {
    let mut object = Map::new();
    object.insert("table".into(), Value::String(table.to_string()));
    if let Value::Object(columns) = row {
        object.extend(columns);
    }
    if let Some(dir) = working_dir {
        object.insert("session_working_dir".into(), dir);
    }
    Value::Object(object)
}

/// See the module doc: goose's id qualified by the working dir.
fn session_id(goose_id: &str, working_dir: Option<&str>) -> String {
    match working_dir {
        Some(dir) => format!("goose-{goose_id}-{}", &sha256_hex(dir.as_bytes())[..8]),
        None => format!("goose-{goose_id}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first line of a JSONL session: an object that is not a message.
fn is_metadata(record: &Value) -> bool {
    record.get("role").is_none()
        && ["working_dir", "description", "message_count"]
            .iter()
            .any(|k| record.get(*k).is_some())
}

fn interpret_row(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    match str_field(record, "table") {
        Some("sessions") => {
            let Some(id) = str_field(record, "id") else {
                return Interpretation::unknown();
            };
            let dir = str_field(record, "working_dir");
            let mut facts = SessionFacts {
                project: dir.map(str::to_string),
                title: str_field(record, "name")
                    .or_else(|| str_field(record, "description"))
                    .map(str::to_string),
                ..SessionFacts::default()
            };
            facts.saw(sql_time(record.get("created_at")));
            facts.saw(sql_time(record.get("updated_at")));
            Interpretation {
                understood: true,
                other_sessions: vec![(session_id(id, dir), facts)],
                ..Interpretation::default()
            }
        }
        Some("messages") => {
            let (Some(goose_id), Some(role)) =
                (str_field(record, "session_id"), str_field(record, "role"))
            else {
                return Interpretation::unknown();
            };
            let sid = session_id(goose_id, str_field(record, "session_working_dir"));
            let Some(content) = str_field(record, "content_json")
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
            else {
                return Interpretation::unknown();
            };
            // Row ids keep insertion order, also after goose renumbers them.
            let seq = record
                .get("id")
                .and_then(Value::as_u64)
                .unwrap_or(ctx.offset);
            let Some(message) =
                build_message(&sid, role, record.get("created_timestamp"), &content, seq)
            else {
                return Interpretation::unknown();
            };
            let mut facts = SessionFacts::default();
            facts.saw(message.timestamp);
            Interpretation {
                understood: true,
                messages: vec![message],
                other_sessions: vec![(sid, facts)],
                // A row goose rewrote replaces what an earlier read stored.
                revises: true,
                ..Interpretation::default()
            }
        }
        _ => Interpretation::unknown(),
    }
}

fn build_message(
    sid: &str,
    role: &str,
    created: Option<&Value>,
    content: &Value,
    seq: u64,
) -> Option<Message> {
    let blocks = content.as_array()?;
    let key = sha256_hex(
        format!(
            "{role}\n{}\n{content}",
            created.map(Value::to_string).unwrap_or_default()
        )
        .as_bytes(),
    );
    let parts: Vec<Part> = blocks.iter().map(block_part).collect();
    let mut role = Role::parse(role).unwrap_or(Role::User);
    if role == Role::User
        && !parts.is_empty()
        && parts.iter().all(|p| p.kind == PartKind::ToolResult)
    {
        role = Role::Tool;
    }
    Some(Message {
        id: format!("{sid}/{}", &key[..16]),
        session_id: sid.to_string(),
        seq,
        role,
        timestamp: epoch(created),
        model: None,
        parts,
    })
}

fn block_part(block: &Value) -> Part {
    let kind = str_field(block, "type").unwrap_or("unknown");
    match kind {
        "text" => Part::text(PartKind::Text, str_field(block, "text").unwrap_or_default()),
        "image" => Part::text(
            PartKind::File,
            format!(
                "[image: {}]",
                str_field(block, "mimeType").unwrap_or("unknown type")
            ),
        ),
        "toolRequest" | "frontendToolRequest" => {
            let call = block.get("toolCall");
            let value = call.and_then(|c| c.get("value"));
            let error = call.and_then(|c| str_field(c, "error"));
            Part {
                kind: PartKind::ToolCall,
                text: value
                    .and_then(|v| v.get("arguments"))
                    .map(json_text)
                    .or_else(|| error.map(str::to_string)),
                tool_name: value.and_then(|v| str_field(v, "name")).map(str::to_string),
                tool_call_id: str_field(block, "id").map(str::to_string),
                is_error: error.is_some(),
            }
        }
        "toolResponse" => {
            let result = block.get("toolResult");
            let error = result.and_then(|r| str_field(r, "error"));
            let value = result.and_then(|r| r.get("value"));
            // Older goose: a list of contents; newer: {content, isError}.
            let (items, flagged) = match value {
                Some(Value::Array(items)) => (Some(items), false),
                Some(v) => (
                    v.get("content").and_then(Value::as_array),
                    v.get("isError").and_then(Value::as_bool).unwrap_or(false),
                ),
                None => (None, false),
            };
            let text = match (error, items) {
                (Some(e), _) => Some(e.to_string()),
                (None, Some(items)) => Some(
                    items
                        .iter()
                        .map(content_text)
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                (None, None) => value.map(json_text),
            };
            Part {
                kind: PartKind::ToolResult,
                text,
                tool_name: None,
                tool_call_id: str_field(block, "id").map(str::to_string),
                is_error: error.is_some() || flagged,
            }
        }
        "thinking" => Part::text(
            PartKind::Thinking,
            str_field(block, "thinking").unwrap_or_default(),
        ),
        "redactedThinking" => Part::text(PartKind::Thinking, "[redacted thinking]"),
        "toolConfirmationRequest" => Part::text(
            PartKind::Other,
            format!(
                "[confirm {}]",
                str_field(block, "toolName").unwrap_or("tool")
            ),
        ),
        "systemNotification" | "contextLengthExceeded" | "summarizationRequested" => Part::text(
            PartKind::Other,
            str_field(block, "msg")
                .map(str::to_string)
                .unwrap_or_else(|| format!("[{kind}]")),
        ),
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}

/// An MCP content item of a tool result.
fn content_text(item: &Value) -> String {
    match str_field(item, "type") {
        Some("text") => str_field(item, "text").unwrap_or_default().to_string(),
        Some("image") => "[image]".to_string(),
        Some("resource") => item
            .get("resource")
            .and_then(|r| str_field(r, "text").or_else(|| str_field(r, "uri")))
            .unwrap_or("[resource]")
            .to_string(),
        Some(other) => format!("[{other}]"),
        None => json_text(item),
    }
}

/// Goose writes `created` in epoch seconds; a value too large for that is
/// taken as milliseconds.
fn epoch(v: Option<&Value>) -> Option<chrono::DateTime<chrono::Utc>> {
    let n = v.and_then(Value::as_i64)?;
    if n > 100_000_000_000 {
        chrono::DateTime::from_timestamp_millis(n)
    } else {
        chrono::DateTime::from_timestamp(n, 0)
    }
}

/// SQLite `CURRENT_TIMESTAMP` text (`2025-10-15 09:30:00`, UTC) or RFC 3339.
fn sql_time(v: Option<&Value>) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = v?.as_str()?;
    crate::model::parse_timestamp(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
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
        SourceFile {
            path: path.to_path_buf(),
            rel_path: "20250219_120000.jsonl".into(),
            layout: Layout::Jsonl,
            session_hint: None,
            parent_hint: None,
        }
    }

    fn db_file(path: &Path) -> SourceFile {
        SourceFile {
            path: path.to_path_buf(),
            rel_path: "sessions.db".into(),
            layout: Layout::Database,
            session_hint: None,
            parent_hint: None,
        }
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

    fn assert_results_pair(messages: &[Message]) {
        let calls: BTreeSet<(&str, &str)> = messages
            .iter()
            .flat_map(|m| m.parts.iter().map(move |p| (m, p)))
            .filter(|(_, p)| p.kind == PartKind::ToolCall)
            .filter_map(|(m, p)| Some((m.session_id.as_str(), p.tool_call_id.as_deref()?)))
            .collect();
        for m in messages {
            for p in m.parts.iter().filter(|p| p.kind == PartKind::ToolResult) {
                let id = p.tool_call_id.as_deref().unwrap();
                assert!(calls.contains(&(m.session_id.as_str(), id)), "{id}");
            }
        }
    }

    #[test]
    fn discovers_jsonl_sessions_and_the_database() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("20250219_120000.jsonl"), SYNTHETIC_JSONL).unwrap();
        synthetic_db(&dir.path().join("sessions.db"));
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let found = Goose.discover(dir.path());
        assert!(found.problems.is_empty());
        let seen: Vec<(&str, Layout)> = found
            .files
            .iter()
            .map(|f| (f.rel_path.as_str(), f.layout))
            .collect();
        assert_eq!(
            seen,
            [
                ("20250219_120000.jsonl", Layout::Jsonl),
                ("sessions.db", Layout::Database)
            ]
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
        let (rest, _) =
            crate::translate::segments(&Goose, file.layout, &bytes[cut..], cut as u64, 4);
        let second = crate::translate::translate(
            &Goose,
            &file,
            &rest,
            Some(first.current_session.clone()),
            || "not-resumed".to_string(),
        );
        let ids = |t: &crate::translate::Translation| {
            t.messages.iter().map(|m| m.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(first.messages.len(), 2);
        assert_eq!(second.messages.len(), 2);
        assert_eq!([ids(&first), ids(&second)].concat(), ids(&whole));
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
        let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
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
        assert_results_pair(&t.messages);
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
        assert_results_pair(&t.messages);

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
        for junk in [
            &b"\xff\xfe{{{\n"[..],
            b"[1,2]\n{\"role\":\"user\",\"content\":7}\n",
            b"{\"role\":\"user\",\"content\":[{\"type\":\"toolResponse\",\"toolResult\":5},3]}\n",
            b"",
        ] {
            let _ = translate_bytes(&Goose, &file, junk);
        }
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
        assert!(err.contains("not a goose database"), "{err}");
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
}
