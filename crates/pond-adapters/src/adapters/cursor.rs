//! Cursor: the IDE's chat/composer history, the `cursor-agent` CLI, and
//! Markdown "Export chat" files.
//!
//! Cursor keeps no plain transcript files for the IDE: its conversations
//! live in VS Code-style SQLite key/value databases, so this adapter reads
//! databases for the IDE and the CLI's per-chat stores, JSON lines for the
//! CLI's transcripts, and Markdown only for exports a user points it at.
//!
//! Where the sessions are:
//! - IDE, `<config>/Cursor/User/` with `<config>` = `~/.config` (Linux,
//!   `$XDG_CONFIG_HOME` when set), `~/Library/Application Support` (macOS),
//!   `%APPDATA%` (Windows): `globalStorage/state.vscdb` (every composer) and
//!   `workspaceStorage/<hash>/state.vscdb` (one per opened folder, with a
//!   `workspace.json` naming the folder).
//! - CLI, `~/.cursor/` on every OS: `chats/<md5 of cwd>/<agent id>/store.db`
//!   (and `acp-sessions/<agent id>/store.db`), and
//!   `projects/<slug>/agent-transcripts/<id>.jsonl` (also `<id>/<id>.jsonl`,
//!   subagents under `<parent id>/subagents/<id>.jsonl`).
//! - Exports: `*.md` files opening with `_Exported on … from Cursor (x.y)_`,
//!   read only from a directory given with `pond sync cursor --path DIR`
//!   (Cursor's own folders hold edit-history copies of arbitrary Markdown).
//!
//! What is understood:
//! - `state.vscdb`, table `cursorDiskKV`: `composerData:<composer>` (title,
//!   times, model, branch, sub-composers, and an inline `conversation[]` in
//!   older versions) and `bubbleId:<composer>:<bubble>` (one message: `type`
//!   1 user / 2 assistant, `text`, `thinking`, `toolFormerData` tool call
//!   with its result, `createdAt`). Each composer is a session; a database
//!   holds many, so every message names its own session. Only these keys
//!   are read (`LIKE` filters): the rest of the table is editor state, and
//!   the `ItemTable` holds credentials.
//! - `state.vscdb`, table `ItemTable`: `composer.composerData` (a
//!   workspace's composer list, which gives those composers their project
//!   folder) and `workbench.panel.aichat.view.aichat.chatdata` (the old
//!   chat panel: tabs of bubbles, one session per tab).
//! - `store.db`: table `meta` (hex-encoded JSON: agent id, name, model,
//!   creation time, subagent lineage) and `blobs`, a content-addressed tree
//!   whose JSON leaves are messages (`{role, content}` with `text`,
//!   `reasoning`, `tool-call`, `tool-result` blocks) and whose binary nodes
//!   list child blob ids (protobuf field 1, 32 bytes each).
//! - Transcripts: `{role, message: {content: [text | thinking | tool_use |
//!   tool_result]}}` lines without ids or timestamps, and `turn_ended` lines.
//! - Exports: the `# title` / `_Exported on …_` header, then `**User**` and
//!   `**Cursor**` sections separated by `---`.
//!
//! Uncertainty: the IDE databases and the `store.db` blob tree are known
//! only from other tools' descriptions and their own test data (the one
//! `store.db` fixture has an empty blob table), not from files we could
//! inspect; Cursor changes them between releases. So every field is
//! optional, unknown bubble types and roles are counted as unknown rather
//! than guessed, a value over [`MAX_VALUE_BYTES`] is replaced by its size,
//! and a database without any of these tables is an error naming the file.
//! The export layout is likewise known from descriptions only. Transcripts
//! are confirmed by fixtures. A CLI chat's transcript and `store.db` share
//! its UUID, so a chat kept in both is read into one session twice, once
//! per source (no record says which copy is authoritative).
//!
//! Rows are records: [`Adapter::read_database`] returns one JSON object per
//! composer, bubble, `ItemTable` entry, meta entry and message blob. Two
//! changes are made on the way, both recorded in the row: composer rows
//! lose their encryption keys and the heavy editor state
//! (`originalFileStates`, `codeBlockData`, `richText`) listed under
//! `dropped`, because every new message rewrites the composer row and each
//! version is stored; bubble and blob rows gain `position`, their place in
//! the conversation, which orders messages stably as databases grow.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile, env_dir, is_uuid,
    json_text, sqlite, str_field,
};
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

pub struct Cursor;

/// Values larger than this are not loaded: the row keeps the size only.
/// Cursor stores whole file contents and terminal output in some values.
pub const MAX_VALUE_BYTES: i64 = 16 * 1024 * 1024;

/// Composer fields not kept: secrets, and editor state that is large,
/// rewritten on every message and holds no conversation.
const COMPOSER_DROPPED: &[&str] = &[
    "blobEncryptionKey",
    "speculativeSummarizationEncryptionKey",
    "originalFileStates",
    "codeBlockData",
    "richText",
];

/// `ItemTable` keys that hold chats; nothing else of that table is read.
const ITEM_KEYS: &[&str] = &[
    "composer.composerData",
    "workbench.panel.aichat.view.aichat.chatdata",
];

/// Directories never holding sessions but possibly holding many files.
const PRUNED_DIRS: &[&str] = &[
    "History",
    "extensions",
    "node_modules",
    ".git",
    "logs",
    "CachedData",
    "CachedExtensionVSIXs",
    "Cache",
];

/// Orders messages whose place in the conversation is unknown (bubbles no
/// header lists, blobs the current tree no longer reaches) after all others.
const UNPLACED: u64 = 1 << 40;

const EXPORT_MARK: &str = "_Exported on ";

