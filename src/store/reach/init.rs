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
//! The markers are named after the table set itself (a digest of the table
//! names), so a release that adds a table has new markers without anyone
//! remembering to bump a number: a store made before the table existed gets
//! it added the same way, by one host, the first time a newer pond opens it
//! (a store once stayed "ready" without its newest table, and every sync
//! into it failed).

use std::time::{Duration, Instant};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::store::{StoreError, StoreLocation, reach::connect};

/// How long a host waits for another to finish creating the tables before it
/// assumes that host died and finishes the job itself.
const CREATOR_GRACE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// What the caller should do after the gate.
pub(in crate::store) enum Role {
    /// This process creates the tables, then calls [`mark_ready`].
    Creator,
    /// Another process created them; open only.
    Opener,
}

/// Names the table set: the same tables give the same tag on every host.
pub(in crate::store) fn table_set_tag<'a>(tables: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = tables.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    crate::digest::sha256_hex(names.join(",").as_bytes())[..12].to_string()
}

fn marker(prefix: &ObjectPath, name: &str, tag: &str) -> ObjectPath {
    prefix.clone().join("_pond").join(format!("{name}-{tag}"))
}

fn gate_error(location: &StoreLocation, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Prepare {
        location: location.display.clone(),
        source: std::io::Error::other(location.redact(&format!("{what}: {e}"))),
    }
}

/// Decides who creates the tables of a store that lacks some.
pub(in crate::store) async fn gate(
    location: &StoreLocation,
    tag: &str,
) -> Result<Role, StoreError> {
    let (os, prefix) = connect::object_store(location)
        .map_err(|e| gate_error(location, "open object store", e))?;
    let ready = marker(&prefix, "ready", tag);
    if os.head(&ready).await.is_ok() {
        return Ok(Role::Opener);
    }
    // Rule 11: one host wins the put-if-absent of `init-<tag>` and creates the
    // tables; the others wait for `ready-<tag>` and only open.
    let claim = os
        .put_opts(
            &marker(&prefix, "init", tag),
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

pub(in crate::store) async fn mark_ready(
    location: &StoreLocation,
    tag: &str,
) -> Result<(), StoreError> {
    let (os, prefix) = connect::object_store(location)
        .map_err(|e| gate_error(location, "open object store", e))?;
    os.put(
        &marker(&prefix, "ready", tag),
        PutPayload::from_static(b"ready"),
    )
    .await
    .map_err(|e| gate_error(location, "mark store ready", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::table_set_tag;

    #[test]
    fn rule11_adding_a_table_changes_the_table_set_tag() {
        let before = table_set_tag(["raw", "messages"]);
        assert_eq!(before, table_set_tag(["messages", "raw"]));
        assert_ne!(before, table_set_tag(["raw", "messages", "redactions"]));
    }
}
