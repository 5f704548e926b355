//! Client adapters: find a client's session files and translate its records
//! into the canonical model.
//!
//! An adapter is pure translation. It never reads byte ranges, tracks offsets
//! or touches the store: the sync pipeline hands it parsed JSON records and
//! keeps the raw bytes itself, so every adapter is lossless for free.

pub mod aider;
pub mod amp;
mod anthropic;
pub mod antigravity;
pub mod claude_ai_export;
pub mod claude_code;
pub mod claude_web;
pub mod cline;
pub mod codex;
mod common;
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
#[cfg(test)]
mod usage_tests;
mod zip;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::{Message, SessionFacts};
pub(crate) use common::*;

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

impl SourceFile {
    /// A file whose name says nothing of its session.
    pub fn new(path: impl Into<PathBuf>, rel_path: impl Into<String>, layout: Layout) -> Self {
        SourceFile {
            path: path.into(),
            rel_path: rel_path.into(),
            layout,
            session_hint: None,
            parent_hint: None,
        }
    }

    /// The same file, named as holding session `id`.
    pub fn with_session(self, id: impl Into<String>) -> Self {
        SourceFile {
            session_hint: Some(id.into()),
            ..self
        }
    }
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
    /// Token usage of the model calls the record reports.
    pub usage: Vec<crate::usage::Usage>,
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
    /// The messages of one record, with what it says of their session.
    pub fn with_messages(facts: SessionFacts, messages: Vec<Message>) -> Self {
        Interpretation {
            understood: true,
            facts,
            messages,
            ..Interpretation::default()
        }
    }
    /// Messages that may be newer copies of stored ones (a document
    /// rewritten whole, a message re-appended when its calls finish): the
    /// last copy read replaces the stored one.
    pub fn revised(facts: SessionFacts, messages: Vec<Message>) -> Self {
        Interpretation {
            revises: true,
            ..Interpretation::with_messages(facts, messages)
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
    fn read_database(&self, file: &SourceFile) -> Result<Vec<Value>, SourceError> {
        Err(SourceError::new(
            &file.path,
            SourceErrorKind::Unsupported,
            format!("{} does not read databases", self.name()),
        ))
    }

    /// For [`Layout::Database`]: each record's bytes, in order. By default
    /// the rows of [`Adapter::read_database`] as JSON; an adapter whose
    /// source holds JSON text (an export) returns the exact bytes instead.
    fn read_records(&self, file: &SourceFile) -> Result<Vec<Vec<u8>>, SourceError> {
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
    pub problems: Vec<SourceError>,
}

/// Why an adapter could not read a source: the one error type of the
/// adapter boundary, so the sync can report the file, say what kind of
/// failure it was, and go on (rule 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub path: PathBuf,
    pub kind: SourceErrorKind,
    /// What went wrong, without the path.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The file or a directory could not be opened, listed or copied.
    Unreadable,
    /// It is not in a format this adapter reads.
    Unsupported,
    /// It is in the format, but damaged, cut short or too large to read.
    Malformed,
}

impl SourceError {
    pub fn new(path: &Path, kind: SourceErrorKind, detail: impl Into<String>) -> SourceError {
        SourceError {
            path: path.to_path_buf(),
            kind,
            detail: detail.into(),
        }
    }

    /// For `map_err` over a helper that reports only what went wrong.
    pub fn at(path: &Path, kind: SourceErrorKind) -> impl Fn(String) -> SourceError + '_ {
        move |detail| SourceError::new(path, kind, detail)
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for SourceError {}

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