impl Adapter for Cursor {
    fn name(&self) -> &'static str {
        "cursor"
    }

    fn default_root(&self) -> PathBuf {
        config_dir().join("Cursor").join("User")
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        vec![crate::paths::home_dir().join(".cursor")]
    }

    fn discover(&self, root: &Path) -> Discovery {
        // Cursor's own folders get exact names only; a folder given with
        // --path is the user saying it holds Cursor data, so copies and
        // exports with other names are accepted there.
        let lenient = !self
            .roots()
            .iter()
            .any(|r| std::path::absolute(r).unwrap_or_else(|_| r.clone()) == root);
        let mut files = Vec::new();
        let mut problems = Vec::new();
        let walker = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !e.file_type().is_dir()
                    || !PRUNED_DIRS.contains(&e.file_name().to_string_lossy().as_ref())
            });
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
            let rel_path = path
                .strip_prefix(root)
                .unwrap_or(path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if let Some(file) = classify(path, rel_path, lenient) {
                files.push(file);
            }
        }
        Discovery { files, problems }
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        if file.layout == Layout::Text {
            return first_records
                .iter()
                .filter_map(Value::as_str)
                .find(|t| t.contains(EXPORT_MARK))
                .map(export_session);
        }
        first_records
            .iter()
            .find_map(record_session)
            .or_else(|| file.session_hint.clone())
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        match ctx.file.layout {
            Layout::Text => match record.as_str() {
                Some(text) => export_record(ctx, text),
                None => Interpretation::unknown(),
            },
            Layout::Database => database_record(ctx, record),
            _ => transcript_record(ctx, record),
        }
    }

    fn cut_text(&self, buf: &[u8], at_eof: bool) -> Vec<usize> {
        cut_export(buf, at_eof)
    }

    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, String> {
        let snap = sqlite::snapshot(&file.path)?;
        let conn = &snap.conn;
        if sqlite::has_table(conn, "meta") && sqlite::has_table(conn, "blobs") {
            return agent_store_rows(conn);
        }
        let kv = sqlite::has_table(conn, "cursorDiskKV");
        let items = sqlite::has_table(conn, "ItemTable");
        if !kv && !items {
            return Err(
                "no Cursor chat tables (cursorDiskKV, ItemTable, or meta and blobs)".to_string(),
            );
        }
        let mut rows = Vec::new();
        if kv {
            rows.extend(disk_kv_rows(conn)?);
        }
        if items {
            rows.extend(item_rows(conn, &file.path)?);
        }
        Ok(rows)
    }
}

/// Where VS Code-style applications keep their per-user folders.
fn config_dir() -> PathBuf {
    let home = crate::paths::home_dir();
    if cfg!(target_os = "macos") {
        home.join("Library").join("Application Support")
    } else if cfg!(target_os = "windows") {
        env_dir("APPDATA").unwrap_or_else(|| home.join("AppData").join("Roaming"))
    } else {
        env_dir("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"))
    }
}

fn classify(path: &Path, rel_path: String, lenient: bool) -> Option<SourceFile> {
    let name = path.file_name()?.to_str()?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let dir_name = |p: &Path| {
        p.parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .map(str::to_string)
    };
    let file = |layout, session_hint, parent_hint| {
        Some(SourceFile {
            path: path.to_path_buf(),
            rel_path: rel_path.clone(),
            layout,
            session_hint,
            parent_hint,
        })
    };
    if name == "state.vscdb" || (lenient && ext == "vscdb") {
        return file(Layout::Database, None, None);
    }
    if name == "store.db" || (lenient && ext == "db" && is_sqlite(path)) {
        let hint = dir_name(path).filter(|d| is_uuid(d));
        // Other programs name databases store.db too; the CLI's sit in a
        // directory named by the agent id.
        if hint.is_some() || lenient {
            return file(Layout::Database, hint, None);
        }
        return None;
    }
    if ext == "jsonl" && (lenient || rel_path.split('/').any(|c| c == "agent-transcripts")) {
        let stem = path.file_stem()?.to_str()?;
        let hint = is_uuid(stem).then(|| stem.to_string());
        // <parent>/subagents/<id>.jsonl
        let parent = path
            .parent()
            .filter(|d| d.file_name().is_some_and(|n| n == "subagents"))
            .and_then(dir_name)
            .filter(|p| is_uuid(p));
        return file(Layout::Jsonl, hint, parent);
    }
    if lenient && ext == "md" && is_export(path) {
        return file(Layout::Text, None, None);
    }
    None
}

fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

/// Whether a Markdown file opens with Cursor's export header.
fn is_export(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    let read = std::fs::File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head));
    read.is_ok()
        && String::from_utf8_lossy(&head)
            .lines()
            .take(6)
            .any(|l| l.trim_start().starts_with(EXPORT_MARK) && l.contains("from Cursor"))
}

// ---------------------------------------------------------------------------
// Reading databases

/// One key/value row: its key, the value's size, and the value unless it
/// is over [`MAX_VALUE_BYTES`].
struct KvRow {
    key: String,
    size: i64,
    value: Option<Vec<u8>>,
}

fn kv_query(conn: &Connection, sql: &str) -> Result<Vec<KvRow>, String> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| format!("cannot query `{sql}`: {e}"))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| format!("cannot query `{sql}`: {e}"))?;
    let mut out = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(format!("cannot read a row of `{sql}`: {e}")),
        };
        let key = match row.get_ref(0) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Blob(b)) => match std::str::from_utf8(b) {
                Ok(s) => s.to_string(),
                Err(_) => hex(b),
            },
            Ok(ValueRef::Integer(n)) => n.to_string(),
            _ => continue,
        };
        let size = row.get::<_, Option<i64>>(1).ok().flatten().unwrap_or(0);
        let value = match row.get_ref(2) {
            Ok(ValueRef::Text(t)) | Ok(ValueRef::Blob(t)) => Some(t.to_vec()),
            _ => None,
        };
        out.push(KvRow { key, size, value });
    }
    Ok(out)
}

