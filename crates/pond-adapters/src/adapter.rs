//! What an adapter is: the trait every client implements, the files it
//! finds and what it makes of one record. It knows no client; the clients
//! are in `clients/` and the list of them in `registry`.
//!
//! An adapter is pure translation. It never reads byte ranges, tracks offsets
//! or touches the store: the sync pipeline hands it parsed JSON records and
//! keeps the raw bytes itself, so every adapter is lossless for free.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::{Message, SessionFacts};

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
    /// A record not understood that still says something of its session
    /// (its time, mostly), which the sync keeps.
    pub fn unknown_with_facts(facts: SessionFacts) -> Self {
        Interpretation {
            facts,
            ..Interpretation::default()
        }
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

/// One client's reader: where its sessions are and what each record means.
///
/// An adapter translates and nothing more; the pipeline reads the bytes,
/// keeps them, and hands each parsed record to [`Adapter::interpret`]. A
/// client whose files are JSON lines needs only the required methods:
///
/// ```
/// use std::path::{Path, PathBuf};
///
/// use pond_adapters::adapter::{
///     Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile,
/// };
/// use pond_adapters::model::{Message, Part, PartKind, Role, SessionFacts};
/// use serde_json::Value;
///
/// /// A client that writes `{"session": "...", "said": "..."}` per line.
/// struct Notes;
///
/// impl Adapter for Notes {
///     fn name(&self) -> &'static str {
///         "notes"
///     }
///     fn default_root(&self) -> PathBuf {
///         PathBuf::from("/home/me/.notes")
///     }
///     fn discover(&self, _root: &Path) -> Discovery {
///         Discovery::default()
///     }
///     fn identify(&self, _file: &SourceFile, first: &[Value]) -> Option<String> {
///         first.first()?.get("session")?.as_str().map(str::to_string)
///     }
///     fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
///         let Some(said) = record.get("said").and_then(Value::as_str) else {
///             // Kept byte for byte all the same, and counted as unknown.
///             return Interpretation::unknown();
///         };
///         let message = Message {
///             id: format!("{}/{}", ctx.session_id, ctx.offset),
///             session_id: ctx.session_id.to_string(),
///             seq: ctx.offset,
///             role: Role::User,
///             timestamp: None,
///             model: None,
///             parts: vec![Part::text(PartKind::Text, said)],
///         };
///         Interpretation::message(SessionFacts::default(), message)
///     }
/// }
///
/// // The pure half of a sync: bytes to records to messages.
/// let file = SourceFile::new("/home/me/.notes/a.jsonl", "a.jsonl", Layout::Jsonl);
/// let bytes = b"{\"session\":\"s1\",\"said\":\"hello\"}\n{\"kind\":\"ping\"}\n";
/// let read = pond_adapters::translate::translate_bytes(&Notes, &file, bytes);
/// assert_eq!(read.session_id, "s1");
/// assert_eq!(read.messages.len(), 1);
/// assert_eq!(read.unknown_records, 1);
/// ```
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
    /// Read from a snapshot ([`crate::formats::sqlite::snapshot`]), never the live file.
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
