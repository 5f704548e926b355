//! Who is calling: the bearer token of each request, turned into a
//! [`Grant`] the routes and the MCP tools read from the request.
//!
//! A missing or unknown token is 401 with `WWW-Authenticate: Bearer`; a
//! token of the wrong scope is 403 at the route. Tokens never reach a log:
//! only the token's name is recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::access::{self, Grant, TokenEntry};

pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let grant = if state.require_tokens {
        let tokens = state.tokens.current();
        match bearer(&request).and_then(|t| access::verify(&tokens, t)) {
            Some(grant) => grant,
            None => return unauthorized(bearer(&request).is_some()),
        }
    } else {
        Grant::local()
    };
    tracing::debug!(token = %grant.name, path = %request.uri().path(), "request");
    request.extensions_mut().insert(grant);
    next.run(request).await
}

fn bearer(request: &Request) -> Option<&str> {
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
/// token revoke` takes effect on the next request, without a restart.
pub(crate) struct TokenSource {
    path: PathBuf,
    cached: Mutex<(Option<SystemTime>, Arc<Vec<TokenEntry>>)>,
}

impl TokenSource {
    pub fn new(path: PathBuf, initial: Vec<TokenEntry>) -> TokenSource {
        let stamp = modified(&path);
        TokenSource {
            path,
            cached: Mutex::new((stamp, Arc::new(initial))),
        }
    }

    pub fn current(&self) -> Arc<Vec<TokenEntry>> {
        let stamp = modified(&self.path);
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

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