/// A stored value as JSON: parsed when it is JSON, else its text (or hex
/// when not UTF-8), so nothing is lost.
fn value_json(bytes: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => v,
        Err(_) => match std::str::from_utf8(bytes) {
            Ok(s) => json!({ "text": s }),
            Err(_) => json!({ "hex": hex(bytes) }),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A row of one table: the value, or its size when too large to load.
fn kv_object(table: &str, row: &KvRow, value: Option<Value>) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("table".into(), table.into());
    o.insert("key".into(), row.key.clone().into());
    match value {
        Some(v) => {
            o.insert("value".into(), v);
        }
        None => {
            o.insert("omitted_bytes".into(), row.size.into());
        }
    }
    o
}

fn size_capped(column: &str) -> String {
    format!("length({column}), CASE WHEN length({column}) <= {MAX_VALUE_BYTES} THEN {column} END")
}

/// Composers, each followed by its bubbles in conversation order (then
/// the ones its header list does not name yet); bubbles of composers
/// without a header come last.
fn disk_kv_rows(conn: &Connection) -> Result<Vec<Value>, String> {
    let composers = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM cursorDiskKV WHERE key LIKE 'composerData:%' ORDER BY key",
            size_capped("value")
        ),
    )?;
    let bubbles = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM cursorDiskKV WHERE key LIKE 'bubbleId:%' ORDER BY key",
            size_capped("value")
        ),
    )?;
    let mut groups: HashMap<&str, Vec<&KvRow>> = HashMap::new();
    for bubble in &bubbles {
        if let Some(c) = key_composer(&bubble.key) {
            groups.entry(c).or_default().push(bubble);
        }
    }
    let mut out = Vec::new();
    let mut emitted: HashSet<&str> = HashSet::new();
    for row in &composers {
        let composer_id = key_composer(&row.key).unwrap_or_default();
        let value = row.value.as_deref().map(value_json).map(trim_composer);
        let order: HashMap<String, usize> = value
            .as_ref()
            .and_then(|v| v.get("fullConversationHeadersOnly"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| str_field(h, "bubbleId"))
            .enumerate()
            .map(|(i, b)| (format!("bubbleId:{composer_id}:{b}"), i))
            .collect();
        out.push(Value::Object(kv_object("cursorDiskKV", row, value)));
        let mut group = groups.remove(composer_id).unwrap_or_default();
        group.sort_by_key(|b| order.get(&b.key).copied().unwrap_or(usize::MAX));
        for bubble in group {
            emitted.insert(bubble.key.as_str());
            out.push(bubble_row(bubble, order.get(&bubble.key).copied()));
        }
    }
    for bubble in &bubbles {
        if !emitted.contains(bubble.key.as_str()) {
            out.push(bubble_row(bubble, None));
        }
    }
    Ok(out)
}

fn bubble_row(row: &KvRow, position: Option<usize>) -> Value {
    let mut o = kv_object("cursorDiskKV", row, row.value.as_deref().map(value_json));
    o.insert("position".into(), position.map_or(Value::Null, Value::from));
    Value::Object(o)
}

/// Drops [`COMPOSER_DROPPED`] fields (and anything named like an
/// encryption key), listing what was dropped.
fn trim_composer(value: Value) -> Value {
    let Value::Object(mut o) = value else {
        return value;
    };
    let drop: Vec<String> = o
        .keys()
        .filter(|k| COMPOSER_DROPPED.contains(&k.as_str()) || k.ends_with("EncryptionKey"))
        .cloned()
        .collect();
    for k in &drop {
        o.remove(k);
    }
    if !drop.is_empty() {
        o.insert("dropped".into(), drop.into());
    }
    Value::Object(o)
}

fn item_rows(conn: &Connection, db: &Path) -> Result<Vec<Value>, String> {
    let keys = ITEM_KEYS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM ItemTable WHERE key IN ({keys}) ORDER BY key",
            size_capped("value")
        ),
    )?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // The folder this workspace database belongs to, for its composers.
    let workspace = db
        .parent()
        .map(|d| d.join("workspace.json"))
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Ok(rows
        .iter()
        .map(|row| {
            let mut o = kv_object("ItemTable", row, row.value.as_deref().map(value_json));
            if let Some(w) = &workspace {
                o.insert("workspace".into(), w.clone());
            }
            Value::Object(o)
        })
        .collect())
}

/// `store.db`: the meta rows, then the message blobs in the order the
/// latest tree reaches them, then message blobs it no longer reaches.
fn agent_store_rows(conn: &Connection) -> Result<Vec<Value>, String> {
    let meta = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM meta ORDER BY key",
            size_capped("value")
        ),
    )?;
    let blobs = kv_query(
        conn,
        &format!("SELECT id, {} FROM blobs ORDER BY id", size_capped("data")),
    )?;
    let mut out = Vec::new();
    let mut root = None;
    for row in &meta {
        let value = row.value.as_deref().map(|bytes| {
            // Cursor writes the meta value as hex of JSON.
            let text = String::from_utf8_lossy(bytes);
            match unhex(&text) {
                Some(decoded) => value_json(&decoded),
                None => value_json(bytes),
            }
        });
        if let Some(r) = value
            .as_ref()
            .and_then(|v| str_field(v, "latestRootBlobId"))
        {
            root = Some(r.to_string());
        }
        out.push(Value::Object(kv_object("meta", row, value)));
    }
    let by_id: HashMap<&str, &KvRow> = blobs.iter().map(|b| (b.key.as_str(), b)).collect();
    let order = root.map(|r| tree_order(&r, &by_id)).unwrap_or_default();
    let mut placed = HashSet::new();
    for (position, id) in order.iter().enumerate() {
        if let Some(blob) = by_id.get(id.as_str()) {
            placed.insert(id.clone());
            out.push(blob_row(blob, Some(position)));
        }
    }
    for blob in &blobs {
        if !placed.contains(&blob.key) && is_json_blob(blob) {
            out.push(blob_row(blob, None));
        }
    }
    Ok(out)
}

