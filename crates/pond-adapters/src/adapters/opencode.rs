//! opencode (sst/opencode): `$XDG_DATA_HOME/opencode`, default
//! `~/.local/share/opencode` on Linux and macOS and
//! `%USERPROFILE%\.local\share\opencode` on Windows (opencode uses the XDG
//! layout everywhere).
//!
//! Two layouts, both read, and a session found in both is one session: ids
//! are opencode's own (`ses_…`, `msg_…`), so a message keeps its id whichever
//! layout it was read from.
//!
//! * The storage tree (releases before the database):
//!   `storage/session/<projectID>/<sessionID>.json` (directory, title,
//!   parentID, time.created/updated in epoch ms),
//!   `storage/message/<sessionID>/<messageID>.json` (role, time, model) and
//!   `storage/part/<messageID>/<partID>.json` (the content). Each file is a
//!   [`Layout::Document`]. A message's content lives in other files than the
//!   message itself, and a stored message must be whole, so interpreting a
//!   message file or any of its part files reads the message file and all its
//!   part files from disk (siblings found from the file's own path) and
//!   returns the complete message with `revises`: whichever file changed, the
//!   stored message becomes the full current one. This is the one place an
//!   adapter reads files itself; discovery still only lists them. A part
//!   whose message file is missing yields nothing until that file appears.
//! * `opencode.db` (SQLite, newer releases): tables `session`, `message`,
//!   `part` with the same JSON in `data` columns (ids and session ids moved
//!   to columns). Read from a snapshot as one record per session row and one
//!   per message row with its parts embedded, so a changed part changes its
//!   message's record and the message is revised. Rows of `session_message`
//!   (a newer table, empty in the only real database seen) are returned as
//!   records of their own and counted unknown, so they are kept raw. The
//!   `event` table duplicates message and part updates as an event log and is
//!   not read; `project`, `todo`, `permission` and account tables neither.
//!
//! Part types: `text`, `reasoning` (thinking), `tool` (a call with the
//! arguments and, once the state is `completed` or `error`, its result paired
//! by `callID`), `file`, `patch`, `compaction`, `subtask`, `agent`, `retry`
//! (kept as other parts with a short label). `step-start`, `step-finish` and
//! `snapshot` are bookkeeping (token counts, git snapshot hashes): understood
//! and skipped, their bytes kept in the raw record.
//!
//! Uncertain: the storage layout is known from a peer tool's fixture (not a
//! real tree) whose file names differ from the ids inside them, so ids are
//! taken from the JSON and file names only as a fallback; the even older
//! `storage/session/{info,message,part}/…` layout is not read. The database
//! schema is known from one real `opencode.db` (v1.16.0); columns are read by
//! name with `SELECT *`, so added columns are tolerated, and a file without
//! `session`/`message` tables is reported as not an opencode database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile, json_text, sqlite,
    str_field,
};
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

pub struct Opencode;

/// Directories under the data dir that hold no sessions but can be large
/// (git snapshots of every project, binaries, logs): not walked.
const SKIP_DIRS: &[&str] = &[
    "snapshot",
    "bin",
    "log",
    "tool-output",
    "node_modules",
    ".git",
    "session_diff",
];

/// Part types that are bookkeeping rather than content.
const QUIET_PARTS: &[&str] = &["step-start", "step-finish", "snapshot"];

/// Past this many message files, looking for a part's message by content
/// gives up: it only happens for trees whose file names are not the ids.
const MAX_MESSAGE_SCAN: usize = 5000;

/// Which storage file a path is, from the directory two levels up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageKind {
    Session,
    Message,
    Part,
}

