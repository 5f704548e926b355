//! What a route takes from a request, each refused as the API's own error
//! before the route runs: the caller's view (for a route that reads text,
//! or only totals), a JSON body, a query string, a path's id.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{AppState, error};
use crate::access::{Grant, Reads, Scope};
use crate::archive::{ArchiveError, View};

/// The caller's view for a route that reads `what`, or the refusal.
fn read_view(state: &AppState, grant: &Grant, what: Reads) -> Result<View, ArchiveError> {
    if !grant.may_read(what) {
        return Err(ArchiveError::Forbidden(format!(
            "token `{}` has the {} scope; this route needs {}",
            grant.name,
            grant.scope.map_or("local", Scope::as_str),
            what.needs()
        )));
    }
    Ok(View {
        limits: grant.limits.clone(),
        redact: state.shared.redact,
        totals_only: grant.totals_only(),
    })
}

pub(crate) type Caller = axum::Extension<Grant>;

/// A text route's caller (transcripts, messages, search), as the view its
/// token gives. Taken before any other argument, so a token that may not
/// read text is refused before the route parses its query or body.
pub(crate) struct Reader(pub View);

/// A totals route's caller (fleet, usage, counts): a read or stats token.
pub(crate) struct TotalsReader(pub View);

/// The view of the caller a request carries, for a route reading `what`.
// A rejection is a Response by axum's contract for extractors.
#[allow(clippy::result_large_err)]
fn caller_view(
    parts: &axum::http::request::Parts,
    state: &AppState,
    what: Reads,
) -> Result<View, Response> {
    let Some(grant) = parts.extensions.get::<Grant>() else {
        // Only routes behind the token check use this; that check puts
        // the grant there.
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no caller"));
    };
    read_view(state, grant, what).map_err(IntoResponse::into_response)
}

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        caller_view(parts, state, Reads::Texts).map(Reader)
    }
}

impl FromRequestParts<Arc<AppState>> for TotalsReader {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        caller_view(parts, state, Reads::Totals).map(TotalsReader)
    }
}

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