fn is_json_blob(blob: &KvRow) -> bool {
    blob.value
        .as_deref()
        .is_some_and(|b| b.trim_ascii_start().first() == Some(&b'{'))
        // Too large to load: kept as a size-only row all the same.
        || blob.value.is_none()
}

fn blob_row(row: &KvRow, position: Option<usize>) -> Value {
    let mut o = kv_object("blobs", row, row.value.as_deref().map(value_json));
    o.insert("position".into(), position.map_or(Value::Null, Value::from));
    Value::Object(o)
}

/// The JSON blobs under `root`, depth first, children in stored order.
fn tree_order(root: &str, blobs: &HashMap<&str, &KvRow>) -> Vec<String> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(data) = blobs.get(id.as_str()).and_then(|b| b.value.as_deref()) else {
            continue;
        };
        if data.trim_ascii_start().first() == Some(&b'{') {
            order.push(id);
            continue;
        }
        let children = tree_children(data);
        stack.extend(children.into_iter().rev());
    }
    order
}

/// Child blob ids of a tree node: its protobuf field-1 entries of 32 bytes.
/// Other fields are skipped; a malformed node yields what parsed.
fn tree_children(data: &[u8]) -> Vec<String> {
    fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *data.get(*at)?;
            *at += 1;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let Some(tag) = varint(data, &mut at) else {
            break;
        };
        let skip = match tag & 7 {
            0 => varint(data, &mut at).map(|_| 0),
            1 => Some(8),
            5 => Some(4),
            2 => varint(data, &mut at).and_then(|n| usize::try_from(n).ok()),
            _ => None,
        };
        let Some(len) = skip else { break };
        let Some(bytes) = at.checked_add(len).and_then(|end| data.get(at..end)) else {
            break;
        };
        if tag == (1 << 3 | 2) && len == 32 {
            out.push(hex(bytes));
        }
        at += len;
    }
    out
}

// ---------------------------------------------------------------------------
// Interpreting records

/// The session a record belongs to, when the record says.
fn record_session(record: &Value) -> Option<String> {
    let table = str_field(record, "table")?;
    let key = str_field(record, "key").unwrap_or_default();
    let value = record.get("value");
    match table {
        "cursorDiskKV" => key_composer(key).map(str::to_string),
        "meta" => value
            .and_then(|v| str_field(v, "agentId"))
            .map(str::to_string),
        "ItemTable" if key == "composer.composerData" => value
            .and_then(|v| v.get("allComposers"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|c| str_field(c, "composerId")))
            .map(str::to_string),
        "ItemTable" => value
            .and_then(|v| v.get("tabs"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|t| str_field(t, "tabId")))
            .map(str::to_string),
        _ => None,
    }
}

/// `composerData:<c>` and `bubbleId:<c>:<b>` name their composer.
fn key_composer(key: &str) -> Option<&str> {
    if let Some(c) = key.strip_prefix("composerData:") {
        return Some(c).filter(|c| !c.is_empty());
    }
    key.strip_prefix("bubbleId:")
        .and_then(|rest| rest.split(':').next())
        .filter(|c| !c.is_empty())
}

/// Collects facts per session: the record's own session's go in `facts`,
/// others in `other_sessions`.
struct Out<'a> {
    ctx: RecordContext<'a>,
    interp: Interpretation,
}

impl<'a> Out<'a> {
    fn new(ctx: RecordContext<'a>) -> Self {
        Out {
            ctx,
            interp: Interpretation {
                understood: true,
                revises: ctx.file.layout == Layout::Database,
                ..Interpretation::default()
            },
        }
    }
    fn facts(&mut self, session: &str, facts: SessionFacts) {
        if session == self.ctx.session_id {
            self.interp.facts.absorb(facts);
        } else if let Some((_, f)) = self
            .interp
            .other_sessions
            .iter_mut()
            .find(|(s, _)| s == session)
        {
            f.absorb(facts);
        } else {
            self.interp
                .other_sessions
                .push((session.to_string(), facts));
        }
    }
    fn saw(&mut self, session: &str, at: Option<DateTime<Utc>>) {
        let mut f = SessionFacts::default();
        f.saw(at);
        self.facts(session, f);
    }
}

fn database_record(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    let table = str_field(record, "table").unwrap_or_default();
    let key = str_field(record, "key").unwrap_or_default();
    if record.get("value").is_none() && record.get("omitted_bytes").is_some() {
        // Too large to load: the size is all there is.
        return Interpretation {
            understood: true,
            ..Interpretation::default()
        };
    }
    let value = record.get("value").unwrap_or(&Value::Null);
    let position = record.get("position").and_then(Value::as_u64);
    match (table, key) {
        ("cursorDiskKV", k) if k.starts_with("composerData:") => {
            let Some(composer) = key_composer(k) else {
                return Interpretation::unknown();
            };
            composer_record(ctx, composer, value, None)
        }
        ("cursorDiskKV", k) if k.starts_with("bubbleId:") => {
            let Some(composer) = key_composer(k) else {
                return Interpretation::unknown();
            };
            let bubble_id = k.rsplit(':').next().unwrap_or_default();
            let mut out = Out::new(ctx);
            if value.is_null() {
                // Cursor leaves `null` bubbles behind (deleted messages).
                return out.interp;
            }
            let seq = match position {
                Some(p) => p * 2,
                None => UNPLACED + ctx.offset,
            };
            match bubble_messages(composer, bubble_id, value, seq) {
                Some((messages, facts)) => {
                    out.facts(composer, facts);
                    out.interp.messages = messages;
                    out.interp
                }
                None => Interpretation::unknown(),
            }
        }
        ("ItemTable", "composer.composerData") => workspace_composers(ctx, record, value),
        ("ItemTable", "workbench.panel.aichat.view.aichat.chatdata") => {
            aichat_tabs(ctx, record, value)
        }
        ("meta", _) => agent_meta(ctx, value),
        ("blobs", _) => agent_blob(ctx, value, position, key),
        _ => Interpretation::unknown(),
    }
}