impl Adapter for Opencode {
    fn name(&self) -> &'static str {
        "opencode"
    }

    fn default_root(&self) -> PathBuf {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| crate::paths::home_dir().join(".local").join("share"));
        data.join("opencode")
    }

    fn discover(&self, root: &Path) -> Discovery {
        let mut files = Vec::new();
        let mut problems = Vec::new();
        let walker = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !(e.depth() > 0 && e.file_type().is_dir() && skipped_dir(e.path())));
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("{}: {e}", root.display()));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let name = file_name(path);
            let rel_path = rel(root, path);
            if is_database_name(name) {
                files.push(SourceFile {
                    path: path.to_path_buf(),
                    rel_path,
                    layout: Layout::Database,
                    session_hint: None,
                    parent_hint: None,
                });
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let Some(kind) = storage_kind(path) else {
                continue;
            };
            // Only a message file's directory names its session; a session
            // file's name is not reliably its id (see the module doc).
            let session_hint = match kind {
                StorageKind::Message => path
                    .parent()
                    .and_then(|d| d.file_name())
                    .and_then(|n| n.to_str())
                    .map(str::to_string),
                _ => None,
            };
            files.push(SourceFile {
                path: path.to_path_buf(),
                rel_path,
                layout: Layout::Document,
                session_hint,
                parent_hint: None,
            });
        }
        Discovery { files, problems }
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        let first = first_records.first();
        if file.layout == Layout::Database {
            return first_records
                .iter()
                .find_map(|r| match str_field(r, "table") {
                    Some("session") => str_field(r, "id").map(str::to_string),
                    Some("message") => str_field(r, "session_id").map(str::to_string),
                    _ => None,
                });
        }
        match storage_kind(&file.path) {
            Some(StorageKind::Session) => {
                first.and_then(|r| str_field(r, "id")).map(str::to_string)
            }
            Some(StorageKind::Message) => first
                .and_then(|r| str_field(r, "sessionID"))
                .map(str::to_string)
                .or_else(|| file.session_hint.clone()),
            Some(StorageKind::Part) => first
                .and_then(|r| str_field(r, "sessionID"))
                .map(str::to_string)
                .or_else(|| {
                    let storage = storage_root(&file.path)?;
                    let mid = part_message_id(&file.path, first?)?;
                    let (path, message) = find_message(&storage, None, &mid)?;
                    str_field(&message, "sessionID")
                        .map(str::to_string)
                        .or_else(|| dir_name(&path))
                }),
            None => first
                .and_then(|r| str_field(r, "sessionID").or_else(|| str_field(r, "id")))
                .map(str::to_string),
        }
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if ctx.file.layout == Layout::Database {
            return interpret_row(ctx, record);
        }
        if !record.is_object() {
            return Interpretation::unknown();
        }
        match storage_kind(&ctx.file.path) {
            Some(StorageKind::Session) => {
                Interpretation::facts(session_facts(record, SessionShape::Storage))
            }
            Some(StorageKind::Message) => {
                let Some(mid) = str_field(record, "id")
                    .map(str::to_string)
                    .or_else(|| stem(&ctx.file.path))
                else {
                    return Interpretation::unknown();
                };
                let parts = storage_root(&ctx.file.path)
                    .map(|s| read_parts(&s, &mid))
                    .unwrap_or_default();
                whole_message(ctx, record, &mid, &parts)
            }
            Some(StorageKind::Part) => {
                let found = storage_root(&ctx.file.path).and_then(|storage| {
                    let mid = part_message_id(&ctx.file.path, record)?;
                    let sid = str_field(record, "sessionID").unwrap_or(ctx.session_id);
                    let (_, message) = find_message(&storage, Some(sid), &mid)
                        .or_else(|| find_message(&storage, None, &mid))?;
                    let parts = read_parts(&storage, &mid);
                    Some((mid, message, parts))
                });
                match found {
                    Some((mid, message, parts)) => whole_message(ctx, &message, &mid, &parts),
                    // Its message file has not been written yet: the part
                    // is kept raw and joins the message when that appears.
                    None => Interpretation::facts(SessionFacts::default()),
                }
            }
            None => Interpretation::unknown(),
        }
    }

    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, String> {
        let snap =
            sqlite::snapshot(&file.path).map_err(|e| format!("{}: {e}", file.path.display()))?;
        let conn = &snap.conn;
        if !sqlite::has_table(conn, "session") || !sqlite::has_table(conn, "message") {
            return Err(format!(
                "{}: no `session` and `message` tables; not an opencode database",
                file.path.display()
            ));
        }
        let mut out = Vec::new();
        for row in sqlite::rows(conn, "SELECT * FROM session ORDER BY id")? {
            out.push(tagged("session", row));
        }
        let mut parts: HashMap<String, Vec<Value>> = HashMap::new();
        if sqlite::has_table(conn, "part") {
            for row in sqlite::rows(conn, "SELECT * FROM part ORDER BY message_id, id")? {
                let Value::Object(mut row) = row else {
                    continue;
                };
                let mid = row
                    .remove("message_id")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                // The message row already names the session.
                row.remove("session_id");
                parse_data(&mut row);
                parts.entry(mid).or_default().push(Value::Object(row));
            }
        }
        for row in sqlite::rows(conn, "SELECT * FROM message ORDER BY id")? {
            let Value::Object(mut row) = row else {
                continue;
            };
            parse_data(&mut row);
            let mid = row.get("id").and_then(Value::as_str).unwrap_or_default();
            let own = parts.remove(mid).unwrap_or_default();
            row.insert("parts".into(), Value::Array(own));
            out.push(tagged("message", Value::Object(row)));
        }
        // Parts whose message row is gone are still the client's data: kept
        // as records of their own (raw, counted as unknown).
        let mut orphans: Vec<(String, Vec<Value>)> = parts.into_iter().collect();
        orphans.sort_by(|a, b| a.0.cmp(&b.0));
        for (mid, rows) in orphans {
            for mut row in rows {
                if let Value::Object(columns) = &mut row {
                    columns.insert("message_id".into(), Value::String(mid.clone()));
                }
                out.push(tagged("part", row));
            }
        }
        if sqlite::has_table(conn, "session_message") {
            for row in sqlite::rows(conn, "SELECT * FROM session_message ORDER BY id")? {
                out.push(tagged("session_message", row));
            }
        }
        Ok(out)
    }
}

