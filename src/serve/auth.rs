//! Who is calling: the bearer token of each request, turned into a
//! [`Grant`] the routes and the MCP tools read from the request.
//!
//! A missing or unknown token is 401 with `WWW-Authenticate: Bearer`; a
//! token of the wrong scope is 403 at the route, before the route reads its
//! input. Tokens never reach a log: only the token's name is recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppState, web};
use crate::access::{self, Grant, Scope, TokenEntry};

pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    // Decided per request from the tokens in force now: creating the first
    // token closes a loopback server to callers without one at once, as the
    // docs promise, rather than at its next restart.
    let tokens = state.tokens.current();
    // Rule 36: beyond loopback, or once any token exists, a request without a
    // known bearer token is refused with 401.
    let grant = if !state.loopback || !tokens.is_empty() {
        // A browser signed in with `/web/signin` sends the token as a cookie
        // (rule 49); the header wins when both are present.
        let from_cookie = bearer(&request).is_none();
        let presented = bearer(&request).or_else(|| web::cookie_token(request.headers()));
        match presented.and_then(|t| access::verify(&tokens, t)) {
            Some(_) if from_cookie && !web::csrf_ok(&request) => {
                return web::csrf_refusal();
            }
            Some(grant) => grant,
            None => return unauthorized(presented.is_some()),
        }
    } else {
        Grant::local()
    };
    tracing::debug!(token = %grant.name, path = %request.uri().path(), "request");
    request.extensions_mut().insert(grant);
    next.run(request).await
}

/// In front of the read routes: an ingest token is refused before the route
/// parses its query or body.
pub(crate) async fn require_read(request: Request, next: Next) -> Response {
    let refusal = match request.extensions().get::<Grant>() {
        Some(grant) if grant.permits(Scope::Read) => None,
        Some(grant) => Some((
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has the {} scope; this route needs read",
                grant.name,
                grant.scope.map_or("local", Scope::as_str)
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

fn unauthorized(presented: bool) -> Response {
    let message = if presented {
        "unknown or revoked token"
    } else {
        "this server needs a token: send `Authorization: Bearer <token>` (see `pond token create`)"
    };
    let mut response = super::error(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"pond\""),
    );
    response.into_response()
}

/// The tokens of the config file, re-read whenever the file changes: `pond
/// token create` and `revoke` take effect on the next request, without a
/// restart.
pub(crate) struct TokenSource {
    path: PathBuf,
    cached: Mutex<(Option<Stamp>, Arc<Vec<TokenEntry>>)>,
}

impl TokenSource {
    pub fn new(path: PathBuf, initial: Vec<TokenEntry>) -> TokenSource {
        let stamp = stamp(&path);
        TokenSource {
            path,
            cached: Mutex::new((stamp, Arc::new(initial))),
        }
    }

    pub fn current(&self) -> Arc<Vec<TokenEntry>> {
        let stamp = stamp(&self.path);
        let mut cached = match self.cached.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if stamp != cached.0 {
            match crate::config::load_tokens(&self.path) {
                Ok(tokens) => *cached = (stamp, Arc::new(tokens)),
                // A half-edited file keeps the last good tokens in force.
                Err(e) => {
                    tracing::warn!(error = %e, "config unreadable; keeping the tokens read before")
                }
            }
        }
        cached.1.clone()
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