/// A composer's header: its facts, sub-composers, and inline messages.
fn composer_record(
    ctx: RecordContext<'_>,
    composer: &str,
    value: &Value,
    project: Option<&str>,
) -> Interpretation {
    let mut out = Out::new(ctx);
    if !value.is_object() {
        return Interpretation::unknown();
    }
    let mut facts = SessionFacts {
        title: str_field(value, "name").map(str::to_string),
        model: value
            .get("modelConfig")
            .and_then(|m| str_field(m, "modelName"))
            .filter(|m| *m != "default")
            .map(str::to_string),
        git_branch: str_field(value, "createdOnBranch").map(str::to_string),
        project: project
            .map(str::to_string)
            .or_else(|| workspace_identifier_path(value)),
        ..SessionFacts::default()
    };
    facts.saw(value.get("createdAt").and_then(time_of));
    facts.saw(value.get("lastUpdatedAt").and_then(time_of));
    out.facts(composer, facts);
    for child in value
        .get("subComposerIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        out.facts(
            child,
            SessionFacts {
                parent_id: Some(composer.to_string()),
                ..SessionFacts::default()
            },
        );
    }
    // Older versions keep the whole conversation in the header.
    for (i, bubble) in value
        .get("conversation")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = str_field(bubble, "bubbleId")
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{i}"));
        if let Some((messages, facts)) = bubble_messages(composer, &id, bubble, i as u64 * 2) {
            out.facts(composer, facts);
            out.interp.messages.extend(messages);
        }
    }
    out.interp
}

/// `workspaceIdentifier` as seen described: `{id, uri: {fsPath | path}}`.
fn workspace_identifier_path(value: &Value) -> Option<String> {
    let uri = value.get("workspaceIdentifier")?.get("uri")?;
    str_field(uri, "fsPath")
        .or_else(|| str_field(uri, "path"))
        .map(str::to_string)
}

/// One bubble (a stored bubble or an element of an inline conversation):
/// its messages, the tool result as a message of its own, and facts.
/// `None` when its type is unknown.
fn bubble_messages(
    composer: &str,
    bubble_id: &str,
    b: &Value,
    seq: u64,
) -> Option<(Vec<Message>, SessionFacts)> {
    let kind = match b.get("type") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => match s.as_str() {
            "user" => Some(1),
            "ai" | "assistant" => Some(2),
            _ => None,
        },
        _ => None,
    }?;
    let role = match kind {
        1 => Role::User,
        2 => Role::Assistant,
        _ => return None,
    };
    let at = b
        .get("createdAt")
        .and_then(time_of)
        .or_else(|| b.get("timingInfo").and_then(timing_time));
    let mut facts = SessionFacts::default();
    facts.saw(at);
    facts.model = b
        .get("modelInfo")
        .and_then(|m| str_field(m, "modelName"))
        .filter(|m| *m != "default")
        .map(str::to_string);
    let mut parts = Vec::new();
    match b.get("thinking") {
        Some(Value::String(t)) if !t.is_empty() => parts.push(Part::text(PartKind::Thinking, t)),
        Some(t) => {
            if let Some(text) = str_field(t, "text") {
                parts.push(Part::text(PartKind::Thinking, text));
            }
        }
        None => {}
    }
    let text = str_field(b, "text").or_else(|| str_field(b, "rawText"));
    match text {
        Some(t) if !t.trim().is_empty() => parts.push(Part::text(PartKind::Text, t)),
        _ => {
            // Some assistant bubbles hold only code blocks.
            for block in b
                .get("codeBlocks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(code) = str_field(block, "content") {
                    parts.push(Part::text(PartKind::Text, code));
                }
            }
        }
    }
    for _ in b
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        parts.push(Part::text(PartKind::File, "[image]"));
    }
    let mut messages = Vec::new();
    let id = format!("{composer}/{bubble_id}");
    let mut result = None;
    if let Some(tool) = b.get("toolFormerData").filter(|t| t.is_object()) {
        let name = str_field(tool, "name")
            .map(str::to_string)
            .or_else(|| tool.get("tool").map(json_text));
        let call_id = str_field(tool, "toolCallId")
            .map(str::to_string)
            .unwrap_or_else(|| bubble_id.to_string());
        let args = tool
            .get("rawArgs")
            .filter(|a| !a.is_null())
            .or_else(|| tool.get("params").filter(|a| !a.is_null()));
        parts.push(Part {
            kind: PartKind::ToolCall,
            text: args.map(json_text),
            tool_name: name.clone(),
            tool_call_id: Some(call_id.clone()),
            is_error: false,
        });
        if let Some(output) = tool.get("result").filter(|r| !r.is_null()) {
            let failed = |v: &Value| str_field(v, "status") == Some("error");
            result = Some(Message {
                id: format!("{id}/result"),
                session_id: composer.to_string(),
                seq: seq + 1,
                role: Role::Tool,
                timestamp: at,
                model: None,
                parts: vec![Part {
                    kind: PartKind::ToolResult,
                    text: Some(json_text(output)),
                    tool_name: name,
                    tool_call_id: Some(call_id),
                    is_error: failed(tool) || tool.get("additionalData").is_some_and(failed),
                }],
            });
        }
    }
    if !parts.is_empty() {
        messages.push(Message {
            id,
            session_id: composer.to_string(),
            seq,
            role,
            timestamp: at,
            model: None,
            parts,
        });
    }
    messages.extend(result);
    Some((messages, facts))
}

