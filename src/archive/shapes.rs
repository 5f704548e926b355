//! What the archive's questions take and give: the parameter and answer
//! types, shared by the MCP tools, the HTTP routes and their OpenAPI
//! document (the doc comments become the schemas' descriptions).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::search::Mode;

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words, an exact token (an id, an error message, a path) or a question.
    #[schemars(length(min = 1), regex(pattern = r"\S"))]
    pub query: String,
    /// `hybrid` (default: BM25 and vectors fused), `fts` (BM25 only) or `vector`.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Only these clients, e.g. `claude-code`, `codex`.
    #[serde(default)]
    pub client: Vec<String>,
    /// Only sessions whose working directory contains this.
    #[serde(default)]
    pub project: Option<String>,
    /// Only these hosts.
    #[serde(default)]
    pub host: Vec<String>,
    /// Only these roles: user, assistant, system, tool, developer.
    #[serde(default)]
    pub role: Vec<String>,
    /// Only these parts: text, thinking, tool-call, tool-result, file, other.
    #[serde(default)]
    pub kind: Vec<String>,
    /// Only calls to (and results of) these tools, e.g. `Bash`.
    #[serde(default)]
    pub tool: Vec<String>,
    /// Not before: a date (2026-11-01), an RFC 3339 time or an age (7d, 12h).
    #[serde(default)]
    pub since: Option<String>,
    /// Not after: same forms as `since`.
    #[serde(default)]
    pub until: Option<String>,
    /// Only this session (an id or a prefix of one).
    #[serde(default)]
    pub session: Option<String>,
    /// Sessions per page (default 10).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<usize>,
    /// Sessions to skip, for the next page.
    #[serde(default)]
    #[schemars(range(max = 10000))]
    pub offset: Option<usize>,
    /// Hits per session, each from a different message (default 1).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub per_session: Option<usize>,
    /// Take time phrases in the query ("yesterday", "last week", "in March")
    /// as words, not as the range they name (default false; ignored when
    /// `since` or `until` is given).
    #[serde(default)]
    pub literal: Option<bool>,
}

/// What a usage report counts and how it groups (`/v1/usage`, the `usage`
/// tool): the same as `pond usage`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// Comma-separated, combinable: day, week, month, host, project, client,
    /// model, session, user (default day).
    #[serde(default)]
    pub by: Option<String>,
    /// Not before: a date (in `tz`), an RFC 3339 time, or an age (7d, 12h).
    #[serde(default)]
    pub since: Option<String>,
    /// Not after: the same forms (a date counts to its end).
    #[serde(default)]
    pub until: Option<String>,
    /// Only calls stored by this host.
    #[serde(default)]
    pub host: Option<String>,
    /// Only sessions whose working directory contains this.
    #[serde(default)]
    pub project: Option<String>,
    /// Only this client's calls.
    #[serde(default)]
    pub client: Option<String>,
    /// The IANA time zone days, weeks and months are counted in (default UTC).
    #[serde(default)]
    pub tz: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSessionsParams {
    /// Only sessions of this client.
    #[serde(default)]
    pub client: Option<String>,
    /// Only sessions whose working directory contains this.
    #[serde(default)]
    pub project: Option<String>,
    /// Only sessions last synced by this host.
    #[serde(default)]
    pub host: Option<String>,
    /// Only the subagent sessions this session started (its id, whole).
    #[serde(default)]
    pub parent: Option<String>,
    /// At most this many sessions (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub limit: Option<usize>,
    /// Sessions to skip, for the next page.
    #[serde(default)]
    #[schemars(range(max = 100000000))]
    pub offset: Option<usize>,
}

/// One session in a list: what `pond sessions --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionLine {
    pub id: String,
    pub client: String,
    pub project: Option<String>,
    pub title: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub messages: u64,
    pub model: Option<String>,
    pub git_branch: Option<String>,
    pub parent_id: Option<String>,
    pub host: String,
    /// Stored with its secrets masked (`[redact] at_ingest`): its raw bytes
    /// are not the client's own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionLine>,
    /// Sessions matching the filters, across all pages.
    pub total: usize,
    /// Pass as `offset` for the next page; absent on the last one.
    pub next_offset: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSessionParams {
    /// Session id (a unique prefix is enough).
    #[schemars(length(min = 1))]
    pub id: String,
    /// Messages to skip, for the next page.
    #[serde(default)]
    #[schemars(range(max = 100000000))]
    pub offset: Option<usize>,
    /// Messages per page (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
    /// Whole parts instead of clipped ones (costs many more tokens).
    #[serde(default)]
    pub full: Option<bool>,
}

/// One part as a reader sees it; `clipped` counts characters left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PartView {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub is_error: bool,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub clipped: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageView {
    pub id: String,
    pub role: String,
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub parts: Vec<PartView>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionPage {
    pub session: SessionLine,
    pub messages: Vec<MessageView>,
    /// Index of the first message shown.
    pub offset: usize,
    /// Pass as `offset` for the next page; absent on the last one.
    pub next_offset: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetMessageParams {
    /// Message id, as search results give it.
    #[schemars(length(min = 1))]
    pub id: String,
    /// Messages shown before and after it, as short previews (default 2).
    #[serde(default)]
    #[schemars(range(max = 10))]
    pub neighbours: Option<usize>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MessageInContext {
    pub session: SessionLine,
    /// Position of the message in its session (0-based).
    pub index: usize,
    /// The message, every part whole.
    pub message: MessageView,
    pub before: Vec<MessageView>,
    pub after: Vec<MessageView>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClientCount {
    pub client: String,
    pub sessions: u64,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostSync {
    pub host: String,
    pub last_run: DateTime<Utc>,
    pub last_success: Option<DateTime<Utc>>,
    pub outcome: String,
    /// The last run's error, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Runs recorded, and of them failed.
    #[serde(default)]
    pub runs: u64,
    #[serde(default)]
    pub failures: u64,
    /// Failed runs since the last success.
    #[serde(default)]
    pub consecutive_failures: u64,
    /// How long the last run took.
    #[serde(default)]
    pub duration_secs: f64,
}

impl HostSync {
    /// A host's record as a reader sees it; `mask` hides secrets in its error.
    pub fn new(h: crate::store::tables::runs::HostRow, mask: impl Fn(&str) -> String) -> HostSync {
        HostSync {
            error: h.error.as_deref().map(mask),
            host: h.host,
            last_run: h.last_run,
            last_success: h.last_success,
            outcome: h.outcome,
            runs: h.runs,
            failures: h.failures,
            consecutive_failures: h.consecutive_failures,
            duration_secs: h.duration_secs,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ArchiveStatus {
    pub store: String,
    pub sessions: u64,
    pub messages: u64,
    pub clients: Vec<ClientCount>,
    /// Each host's last sync, from the shared records.
    pub hosts: Vec<HostSync>,
    /// Embedding models whose vectors the store holds.
    pub embed_models: Vec<String>,
    /// `pond serve --stale-after` in seconds: a host without a successful
    /// sync this long is stale (servers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after_secs: Option<u64>,
    /// Each table's shape (servers only, for a token without limits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub store_health: Vec<crate::store::upkeep::TableHealth>,
    /// The searchable parts by embedding model, the backlog waiting and each
    /// host's last drain of it (servers only, for a token without limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::backlog::VectorCensus>,
}