fn tagged(table: &str, row: Value) -> Value {
    let mut object = Map::new();
    object.insert("table".into(), Value::String(table.to_string()));
    if let Value::Object(columns) = row {
        object.extend(columns);
    }
    Value::Object(object)
}

/// The `data` column holds JSON text; embedding it parsed keeps the record
/// readable. Text that does not parse stays a string.
fn parse_data(row: &mut Map<String, Value>) {
    if let Some(Value::String(text)) = row.get("data")
        && let Ok(parsed) = serde_json::from_str::<Value>(text)
    {
        row.insert("data".into(), parsed);
    }
}

fn interpret_row(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    match str_field(record, "table") {
        Some("session") => {
            let Some(sid) = str_field(record, "id") else {
                return Interpretation::unknown();
            };
            Interpretation {
                understood: true,
                other_sessions: vec![(sid.to_string(), session_facts(record, SessionShape::Row))],
                ..Interpretation::default()
            }
        }
        Some("message") => {
            let (Some(mid), Some(sid)) = (str_field(record, "id"), str_field(record, "session_id"))
            else {
                return Interpretation::unknown();
            };
            let data = record.get("data").filter(|d| d.is_object());
            let Some(data) = data else {
                return Interpretation::unknown();
            };
            let parts: Vec<Value> = record
                .get("parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("data").filter(|d| d.is_object()).cloned())
                .collect();
            let (message, facts) = build_message(sid, mid, data, &parts, ctx.offset);
            Interpretation {
                understood: true,
                messages: vec![message],
                other_sessions: vec![(sid.to_string(), facts)],
                revises: true,
                ..Interpretation::default()
            }
        }
        _ => Interpretation::unknown(),
    }
}

fn whole_message(
    ctx: RecordContext<'_>,
    message: &Value,
    mid: &str,
    parts: &[Value],
) -> Interpretation {
    let sid = str_field(message, "sessionID").unwrap_or(ctx.session_id);
    let (message, facts) = build_message(sid, mid, message, parts, ctx.offset);
    let mut out = Interpretation {
        understood: true,
        messages: vec![message],
        revises: true,
        ..Interpretation::default()
    };
    if sid == ctx.session_id {
        out.facts = facts;
    } else {
        out.other_sessions.push((sid.to_string(), facts));
    }
    out
}

#[derive(Clone, Copy)]
enum SessionShape {
    /// `storage/session/…/<id>.json`: nested `time`, camelCase.
    Storage,
    /// A `session` row: flat snake_case columns.
    Row,
}

fn session_facts(record: &Value, shape: SessionShape) -> SessionFacts {
    let mut facts = SessionFacts {
        project: str_field(record, "directory").map(str::to_string),
        title: str_field(record, "title").map(str::to_string),
        ..SessionFacts::default()
    };
    match shape {
        SessionShape::Storage => {
            facts.parent_id = str_field(record, "parentID").map(str::to_string);
            if let Some(time) = record.get("time") {
                facts.saw(millis(time.get("created")));
                facts.saw(millis(time.get("updated")));
            }
        }
        SessionShape::Row => {
            facts.parent_id = str_field(record, "parent_id").map(str::to_string);
            facts.saw(millis(record.get("time_created")));
            facts.saw(millis(record.get("time_updated")));
            // `model` is JSON text: {"id": "...", "providerID": "..."}.
            facts.model = str_field(record, "model")
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .and_then(|m| str_field(&m, "id").map(str::to_string));
        }
    }
    facts
}

/// One message with all its parts, in part-id order (ids are time-sortable,
/// and storage files are named by them).
fn build_message(
    sid: &str,
    mid: &str,
    info: &Value,
    parts: &[Value],
    fallback_seq: u64,
) -> (Message, SessionFacts) {
    let role = str_field(info, "role")
        .and_then(Role::parse)
        .unwrap_or(Role::Assistant);
    let created = info.get("time").and_then(|t| t.get("created"));
    let timestamp = millis(created);
    let model = str_field(info, "modelID")
        .or_else(|| info.get("model").and_then(|m| str_field(m, "modelID")))
        .map(str::to_string);
    let mut facts = SessionFacts::default();
    facts.saw(timestamp);
    if let Some(time) = info.get("time") {
        facts.saw(millis(time.get("completed")));
    }
    if role == Role::Assistant {
        facts.model.clone_from(&model);
        // `path` is {cwd, root} in current releases, a plain string in some.
        facts.project = info
            .get("path")
            .and_then(|p| str_field(p, "cwd").or_else(|| p.as_str()))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
    }
    let mut out: Vec<Part> = parts.iter().flat_map(part_parts).collect();
    if let Some(error) = info.get("error").filter(|e| !e.is_null()) {
        let name = str_field(error, "name").unwrap_or("error");
        let text = error
            .get("data")
            .and_then(|d| str_field(d, "message"))
            .map(|m| format!("[{name}: {m}]"))
            .unwrap_or_else(|| format!("[{name}]"));
        out.push(Part {
            is_error: true,
            ..Part::text(PartKind::Other, text)
        });
    }
    // Time-ordered ids give the same order in both layouts; byte offsets
    // would not (every storage file starts at 0, database rows move).
    let seq = created.and_then(Value::as_u64).unwrap_or(fallback_seq);
    let message = Message {
        id: format!("{sid}/{mid}"),
        session_id: sid.to_string(),
        seq,
        role,
        timestamp,
        model,
        parts: out,
    };
    (message, facts)
}

fn part_parts(part: &Value) -> Vec<Part> {
    let kind = str_field(part, "type").unwrap_or("unknown");
    let text = str_field(part, "text");
    match kind {
        "text" => text
            .map(|t| vec![Part::text(PartKind::Text, t)])
            .unwrap_or_default(),
        "reasoning" => text
            .map(|t| vec![Part::text(PartKind::Thinking, t)])
            .unwrap_or_default(),
        "tool" => tool_parts(part),
        "file" => {
            let name = str_field(part, "filename")
                .or_else(|| part.get("source").and_then(|s| str_field(s, "path")))
                .or_else(|| str_field(part, "url"))
                .or_else(|| str_field(part, "mime"))
                .unwrap_or("file");
            vec![Part::text(PartKind::File, name)]
        }
        "patch" => {
            let files: Vec<&str> = part
                .get("files")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            vec![Part::text(
                PartKind::Other,
                format!("[patch: {}]", files.join(", ")),
            )]
        }
        "compaction" => vec![Part::text(PartKind::Other, "[compaction]")],
        "subtask" => {
            let agent = str_field(part, "agent").unwrap_or("agent");
            let what = str_field(part, "prompt")
                .or_else(|| str_field(part, "description"))
                .unwrap_or_default();
            vec![Part::text(
                PartKind::Other,
                format!("[subtask {agent}] {what}"),
            )]
        }
        "agent" => vec![Part::text(
            PartKind::Other,
            format!("[agent: {}]", str_field(part, "name").unwrap_or_default()),
        )],
        "retry" => {
            let why = part
                .get("error")
                .and_then(|e| e.get("data"))
                .and_then(|d| str_field(d, "message"))
                .unwrap_or_default();
            vec![Part::text(PartKind::Other, format!("[retry] {why}"))]
        }
        k if QUIET_PARTS.contains(&k) => Vec::new(),
        other => vec![Part::text(PartKind::Other, format!("[{other}]"))],
    }
}

/// A tool part holds the call and, once it ran, its outcome: the call and
/// the result become two parts sharing the call id.
fn tool_parts(part: &Value) -> Vec<Part> {
    let state = part.get("state");
    let call_id = str_field(part, "callID")
        .or_else(|| str_field(part, "id"))
        .map(str::to_string);
    let tool = str_field(part, "tool").map(str::to_string);
    let mut out = vec![Part {
        kind: PartKind::ToolCall,
        text: state.and_then(|s| s.get("input")).map(json_text),
        tool_name: tool.clone(),
        tool_call_id: call_id.clone(),
        is_error: false,
    }];
    let status = state.and_then(|s| str_field(s, "status"));
    if matches!(status, Some("completed" | "error")) {
        let is_error = status == Some("error");
        let text = state
            .and_then(|s| s.get(if is_error { "error" } else { "output" }))
            .map(json_text);
        out.push(Part {
            kind: PartKind::ToolResult,
            text,
            tool_name: tool,
            tool_call_id: call_id,
            is_error,
        });
    }
    out
}

fn millis(v: Option<&Value>) -> Option<chrono::DateTime<chrono::Utc>> {
    v.and_then(Value::as_i64)
        .and_then(chrono::DateTime::from_timestamp_millis)
}

fn is_database_name(name: &str) -> bool {
    name == "opencode.db" || (name.starts_with("opencode-") && name.ends_with(".db"))
}

fn skipped_dir(path: &Path) -> bool {
    // Inside session/message/part every directory is an id, whatever its name.
    let parent = path.parent().map(file_name).unwrap_or_default();
    SKIP_DIRS.contains(&file_name(path)) && !matches!(parent, "session" | "message" | "part")
}

fn storage_kind(path: &Path) -> Option<StorageKind> {
    match file_name(path.parent()?.parent()?) {
        "session" => Some(StorageKind::Session),
        "message" => Some(StorageKind::Message),
        "part" => Some(StorageKind::Part),
        _ => None,
    }
}

/// `<storage>/<kind>/<dir>/<file>.json` → `<storage>`.
fn storage_root(path: &Path) -> Option<PathBuf> {
    Some(path.parent()?.parent()?.parent()?.to_path_buf())
}

fn part_message_id(path: &Path, part: &Value) -> Option<String> {
    str_field(part, "messageID")
        .filter(|id| is_plain_id(id))
        .map(str::to_string)
        .or_else(|| dir_name(path))
}

/// Ids read from a file become path components when its siblings are looked
/// up; anything but a plain name (a `/`, `..`, a drive) could lead the
/// lookup out of the storage tree, so such ids are never used as paths.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Every part file of a message that parses, in file-name order. A file
/// being rewritten at this instant may not parse; its own change brings the
/// message back on the next sync.
fn read_parts(storage: &Path, mid: &str) -> Vec<Value> {
    if !is_plain_id(mid) {
        return Vec::new();
    }
    let dir = storage.join("part").join(mid);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| file_name(p).ends_with(".json"))
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| read_json(p)).collect()
}

