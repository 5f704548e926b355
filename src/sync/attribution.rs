//! Database rows stored under the session they speak of.
//!
//! A client's database (opencode's `opencode.db`, Cursor's `state.vscdb`,
//! Goose's `sessions.db`) holds every session in one file. Stores written
//! before rows were attributed labelled every row of such a file with the
//! database's first session. Reads re-derive each row's owner, but erase
//! deletes by label: on such a store, erasing the first session took the
//! other sessions' rows with it, and erasing another missed its own. This
//! puts the labels right from the rows themselves; `pond repair` and every
//! erasure run it first.

use std::collections::BTreeMap;

use crate::registry;
use crate::store::{Store, StoreError, TableKind, sql_in, sql_str, tables::schema};

/// Raw record ids of database rows: `<file_id>:db:<key>` (see `sync::database`).
const DATABASE_ROWS: &str = "id LIKE '%:db:%'";

/// Ids to rewrite in one commit, so one filter stays small.
const IDS_PER_UPDATE: usize = 500;

/// Finds the database rows labelled with another session than the one they
/// name and, unless `dry_run`, relabels them. Returns how many were (or
/// would be) relabelled.
pub async fn relabel_database_rows(store: &Store, dry_run: bool) -> Result<u64, StoreError> {
    let columns = ["id", "session_id", "client", "host", "rel_path", "bytes"];
    let mut moves: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for batch in store
        .scan(TableKind::Raw, Some(DATABASE_ROWS), Some(&columns))
        .await?
    {
        let c = schema::Columns::new(&batch);
        let (ids, labels, clients, hosts, paths, bytes) = (
            c.str("id")?,
            c.str("session_id")?,
            c.str("client")?,
            c.str("host")?,
            c.str("rel_path")?,
            c.binary("bytes")?,
        );
        for i in 0..batch.num_rows() {
            let Some(adapter) = registry::by_name(clients.value(i)) else {
                continue;
            };
            let owner = super::database_row_owner(
                adapter.as_ref(),
                hosts.value(i),
                paths.value(i),
                bytes.value(i),
            );
            if !owner.is_empty() && owner != labels.value(i) {
                moves
                    .entry(owner)
                    .or_default()
                    .push(ids.value(i).to_string());
            }
        }
    }
    let mut relabelled = 0;
    for (owner, ids) in moves {
        for chunk in ids.chunks(IDS_PER_UPDATE) {
            relabelled += chunk.len() as u64;
            if dry_run {
                continue;
            }
            // Only rows still labelled otherwise: a retry changes nothing twice.
            let filter = format!(
                "{} AND session_id != {}",
                sql_in("id", chunk.iter().map(String::as_str)),
                sql_str(&owner)
            );
            store
                .update_where(TableKind::Raw, &filter, &[("session_id", sql_str(&owner))])
                .await?;
        }
    }
    Ok(relabelled)
}
