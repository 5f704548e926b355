//! Rewriting the keys of a store written before ids were scoped by client
//! (format 1) into the scoped keys of format 2 (rule 40).
//!
//! Every key is rewritten in place by one SQL update per table, from the
//! client (and host) columns each row already carries, so nothing is read
//! into pond and nothing is inserted twice: a row either keeps its old key
//! or gets its new one. Each update skips rows already scoped, so a crash,
//! a lost reply or a second host running the same upgrade at once only
//! repeats work that changes nothing. Two sessions of different clients
//! that format 1 had merged into one row come apart here: their messages
//! and raw records carry their own client, and the session row the merge
//! lost is derived again from its raw records, as `pond repair` does.
//!
//! The format is stamped first, so binaries of format 1 refuse the store
//! from their next open on and stop adding unscoped keys.

use std::collections::{HashMap, HashSet};

use arrow_array::Array;

use super::SyncError;
use super::repair::{self, RepairOptions, RepairReport, ScopingReport};
use crate::registry;
use crate::store::tables::schema::{self, Columns};
use crate::store::{Store, StoreError, TableKind, sql_in};

/// The clients whose keys share one SQL prefix expression, and that
/// expression over a row's `client` and `host` columns. Lance's SQL has no
/// `CASE`, so host-local clients and the rest are rewritten apart.
fn prefix_groups(local_clients: &[&str]) -> Vec<(String, &'static str)> {
    let local = sql_in("client", local_clients.iter().copied());
    if local_clients.is_empty() {
        return vec![("true".to_string(), "client || ':'")];
    }
    vec![
        (format!("NOT {local}"), "client || ':'"),
        (local, "client || '@' || host || ':'"),
    ]
}

fn unscoped(column: &str, prefix: &str) -> String {
    format!("NOT starts_with({column}, {prefix})")
}

fn scoped(column: &str, prefix: &str) -> String {
    format!("{prefix} || {column}")
}

fn local_clients() -> Vec<&'static str> {
    registry::all()
        .iter()
        .filter(|a| !a.session_ids_are_global())
        .map(|a| a.name())
        .collect()
}

/// Upgrades the store to scoped keys and closes what the old keys broke:
/// the keys rewritten, merged sessions derived apart again (a full repair),
/// message counts corrected. Safe to run on a store already upgraded (it
/// then scopes only rows an older binary wrote meanwhile), which is what
/// `pond repair` does.
pub async fn run(
    store: &Store,
    repair_opts: &RepairOptions,
    progress: &dyn Fn(&str),
) -> Result<RepairReport, SyncError> {
    // Rule 40: a format-1 store is stamped first, then rewritten in place by
    // updates that skip rows already scoped.
    if store.needs_id_scoping() {
        progress("upgrading the store: scoping session and message ids by client");
        store.stamp_current_format().await?;
    }
    let mut scoping = rewrite_keys(store).await?;
    if scoping.rewritten() > 0 {
        progress(&format!(
            "scoped {} sessions, {} messages, {} raw records, {} search rows",
            scoping.sessions, scoping.messages, scoping.raw_records, scoping.search_rows
        ));
    }
    let mut repaired = repair::run(store, repair_opts, progress).await?;
    scoping.sessions_split = repaired.sessions_restored;
    scoping.counts_corrected = correct_counts(store).await?;
    if store.needs_id_scoping() {
        store.mark_ids_scoped().await?;
        tracing::info!(?scoping, "store ids scoped by client");
    }
    repaired.scoping = Some(scoping);
    Ok(repaired)
}

/// The tables whose keys are rewritten, in order: the column whose prefix
/// tells a row is scoped, and every key column that is then scoped.
const SCOPED_KEYS: [(TableKind, &str, &[&str]); 4] = [
    (TableKind::Raw, "session_id", &["session_id"]),
    (TableKind::Messages, "id", &["id", "session_id"]),
    (TableKind::Search, "id", &["id", "message_id", "session_id"]),
    // `||` keeps a NULL parent NULL.
    (TableKind::Sessions, "id", &["id", "parent_id"]),
];

/// Rewrites every key not scoped yet, table by table.
async fn rewrite_keys(store: &Store) -> Result<ScopingReport, SyncError> {
    let local = local_clients();
    let mut report = ScopingReport {
        redactions: scope_redactions(store, &local).await?,
        ..ScopingReport::default()
    };
    for (clients, prefix) in prefix_groups(&local) {
        for (kind, tell, keys) in SCOPED_KEYS {
            let mut filter = format!("{clients} AND {}", unscoped(tell, prefix));
            if kind == TableKind::Raw {
                // A record of no session keeps its empty session id.
                filter = format!("session_id <> '' AND {filter}");
            }
            let set: Vec<(&str, String)> = keys.iter().map(|k| (*k, scoped(k, prefix))).collect();
            let rewritten = store.update_where(kind, &filter, &set).await?;
            match kind {
                TableKind::Raw => report.raw_records += rewritten,
                TableKind::Messages => report.messages += rewritten,
                TableKind::Search => report.search_rows += rewritten,
                _ => report.sessions += rewritten,
            }
        }
    }
    Ok(report)
}