/// Wall-clock times in `timingInfo` (epoch ms; `clientStartTime` is not).
fn timing_time(t: &Value) -> Option<DateTime<Utc>> {
    ["clientRpcSendTime", "clientSettleTime", "clientEndTime"]
        .iter()
        .filter_map(|k| t.get(*k).and_then(Value::as_f64))
        .find(|ms| *ms > 1e12)
        .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
}

/// An ISO string or epoch milliseconds (seconds when too small for ms).
fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => crate::model::parse_timestamp(s),
        Value::Number(n) => {
            let x = n.as_f64().filter(|x| *x > 0.0)?;
            let ms = if x < 1e11 { x * 1000.0 } else { x };
            DateTime::from_timestamp_millis(ms as i64)
        }
        _ => None,
    }
}

/// The folder a workspace database belongs to, from `workspace.json`.
fn workspace_folder(record: &Value) -> Option<String> {
    let w = record.get("workspace")?;
    let uri = str_field(w, "folder").or_else(|| str_field(w, "workspace"))?;
    Some(uri_path(uri))
}

/// `file:///home/u/p` → `/home/u/p`, `file:///c%3A/x` → `c:/x`; other
/// schemes (remote folders) stay whole.
fn uri_path(uri: &str) -> String {
    let Some(rest) = uri.strip_prefix("file://") else {
        return uri.to_string();
    };
    let path = percent_decode(rest);
    let b = path.as_bytes();
    if b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
        return path[1..].to_string();
    }
    path
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(byte) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A workspace's composer list: each listed composer's folder, title and
/// times, and the messages of heads that still carry them inline.
fn workspace_composers(ctx: RecordContext<'_>, record: &Value, value: &Value) -> Interpretation {
    let Some(heads) = value.get("allComposers").and_then(Value::as_array) else {
        return Interpretation::unknown();
    };
    let project = workspace_folder(record);
    let mut out = Out::new(ctx);
    for head in heads {
        let Some(composer) = str_field(head, "composerId") else {
            continue;
        };
        let inner = composer_record(ctx, composer, head, project.as_deref());
        out.interp.messages.extend(inner.messages);
        out.facts(ctx.session_id, inner.facts);
        for (s, f) in inner.other_sessions {
            out.facts(&s, f);
        }
    }
    out.interp
}

/// The old chat panel: one session per tab.
fn aichat_tabs(ctx: RecordContext<'_>, record: &Value, value: &Value) -> Interpretation {
    let Some(tabs) = value.get("tabs").and_then(Value::as_array) else {
        return Interpretation::unknown();
    };
    let project = workspace_folder(record);
    let mut out = Out::new(ctx);
    for tab in tabs {
        let Some(tab_id) = str_field(tab, "tabId") else {
            continue;
        };
        out.facts(
            tab_id,
            SessionFacts {
                title: str_field(tab, "chatTitle").map(str::to_string),
                project: project.clone(),
                ..SessionFacts::default()
            },
        );
        out.saw(tab_id, tab.get("lastSendTime").and_then(time_of));
        for (i, bubble) in tab
            .get("bubbles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let id = str_field(bubble, "id")
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{i}"));
            if let Some((messages, facts)) = bubble_messages(tab_id, &id, bubble, i as u64 * 2) {
                out.facts(tab_id, facts);
                out.interp.messages.extend(messages);
            }
        }
    }
    out.interp
}

/// `store.db` meta: `{agentId, name, createdAt, lastUsedModel, mode,
/// latestRootBlobId, subagentInfo?}`.
fn agent_meta(ctx: RecordContext<'_>, value: &Value) -> Interpretation {
    if !value.is_object() {
        return Interpretation::unknown();
    }
    let mut out = Out::new(ctx);
    let mut facts = SessionFacts {
        title: str_field(value, "name").map(str::to_string),
        model: str_field(value, "lastUsedModel")
            .filter(|m| *m != "default")
            .map(str::to_string),
        parent_id: value
            .get("subagentInfo")
            .and_then(|s| str_field(s, "parentAgentId"))
            .map(str::to_string),
        ..SessionFacts::default()
    };
    facts.saw(value.get("createdAt").and_then(time_of));
    let session = str_field(value, "agentId")
        .unwrap_or(ctx.session_id)
        .to_string();
    out.facts(&session, facts);
    out.interp
}

/// A message blob of `store.db`. Assistant blobs all carry `id: "1"`, so
/// the blob's content hash names the message.
fn agent_blob(
    ctx: RecordContext<'_>,
    value: &Value,
    position: Option<u64>,
    blob_id: &str,
) -> Interpretation {
    let seq = match position {
        Some(p) => p,
        None => UNPLACED + ctx.offset,
    };
    let id = format!("{}/{blob_id}", ctx.session_id);
    let mut out = Out::new(ctx);
    match content_message(ctx, value, value.get("content"), id, seq) {
        Some(message) => {
            if matches!(message.role, Role::User | Role::System) {
                out.interp.facts.project = workspace_path(&message);
            }
            out.interp.messages.push(message);
            out.interp
        }
        None => Interpretation::unknown(),
    }
}

/// The agent's context block names the folder: `Workspace Path: /x`.
fn workspace_path(message: &Message) -> Option<String> {
    message
        .parts
        .iter()
        .filter_map(|p| p.text.as_deref())
        .flat_map(str::lines)
        .find_map(|l| l.trim().strip_prefix("Workspace Path:"))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
}

