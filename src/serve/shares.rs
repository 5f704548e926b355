//! Share links (spec rule 56): `/s/{id}`, the page a link shows to anyone
//! holding it without a token, and the routes the session page makes and
//! revokes links with (`/v1/sessions/{id}/shares`, for tokens that may
//! share).
//!
//! The page is drawn here, not by the pages' script: the session's
//! transcript as the readable export draws it, with its images inline and
//! no link anywhere but to its own source file (when the share allows it).
//! Nothing on it can reach search, another session or the API. A share is
//! read from the store on every view, so a revoke on any host ends it on
//! every server at once.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{AppState, Caller, JsonBody, PathId, Reader, respond};
use crate::access::Grant;
use crate::archive::{self, ArchiveError, View};
use crate::share::{self, Lookup, Share, ShareAsk};
use crate::store::Store;
use crate::transcript::{self, Framing};

/// The `{id}` of a share route; a malformed one is looked up like any other.
type PathResult = Result<Path<String>, axum::extract::rejection::PathRejection>;

/// Where a share page's styles are served (its policy forbids inline ones).
pub(super) const STYLESHEET: &str = "/assets/share.css";

/// `GET /s/{id}`: the shared session, 404 for an id no share has, 410 for
/// one that expired, was revoked or whose session was erased.
pub(super) async fn page(State(state): State<Arc<AppState>>, id: PathResult) -> Response {
    let share = match live_share(&state, id).await {
        Ok(share) => share,
        Err(refusal) => return refusal,
    };
    let Ok(store) = state.shared.store.or_empty().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "The archive cannot be read right now. Try again later.",
        );
    };
    let doc = transcript::gather(
        store,
        &share.session_id,
        share.redact,
        true,
        &state.shared.prices,
    )
    .await;
    let doc = match doc {
        Ok(doc) => doc,
        Err(ArchiveError::NotFound(_)) => return ended(),
        Err(e) => return failed(e),
    };
    share::note_view(store, &share).await;
    let until = share.expires_at.map_or("does not expire".to_string(), |t| {
        format!("works until {}", t.format("%Y-%m-%d %H:%M UTC"))
    });
    let framing = Framing {
        stylesheet: Some(STYLESHEET.to_string()),
        note: Some(format!(
            "Shared from pond: this link shows this one session{}, and {until}.",
            if share.redact {
                " with secrets masked"
            } else {
                ""
            }
        )),
        raw_href: share.raw.then(|| format!("/s/{}/raw", share.id)),
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        transcript::page(&doc, &framing),
    )
        .into_response()
}

/// `GET /s/{id}/raw`: the session's source file, when the share allows it.
pub(super) async fn raw(State(state): State<Arc<AppState>>, id: PathResult) -> Response {
    let share = match live_share(&state, id).await {
        Ok(share) if share.raw => share,
        Ok(_) => {
            return plain(
                StatusCode::NOT_FOUND,
                "This share does not include the session's files.",
            );
        }
        Err(refusal) => return refusal,
    };
    let Ok(store) = state.shared.store.or_empty().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "The archive cannot be read right now. Try again later.",
        );
    };
    let view = View {
        redact: share.redact,
        ..View::default()
    };
    match archive::session_source_file(store, &view, &share.session_id, 0).await {
        Ok(file) => {
            share::note_view(store, &share).await;
            super::pages::source_file_response(file)
        }
        Err(ArchiveError::NotFound(_)) => ended(),
        Err(e) => failed(e),
    }
}

/// `GET /assets/share.css`.
pub(super) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        transcript::STYLE,
    )
        .into_response()
}

/// The live share `id` names, or the page that says why there is none.
// The refusal is the answer itself, as an extractor's rejection is.
#[allow(clippy::result_large_err)]
async fn live_share(state: &AppState, id: PathResult) -> Result<Share, Response> {
    // Whatever was sent is looked up the same way, so no answer comes
    // sooner for an id that could never be one.
    let presented = id.map(|Path(id)| id).unwrap_or_default();
    let store = state
        .shared
        .store
        .or_empty()
        .await
        .map_err(|e| failed(e.into()))?;
    match share::lookup(store, &presented, Utc::now()).await {
        Ok(Lookup::Live(share)) => Ok(share),
        Ok(Lookup::Ended(_)) => Err(ended()),
        Ok(Lookup::Unknown) => Err(plain(
            StatusCode::NOT_FOUND,
            "No such share. Check the link you were sent.",
        )),
        Err(e) => Err(failed(e.into())),
    }
}

fn ended() -> Response {
    plain(
        StatusCode::GONE,
        "This share has ended: it expired, was revoked, or its session was erased. Ask whoever sent it for a new link.",
    )
}

fn failed(e: ArchiveError) -> Response {
    tracing::error!(error = %e, "a share page failed");
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The archive could not be read. Try again later.",
    )
}

/// A page of one sentence, for a share that cannot be shown.
fn plain(status: StatusCode, sentence: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pond share</title>\n<link rel=\"stylesheet\" href=\"{STYLESHEET}\">\n</head>\n<body>\n<main>\n<h1>pond share</h1>\n<p>{sentence}</p>\n</main>\n</body>\n</html>\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Body of `POST /v1/sessions/{id}/shares`.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    /// How long the link works: `7d` (the default), `12h`, ..., or `never`.
    #[serde(default)]
    pub expires: Option<String>,
}

/// What masking would hide from a share of the session.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct SharePreview {
    /// Secrets masked in what the link shows.
    pub masked: usize,
    /// A few of them in context, masked.
    pub samples: Vec<String>,
}