/// Redaction rows are keyed by session alone, without a client column: each
/// old key becomes the keys of the scoped sessions it can name.
async fn scope_redactions(store: &Store, local: &[&str]) -> Result<u64, StoreError> {
    let clients = registry::names();
    let is_scoped = |id: &str| {
        clients.iter().any(|c| {
            id.strip_prefix(c)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('@'))
        })
    };
    let old = unscoped_redactions(store, &is_scoped).await?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut candidates: Vec<(String, String)> = Vec::new();
    for (id, host) in &old {
        for client in &clients {
            let scope = super::ids::IdScope::of(client, !local.contains(client), host);
            candidates.push((scope.scope(id), host.clone()));
        }
    }
    let existing = sessions_present(store, &candidates).await?;
    let mut keep: Vec<(String, String)> = candidates
        .into_iter()
        .filter(|(id, _)| existing.contains(id))
        .collect();
    keep.sort();
    keep.dedup_by(|a, b| a.0 == b.0);
    let mut written = 0;
    for (id, host) in &keep {
        written += store
            .insert_absent(
                TableKind::Redactions,
                crate::store::tables::redactions::redactions_batch(
                    &[id.as_str()],
                    host,
                    chrono::Utc::now(),
                )?,
            )
            .await?;
    }
    store
        .delete_where(
            TableKind::Redactions,
            &sql_in("id", old.iter().map(|(id, _)| id.as_str())),
        )
        .await?;
    Ok(written)
}

/// The redaction rows still under a key from before scoping, with their host.
async fn unscoped_redactions(
    store: &Store,
    is_scoped: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<(String, String)>, StoreError> {
    let mut old = store
        .scan_string_pairs(TableKind::Redactions, None, ["id", "host"])
        .await?;
    old.retain(|(id, _)| !is_scoped(id.as_str()));
    Ok(old)
}

/// Which of the candidate session keys name a stored session.
async fn sessions_present(
    store: &Store,
    candidates: &[(String, String)],
) -> Result<HashSet<String>, StoreError> {
    let mut existing = HashSet::new();
    for chunk in candidates.chunks(512) {
        let filter = sql_in("id", chunk.iter().map(|(id, _)| id.as_str()));
        existing.extend(
            store
                .scan_strings(TableKind::Sessions, Some(&filter), "id")
                .await?,
        );
    }
    // Sessions are scoped after redactions; a session still under its old
    // key is found under its new one by the candidates of every client.
    let filter = sql_in("session_id", candidates.iter().map(|(id, _)| id.as_str()));
    existing.extend(
        store
            .scan_strings(TableKind::Messages, Some(&filter), "session_id")
            .await?,
    );
    Ok(existing)
}

/// Sets each session's message count to the messages stored under it where
/// they differ: a session that format 1 had merged with another client's
/// counted both, and took the other's times. Its first and last activity
/// are then taken from its own messages. Counts are otherwise only ever
/// raised (rule 39), so this one-time correction writes them outright.
async fn correct_counts(store: &Store) -> Result<u64, StoreError> {
    #[derive(Default)]
    struct Own {
        count: u64,
        first: Option<i64>,
        last: Option<i64>,
    }
    let mut own: HashMap<String, Own> = HashMap::new();
    for b in store
        .scan(
            TableKind::Messages,
            None,
            Some(&["session_id", "timestamp"]),
        )
        .await?
    {
        let c = Columns::new(&b);
        let (ids, times) = (c.str("session_id")?, c.time("timestamp")?);
        for i in 0..b.num_rows() {
            let entry = own.entry(ids.value(i).to_string()).or_default();
            entry.count += 1;
            if !times.is_null(i) {
                let t = times.value(i);
                entry.first = Some(entry.first.map_or(t, |f| f.min(t)));
                entry.last = Some(entry.last.map_or(t, |l| l.max(t)));
            }
        }
    }
    let mut wrong = Vec::new();
    for b in store.scan(TableKind::Sessions, None, None).await? {
        for mut s in schema::sessions_from_batch(&b)? {
            let mine = own.remove(&s.id).unwrap_or_default();
            if s.message_count == mine.count {
                continue;
            }
            s.message_count = mine.count;
            let at = |t: Option<i64>| t.and_then(chrono::DateTime::from_timestamp_micros);
            if let (Some(first), Some(last)) = (at(mine.first), at(mine.last)) {
                s.started_at = Some(first);
                s.updated_at = Some(last);
            }
            wrong.push(s);
        }
    }
    if wrong.is_empty() {
        return Ok(0);
    }
    let (_, updated) = store
        .upsert(
            TableKind::Sessions,
            schema::sessions_batch(&wrong, chrono::Utc::now())?,
        )
        .await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_local_clients_are_prefixed_with_their_host() {
        let groups = prefix_groups(&["cline"]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1].1, "client || '@' || host || ':'");
        assert_eq!(prefix_groups(&[])[0].1, "client || ':'");
    }
}
