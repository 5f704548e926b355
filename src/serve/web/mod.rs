//! The archive in a browser: the pages `pond serve` answers at `/`.
//!
//! The pages are one small script, one style sheet and one HTML shell,
//! compiled into the binary so they work offline and need no Node toolchain
//! to build. The shell carries no data: every answer it shows comes from the
//! documented `/v1` routes, under the same tokens, so a page sees exactly
//! what its token sees. A browser cannot send a bearer header by itself, so
//! signing in gives it an `HttpOnly; SameSite=Strict` cookie holding a
//! session id ([`sessions`]), never the token, which [`super::auth`] turns
//! into the token's grant.

pub mod sessions;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The cookie a signed-in browser sends its session id in.
pub const COOKIE: &str = "pond_session";
/// The same behind TLS: a `__Host-` cookie is only accepted with `Secure`,
/// `Path=/` and no `Domain`, so no other host or plain-HTTP page can set it.
pub const SECURE_COOKIE: &str = "__Host-pond_session";
/// The header the pages add to every request that is not a GET: a page of
/// another site cannot send it without a CORS preflight, which this server
/// never grants, so a request with the cookie but without it is refused.
pub const CSRF_HEADER: &str = "x-pond-csrf";

const SHELL: &str = include_str!("assets/index.html");
/// The pages' script, as ES modules the browser loads by name (no bundler:
/// each file is what is served); `app.js` is the entry.
const SCRIPTS: [(&str, &str); 8] = [
    ("app.js", include_str!("assets/app.js")),
    ("core.js", include_str!("assets/core.js")),
    ("search.js", include_str!("assets/search.js")),
    ("session.js", include_str!("assets/session.js")),
    ("markdown.js", include_str!("assets/markdown.js")),
    ("fleet.js", include_str!("assets/fleet.js")),
    ("spend.js", include_str!("assets/spend.js")),
    ("share.js", include_str!("assets/share.js")),
];
const STYLE: &str = include_str!("assets/app.css");
const ICON: &str = include_str!("assets/icon.svg");

/// Only this server's own scripts, styles and images run or load: a
/// message holding `<script>` or an image on another host stays text.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The HTML shell, for every page path; the script draws the page the path
/// names.
pub async fn shell() -> Response {
    asset("text/html; charset=utf-8", SHELL, "no-cache")
}

/// `GET /assets/{name}.js`: one of the pages' modules, or 404.
pub async fn script(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match SCRIPTS.iter().find(|(file, _)| *file == name) {
        Some((_, body)) => asset("text/javascript; charset=utf-8", body, "no-cache"),
        None => super::error(StatusCode::NOT_FOUND, format!("no asset `{name}`")),
    }
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE, "no-cache")
}

pub async fn icon() -> Response {
    asset("image/svg+xml", ICON, "max-age=86400")
}

fn asset(content_type: &'static str, body: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// Every answer of the server carries these: pages are never framed, never
/// sniffed into another type, never tell another site where they were.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The session id a signed-in browser sent, from its cookie.
pub fn cookie_session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE || *name == SECURE_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Body of `POST /web/signin`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// A token from `pond token create`.
    pub token: String,
}

/// Who a request acts as: `GET /v1/me`.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Caller {
    /// The token's name, or `local` on a loopback server without tokens.
    pub name: String,
    /// `read`, `stats` (totals only: the fleet and spend pages), `ingest`,
    /// `admin`, or `local` (anything).
    pub scope: String,
    /// Only sessions whose working directory starts with this.
    pub project_prefix: Option<String>,
    /// Only hosts whose name starts with this.
    pub host_prefix: Option<String>,
    /// Whether answers mask secrets (`pond serve` without `--no-redact`).
    pub redact: bool,
    /// Whether it may make share links (the session page's "Share").
    pub may_share: bool,
    /// Whether this server asks for a token at all: without one, signing
    /// out changes nothing.
    pub tokens_required: bool,
}

/// The `Set-Cookie` value that keeps session `id` for the browser's
/// session. Behind TLS (a proxy saying so) it is a `Secure` `__Host-`
/// cookie, so it never travels in clear after that.
pub fn session_cookie(id: &str, headers: &HeaderMap) -> HeaderValue {
    let (name, secure) = if behind_tls(headers) {
        (SECURE_COOKIE, "; Secure")
    } else {
        (COOKIE, "")
    };
    // A session id is hex ([`sessions`]).
    HeaderValue::from_str(&format!(
        "{name}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("pond_session=; Path=/; Max-Age=0"))
}

/// The `Set-Cookie` value that forgets the session.
pub fn cleared_cookie(headers: &HeaderMap) -> HeaderValue {
    if behind_tls(headers) {
        HeaderValue::from_static(
            "__Host-pond_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
        )
    } else {
        HeaderValue::from_static("pond_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
    }
}

fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// Whether a request the cookie authenticated may change anything: only
/// when the page's own script sent it (see [`CSRF_HEADER`]).
pub fn csrf_ok(request: &Request) -> bool {
    matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    ) || request.headers().contains_key(CSRF_HEADER)
}

pub fn csrf_refusal() -> Response {
    super::error(
        StatusCode::FORBIDDEN,
        format!("a request signed in by cookie must carry the `{CSRF_HEADER}` header"),
    )
}

/// The answer to a sign-in: the caller it makes, and the cookie.
pub fn signed_in(caller: Caller, cookie: HeaderValue) -> Response {
    let mut response = Json(caller).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule49_the_cookie_is_read_among_others_and_never_empty() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; pond_session=ab12; b=2"),
        );
        assert_eq!(cookie_session(&headers), Some("ab12"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-pond_session=cd34"),
        );
        assert_eq!(cookie_session(&headers), Some("cd34"));
        headers.insert(header::COOKIE, HeaderValue::from_static("pond_session="));
        assert_eq!(cookie_session(&headers), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("xpond_session=1"));
        assert_eq!(cookie_session(&headers), None);
    }

    #[test]
    fn rule49_the_cookie_is_http_only_strict_and_secure_behind_tls() {
        let mut headers = HeaderMap::new();
        let plain = session_cookie("ab12", &headers);
        assert_eq!(
            plain.to_str().ok(),
            Some("pond_session=ab12; Path=/; HttpOnly; SameSite=Strict")
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let secure = session_cookie("ab12", &headers);
        assert_eq!(
            secure.to_str().ok(),
            Some("__Host-pond_session=ab12; Path=/; HttpOnly; SameSite=Strict; Secure")
        );
    }
}
