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

use crate::adapter::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceError, SourceFile,
};
use crate::discover::{file_name, parent_dir_name, walk_pruning};
use crate::formats::json::{json_text, str_field};
use crate::formats::sqlite;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

mod database;
use database::*;
mod message;
use message::*;
mod storage;
use storage::*;
#[cfg(test)]
mod tests;

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
        let keep = |path: &Path| {
            let name = file_name(path);
            is_database_name(name) || (name.ends_with(".json") && storage_kind(path).is_some())
        };
        let (found, problems) = walk_pruning(root, usize::MAX, skipped_dir, keep);
        let files = found.into_iter().map(|(path, rel_path)| {
            let Some(kind) = storage_kind(&path).filter(|_| !is_database_name(file_name(&path)))
            else {
                return SourceFile::new(path, rel_path, Layout::Database);
            };
            // Only a message file's directory names its session; a session
            // file's name is not reliably its id (see the module doc).
            let session_hint = match kind {
                StorageKind::Message => parent_dir_name(&path),
                _ => None,
            };
            SourceFile {
                path,
                rel_path,
                layout: Layout::Document,
                session_hint,
                parent_hint: None,
            }
        });
        Discovery {
            files: files.collect(),
            problems,
        }
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

    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, SourceError> {
        let snap =
            sqlite::snapshot_with_tables(&file.path, &["session", "message"], "an opencode")?;
        let mut out = Vec::new();
        for row in snap.rows("SELECT * FROM session ORDER BY id")? {
            out.push(tagged("session", row));
        }
        let mut parts: HashMap<String, Vec<Value>> = HashMap::new();
        if sqlite::has_table(&snap.conn, "part") {
            for row in snap.rows("SELECT * FROM part ORDER BY message_id, id")? {
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
        for row in snap.rows("SELECT * FROM message ORDER BY id")? {
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
        if sqlite::has_table(&snap.conn, "session_message") {
            for row in snap.rows("SELECT * FROM session_message ORDER BY id")? {
                out.push(tagged("session_message", row));
            }
        }
        Ok(out)
    }
}
