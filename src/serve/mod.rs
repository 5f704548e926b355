//! `pond serve`: the archive over HTTP for people, scripts and remote hosts.
//!
//! JSON routes under `/v1` answer the same questions as the MCP tools (both
//! call [`crate::archive`]), `/mcp` is the MCP streamable-HTTP endpoint,
//! `/v1/ingest` takes session files from hosts that cannot reach the bucket.
//! Every route but the health probes goes through [`auth`]; the OpenAPI
//! document describing all of it is generated from the same types
//! ([`openapi`]) and kept in `docs/openapi.json`.

pub mod auth;
pub mod ingest;
pub mod openapi;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::access::{Grant, Scope, TokenEntry};
use crate::archive::{self, ArchiveError, GetMessageParams, GetSessionParams, View};
use crate::mcp::{ArchiveTools, Shared, Transport};

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
    /// `[redact] at_ingest`: mask secrets in what `/v1/ingest` stores.
    pub redact_at_ingest: bool,
}

pub(crate) struct AppState {
    pub shared: Arc<Shared>,
    pub tokens: auth::TokenSource,
    /// Tokens are checked on this server (any configured, or not loopback).
    pub require_tokens: bool,
    pub ingest: ingest::Ingester,
    pub redact_at_ingest: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without tokens: beyond loopback every request must carry one (create one with `pond token create NAME --scope read`)"
    )]
    NoTokens(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Builds every route; tests call this to serve on a port of their own.
pub(crate) fn router(state: Arc<AppState>) -> axum::Router {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let shared = state.shared.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(ArchiveTools::new(shared.clone(), Transport::Http)),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let guarded = axum::Router::new()
        .route("/openapi.json", get(openapi_document))
        .route("/v1/search", post(search))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{id}", get(get_session))
        .route("/v1/messages/{id}", get(get_message))
        .route("/v1/status", get(status))
        // The handler streams the body to disk and enforces its own limit.
        .route(
            "/v1/ingest",
            post(ingest::handle).layer(DefaultBodyLimit::disable()),
        )
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(guarded)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route (see /openapi.json)") })
        .with_state(state)
}

/// Serves until interrupted (Ctrl-C or SIGTERM), then finishes open requests.
pub async fn run(shared: Arc<Shared>, opts: ServeOptions) -> anyhow::Result<()> {
    let loopback = opts.listen.ip().is_loopback();
    if !loopback && opts.tokens.is_empty() {
        return Err(ServeError::NoTokens(opts.listen).into());
    }
    let state = Arc::new(AppState {
        require_tokens: !loopback || !opts.tokens.is_empty(),
        tokens: auth::TokenSource::new(opts.config_path, opts.tokens),
        ingest: ingest::Ingester::new(opts.spool_dir, opts.max_upload_bytes),
        redact_at_ingest: opts.redact_at_ingest,
        shared,
    });
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    let bound = listener.local_addr()?;
    // The one line a supervisor or test waits for before sending requests.
    eprintln!(
        "pond: serving {} on http://{bound} (tokens {}, redaction {})",
        state.shared.store.location().display,
        if state.require_tokens {
            "required"
        } else {
            "not required on loopback"
        },
        if state.shared.redact { "on" } else { "off" }
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
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

/// The caller's view for a read route, or the refusal.
fn read_view(state: &AppState, grant: &Grant) -> Result<View, ArchiveError> {
    if !grant.permits(Scope::Read) {
        return Err(ArchiveError::Forbidden(format!(
            "token `{}` has the ingest scope; this route needs read",
            grant.name
        )));
    }
    Ok(View {
        limits: grant.limits.clone(),
        redact: state.shared.redact,
    })
}

type Caller = axum::Extension<Grant>;

/// A JSON body; a malformed one (bad JSON, wrong fields, no content type) is
/// the API's own 400, not axum's plain-text 415/422.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|r| error(StatusCode::BAD_REQUEST, r.body_text()))
    }
}

/// A query string, refused like a malformed body.
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| QueryParams(v))
            .map_err(|r| error(StatusCode::BAD_REQUEST, r.body_text()))
    }
}

/// The `{id}` of a route, percent-decoded (message ids contain `/`, sent as `%2F`).
pub(crate) struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|r| error(StatusCode::BAD_REQUEST, r.body_text()))
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers a read.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state
        .shared
        .store
        .count(crate::store::TableKind::Sessions, None)
        .await
    {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not readable: {e}"),
        ),
    }
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn search(
    State(state): State<Arc<AppState>>,
    axum::Extension(grant): Caller,
    JsonBody(params): JsonBody<archive::SearchParams>,
) -> Response {
    let view = match read_view(&state, &grant) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    respond(archive::search(&state.shared.store, &state.shared.embedder, &view, params).await)
}

async fn list_sessions(
    State(state): State<Arc<AppState>>,
    axum::Extension(grant): Caller,
    QueryParams(params): QueryParams<archive::ListSessionsParams>,
) -> Response {
    let view = match read_view(&state, &grant) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    respond(archive::list_sessions(&state.shared.store, &view, params).await)
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
    axum::Extension(grant): Caller,
    PathId(id): PathId,
    QueryParams(q): QueryParams<SessionPageQuery>,
) -> Response {
    let view = match read_view(&state, &grant) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let params = GetSessionParams {
        id,
        offset: q.offset,
        limit: q.limit,
        full: q.full,
    };
    respond(archive::get_session(&state.shared.store, &view, params).await)
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
    axum::Extension(grant): Caller,
    PathId(id): PathId,
    QueryParams(q): QueryParams<MessageQuery>,
) -> Response {
    let view = match read_view(&state, &grant) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let params = GetMessageParams {
        id,
        neighbours: q.neighbours,
    };
    respond(archive::get_message(&state.shared.store, &view, params).await)
}

async fn status(State(state): State<Arc<AppState>>, axum::Extension(grant): Caller) -> Response {
    let view = match read_view(&state, &grant) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    respond(archive::status(&state.shared.store, &view).await)
}

fn respond<T: Serialize>(result: Result<T, ArchiveError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}
