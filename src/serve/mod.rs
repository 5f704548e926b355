//! `pond serve`: the archive over HTTP for people, scripts and remote hosts.
//!
//! JSON routes under `/v1` answer the same questions as the MCP tools (both
//! call [`crate::archive`]), `/mcp` is the MCP streamable-HTTP endpoint,
//! `/v1/ingest` takes session files from hosts that cannot reach the bucket.
//! Every request goes through [`guard`] (it must name this server and not
//! come from another site's page), every route but the health probes then
//! through [`auth`]. The OpenAPI document describing all of it is generated
//! from the same types ([`openapi`]) and kept in `docs/openapi.json`.

pub mod admin;
pub mod auth;
mod events;
mod extract;
pub mod guard;
pub mod ingest;
mod listen;
pub mod openapi;
pub mod pages;
mod shares;
mod upload;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::access::TokenEntry;
use crate::archive::{self, ArchiveError, GetMessageParams, GetSessionParams};
use crate::mcp::{ArchiveTools, Shared, Transport};
use crate::store::Store;
use extract::{Caller, JsonBody, PathId, QueryParams, Reader, TotalsReader};

/// What the server needs beyond the open store.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub tokens: Vec<TokenEntry>,
    /// Re-read when it changes, so a revoked token is refused at once.
    pub config_path: PathBuf,
    /// Where uploaded files wait to be ingested, and their cursors.
    pub spool_dir: PathBuf,
    /// Largest file `/v1/ingest` accepts.
    pub max_upload_bytes: usize,
    /// Longest one ingest run may take.
    pub ingest_deadline: std::time::Duration,
    /// `[redact] at_ingest`: mask secrets in what `/v1/ingest` stores.
    pub redact_at_ingest: bool,
    /// Host names (`NAME` or `NAME:PORT`) requests may name besides the
    /// listening address and loopback: the names clients and proxies use.
    pub allowed_hosts: Vec<String>,
    /// A host without a successful sync this long is stale (`/metrics`).
    pub stale_after: std::time::Duration,
    /// Every route, or only `/metrics` and the health probes
    /// (`pond metrics --listen`).
    pub routes: Routes,
}

/// Which routes a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    All,
    MetricsOnly,
}

pub(crate) struct AppState {
    pub shared: Arc<Shared>,
    pub tokens: auth::TokenSource,
    pub hosts: guard::Hosts,
    pub ingest: ingest::Ingester,
    pub redact_at_ingest: bool,
    pub stale_after: std::time::Duration,
    pub routes: Routes,
    /// Browsers signed in with `/web/signin` (rule 49).
    pub browser_sessions: web::sessions::BrowserSessions,
    /// The `/v1/events` streams open now, capped per token and in all.
    pub event_streams: Arc<events::OpenStreams>,
    /// Turns true when the server begins to stop: open event streams end,
    /// so a graceful shutdown does not wait on an open page.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without tokens: beyond loopback every request must carry one (create one with `pond token create NAME --scope read`)"
    )]
    NoTokens(SocketAddr),
    #[error(
        "refusing to serve `--allow-host {0}` without tokens: a proxy makes this server reachable beyond this machine, and every caller would act as you (create one with `pond token create NAME --scope read`, then start again)"
    )]
    ProxiedWithoutTokens(String),
    #[error("`--allow-host {0}` is not a host name (give NAME or NAME:PORT)")]
    BadHost(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Stopped(#[from] std::io::Error),
}

/// Builds every route; tests call this to serve on a port of their own.
pub(crate) fn router(state: Arc<AppState>) -> axum::Router {
    if state.routes == Routes::MetricsOnly {
        return metrics_router(state);
    }
    let mcp = mcp_routes(&state);
    // The scope is checked before a route reads its query or body, so a
    // token of the other scope learns nothing from how a request would parse.
    let texts = axum::Router::new()
        .route("/v1/search", post(search))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}", get(get_session))
        .route("/v1/messages/{id}", get(get_message))
        .route("/v1/sessions/{id}/raw", get(pages::raw_file))
        .route("/v1/messages/{id}/images/{n}", get(pages::message_image))
        .route(
            "/v1/sessions/{id}/shares",
            get(shares::list).post(shares::create),
        )
        .route("/v1/sessions/{id}/shares/preview", get(shares::preview))
        .route("/v1/shares/{id}/revoke", post(shares::revoke))
        .route_layer(axum::middleware::from_fn(auth::require_texts));
    // What a stats token may read too (rule 55): no text of any session.
    let totals = axum::Router::new()
        .route("/v1/status", get(status))
        .route("/v1/usage", get(usage))
        .route("/v1/runs", get(pages::runs))
        .route("/v1/events", get(events::fleet))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn(auth::require_totals));
    let guarded = axum::Router::new()
        .route("/openapi.json", get(openapi_document))
        .route("/v1/me", get(pages::me))
        .merge(texts)
        .merge(totals)
        // The handler checks its scope first, streams the body to disk and
        // enforces its own limit.
        .route(
            "/v1/ingest",
            post(ingest::handle).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/erase",
            post(admin::handle).route_layer(axum::middleware::from_fn(admin::require_admin)),
        )
        .merge(mcp);
    // The pages carry no data (rule 49): they load for anyone and ask the
    // API, which asks for the token.
    let pages = axum::Router::new()
        .route("/", get(web::shell))
        .route("/search", get(web::shell))
        .route("/fleet", get(web::shell))
        .route("/spend", get(web::shell))
        .route("/signin", get(web::shell))
        .route("/session/{*id}", get(web::shell))
        .route("/assets/{name}", get(web::script))
        .route("/assets/app.css", get(web::style))
        .route(shares::STYLESHEET, get(shares::style))
        // A share link's page: one session, for whoever holds the link.
        .route("/s/{id}", get(shares::page))
        .route("/s/{id}/raw", get(shares::raw))
        .route("/favicon.ico", get(web::icon))
        .route("/web/signin", post(pages::sign_in))
        .route("/web/signout", post(pages::sign_out));
    behind_guard(state, guarded, pages, "no such route (see /openapi.json)")
}