/// The message file of `mid`: `message/<sid>/<mid>.json` when the session is
/// known, else that name in any session directory, else (trees whose file
/// names are not ids) the file whose `id` is `mid`, looking at a bounded
/// number of files.
fn find_message(storage: &Path, sid: Option<&str>, mid: &str) -> Option<(PathBuf, Value)> {
    if !is_plain_id(mid) || sid.is_some_and(|s| !is_plain_id(s)) {
        return None;
    }
    let messages = storage.join("message");
    let name = format!("{mid}.json");
    let dirs: Vec<PathBuf> = match sid {
        Some(sid) => vec![messages.join(sid)],
        None => {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(&messages)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            dirs.sort();
            dirs
        }
    };
    for dir in &dirs {
        let path = dir.join(&name);
        if let Some(v) = read_json(&path) {
            return Some((path, v));
        }
    }
    let mut scanned = 0;
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            scanned += 1;
            if scanned > MAX_MESSAGE_SCAN {
                return None;
            }
            if let Some(v) = read_json(&path)
                && str_field(&v, "id") == Some(mid)
            {
                return Some((path, v));
            }
        }
    }
    None
}

fn read_json(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

fn dir_name(p: &Path) -> Option<String> {
    p.parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .map(str::to_string)
}

fn stem(p: &Path) -> Option<String> {
    p.file_stem().and_then(|n| n.to_str()).map(str::to_string)
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

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
        crate::adapters::testing::fixtures("opencode")
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
        SourceFile {
            path: fixtures().join("opencode-db/opencode.db"),
            rel_path: "opencode.db".into(),
            layout: Layout::Database,
            session_hint: None,
            parent_hint: None,
        }
    }

    fn count(messages: &BTreeMap<String, Message>, kind: PartKind) -> usize {
        messages
            .values()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == kind)
            .count()
    }

    fn assert_results_pair(messages: &BTreeMap<String, Message>) {
        let calls: BTreeSet<(&str, &str)> = messages
            .values()
            .flat_map(|m| m.parts.iter().map(move |p| (m, p)))
            .filter(|(_, p)| p.kind == PartKind::ToolCall)
            .filter_map(|(m, p)| Some((m.session_id.as_str(), p.tool_call_id.as_deref()?)))
            .collect();
        for m in messages.values() {
            for p in m.parts.iter().filter(|p| p.kind == PartKind::ToolResult) {
                let id = p.tool_call_id.as_deref().expect("result has a call id");
                assert!(calls.contains(&(m.session_id.as_str(), id)), "{id}");
            }
        }
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
        assert_results_pair(&messages);

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
        let file = SourceFile {
            path: part.clone(),
            rel_path: "part/m_user_small/001.json".into(),
            layout: Layout::Document,
            session_hint: None,
            parent_hint: None,
        };
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
        assert_results_pair(&messages);
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
            .prepare(
                "SELECT id, project_id, directory, title, time_created, time_updated FROM session",
            )
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
            let file = SourceFile {
                path: path.clone(),
                rel_path: String::new(),
                layout: Layout::Document,
                session_hint: None,
                parent_hint: None,
            };
            let t = translate_bytes(&Opencode, &file, &std::fs::read(&path).unwrap());
            assert_eq!(t.messages.len(), 1);
            assert_eq!(t.messages[0].id, "s_stage0_large/m_assistant_large_2");
            assert_eq!(t.messages[0].plain_text(), "Ok, done.");
            assert!(t.revised.contains(&t.messages[0].id));
        }
    }

    #[test]
    fn one_more_row_in_the_database_is_one_more_id() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("opencode.db");
        std::fs::copy(db_file().path, &db).unwrap();
        let file = SourceFile {
            path: db.clone(),
            ..db_file()
        };
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
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("opencode.db");
        std::fs::copy(db_file().path, &db).unwrap();
        let file = SourceFile {
            path: db.clone(),
            ..db_file()
        };
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
        assert!(err.contains("not an opencode database"), "{err}");

        // Cut storage files and junk: nothing understood, nothing panics.
        for rel in [
            "message/s_stage0_large/msg_0002.json",
            "part/m_assistant_large_1/001.json",
            "session/proj_test/ses_s_stage0_large.json",
        ] {
            let path = storage_root().join(rel);
            let bytes = std::fs::read(&path).unwrap();
            let file = SourceFile {
                path,
                rel_path: rel.into(),
                layout: Layout::Document,
                session_hint: None,
                parent_hint: None,
            };
            let t = translate_bytes(&Opencode, &file, &bytes[..bytes.len() / 2]);
            assert!(t.messages.is_empty());
            for junk in [&b"\xff\xfe{{{"[..], b"[1,2,3]", b"\"text\"", b"{}", b""] {
                let _ = translate_bytes(&Opencode, &file, junk);
            }
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
}