/// A `{role, content}` message of the CLI (a `store.db` blob, or the
/// `message` of a transcript line).
fn content_message(
    ctx: RecordContext<'_>,
    record: &Value,
    content: Option<&Value>,
    id: String,
    seq: u64,
) -> Option<Message> {
    let mut role = Role::parse(str_field(record, "role")?)?;
    let parts: Vec<Part> = match content {
        Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
        Some(Value::Array(blocks)) => blocks.iter().map(block_part).collect(),
        _ => Vec::new(),
    };
    if role == Role::User
        && !parts.is_empty()
        && parts.iter().all(|p| p.kind == PartKind::ToolResult)
    {
        role = Role::Tool;
    }
    Some(Message {
        id,
        session_id: ctx.session_id.to_string(),
        seq,
        role,
        timestamp: None,
        model: None,
        parts,
    })
}

/// Content blocks in both spellings the CLI uses: Anthropic's (transcripts)
/// and the AI SDK's (`store.db`).
fn block_part(block: &Value) -> Part {
    let kind = str_field(block, "type").unwrap_or("unknown");
    let first = |keys: &[&str]| keys.iter().find_map(|k| str_field(block, k));
    match kind {
        "text" => Part::text(PartKind::Text, first(&["text"]).unwrap_or_default()),
        "thinking" | "reasoning" => Part::text(
            PartKind::Thinking,
            first(&["thinking", "text"]).unwrap_or_default(),
        ),
        "redacted_thinking" | "redacted-reasoning" => {
            Part::text(PartKind::Thinking, "[redacted thinking]")
        }
        "tool_use" | "tool-call" | "tool_call" => Part {
            kind: PartKind::ToolCall,
            text: block
                .get("input")
                .or_else(|| block.get("args"))
                .map(json_text),
            tool_name: first(&["name", "toolName"]).map(str::to_string),
            tool_call_id: first(&["id", "toolCallId"]).map(str::to_string),
            is_error: false,
        },
        "tool_result" | "tool-result" => Part {
            kind: PartKind::ToolResult,
            text: ["content", "result", "output"]
                .iter()
                .find_map(|k| block.get(*k))
                .map(result_text),
            tool_name: first(&["toolName", "name"]).map(str::to_string),
            tool_call_id: first(&["tool_use_id", "toolCallId"]).map(str::to_string),
            is_error: ["is_error", "isError"]
                .iter()
                .any(|k| block.get(*k).and_then(Value::as_bool) == Some(true)),
        },
        "image" | "file" => {
            let media = first(&["mediaType", "mimeType"])
                .or_else(|| block.get("source").and_then(|s| str_field(s, "media_type")))
                .unwrap_or("unknown type");
            Part::text(PartKind::File, format!("[{kind}: {media}]"))
        }
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}

fn result_text(content: &Value) -> String {
    match content {
        Value::Array(items) => items
            .iter()
            .map(|item| match str_field(item, "type") {
                Some("text") => str_field(item, "text").unwrap_or_default().to_string(),
                Some(other) => format!("[{other}]"),
                None => json_text(item),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => json_text(other),
    }
}

/// The id of a record that carries none, in a file only ever appended to:
/// its offset (stable there, and what tells two identical lines apart, such
/// as "continue" typed twice) and a hash of its bytes.
fn line_id(ctx: RecordContext<'_>) -> String {
    format!("{}/{}-{}", ctx.session_id, ctx.offset, &ctx.sha256[..8])
}

/// One transcript line. Lines carry no ids or times.
fn transcript_record(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    if record.get("role").is_some() {
        let id = line_id(ctx);
        let content = record.get("message").and_then(|m| m.get("content"));
        return match content_message(ctx, record, content, id, ctx.offset) {
            Some(m) => Interpretation::message(SessionFacts::default(), m),
            None => Interpretation::unknown(),
        };
    }
    match str_field(record, "type") {
        Some("turn_ended") => Interpretation::facts(SessionFacts::default()),
        _ => Interpretation::unknown(),
    }
}

// ---------------------------------------------------------------------------
// Markdown exports

/// Session id of an export: its header names nothing else, and hashing it
/// gives the same id on every host that has the file.
fn export_session(header: &str) -> String {
    let header = header.split("**User**").next().unwrap_or(header);
    let digest = hex(&Sha256::digest(header.trim().as_bytes()));
    format!("cursor-export-{}", &digest[..16])
}

/// A section heading: `**User**` or `**Cursor**` alone on its line.
fn heading(line: &str) -> Option<Role> {
    match line.trim() {
        "**User**" => Some(Role::User),
        "**Cursor**" => Some(Role::Assistant),
        _ => None,
    }
}

/// Cuts an export before each heading that follows a `---` line (or
/// starts the buffer), so a heading-like line inside a message does not
/// split it. Without `at_eof` the last section may still grow and waits.
fn cut_export(buf: &[u8], at_eof: bool) -> Vec<usize> {
    let mut starts = vec![0usize];
    let mut prev_rule = true;
    let mut at = 0;
    for line in buf.split_inclusive(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if at > 0 && prev_rule && heading(&text).is_some() {
            starts.push(at);
        }
        let t = text.trim();
        if !t.is_empty() {
            prev_rule = t == "---";
        }
        at += line.len();
    }
    let mut lengths: Vec<usize> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let last = starts.last().copied().unwrap_or(0);
    if at_eof && last < buf.len() {
        lengths.push(buf.len() - last);
    }
    lengths.retain(|n| *n > 0);
    lengths
}

fn export_record(ctx: RecordContext<'_>, text: &str) -> Interpretation {
    let mut lines = text.lines();
    let first = lines.by_ref().find(|l| !l.trim().is_empty()).unwrap_or("");
    if let Some(role) = heading(first) {
        let body: Vec<&str> = lines.collect();
        let mut body = body.join("\n");
        let trimmed = body.trim_end();
        let trimmed = trimmed.strip_suffix("---").unwrap_or(trimmed);
        body = trimmed.trim().to_string();
        let message = Message {
            id: line_id(ctx),
            session_id: ctx.session_id.to_string(),
            seq: ctx.offset,
            role,
            timestamp: None,
            model: None,
            parts: vec![Part::text(PartKind::Text, body)],
        };
        return Interpretation::message(SessionFacts::default(), message);
    }
    if !text.contains(EXPORT_MARK) {
        return Interpretation::unknown();
    }
    let mut facts = SessionFacts {
        title: text
            .lines()
            .find_map(|l| l.trim().strip_prefix("# "))
            .map(|t| t.trim().to_string()),
        ..SessionFacts::default()
    };
    // The export time bounds the chat's end, not its start.
    facts.last_seen = text.lines().find_map(export_time);
    Interpretation::facts(facts)
}

/// `_Exported on 7/15/2025 at 10:22:33 GMT+2 from Cursor (1.2.4)_`: US
/// date, 24-hour time, `GMT±H[:MM]`. Other locales give no time.
fn export_time(line: &str) -> Option<DateTime<Utc>> {
    let rest = line.trim().strip_prefix(EXPORT_MARK)?;
    let (date, rest) = rest.split_once(" at ")?;
    let mut words = rest.split_whitespace();
    let time = words.next()?;
    let zone = words.next()?;
    let naive = chrono::NaiveDateTime::parse_from_str(
        &format!("{} {}", date.trim(), time),
        "%m/%d/%Y %H:%M:%S",
    )
    .ok()?;
    let offset = zone
        .strip_prefix("GMT")
        .or_else(|| zone.strip_prefix("UTC"))?;
    let seconds = if offset.is_empty() {
        0
    } else {
        let (sign, digits) = match (offset.strip_prefix('+'), offset.strip_prefix('-')) {
            (Some(d), _) => (1, d),
            (_, Some(d)) => (-1, d),
            _ => return None,
        };
        let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
        // Real zones are within ±14:00; anything else is not a zone.
        let (h, m) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        sign * (h * 3600 + m * 60)
    };
    let tz = chrono::FixedOffset::east_opt(seconds)?;
    naive
        .and_local_timezone(tz)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{Translation, translate_bytes};

    const FIXTURES: &str = concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        "/tests/fixtures/cursor"
    );

    fn fixture(name: &str) -> SourceFile {
        let root = Path::new(FIXTURES);
        Cursor
            .discover(root)
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
        SourceFile {
            path: path.to_path_buf(),
            rel_path: path.file_name().unwrap().to_string_lossy().into_owned(),
            layout: Layout::Database,
            session_hint: None,
            parent_hint: None,
        }
    }

    fn roles(t: &Translation) -> Vec<Role> {
        t.messages.iter().map(|m| m.role).collect()
    }

    fn ids(t: &Translation) -> Vec<String> {
        t.messages.iter().map(|m| m.id.clone()).collect()
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
                        && c.parts.iter().any(|q| q.kind == PartKind::ToolCall
                            && q.tool_call_id.as_deref() == Some(id))),
                    "result {id} in {} has no call",
                    m.session_id
                );
            }
        }
    }

    #[test]
    fn every_fixture_is_discovered() {
        let found = Cursor.discover(Path::new(FIXTURES));
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let names: Vec<(&str, Layout)> = found
            .files
            .iter()
            .map(|f| (f.rel_path.as_str(), f.layout))
            .collect();
        assert_eq!(
            names,
            vec![
                ("agent-sessions-large.jsonl", Layout::Jsonl),
                ("agent-sessions-small.jsonl", Layout::Jsonl),
                ("agent-sessions-test-session.jsonl", Layout::Jsonl),
                ("agent-sessions-test-store.db", Layout::Database),
            ]
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
            let count = |r: Role| t.messages.iter().filter(|m| m.role == r).count();
            assert_eq!(
                (count(Role::User), count(Role::Assistant), count(Role::Tool)),
                (user, assistant, tool),
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
            assert_eq!(ids(&t), ids(&read(&fixture(name))), "{name}: stable ids");
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
            path: Path::new(FIXTURES).join("agent-sessions-test-session.jsonl"),
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
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE blobs (id TEXT PRIMARY KEY, data BLOB);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO meta VALUES ('0', ?1)",
            [hex(meta.to_string().as_bytes())],
        )
        .unwrap();
        for (id, data) in &blobs {
            conn.execute(
                "INSERT INTO blobs VALUES (?1, ?2)",
                rusqlite::params![id, data],
            )
            .unwrap();
        }
        path
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
        let (old, new) = (ids(&t), ids(&t2));
        assert_eq!(new.len(), old.len() + 1);
        assert!(old.iter().all(|i| new.contains(i)));
    }

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
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);
             CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);",
        )
        .unwrap();
        for (k, v) in &kv {
            // Cursor stores values as blobs of JSON text.
            conn.execute(
                "INSERT INTO cursorDiskKV VALUES (?1, ?2)",
                rusqlite::params![k, v.as_bytes()],
            )
            .unwrap();
        }
        for (k, v) in &items {
            conn.execute(
                "INSERT INTO ItemTable VALUES (?1, ?2)",
                rusqlite::params![k, v],
            )
            .unwrap();
        }
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
        assert_eq!(ids(&t), ids(&read_db(&db_file(&path))));
        let more = read_db(&db_file(&synthetic_vscdb(dir.path(), true)));
        let (old, new) = (ids(&t), ids(&more));
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
        assert_eq!(ids(&t), ids(&read(&file)));
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
        assert!(err.contains("SQLite"), "{err}");
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
                    format!(
                        "projects/home-dev-proj/agent-transcripts/{agent}/subagents/{sub}.jsonl"
                    ),
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
        assert_eq!(uri_path("file:///c%3A/Users/me/p"), "c:/Users/me/p");
        assert_eq!(
            uri_path("vscode-remote://ssh-remote+box/home/p"),
            "vscode-remote://ssh-remote+box/home/p"
        );
        assert_eq!(
            time_of(&json!(1_700_000_000)),
            DateTime::from_timestamp(1_700_000_000, 0)
        );
    }
}
