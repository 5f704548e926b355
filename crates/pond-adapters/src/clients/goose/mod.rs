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

use crate::adapter::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceError, SourceFile,
};
use crate::digest::sha256_hex;
use crate::discover::{env_dir, walk};
use crate::formats::json::{json_text, speaker, str_field};
use crate::formats::sqlite;
use crate::formats::time::instant;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

#[cfg(test)]
mod tests;

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

    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, SourceError> {
        let snap = sqlite::snapshot_with_tables(&file.path, &["sessions", "messages"], "a goose")?;
        let mut out = Vec::new();
        let mut dirs: HashMap<String, Value> = HashMap::new();
        for row in snap.rows("SELECT * FROM sessions ORDER BY id")? {
            if let (Some(id), Some(dir)) = (str_field(&row, "id"), row.get("working_dir")) {
                dirs.insert(id.to_string(), dir.clone());
            }
            out.push(tagged("sessions", row, None));
        }
        for row in snap.rows("SELECT * FROM messages ORDER BY session_id, id")? {
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
            facts.saw(instant(record.get("created_at")));
            facts.saw(instant(record.get("updated_at")));
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
    let role = speaker(Role::parse(role).unwrap_or(Role::User), &parts);
    Some(Message {
        id: format!("{sid}/{}", &key[..16]),
        session_id: sid.to_string(),
        seq,
        role,
        timestamp: instant(created),
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
            // A request goose could not parse carries its error instead
            // of arguments, and is marked failed.
            Part {
                is_error: error.is_some(),
                ..Part::tool_call(
                    value.and_then(|v| str_field(v, "name")),
                    str_field(block, "id"),
                    value
                        .and_then(|v| v.get("arguments"))
                        .map(json_text)
                        .or_else(|| error.map(str::to_string)),
                )
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
            Part::tool_result(
                None,
                str_field(block, "id"),
                text,
                error.is_some() || flagged,
            )
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
