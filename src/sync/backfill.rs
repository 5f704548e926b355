//! Indexing the messages a store held before it had a search table.
//!
//! A sync only reads files that changed, so messages stored by an older pond
//! would never reach the search table on their own. The first sync by a
//! newer pond reads them back from the `messages` table, page by page, and
//! writes their search rows like any other batch: keyed, so an interrupted
//! backfill simply runs again.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use chrono::Utc;

use super::SyncError;
use super::indexing::search_rows;
use crate::embed;
use crate::store::tables::schema::{self, Columns, MessageRow};
use crate::store::{Store, TableKind};
use crate::sync::report::SyncReport;

/// Messages read and indexed per commit.
const PAGE: usize = 20_000;

/// Takes only the embedder of the sync's options: the rows it writes are
/// search rows, whatever the run reads.
pub async fn run(
    store: &Store,
    embedder: &embed::Lazy,
    report: &mut SyncReport,
    progress: &dyn Fn(&str),
) -> Result<(), SyncError> {
    let total = store.count(TableKind::Messages, None).await?;
    if total > 0 {
        progress(&format!(
            "indexing {total} messages stored before search existed"
        ));
    }
    let projects = session_projects(store).await?;
    let columns = [
        "id",
        "session_id",
        "client",
        "host",
        "seq",
        "role",
        "timestamp",
        "model",
        "parts",
    ];
    let mut offset = 0;
    while offset < total {
        let batches = store
            .scan_page(TableKind::Messages, &columns, offset, PAGE)
            .await?;
        let mut rows = 0;
        for b in &batches {
            rows += b.num_rows();
            index_page(store, embedder, b, &projects, report).await?;
        }
        if rows == 0 {
            break;
        }
        offset += rows;
        progress(&format!("indexed {offset} of {total} stored messages"));
    }
    // Rule 27: marked done only once every page is indexed; a cut-short run is redone.
    store.mark_search_backfilled().await?;
    Ok(())
}

/// Each session's project, which its messages' search rows carry.
async fn session_projects(store: &Store) -> Result<HashMap<String, Option<String>>, SyncError> {
    let mut projects: HashMap<String, Option<String>> = HashMap::new();
    for b in store
        .scan(TableKind::Sessions, None, Some(&["id", "project"]))
        .await?
    {
        let c = Columns::new(&b);
        let (ids, project) = (c.str("id")?, c.str("project")?);
        for i in 0..b.num_rows() {
            projects.insert(ids.value(i).to_string(), schema::opt_str(project, i));
        }
    }
    Ok(projects)
}

/// The search rows of one page of stored messages, written as a sync
/// writes them: one client and host per call of `search_rows`.
async fn index_page(
    store: &Store,
    embedder: &embed::Lazy,
    b: &RecordBatch,
    projects: &HashMap<String, Option<String>>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let messages = schema::messages_from_batch(b)?;
    let c = Columns::new(b);
    let (clients, hosts) = (c.str("client")?, c.str("host")?);
    let mut groups: HashMap<(&str, &str), Vec<MessageRow<'_>>> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let key = (clients.value(i), hosts.value(i));
        groups.entry(key).or_default().push(MessageRow {
            message,
            client: key.0,
            host: key.1,
        });
    }
    for ((client, host), group) in groups {
        let projects: HashMap<&str, Option<&str>> = group
            .iter()
            .map(|m| {
                let id = m.message.session_id.as_str();
                (id, projects.get(id).and_then(|p| p.as_deref()))
            })
            .collect();
        let (batch, vectors) = search_rows(
            embedder,
            client,
            host,
            &group,
            &projects,
            Utc::now(),
            report,
        )?;
        if let Some(batch) = batch {
            let inserted = store.insert_absent(TableKind::Search, batch).await?;
            report.search_rows_inserted += inserted;
            report.vectors_inserted += vectors.min(inserted);
            report.commits += 1;
            if let (true, Some(model)) = (vectors > 0, report.embed_model.as_deref()) {
                store.note_embed_model(model).await?;
            }
        }
    }
    Ok(())
}