/// MCP over streamable HTTP at `/mcp`, with its own body limit.
fn mcp_routes(state: &Arc<AppState>) -> axum::Router<Arc<AppState>> {
    use rmcp::transport::streamable_http_server::session::local::{
        LocalSessionManager, SessionConfig,
    };
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let shared = state.shared.clone();
    // A session nobody uses is closed, so abandoned clients cannot pile
    // sessions (each a task and a channel) up for the life of the server.
    let sessions = LocalSessionManager {
        sessions: Default::default(),
        session_config: SessionConfig {
            keep_alive: Some(MCP_SESSION_IDLE),
            ..SessionConfig::default()
        },
    };
    let mcp = StreamableHttpService::new(
        move || Ok(ArchiveTools::new(shared.clone(), Transport::Http)),
        sessions.into(),
        StreamableHttpServerConfig::default(),
    );
    // The MCP service reads whatever body it is sent; its messages are
    // small JSON-RPC calls, so anything larger is refused before it is read.
    axum::Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(limit_mcp_body))
}

/// `pond metrics --listen`: the fleet's series and the health probes, under
/// the same host check and token rules as the full server.
fn metrics_router(state: Arc<AppState>) -> axum::Router {
    let guarded = axum::Router::new()
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn(auth::require_totals));
    behind_guard(
        state,
        guarded,
        axum::Router::new(),
        "this server answers /metrics only",
    )
}