/// The caller may make and see share links of the session `id`, or why not.
// The refusal is the answer itself, as an extractor's rejection is.
#[allow(clippy::result_large_err)]
async fn sharer<'a>(
    state: &'a AppState,
    grant: &Grant,
    view: &View,
    id: &str,
) -> Result<(&'a crate::store::Store, String), Response> {
    if !grant.may_share {
        return Err(super::error(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` may not make share links (`pond token create --may-share`)",
                grant.name
            ),
        ));
    }
    let store = state
        .shared
        .store
        .or_empty()
        .await
        .map_err(|e| ArchiveError::from(e).into_response())?;
    let session = archive::visible_session(store, view, id)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((store, session.id))
}

/// Runs a share route's `work` on the store and the session `id` names, once
/// [`sharer`] allows it; its refusal otherwise.
async fn as_sharer(
    state: &AppState,
    grant: &Grant,
    view: &View,
    id: &str,
    work: impl AsyncFnOnce(&Store, String) -> Response,
) -> Response {
    match sharer(state, grant, view, id).await {
        Ok((store, session)) => work(store, session).await,
        Err(refusal) => refusal,
    }
}

/// `GET /v1/sessions/{id}/shares`: the session's shares, for a token that
/// may share.
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    axum::Extension(grant): Caller,
    PathId(id): PathId,
) -> Response {
    as_sharer(&state, &grant, &view, &id, async |store, session| {
        respond(
            share::list(store, Some(&session))
                .await
                .map_err(ArchiveError::from),
        )
    })
    .await
}

/// `POST /v1/sessions/{id}/shares`: a new link to the session, masked.
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    axum::Extension(grant): Caller,
    PathId(id): PathId,
    JsonBody(ask): JsonBody<NewShare>,
) -> Response {
    as_sharer(&state, &grant, &view, &id, async |store, session| {
        let lasts = match ask.expires.as_deref().map(str::trim) {
            Some("never") => None,
            None | Some("") => Some(std::time::Duration::from_secs(7 * 86_400)),
            Some(age) => match humantime::parse_duration(age) {
                Ok(d) => Some(d),
                Err(e) => {
                    return super::error(
                        StatusCode::BAD_REQUEST,
                        format!("`expires`: {e} (say 7d, 12h, or never)"),
                    );
                }
            },
        };
        let made = share::create(
            store,
            ShareAsk {
                session_id: session,
                lasts,
                // The pages make masked links only; `pond share --no-redact`
                // is for whoever holds the store.
                redact: true,
                raw: false,
                created_by: grant.name.clone(),
            },
        )
        .await;
        match made {
            Ok(share) => (StatusCode::CREATED, axum::Json(share)).into_response(),
            Err(e) => failed_share(e),
        }
    })
    .await
}

/// `POST /v1/shares/{id}/revoke`: ends a share of a session the token may
/// share; 404 for any other.
pub(super) async fn revoke(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    axum::Extension(grant): Caller,
    PathId(id): PathId,
) -> Response {
    let store = match state.shared.store.or_empty().await {
        Ok(store) => store,
        Err(e) => return ArchiveError::from(e).into_response(),
    };
    let not_found = || super::error(StatusCode::NOT_FOUND, "no such share");
    let share = match share::lookup(store, &id, Utc::now()).await {
        Ok(Lookup::Live(s) | Lookup::Ended(s)) => s,
        Ok(Lookup::Unknown) => return not_found(),
        Err(e) => return ArchiveError::from(e).into_response(),
    };
    if let Err(refusal) = sharer(&state, &grant, &view, &share.session_id).await {
        // A share of a session out of reach is not there for this token.
        return if refusal.status() == StatusCode::FORBIDDEN {
            refusal
        } else {
            not_found()
        };
    }
    match share::revoke(store, &id).await {
        Ok(share) => axum::Json(share).into_response(),
        Err(e) => failed_share(e),
    }
}

/// `GET /v1/sessions/{id}/shares/preview`: how many secrets a link would
/// mask, with a few in context.
pub(super) async fn preview(
    State(state): State<Arc<AppState>>,
    Reader(view): Reader,
    axum::Extension(grant): Caller,
    PathId(id): PathId,
) -> Response {
    as_sharer(&state, &grant, &view, &id, async |store, session| {
        let unmasked = View {
            limits: view.limits.clone(),
            ..View::default()
        };
        match archive::transcript(store, &unmasked, &session).await {
            Ok((_, messages)) => axum::Json(preview_of(&messages)).into_response(),
            Err(e) => e.into_response(),
        }
    })
    .await
}

/// What masking would hide from these messages.
fn preview_of(messages: &[crate::model::Message]) -> SharePreview {
    let mut preview = SharePreview {
        masked: 0,
        samples: Vec::new(),
    };
    for text in messages
        .iter()
        .flat_map(|m| m.parts.iter())
        .filter_map(|p| p.text.as_deref())
    {
        let spans = crate::redact::secret_spans(text.as_bytes());
        preview.masked += spans.len();
        if preview.samples.len() < PREVIEW_SAMPLES && !spans.is_empty() {
            let masked = crate::redact::redact_str(text);
            if let Some(at) = masked.find("[REDACTED") {
                preview.samples.push(around(&masked, at));
            }
        }
    }
    preview
}

/// Secrets shown in context by a preview.
const PREVIEW_SAMPLES: usize = 5;

/// Up to 40 characters either side of byte `at`, on char boundaries.
fn around(text: &str, at: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(39)
        .map_or(0, |(i, _)| i);
    let end = text[at..]
        .char_indices()
        .nth(80)
        .map_or(text.len(), |(i, _)| at + i);
    text[start..end].replace('\n', " ")
}

fn failed_share(e: share::ShareError) -> Response {
    match e {
        share::ShareError::Unknown(_) => super::error(StatusCode::NOT_FOUND, "no such share"),
        other => {
            tracing::error!(error = %other, "a share could not be changed");
            super::error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
        }
    }
}
