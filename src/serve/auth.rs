//! Who is calling: the bearer token of each request, turned into a
//! [`Grant`] the routes and the MCP tools read from the request.
//!
//! A missing or unknown token is 401 with `WWW-Authenticate: Bearer`; a
//! token of the wrong scope is 403 at the route, before the route reads its
//! input. Tokens never reach a log: only the token's name is recorded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, web};
use crate::access::{self, Grant, Reads, Scope, TokenEntry};

pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    // Decided per request from the tokens in force now: creating the first
    // token closes a loopback server to callers without one at once, as the
    // docs promise, rather than at its next restart.
    let tokens = state.tokens.current();
    // Rule 36: beyond loopback, or once any token has existed, a request
    // without a known bearer token is refused with 401.
    let grant = if state.tokens.required() {
        // A browser signed in with `/web/signin` sends a session id as a
        // cookie (rule 49); the header wins when both are present.
        match bearer(&request) {
            Some(token) => match access::verify(&tokens, token) {
                Some(grant) => grant,
                None => return unauthorized(true),
            },
            None => match web::cookie_session(request.headers()) {
                Some(id) => match state.browser_sessions.grant(id, &tokens) {
                    Some(_) if !web::csrf_ok(&request) => return web::csrf_refusal(),
                    Some(grant) => grant,
                    None => return unauthorized_session(),
                },
                None => return unauthorized(false),
            },
        }
    } else {
        Grant::local()
    };
    tracing::debug!(token = %grant.name, path = %request.uri().path(), "request");
    request.extensions_mut().insert(grant);
    next.run(request).await
}

/// In front of the text routes: a token that may not read text (ingest,
/// admin, stats) is refused before the route parses its query or body.
pub(crate) async fn require_texts(request: Request, next: Next) -> Response {
    require(Reads::Texts, request, next).await
}

/// In front of the totals routes: the same, letting stats tokens in.
pub(crate) async fn require_totals(request: Request, next: Next) -> Response {
    require(Reads::Totals, request, next).await
}

async fn require(what: Reads, request: Request, next: Next) -> Response {
    let refusal = match request.extensions().get::<Grant>() {
        Some(grant) if grant.may_read(what) => None,
        Some(grant) => Some((
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has the {} scope; this route needs {}",
                grant.name,
                grant.scope.map_or("local", Scope::as_str),
                what.needs()
            ),
        )),
        // `require_token` runs first and always leaves a grant.
        None => Some((
            StatusCode::INTERNAL_SERVER_ERROR,
            "request without a caller".to_string(),
        )),
    };
    match refusal {
        Some((status, message)) => super::error(status, message),
        None => next.run(request).await,
    }
}

pub(crate) fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A browser whose session ended (idle, signed out, token revoked).
fn unauthorized_session() -> Response {
    with_challenge(super::error(
        StatusCode::UNAUTHORIZED,
        "this browser's session ended (unused for long, signed out, or its token was revoked): sign in again",
    ))
}

fn with_challenge(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"pond\""),
    );
    response
}

fn unauthorized(presented: bool) -> Response {
    let message = if presented {
        "unknown or revoked token"
    } else {
        "this server needs a token: send `Authorization: Bearer <token>` (see `pond token create`)"
    };
    with_challenge(super::error(StatusCode::UNAUTHORIZED, message))
}

/// The tokens of the config file, re-read whenever the file changes: `pond
/// token create` and `revoke` take effect on the next request, without a
/// restart.
///
/// Whether tokens are required only ever turns on: from the start beyond
/// loopback, and on loopback from the first token seen. A config file that
/// is half-written, unreadable or gone for a moment (an editor saving by
/// rename) keeps the last good tokens in force, so a running server never
/// falls back to serving without authentication.
pub(crate) struct TokenSource {
    path: PathBuf,
    cached: Mutex<(Option<Stamp>, Arc<Vec<TokenEntry>>)>,
    required: AtomicBool,
}

impl TokenSource {
    /// `required` from the start: a server beyond loopback or behind a
    /// proxy (`--allow-host`).
    pub fn new(path: PathBuf, initial: Vec<TokenEntry>, required: bool) -> TokenSource {
        let stamp = stamp(&path);
        let required = AtomicBool::new(required || !initial.is_empty());
        TokenSource {
            path,
            cached: Mutex::new((stamp, Arc::new(initial))),
            required,
        }
    }

    pub fn current(&self) -> Arc<Vec<TokenEntry>> {
        let stamp = stamp(&self.path);
        let mut cached = match self.cached.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if stamp != cached.0 {
            // A file that was there and is gone is being replaced; one that
            // never was there has no tokens yet.
            let vanished = stamp.is_none() && cached.0.is_some();
            match crate::config::load_tokens(&self.path) {
                Ok(_) if vanished => {
                    tracing::warn!(
                        "config file gone; keeping the tokens read before until it is back"
                    );
                }
                Ok(tokens) => {
                    if !tokens.is_empty() {
                        self.required.store(true, Ordering::SeqCst);
                    }
                    *cached = (stamp, Arc::new(tokens));
                }
                // A half-edited file keeps the last good tokens in force.
                Err(e) => {
                    tracing::warn!(error = %e, "config unreadable; keeping the tokens read before")
                }
            }
        }
        cached.1.clone()
    }

    /// Whether every request must carry a token. Once true, true for the
    /// life of the server, also when the last token is revoked.
    pub fn required(&self) -> bool {
        // Reading the file first lets a token created just now count.
        let _ = self.current();
        self.required.load(Ordering::SeqCst)
    }
}

/// What tells one version of the config file from the next. `pond token`
/// replaces the file, so its inode changes even when two writes fall within
/// one tick of the file system's clock.
type Stamp = (SystemTime, u64, u64);

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}
