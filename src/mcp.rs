//! The archive as MCP tools, for agents: `pond mcp` over stdio and `/mcp`
//! on `pond serve` (streamable HTTP), both this one handler.
//!
//! Tools are read-only and answer with compact JSON text (no pretty
//! printing, no structured copy of the same data): an agent pays for every
//! byte. Over HTTP the caller's token travels in the request, and the tools
//! answer within that token's limits; over stdio the caller is the local
//! user and sees everything.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, Content, Extensions, Implementation, ServerCapabilities, ServerInfo,
};
use rmcp::{ErrorData as McpError, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::{Grant, Reads};
use crate::archive::{
    self, ArchiveError, GetMessageParams, GetSessionParams, ListSessionsParams, SearchParams, View,
};
use crate::embed::Lazy;
use crate::store::Store;
use crate::store::reach::lazy::LazyStore;

/// What every request shares: the store (opened once a sync made it) and
/// the model.
pub struct Shared {
    pub store: LazyStore,
    pub embedder: Arc<Lazy>,
    /// Mask secrets in every answer.
    pub redact: bool,
    /// What usage reports price calls with.
    pub prices: crate::spend::PriceTable,
}

/// How callers reach the handler, which decides who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A process the local user started: full access.
    Stdio,
    /// Behind `pond serve`: the grant comes from the request's token.
    Http,
}

#[derive(Clone)]
pub struct ArchiveTools {
    shared: Arc<Shared>,
    transport: Transport,
    tool_router: ToolRouter<ArchiveTools>,
}

/// `status` takes no arguments; an empty object keeps its schema explicit.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[tool_router]
impl ArchiveTools {
    pub fn new(shared: Arc<Shared>, transport: Transport) -> ArchiveTools {
        ArchiveTools {
            shared,
            transport,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Search every archived AI coding-agent session (all clients, hosts and projects) for a past conversation: words, an exact token such as an error message, id or path, or a question in plain language. Returns the best-matching message of each session with a snippet, session_id and message_id; follow up with get_message or get_session. Filters narrow by client, project, host, role, part kind, tool and time.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(params): Parameters<SearchParams>,
        ext: Extensions,
    ) -> Result<CallToolResult, McpError> {
        // Rule 35: every tool answers through `crate::archive`, as the CLI's `--json` does.
        self.reply(&ext, Reads::Texts, |store, view| async move {
            archive::search(store, &self.shared.embedder, &view, params).await
        })
        .await
    }

    #[tool(
        description = "Read a session's transcript, a page at a time (default 20 messages, long parts clipped to a few hundred characters; `clipped` says how much was left out). Pass next_offset back as offset for the next page, or full=true for whole parts.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_session(
        &self,
        Parameters(params): Parameters<GetSessionParams>,
        ext: Extensions,
    ) -> Result<CallToolResult, McpError> {
        self.reply(&ext, Reads::Texts, |store, view| async move {
            archive::get_session(store, &view, params).await
        })
        .await
    }

    #[tool(
        description = "Read one message whole (every part: text, tool calls and their output) with short previews of the messages before and after it. Use the message_id a search result gave.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_message(
        &self,
        Parameters(params): Parameters<GetMessageParams>,
        ext: Extensions,
    ) -> Result<CallToolResult, McpError> {
        self.reply(&ext, Reads::Texts, |store, view| async move {
            archive::get_message(store, &view, params).await
        })
        .await
    }

    #[tool(
        description = "List archived sessions, most recently active first, optionally only one client's, host's or project's. Each line has the session id, client, project, title, times and message count.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_sessions(
        &self,
        Parameters(params): Parameters<ListSessionsParams>,
        ext: Extensions,
    ) -> Result<CallToolResult, McpError> {
        self.reply(&ext, Reads::Texts, |store, view| async move {
            archive::list_sessions(store, &view, params).await
        })
        .await
    }

    #[tool(
        description = "Token usage and spend of the agents' model calls, counted once per call: tokens by kind (input, output, cache writes and reads, reasoning) and cost in US dollars, grouped by any of day, week, month, host, project, client, model, session, user (the person a host recorded, where the team records it) (e.g. by=\"day,model\"), with time, host, project and client filters. Models without a price are listed in unpriced_models.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn usage(
        &self,
        Parameters(params): Parameters<archive::UsageParams>,
        ext: Extensions,
    ) -> Result<CallToolResult, McpError> {
        self.reply(&ext, Reads::Totals, |store, view| async move {
            archive::usage(store, &view, &self.shared.prices, params).await
        })
        .await
    }

    #[tool(
        description = "What the archive holds: sessions and messages per client, each host's last sync and its outcome, and the embedding models in use.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn status(
        &self,
        Parameters(_): Parameters<NoParams>,
        ext: Extensions,
    ) -> Result<CallToolResult, McpError> {
        self.reply(&ext, Reads::Totals, |store, view| async move {
            archive::status(store, &view).await
        })
        .await
    }
}