/// `routes` behind the token check, beside the health probes and the
/// `open` routes (the pages), all behind the host and origin check
/// ([`guard`]); anything else is 404 `missing`.
fn behind_guard(
    state: Arc<AppState>,
    routes: axum::Router<Arc<AppState>>,
    open: axum::Router<Arc<AppState>>,
    missing: &'static str,
) -> axum::Router {
    let guarded = routes.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_token,
    ));
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(open)
        .merge(guarded)
        .fallback(move || async move { error(StatusCode::NOT_FOUND, missing) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ))
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// The fleet's state in the Prometheus text format, computed from the
/// store on each scrape ([`crate::prometheus`]).
async fn metrics(State(state): State<Arc<AppState>>, TotalsReader(view): TotalsReader) -> Response {
    let options = crate::prometheus::MetricsOptions {
        stale_after: state.stale_after,
        project_floor: view
            .totals_only
            .then(|| view.limits.project_prefix.clone())
            .flatten(),
        limits: view.limits,
        prices: state.shared.prices.clone(),
    };
    let rendered = read_store(&state, async |store| {
        crate::prometheus::render(store, &options)
            .await
            .map_err(ArchiveError::from)
    })
    .await;
    match rendered {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::prometheus::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Largest MCP request body: a tool call with its arguments is a few KB.
const MCP_MAX_BODY: usize = 1 << 20;
/// An MCP session unused this long is closed.
const MCP_SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Refuses an MCP request whose body is over [`MCP_MAX_BODY`] with 413,
/// reading at most that much of it (a lying or absent length included).
async fn limit_mcp_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("MCP requests are limited to {MCP_MAX_BODY} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MCP_MAX_BODY as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MCP_MAX_BODY).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Err(_) => too_large(),
    }
}

/// Serves until interrupted (Ctrl-C or SIGTERM), then finishes open requests.
pub async fn run(shared: Arc<Shared>, opts: ServeOptions) -> Result<(), ServeError> {
    let loopback = opts.listen.ip().is_loopback();
    // Rule 36: a server will not listen beyond loopback without tokens, nor
    // on loopback behind a proxy: the proxy makes it public, and without
    // tokens everyone reaching the proxy would act as the local user.
    if !loopback && opts.tokens.is_empty() {
        return Err(ServeError::NoTokens(opts.listen));
    }
    if opts.tokens.is_empty()
        && let Some(name) = opts.allowed_hosts.first()
    {
        return Err(ServeError::ProxiedWithoutTokens(name.clone()));
    }
    let tokens_required = !loopback || !opts.allowed_hosts.is_empty();
    let allowed_hosts = guard::Hosts::parse_allowed(&opts.allowed_hosts)?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    // The port a request's `Host` must name is the one bound (`:0` picks one).
    let bound = listener.local_addr()?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState {
        stopping,
        event_streams: Arc::default(),
        browser_sessions: web::sessions::BrowserSessions::default(),
        hosts: guard::Hosts::new(bound, allowed_hosts),
        tokens: auth::TokenSource::new(opts.config_path, opts.tokens, tokens_required),
        ingest: ingest::Ingester::new(opts.spool_dir, opts.max_upload_bytes, opts.ingest_deadline),
        redact_at_ingest: opts.redact_at_ingest,
        stale_after: opts.stale_after,
        routes: opts.routes,
        shared,
    });
    let app = router(state.clone());
    // The one line a supervisor or test waits for before sending requests.
    eprintln!(
        "pond: serving {} on http://{bound} (tokens {}, redaction {})",
        state.shared.store.location().display,
        if state.tokens.required() {
            "required"
        } else {
            "not required on loopback until one is created"
        },
        if state.shared.redact { "on" } else { "off" }
    );
    tokio::spawn(keep_spool_clean(state.clone()));
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    listen::serve(listener, app, shutdown).await?;
    Ok(())
}

