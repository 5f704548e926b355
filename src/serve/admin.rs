//! `POST /v1/erase`: erasure over HTTP, for tokens of the admin scope only.
//!
//! Erasing is the one request that destroys, so no other grant reaches
//! it: not a read or ingest token, not a loopback caller without a token
//! (who has the CLI), and not an admin token with limits, whose erasure
//! could reach past what it may see. MCP never offers it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{AppState, JsonBody, error};
use crate::access::{Grant, Scope};
use crate::erase::{self, EraseError, EraseOptions, EraseReport, Selection};

/// What to erase: session keys, or every session matching all the filters given.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Session keys (or unique prefixes, or the client's own ids).
    #[serde(default)]
    pub sessions: Vec<String>,
    pub project: Option<String>,
    pub host: Option<String>,
    pub client: Option<String>,
    /// Sessions last active before this: a date, an RFC 3339 time, or an age (`90d`).
    pub before: Option<String>,
    /// Leave child sessions (subagents) of the selected ones in place.
    #[serde(default)]
    pub without_children: bool,
    /// Report what would go and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Make the bytes go now (compaction and pruning under the upkeep lease).
    #[serde(default)]
    pub now: bool,
}

/// In front of `/v1/erase`: only an unlimited admin token passes, before
/// the body is read.
pub(crate) async fn require_admin(request: Request, next: Next) -> Response {
    let refusal = match request.extensions().get::<Grant>() {
        Some(grant) if grant.scope == Some(Scope::Admin) && grant.limits.is_unlimited() => None,
        Some(grant) if grant.scope == Some(Scope::Admin) => Some(format!(
            "token `{}` has limits; erasing needs an admin token without them",
            grant.name
        )),
        Some(grant) if grant.scope.is_none() => Some(
            "erasing over HTTP needs a token of the admin scope (`pond token create NAME --scope admin`); on this machine, `pond erase` needs none"
                .to_string(),
        ),
        Some(grant) => Some(format!(
            "token `{}` cannot erase: that needs a token of the admin scope",
            grant.name
        )),
        None => Some("request without a caller".to_string()),
    };
    match refusal {
        Some(message) => error(StatusCode::FORBIDDEN, message),
        None => next.run(request).await,
    }
}

pub(crate) async fn handle(
    State(state): State<Arc<AppState>>,
    axum::Extension(grant): axum::Extension<Grant>,
    JsonBody(body): JsonBody<EraseRequest>,
) -> Response {
    match run(&state, &grant, body).await {
        Ok(report) => axum::Json(report).into_response(),
        Err(EraseError::Invalid(message)) => error(StatusCode::BAD_REQUEST, message),
        Err(EraseError::Store(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn run(
    state: &AppState,
    grant: &Grant,
    body: EraseRequest,
) -> Result<EraseReport, EraseError> {
    let store = state
        .shared
        .store
        .or_empty()
        .await
        .map_err(|e| EraseError::Invalid(e.to_string()))?;
    let mut sessions = Vec::new();
    for given in &body.sessions {
        sessions.push(erase::resolve_session(store, given).await?);
    }
    let selection = Selection {
        sessions,
        project: body.project,
        host: body.host,
        client: body.client,
        before: body
            .before
            .as_deref()
            .map(|b| crate::search::filters::parse_time(b, chrono::Utc::now()))
            .transpose()
            .map_err(|e| EraseError::Invalid(e.to_string()))?,
        without_children: body.without_children,
    };
    let plan = erase::plan(store, &selection).await?;
    if body.dry_run {
        return Ok(erase::preview(&selection, plan));
    }
    let opts = EraseOptions {
        host: hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown-host".into()),
        user: format!("token:{}", grant.name),
        now: body.now,
        lease_ttl: crate::upkeep::LEASE_TTL,
    };
    tracing::warn!(token = %grant.name, selection = %selection.describe(), sessions = plan.sessions.len(), "erasing over HTTP");
    erase::execute(store, &selection, plan, &opts, &|_| {}).await
}
