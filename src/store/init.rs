//! Creating a new store's tables, by exactly one process.
//!
//! Lance creates a table with an `Overwrite` commit, and its conflict rules let
//! an overwrite land after concurrent appends: two hosts creating the same
//! table while a third already writes to it could wipe those rows (seen in the
//! 8-host race as "Overwrite at version 2"). So creation is gated by the one
//! primitive every supported store guarantees, a put-if-absent: the host whose
//! put of `_pond/init` succeeds creates the tables and then writes
//! `_pond/ready`; the others wait for `ready` and only ever open.
//!
//! The markers carry the generation of the table set, so a store made before a
//! table existed (the search table arrived in generation 2) gets it added the
//! same way, by one host, the first time a newer pond opens it.

use std::time::{Duration, Instant};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::{StoreError, StoreLocation, probe};

/// How long a host waits for another to finish creating the tables before it
/// assumes that host died and finishes the job itself.
const CREATOR_GRACE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// Bumped whenever a release adds a table. Generation 1 used unsuffixed names.
const TABLE_SET: u32 = 2;

/// What the caller should do after the gate.
pub(super) enum Role {
    /// This process creates the tables, then calls [`mark_ready`].
    Creator,
    /// Another process created them; open only.
    Opener,
}

fn marker(prefix: &ObjectPath, name: &str) -> ObjectPath {
    prefix
        .clone()
        .join("_pond")
        .join(format!("{name}-{TABLE_SET}"))
}

fn gate_error(location: &StoreLocation, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Prepare {
        location: location.display.clone(),
        source: std::io::Error::other(location.redact(&format!("{what}: {e}"))),
    }
}

/// Decides who creates the tables of a store that lacks some.
pub(super) async fn gate(location: &StoreLocation) -> Result<Role, StoreError> {
    let (os, prefix) =
        probe::build(location).map_err(|e| gate_error(location, "open object store", e))?;
    let ready = marker(&prefix, "ready");
    if os.head(&ready).await.is_ok() {
        return Ok(Role::Opener);
    }
    let claim = os
        .put_opts(
            &marker(&prefix, "init"),
            PutPayload::from(
                format!("{} {}", std::process::id(), chrono::Utc::now().to_rfc3339()).into_bytes(),
            ),
            PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            },
        )
        .await;
    match claim {
        Ok(_) => Ok(Role::Creator),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let started = Instant::now();
            while started.elapsed() < CREATOR_GRACE {
                if os.head(&ready).await.is_ok() {
                    return Ok(Role::Opener);
                }
                tokio::time::sleep(POLL).await;
            }
            tracing::warn!(
                "{}: the host creating this store did not finish within {}s; finishing it here",
                location.display,
                CREATOR_GRACE.as_secs()
            );
            Ok(Role::Creator)
        }
        Err(e) => Err(gate_error(location, "claim store creation", e)),
    }
}

pub(super) async fn mark_ready(location: &StoreLocation) -> Result<(), StoreError> {
    let (os, prefix) =
        probe::build(location).map_err(|e| gate_error(location, "open object store", e))?;
    os.put(&marker(&prefix, "ready"), PutPayload::from_static(b"ready"))
        .await
        .map_err(|e| gate_error(location, "mark store ready", e))?;
    Ok(())
}