/// How often the server looks whether the store's tombstones changed.
const ERASURES_LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Rule 44: the mirrors of pushed files lose every file holding an erased
/// session, when the server starts and within seconds of any erasure, by
/// whichever host it was made; and stay owner-only.
async fn keep_spool_clean(state: Arc<AppState>) {
    let mut stopping = state.stopping.clone();
    let mut purged_at: Option<Option<u64>> = None;
    loop {
        if let Ok(Some(store)) = state.shared.store.get().await {
            // No table yet: nothing was ever erased.
            let version = store
                .table_version(crate::store::TableKind::Erasures)
                .await
                .ok();
            if purged_at != Some(version) {
                let erased = match version {
                    Some(_) => store.erased_sessions().await.ok(),
                    None => Some(Default::default()),
                };
                if let Some(erased) = erased {
                    let _no_ingest = state.ingest.pause_runs().await;
                    let spool = state.ingest.spool().to_path_buf();
                    let key = store.location().key.clone();
                    let purged = tokio::task::spawn_blocking(move || {
                        crate::spool::purge(&spool, &key, &erased)
                    })
                    .await;
                    if purged.is_ok() {
                        purged_at = Some(version);
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(ERASURES_LOOK_EVERY) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The body of every refusal and failure.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: String,
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

impl IntoResponse for ArchiveError {
    fn into_response(self) -> Response {
        let status = match &self {
            ArchiveError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ArchiveError::NotFound(_) => StatusCode::NOT_FOUND,
            ArchiveError::Forbidden(_) => StatusCode::FORBIDDEN,
            ArchiveError::Store(_) | ArchiveError::Search(_) => {
                tracing::error!(error = %self, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error(status, self.to_string())
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers a read. The probe is open to anyone, so the
/// reason it is not (a store error names paths, buckets and endpoints) goes
/// to the server's log only.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let counted = match state.shared.store.get().await {
        Ok(Some(store)) => store.count(crate::store::TableKind::Sessions, None).await,
        Ok(None) => {
            tracing::info!("not ready: nothing synced into the store yet");
            return error(StatusCode::SERVICE_UNAVAILABLE, "not ready");
        }
        Err(e) => Err(e),
    };
    match counted {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "not ready: the store cannot be read");
            error(StatusCode::SERVICE_UNAVAILABLE, "not ready")
        }
    }
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn search(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    JsonBody(params): JsonBody<archive::SearchParams>,
) -> Response {
    answer(&state, async |store| {
        archive::search(store, &state.shared.embedder, &view, params).await
    })
    .await
}

async fn list_sessions(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    QueryParams(params): QueryParams<archive::ListSessionsParams>,
) -> Response {
    answer(&state, async |store| {
        archive::list_sessions(store, &view, params).await
    })
    .await
}

async fn usage(
    State(state): State<Arc<AppState>>,
    TotalsReader(view): TotalsReader,
    QueryParams(params): QueryParams<archive::UsageParams>,
) -> Response {
    answer(&state, async |store| {
        archive::usage(store, &view, &state.shared.prices, params).await
    })
    .await
}

/// Query of `GET /v1/sessions/{id}`.
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPageQuery {
    /// Messages to skip, for the next page.
    #[schemars(range(max = 100000000))]
    pub offset: Option<usize>,
    /// Messages per page (default 20).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
    /// Whole parts instead of clipped ones.
    pub full: Option<bool>,
}

async fn get_session(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    PathId(id): PathId,
    QueryParams(q): QueryParams<SessionPageQuery>,
) -> Response {
    let params = GetSessionParams {
        id,
        offset: q.offset,
        limit: q.limit,
        full: q.full,
    };
    answer(&state, async |store| {
        archive::get_session(store, &view, params).await
    })
    .await
}

/// Query of `GET /v1/messages/{id}`.
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    /// Messages shown before and after it (default 2).
    #[schemars(range(max = 10))]
    pub neighbours: Option<usize>,
}

async fn get_message(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    PathId(id): PathId,
    QueryParams(q): QueryParams<MessageQuery>,
) -> Response {
    let params = GetMessageParams {
        id,
        neighbours: q.neighbours,
    };
    answer(&state, async |store| {
        archive::get_message(store, &view, params).await
    })
    .await
}

async fn status(State(state): State<Arc<AppState>>, TotalsReader(view): TotalsReader) -> Response {
    answer(&state, async |store| {
        let mut status = archive::status(store, &view).await?;
        status.stale_after_secs = Some(state.stale_after.as_secs());
        // The store's shape says nothing of any session, but a limited
        // token sees only its own part of the archive (as on /metrics).
        if view.limits.project_prefix.is_none() && view.limits.host_prefix.is_none() {
            status.store_health = store.health().await?;
            status.search = Some(crate::search::backlog::census(store).await?);
        }
        Ok(status)
    })
    .await
}

/// Runs a read against the store, an empty one before the first sync, so
/// that every route answers then as for an archive with nothing in it.
async fn read_store<T>(
    state: &AppState,
    read: impl AsyncFnOnce(&Store) -> Result<T, ArchiveError>,
) -> Result<T, ArchiveError> {
    let store = state.shared.store.or_empty().await?;
    read(store).await
}

/// A JSON route's answer: its read of the store, or the API's error.
async fn answer<T: Serialize>(
    state: &AppState,
    read: impl AsyncFnOnce(&Store) -> Result<T, ArchiveError>,
) -> Response {
    respond(read_store(state, read).await)
}

fn respond<T: Serialize>(result: Result<T, ArchiveError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}
