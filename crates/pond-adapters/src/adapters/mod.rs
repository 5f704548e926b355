//! Client adapters: find a client's session files and translate its records
//! into the canonical model.
//!
//! An adapter is pure translation. It never reads byte ranges, tracks offsets
//! or touches the store: the sync pipeline hands it parsed JSON records and
//! keeps the raw bytes itself, so every adapter is lossless for free.

pub mod aider;
pub mod amp;
pub mod antigravity;
pub mod claude_ai_export;
pub mod claude_code;
pub mod claude_web;
pub mod cline;
pub mod codex;
pub mod copilot_cli;
pub mod cursor;
pub mod factory_droid;
pub mod gemini;
mod genai;
pub mod goose;
pub mod grok;
pub mod hermes;
pub mod kimi;
pub mod openclaw;
pub mod opencode;
pub mod pi;
pub mod qwen;
pub mod sqlite;
#[cfg(test)]
mod testing;
mod zip;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::{Message, Part, PartKind, SessionFacts};

/// How a source file grows, which decides how the pipeline reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One JSON record per line, appended to; read incrementally by offset.
    Jsonl,
    /// One JSON document rewritten whole; re-read entirely when it changes.
    /// Every distinct version's bytes are kept; messages are keyed, so a
    /// rewrite with one more message inserts one message.
    Document,
    /// Plain text appended to (Markdown chat logs). The adapter cuts it into
    /// records with [`Adapter::cut_text`]; each reaches
    /// [`Adapter::interpret`] as a JSON string of the record's text.
    Text,
    /// A SQLite database. The adapter turns it into records with
    /// [`Adapter::read_database`]; every sync that finds it changed reads it
    /// whole, and records are keyed by content, so unchanged rows are stored
    /// once and a changed row is stored again as a new version.
    Database,
}

/// A file an adapter found, with what its name alone says about its session.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Path below the root it was found under, `/`-separated.
    pub rel_path: String,
    pub layout: Layout,
    /// The session id when the file name carries it.
    pub session_hint: Option<String>,
    /// The parent session when the directory layout says so (subagents).
    pub parent_hint: Option<String>,
}

/// What the adapter made of one record.
#[derive(Debug, Default)]
pub struct Interpretation {
    /// `false` when the record's type is unknown to the adapter. Its bytes are
    /// kept all the same; the sync counts it.
    pub understood: bool,
    /// Facts about the session the record belongs to ([`RecordContext::session_id`]).
    pub facts: SessionFacts,
    /// Messages in source order. Each names its own session, so a document
    /// holding several sessions (an export) yields all of them. A message id
    /// seen twice in one read keeps its first copy, or its last when
    /// [`Interpretation::revises`] is set.
    pub messages: Vec<Message>,
    /// Facts about other sessions the record describes, by session id.
    pub other_sessions: Vec<(String, SessionFacts)>,
    /// This record starts a new session: it and the file's following records
    /// belong to it (a chat log with one header per session).
    pub begins_session: Option<String>,
    /// The messages may be newer copies of ones already stored under the same
    /// id (a client that re-appends a message when its tool calls finish, or
    /// rewrites its file): the last copy read replaces the stored one.
    pub revises: bool,
}

impl Interpretation {
    pub fn unknown() -> Self {
        Interpretation::default()
    }
    pub fn facts(facts: SessionFacts) -> Self {
        Interpretation {
            understood: true,
            facts,
            ..Interpretation::default()
        }
    }
    pub fn message(facts: SessionFacts, message: Message) -> Self {
        Interpretation {
            understood: true,
            facts,
            messages: vec![message],
            ..Interpretation::default()
        }
    }
}

/// What an adapter gets to know about where a record sits.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    pub file: &'a SourceFile,
    pub session_id: &'a str,
    /// Byte offset of the record in its file; orders messages and derives ids
    /// for records that carry none.
    pub offset: u64,
    /// SHA-256 of the record's bytes, hex.
    pub sha256: &'a str,
}

pub trait Adapter: Send + Sync {
    /// The client's name as users type it (`claude-code`).
    fn name(&self) -> &'static str;

    /// Where the client keeps its sessions on this machine.
    fn default_root(&self) -> PathBuf;

    /// Lists the session files under `root`.
    fn discover(&self, root: &Path) -> Discovery;

    /// Names the session a file holds, from the file and its first records.
    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String>;

    /// Translates one record.
    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation;

    /// Whether the client's session ids are unique across machines (UUIDs
    /// and the like). Ids built from a timestamp, a counter or a directory
    /// name are not: the same id on two hosts names two sessions, so the
    /// store keys them per host.
    fn session_ids_are_global(&self) -> bool {
        true
    }

