//! `GET /v1/events`: tells an open fleet page that the fleet changed, so a
//! sync made anywhere shows without a reload (server-sent events).
//!
//! The server looks at the versions of the tables a sync always writes
//! (`hosts`, `host_groups`) every few seconds. A caller without limits gets
//! an event whenever either moved; a token limited to some projects or
//! hosts only when what `/v1/status` shows it changed, so the stream tells
//! it nothing of other hosts' activity. Events carry no data of the fleet:
//! the page asks `/v1/status` again. Streams are capped per token and in
//! all, since each holds a connection and looks at the store, and they end
//! when the server stops, so a graceful shutdown never waits on an open page.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::{AppState, Caller, TotalsReader, error};
use crate::archive::View;
use crate::store::TableKind;

/// How often an open stream looks at the store: a manifest read per table.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Open streams one token may hold (a few browser tabs).
pub(crate) const STREAMS_PER_TOKEN: usize = 8;
/// Open streams of all callers together.
pub(crate) const STREAMS_IN_ALL: usize = 64;

/// The event streams open now, by token name.
#[derive(Default)]
pub(crate) struct OpenStreams {
    by_token: Mutex<HashMap<String, usize>>,
}

impl OpenStreams {
    /// A place for one more stream of `token`, or why there is none.
    fn take(self: &Arc<Self>, token: &str) -> Result<StreamSlot, String> {
        let mut open = match self.by_token.lock() {
            Ok(open) => open,
            Err(poisoned) => poisoned.into_inner(),
        };
        let in_all: usize = open.values().sum();
        let of_token = open.get(token).copied().unwrap_or(0);
        if of_token >= STREAMS_PER_TOKEN {
            return Err(format!(
                "token `{token}` already has {of_token} event streams open (the limit); close a page first"
            ));
        }
        if in_all >= STREAMS_IN_ALL {
            return Err(format!(
                "this server already has {in_all} event streams open (the limit); try again later"
            ));
        }
        *open.entry(token.to_string()).or_default() += 1;
        Ok(StreamSlot {
            streams: self.clone(),
            token: token.to_string(),
        })
    }
}

/// One open stream's place, given back when the stream ends.
struct StreamSlot {
    streams: Arc<OpenStreams>,
    token: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = match self.streams.by_token.lock() {
            Ok(open) => open,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(n) = open.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.token);
            }
        }
    }
}

/// What one look at the store saw: the tables' versions and, for a limited
/// view, a digest of what it may see.
#[derive(Clone, PartialEq, Eq)]
struct Seen {
    versions: (u64, u64),
    visible: Option<String>,
}

impl Seen {
    /// Whether the caller would see a change between `self` and `before`:
    /// any move of the tables without limits, only a change of what it may
    /// see with them.
    fn changed_since(&self, before: Option<&Seen>) -> bool {
        match (before, &self.visible) {
            (None, _) => true,
            (Some(before), None) => before.versions != self.versions,
            (Some(before), Some(visible)) => before.visible.as_ref() != Some(visible),
        }
    }
}

pub(super) async fn fleet(
    State(state): State<Arc<AppState>>,
    TotalsReader(view): TotalsReader,
    axum::Extension(grant): Caller,
) -> Response {
    let slot = match state.event_streams.take(&grant.name) {
        Ok(slot) => slot,
        Err(why) => return error(StatusCode::TOO_MANY_REQUESTS, why),
    };
    let stopping = state.stopping.clone();
    let looks = futures::stream::unfold(
        (state, view, slot, stopping, None::<Seen>, false),
        |(state, view, slot, mut stopping, mut seen, started)| async move {
            let mut pause = started;
            loop {
                if pause {
                    tokio::select! {
                        () = tokio::time::sleep(LOOK_EVERY) => {}
                        _ = stopping.wait_for(|stop| *stop) => return None,
                    }
                }
                pause = true;
                if *stopping.borrow() {
                    return None;
                }
                // The first answer tells the page to read where the fleet
                // stands; later ones only that what it shows moved.
                let Some(now) = look(&state, &view, seen.as_ref()).await else {
                    continue;
                };
                if now.changed_since(seen.as_ref()) {
                    let event = Event::default().event("fleet").data("{}");
                    return Some((
                        Ok::<_, Infallible>(event),
                        (state, view, slot, stopping, Some(now), true),
                    ));
                }
                // The versions moved without a change it may see: the next
                // look compares with these.
                seen = Some(now);
            }
        },
    );
    Sse::new(looks)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What the view sees now, or `None` before the first sync or when the
/// store cannot be read (the next look tries again). A limited view's
/// status is only read again when the tables moved.
async fn look(state: &AppState, view: &View, before: Option<&Seen>) -> Option<Seen> {
    let store = state.shared.store.get().await.ok()??;
    let hosts = store.table_version(TableKind::Hosts).await.ok()?;
    let groups = store.table_version(TableKind::HostGroups).await.ok()?;
    let versions = (hosts, groups);
    if view.limits.is_unlimited() {
        return Some(Seen {
            versions,
            visible: None,
        });
    }
    if let Some(before) = before
        && before.versions == versions
    {
        return Some(before.clone());
    }
    let status = crate::archive::status(store, view).await.ok()?;
    let text = serde_json::to_vec(&status).ok()?;
    Some(Seen {
        versions,
        visible: Some(pond_adapters::digest::sha256_hex(&text)),
    })
}
