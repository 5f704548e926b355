//! `GET /v1/events`: tells an open fleet page that the fleet changed, so a
//! sync made anywhere shows without a reload (server-sent events).
//!
//! The server looks at the versions of the tables a sync always writes
//! (`hosts`, `host_groups`) every few seconds and sends an event when
//! either moved; the page then asks `/v1/status` again. Nothing of the
//! fleet travels in the event itself, so the stream needs no limits of its
//! own beyond the read scope. Streams end when the server stops, so a
//! graceful shutdown never waits on an open page.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::{AppState, Reader};
use crate::store::TableKind;

/// How often an open stream looks at the store: a manifest read per table.
const LOOK_EVERY: Duration = Duration::from_secs(2);

pub(super) async fn fleet(State(state): State<Arc<AppState>>, _reader: Reader) -> Response {
    let stopping = state.stopping.clone();
    let looks = futures::stream::unfold(
        (state, stopping, None, false),
        |(state, mut stopping, seen, started)| async move {
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
                // The first answer tells the page where the fleet stands;
                // later ones only that it moved.
                if let Some(now) = versions(&state).await
                    && seen != Some(now)
                {
                    let event = Event::default()
                        .event("fleet")
                        .data(format!("{{\"hosts\":{},\"host_groups\":{}}}", now.0, now.1));
                    return Some((
                        Ok::<_, Infallible>(event),
                        (state, stopping, Some(now), true),
                    ));
                }
            }
        },
    );
    Sse::new(looks)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The versions of the tables every sync writes, or `None` before the
/// first sync or when the store cannot be read (the next look tries again).
async fn versions(state: &AppState) -> Option<(u64, u64)> {
    let store = state.shared.store.get().await.ok()??;
    let hosts = store.table_version(TableKind::Hosts).await.ok()?;
    let groups = store.table_version(TableKind::HostGroups).await.ok()?;
    Some((hosts, groups))
}