impl ArchiveTools {
    /// Every tool's one path: the caller's view for what it reads, the
    /// store (or the plain "nothing synced yet"), the archive's answer.
    async fn reply<'a, T, Asked>(
        &'a self,
        ext: &Extensions,
        what: Reads,
        ask: impl FnOnce(&'a Store, View) -> Asked,
    ) -> Result<CallToolResult, McpError>
    where
        T: Serialize,
        Asked: std::future::Future<Output = Result<T, ArchiveError>>,
    {
        let view = match self.view(ext, what)? {
            Ok(view) => view,
            Err(refusal) => return Ok(refusal),
        };
        let Some(store) = self.store().await? else {
            return Ok(self.nothing_synced());
        };
        answer(ask(store, view).await)
    }

    /// The store, or `None` before the first sync has made it.
    async fn store(&self) -> Result<Option<&Store>, McpError> {
        self.shared.store.get().await.map_err(|e| {
            tracing::error!(error = %e, "mcp: the store cannot be opened");
            McpError::internal_error(e.to_string(), None)
        })
    }

    /// What every tool answers before there is anything to read: a plain
    /// result, not an error, so an agent does not report a broken server.
    fn nothing_synced(&self) -> CallToolResult {
        // Rule 35: before any sync every tool says so as a result, not an error.
        CallToolResult::success(vec![Content::text(format!(
            "Nothing synced yet: there is no pond archive at {} yet. Run `pond sync` on a host with sessions; this server will answer from the archive as soon as it exists.",
            self.shared.store.location().display
        ))])
    }

    /// Who is asking: the local user over stdio, the token's grant over HTTP
    /// (put in the request by the server's auth layer). A token that may not
    /// read `what` gets a tool error it can read (rule 55), not a broken
    /// connection.
    fn view(
        &self,
        ext: &Extensions,
        what: Reads,
    ) -> Result<Result<View, CallToolResult>, McpError> {
        let grant = match self.transport {
            Transport::Stdio => Grant::local(),
            Transport::Http => ext
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Grant>())
                .cloned()
                .ok_or_else(|| McpError::invalid_request("no credentials on this request", None))?,
        };
        if !grant.may_read(what) {
            let why = if grant.totals_only() {
                "this token reads totals only: use the usage and status tools"
            } else {
                "this token may not read the archive"
            };
            return Ok(Err(CallToolResult::error(vec![Content::text(why)])));
        }
        Ok(Ok(View {
            totals_only: grant.totals_only(),
            limits: grant.limits,
            redact: self.shared.redact,
        }))
    }
}

/// Compact JSON for answers; the caller's mistakes are tool errors the agent
/// can read and correct, the server's own failures are protocol errors.
fn answer<T: Serialize>(result: Result<T, ArchiveError>) -> Result<CallToolResult, McpError> {
    match result {
        Ok(value) => {
            let text = serde_json::to_string(&value).map_err(|e| {
                McpError::internal_error(format!("cannot encode answer: {e}"), None)
            })?;
            Ok(CallToolResult::success(vec![Content::text(text)]))
        }
        Err(
            e @ (ArchiveError::BadRequest(_)
            | ArchiveError::NotFound(_)
            | ArchiveError::Forbidden(_)),
        ) => Ok(CallToolResult::error(vec![Content::text(e.to_string())])),
        Err(e) => {
            tracing::error!(error = %e, "mcp tool failed");
            Err(McpError::internal_error(e.to_string(), None))
        }
    }
}

#[tool_handler]
impl ServerHandler for ArchiveTools {
    fn get_info(&self) -> ServerInfo {
        ServerInfo {
            instructions: Some(
                "pond: the team's archive of AI coding-agent sessions (Claude Code, Codex, Gemini CLI, opencode, Cursor, ...). Search it when a task resembles earlier work (\"how did we fix this before?\"), then read the matching message or session. Read-only."
                    .into(),
            ),
            capabilities: ServerCapabilities::builder().enable_tools().build(),
            server_info: Implementation {
                name: "pond".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Implementation::from_build_env()
            },
            ..Default::default()
        }
    }
}

/// Why the stdio MCP server ended other than by the client hanging up.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("MCP handshake failed: {0}")]
    Handshake(String),
    #[error("MCP server stopped: {0}")]
    Stopped(String),
}

/// Serves MCP on stdin/stdout until the client hangs up.
pub async fn serve_stdio(shared: Arc<Shared>) -> Result<(), StdioError> {
    use rmcp::ServiceExt;
    let running = ArchiveTools::new(shared, Transport::Stdio)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| StdioError::Handshake(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| StdioError::Stopped(e.to_string()))?;
    Ok(())
}
