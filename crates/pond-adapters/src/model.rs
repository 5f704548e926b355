//! The canonical model every client's records are translated into.
//!
//! Adapters produce these types and the store persists them; neither side knows
//! the other, so this module is the contract between them. Identifiers are
//! deterministic (taken from the source where it has them) so re-ingesting a file,
//! or ingesting the same session from two hosts, always yields the same keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who produced a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    /// Output of a tool call fed back to the model.
    Tool,
    /// Instructions injected by the client itself (Codex `developer` role).
    Developer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
            Role::Developer => "developer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => Role::System,
            "tool" => Role::Tool,
            "developer" => Role::Developer,
            _ => return None,
        })
    }
}

/// What a part of a message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    /// An image or attached file; `text` names it, the bytes stay in the raw record.
    File,
    /// A block the adapter recognises as content but has no better kind for.
    Other,
}

/// One block of a message: text, a thought, a tool call or its result, a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub kind: PartKind,
    /// Searchable text of the part (tool input rendered as JSON for calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Links a tool result to the call that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl Part {
    /// Text, a thought, a file's name or any other block that is only text.
    pub fn text(kind: PartKind, text: impl Into<String>) -> Part {
        Part {
            kind,
            text: Some(text.into()),
            tool_name: None,
            tool_call_id: None,
            is_error: false,
        }
    }

    /// A tool call: the tool's name, the id its result will name, and its
    /// input rendered as text.
    pub fn tool_call(name: Option<&str>, call_id: Option<&str>, input: Option<String>) -> Part {
        Part {
            kind: PartKind::ToolCall,
            text: input,
            tool_name: name.map(str::to_string),
            tool_call_id: call_id.map(str::to_string),
            is_error: false,
        }
    }

    /// What a tool call returned, paired with its call by `call_id`, and
    /// whether the tool reported an error.
    pub fn tool_result(
        name: Option<&str>,
        call_id: Option<&str>,
        output: Option<String>,
        is_error: bool,
    ) -> Part {
        Part {
            kind: PartKind::ToolResult,
            text: output,
            tool_name: name.map(str::to_string),
            tool_call_id: call_id.map(str::to_string),
            is_error,
        }
    }
}

/// One message of a session, in source order (`seq`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    /// Position in the session's source: the byte offset of the record it came
    /// from, so ordering survives incremental reads.
    pub seq: u64,
    pub role: Role,
    pub timestamp: Option<DateTime<Utc>>,
    pub model: Option<String>,
    pub parts: Vec<Part>,
}

impl Message {
    /// All part texts joined: what search and transcripts read.
    pub fn plain_text(&self) -> String {
        joined_text(&self.parts)
    }

    pub fn tool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| p.tool_name.clone())
            .collect();
        names.dedup();
        names
    }
}

/// A conversation with one client, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub client: String,
    /// Working directory the session ran in.
    pub project: Option<String>,
    pub git_branch: Option<String>,
    pub model: Option<String>,
    pub title: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The session this one was spawned from (subagent) or forked from.
    pub parent_id: Option<String>,
    /// The host that last ingested it.
    pub host: String,
    pub message_count: u64,
}

impl Session {
    /// A session known only by its keys, before any record has said more: the
    /// base that facts are merged into.
    pub fn new(id: impl Into<String>, client: impl Into<String>, host: impl Into<String>) -> Self {
        Session {
            id: id.into(),
            client: client.into(),
            project: None,
            git_branch: None,
            model: None,
            title: None,
            started_at: None,
            updated_at: None,
            parent_id: None,
            host: host.into(),
            message_count: 0,
        }
    }
}

/// Session facts learned from individual records; merged into a [`Session`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFacts {
    pub project: Option<String>,
    pub git_branch: Option<String>,
    pub model: Option<String>,
    pub title: Option<String>,
    pub parent_id: Option<String>,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl SessionFacts {
    /// Folds later facts in: first project wins (the session's start), the latest
    /// branch, model and title win (they change during a session).
    pub fn absorb(&mut self, later: SessionFacts) {
        if self.project.is_none() {
            self.project = later.project;
        }
        if later.git_branch.is_some() {
            self.git_branch = later.git_branch;
        }
        if later.model.is_some() {
            self.model = later.model;
        }
        if later.title.is_some() {
            self.title = later.title;
        }
        if self.parent_id.is_none() {
            self.parent_id = later.parent_id;
        }
        self.first_seen = min_time(self.first_seen, later.first_seen);
        self.last_seen = max_time(self.last_seen, later.last_seen);
    }

    pub fn saw(&mut self, at: Option<DateTime<Utc>>) {
        self.first_seen = min_time(self.first_seen, at);
        self.last_seen = max_time(self.last_seen, at);
    }
}

/// Texts of `parts` joined by newlines: a message's searchable text, and a
/// tool result that clients write as a list of parts.
pub(crate) fn joined_text(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| p.text.as_deref())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub fn max_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Parses the ISO-8601 timestamps clients write; `None` for anything else.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// How the pipeline understood a source record; kept with its raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Parsed and understood by the adapter.
    Parsed,
    /// Valid JSON of a type the adapter does not know: kept, counted, not an error.
    Unknown,
    /// Not valid JSON: kept byte-for-byte and reported with file and line.
    Unparsed,
    /// Whitespace only (some clients write blank lines between records).
    Blank,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Parsed => "parsed",
            RecordStatus::Unknown => "unknown",
            RecordStatus::Unparsed => "unparsed",
            RecordStatus::Blank => "blank",
        }
    }
}

/// The original bytes of one source record and where they came from.
///
/// Concatenating a file's records of one generation in offset order gives back
/// the file exactly, newlines included.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// `<file_id>:<generation>:<offset>`: re-reading the same bytes yields the same key.
    pub id: String,
    /// Identifies (host, client, root, relative path).
    pub file_id: String,
    pub host: String,
    pub client: String,
    /// The directory the file was synced from (the client's root or `--path`).
    pub root: String,
    /// Path below `root`, `/`-separated.
    pub rel_path: String,
    pub session_id: String,
    /// Bumped each time the file is found rewritten rather than appended to.
    pub generation: u32,
    pub offset: u64,
    /// Number of bytes, so a file's extent is known without reading `bytes`.
    pub length: u64,
    /// 1-based line number of the record's first byte.
    pub line: u64,
    pub sha256: String,
    pub status: RecordStatus,
    pub bytes: Vec<u8>,
}
