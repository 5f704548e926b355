//! The routes behind the browser pages: signing in and out, who the caller
//! is, the fleet's runs over time, a message's images, and a session's
//! source file to download. The pages themselves and
//! the cookie's rules are [`super::web`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{
    AppState, Caller, JsonBody, PathId, QueryParams, Reader, TotalsReader, answer, error,
    read_store, web,
};
use crate::access::{self, Grant, Scope};
use crate::archive;

/// `POST /web/signin`: a token that this server knows opens a browser
/// session, whose id becomes the browser's cookie (never the token).
/// Outside the token check, like the health probes; the host and origin
/// check still runs first, so no other site can sign a browser in.
pub(super) async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<web::SignIn>,
) -> Response {
    let tokens = state.tokens.current();
    let Some(entry) = access::verify_entry(&tokens, body.token.trim()) else {
        tracing::info!("a sign-in with an unknown token was refused");
        return error(StatusCode::UNAUTHORIZED, "unknown or revoked token");
    };
    let id = match state.browser_sessions.open(entry) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "no random bytes for a browser session");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot open a browser session",
            );
        }
    };
    let grant = Grant::of(entry);
    tracing::info!(token = %grant.name, "signed in a browser");
    web::signed_in(
        caller(&state, &grant, state.tokens.required()),
        web::session_cookie(&id, &headers),
    )
}

/// `POST /web/signout`: the browser's session ends, and it forgets the id.
pub(super) async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(id) = web::cookie_session(&headers) {
        state.browser_sessions.close(id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, web::cleared_cookie(&headers));
    response
}

/// `GET /v1/me`: who this request acts as, and what it may see.
pub(super) async fn me(
    State(state): State<Arc<AppState>>,
    axum::Extension(grant): Caller,
) -> Response {
    let required = state.tokens.required();
    axum::Json(caller(&state, &grant, required)).into_response()
}

/// `GET /v1/runs`: the fleet's runs per hour or day, within the token's
/// host limit (the fleet page's chart).
pub(super) async fn runs(
    State(state): State<Arc<AppState>>,
    TotalsReader(view): TotalsReader,
    QueryParams(params): QueryParams<archive::RunsParams>,
) -> Response {
    answer(&state, async |store| {
        archive::run_timeline(store, &view, params, chrono::Utc::now()).await
    })
    .await
}

/// `GET /v1/messages/{id}/images/{n}`: one image a message holds inline,
/// as its bytes, for the session page's `<img>`.
pub(super) async fn message_image(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    path: Result<axum::extract::Path<(String, usize)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let (id, n) = match path {
        Ok(axum::extract::Path(found)) => found,
        Err(r) => return error(StatusCode::BAD_REQUEST, r.body_text()),
    };
    let found = read_store(&state, async |store| {
        archive::message_image(store, &view, &id, n).await
    })
    .await;
    match found {
        Ok(image) => (
            [
                (header::CONTENT_TYPE, image.media_type),
                (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
            ],
            image.bytes,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn caller(state: &AppState, grant: &Grant, tokens_required: bool) -> web::Caller {
    web::Caller {
        name: grant.name.clone(),
        scope: grant.scope.map_or("local", Scope::as_str).to_string(),
        project_prefix: grant.limits.project_prefix.clone(),
        host_prefix: grant.limits.host_prefix.clone(),
        redact: state.shared.redact,
        may_share: grant.may_share,
        tokens_required,
    }
}

/// Query of `GET /v1/sessions/{id}/raw`.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQuery {
    /// Which of the session's source files (0-based, default 0); the
    /// `x-pond-source-files` header of an answer says how many there are.
    #[schemars(range(max = 10000))]
    pub file: Option<usize>,
}

/// `GET /v1/sessions/{id}/raw`: one of the session's source files, as its
/// client wrote it (masked unless the server runs with `--no-redact`).
pub(super) async fn raw_file(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    PathId(id): PathId,
    QueryParams(q): QueryParams<RawQuery>,
) -> Response {
    let file = read_store(&state, async |store| {
        archive::session_source_file(store, &view, &id, q.file.unwrap_or(0)).await
    })
    .await;
    match file {
        Ok(f) => source_file_response(f),
        Err(e) => e.into_response(),
    }
}

/// A session's source file as a download, streamed record by record.
pub(super) fn source_file_response(file: archive::RawDownload) -> Response {
    let count = file.files;
    let name = file
        .rel_path
        .rsplit('/')
        .next()
        .unwrap_or("session")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (
                header::HeaderName::from_static("x-pond-source-files"),
                count.to_string(),
            ),
        ],
        // Sent record by record: a large file is never built in memory.
        axum::body::Body::from_stream(futures::stream::iter(
            file.into_chunks()
                .map(|chunk| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk))),
        )),
    )
        .into_response()
}