    /// For [`Layout::Text`]: the lengths of the complete records at the start
    /// of `buf`, in order. Bytes not covered wait for the next sync (the
    /// client may still be writing them); `at_eof` says nothing follows `buf`.
    fn cut_text(&self, buf: &[u8], at_eof: bool) -> Vec<usize> {
        let _ = (buf, at_eof);
        Vec::new()
    }

    /// For [`Layout::Database`]: the records of the database at
    /// `file.path`, each a JSON value that [`Adapter::interpret`] then reads.
    /// Read from a snapshot ([`sqlite::snapshot`]), never the live file.
    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, String> {
        Err(format!(
            "{} does not read databases ({})",
            self.name(),
            file.path.display()
        ))
    }

    /// For [`Layout::Database`]: each record's bytes, in order. By default
    /// the rows of [`Adapter::read_database`] as JSON; an adapter whose
    /// source holds JSON text (an export) returns the exact bytes instead.
    fn read_records(&self, file: &SourceFile) -> Result<Vec<Vec<u8>>, String> {
        Ok(self
            .read_database(file)?
            .iter()
            .filter_map(|row| serde_json::to_vec(row).ok())
            .collect())
    }

    /// Other places this client keeps sessions, searched besides
    /// [`Adapter::default_root`] (per-OS locations, older layouts).
    fn extra_roots(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// Every root a sync without `--path` reads; missing ones are skipped.
    fn roots(&self) -> Vec<PathBuf> {
        let mut roots = vec![self.default_root()];
        for extra in self.extra_roots() {
            if !roots.contains(&extra) {
                roots.push(extra);
            }
        }
        roots
    }
}

/// Files found under a root, plus what could not be read while looking.
#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<SourceFile>,
    pub problems: Vec<String>,
}

/// Every adapter this build knows.
pub fn all() -> Vec<Box<dyn Adapter>> {
    vec![
        Box::new(claude_code::ClaudeCode),
        Box::new(codex::Codex),
        Box::new(aider::Aider),
        Box::new(claude_ai_export::ClaudeAiExport),
        Box::new(gemini::Gemini),
        Box::new(qwen::Qwen),
        Box::new(opencode::Opencode),
        Box::new(goose::Goose),
        Box::new(pi::Pi),
        Box::new(copilot_cli::CopilotCli),
        Box::new(kimi::Kimi),
        Box::new(factory_droid::FactoryDroid),
        Box::new(amp::Amp),
        Box::new(cline::Cline),
        Box::new(grok::Grok),
        Box::new(hermes::Hermes),
        Box::new(openclaw::OpenClaw),
        Box::new(antigravity::Antigravity),
        Box::new(cursor::Cursor),
        Box::new(claude_web::ClaudeWeb),
    ]
}

pub fn by_name(name: &str) -> Option<Box<dyn Adapter>> {
    all().into_iter().find(|a| a.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|a| a.name()).collect()
}

/// Walks `root` for regular files accepted by `keep`, in a stable order.
pub(crate) fn walk(
    root: &Path,
    keep: impl Fn(&Path) -> bool,
) -> (Vec<(PathBuf, String)>, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        match entry {
            Ok(e) if e.file_type().is_file() && keep(e.path()) => {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap_or(e.path())
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((e.path().to_path_buf(), rel));
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", root.display())),
        }
    }
    (files, problems)
}

/// The usual discovery: the files under `root` that `keep` accepts, all of
/// one layout, each with the session id its file stem names (when `hint`
/// finds one in it) and no parent.
pub(crate) fn discover_files(
    root: &Path,
    keep: impl Fn(&Path) -> bool,
    layout: Layout,
    hint: impl Fn(&str) -> Option<String>,
) -> Discovery {
    let (found, problems) = walk(root, keep);
    let files = found
        .into_iter()
        .map(|(path, rel_path)| SourceFile {
            session_hint: path.file_stem().and_then(|s| s.to_str()).and_then(&hint),
            path,
            rel_path,
            layout,
            parent_hint: None,
        })
        .collect();
    Discovery { files, problems }
}

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub(crate) fn timestamp_field(v: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    str_field(v, key).and_then(crate::model::parse_timestamp)
}

/// The calls of a message in OpenAI's chat shape,
/// `tool_calls: [{id, function: {name, arguments}}]`, as parts.
pub(crate) fn openai_tool_calls(message: &Value) -> impl Iterator<Item = Part> + '_ {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|call| {
            let function = call.get("function");
            Part {
                kind: PartKind::ToolCall,
                text: function.and_then(|f| f.get("arguments")).map(json_text),
                tool_name: function
                    .and_then(|f| str_field(f, "name"))
                    .map(str::to_string),
                tool_call_id: str_field(call, "id").map(str::to_string),
                is_error: false,
            }
        })
}

/// Compact JSON for tool inputs and structured outputs, so they stay searchable.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Whether `s` looks like a UUID (8-4-4-4-12 hex).
pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}
