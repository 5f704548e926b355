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

use crate::adapter::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceError, SourceErrorKind,
    SourceFile,
};
use crate::discover::{env_dir, file_name, walk_pruning};
use crate::formats::json::{json_text, str_field};
use crate::formats::sqlite;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};
use crate::naming::{is_uuid, record_message};

mod kv;
use kv::*;
mod ide;
use ide::*;
mod agent_store;
use agent_store::*;
mod transcript;
use transcript::*;
mod export;
use export::*;
#[cfg(test)]
mod tests;

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
        let (found, problems) = walk_pruning(
            root,
            usize::MAX,
            |dir| PRUNED_DIRS.contains(&file_name(dir)),
            |_| true,
        );
        let files = found
            .into_iter()
            .filter_map(|(path, rel_path)| classify(&path, rel_path, lenient))
            .collect();
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

    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, SourceError> {
        let snap = sqlite::snapshot(&file.path)?;
        let conn = &snap.conn;
        let malformed = SourceError::at(&file.path, SourceErrorKind::Malformed);
        if sqlite::has_table(conn, "meta") && sqlite::has_table(conn, "blobs") {
            return agent_store_rows(conn).map_err(malformed);
        }
        let kv = sqlite::has_table(conn, "cursorDiskKV");
        let items = sqlite::has_table(conn, "ItemTable");
        if !kv && !items {
            return Err(SourceError::new(
                &file.path,
                SourceErrorKind::Unsupported,
                "no Cursor chat tables (cursorDiskKV, ItemTable, or meta and blobs)",
            ));
        }
        let mut rows = Vec::new();
        if kv {
            rows.extend(disk_kv_rows(conn).map_err(&malformed)?);
        }
        if items {
            rows.extend(item_rows(conn, &file.path).map_err(&malformed)?);
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
