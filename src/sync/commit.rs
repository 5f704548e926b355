//! Committing one batch of read files: raw records, messages and search
//! rows (concurrently, each a keyed insert), then the merged sessions, then
//! the cursors that say the files were read. The order is the crash-safety
//! argument of `docs/spec.md`: nothing is marked read before it is stored.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;

use super::report::SyncReport;
use super::{FileWork, SyncError, SyncOptions, indexing};
use crate::model::{RawRecord, Session, SessionFacts, max_time, min_time};
use crate::store::schema::{self, MessageRow};
use crate::store::{Store, StoreError, TableKind, sql_in};
use crate::sync::cursor::Cursors;

/// Commits one batch: raw records, then messages, then sessions, then cursors.
#[tracing::instrument(name = "commit", skip_all, fields(files = batch.len()))]
pub(super) async fn commit(
    store: &Store,
    opts: &SyncOptions,
    client: &str,
    batch: Vec<FileWork>,
    cursors: &mut Cursors,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    if batch.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let appendable = |w: &&FileWork| opts.host_locked && w.fresh;
    let fresh_raw: Vec<RawRecord> = batch
        .iter()
        .filter(appendable)
        .flat_map(|w| w.raw.iter().cloned())
        .collect();
    let raw: Vec<RawRecord> = batch
        .iter()
        .filter(|w| !appendable(w))
        .flat_map(|w| w.raw.iter().cloned())
        .collect();
    let mut seen = HashSet::new();
    let revisable: HashSet<&str> = batch
        .iter()
        .flat_map(|w| w.revised.iter().map(String::as_str))
        .collect();
    let (revisions, messages): (Vec<MessageRow<'_>>, Vec<MessageRow<'_>>) = batch
        .iter()
        .flat_map(|w| w.messages.iter())
        .filter(|m| seen.insert(m.id.as_str()))
        .map(|message| MessageRow {
            message,
            client,
            host: &opts.host,
        })
        .partition(|m| revisable.contains(m.message.id.as_str()));

    // Facts per session, in file order.
    let mut touched: BTreeMap<&str, SessionFacts> = BTreeMap::new();
    for w in &batch {
        for (session, file_facts) in &w.facts {
            let mut file_facts = file_facts.clone();
            if *session == w.session_id && file_facts.parent_id.is_none() {
                file_facts.parent_id.clone_from(&w.parent_hint);
            }
            touched
                .entry(session.as_str())
                .or_default()
                .absorb(file_facts);
        }
    }
    let ids: Vec<&str> = touched.keys().copied().collect();
    let existing: HashMap<String, Session> = store
        .scan(
            TableKind::Sessions,
            Some(&sql_in("id", ids.iter().copied())),
            None,
        )
        .await?
        .iter()
        .map(schema::sessions_from_batch)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .map(|s| (s.id.clone(), s))
        .collect();

    if opts.dry_run {
        report.records_inserted += (raw.len() + fresh_raw.len()) as u64;
        report.messages_inserted += (messages.len() + revisions.len()) as u64;
        report.sessions_inserted +=
            ids.iter().filter(|id| !existing.contains_key(**id)).count() as u64;
        return Ok(());
    }

    // Search rows carry their session's project, merged as for the session.
    let projects: HashMap<&str, Option<&str>> = touched
        .iter()
        .map(|(id, facts)| {
            let stored = existing.get(*id).and_then(|s| s.project.as_deref());
            (*id, stored.or(facts.project.as_deref()))
        })
        .collect();
    let (search, vectors) = indexing::search_rows(
        &opts.embedder,
        client,
        &opts.host,
        &messages,
        &projects,
        now,
        report,
    )?;

    // The three tables are independent: committing them concurrently keeps
    // both cores busy (most of a commit is compression inside Lance).
    let raw_batch = schema::raw_batch(&raw, now)?;
    let fresh_raw_batch = schema::raw_batch(&fresh_raw, now)?;
    let messages_batch = schema::messages_batch(&messages, now)?;
    let (raw_inserted, fresh_raw_appended, messages_inserted, search_inserted) = tokio::join!(
        store.insert_absent(TableKind::Raw, raw_batch),
        store.append_new(TableKind::Raw, fresh_raw_batch),
        store.insert_absent(TableKind::Messages, messages_batch),
        async {
            match search {
                Some(batch) => store.insert_absent(TableKind::Search, batch).await,
                None => Ok(0),
            }
        }
    );
    report.records_inserted += raw_inserted? + fresh_raw_appended?;
    report.commits += u64::from(!raw.is_empty()) + u64::from(!fresh_raw.is_empty());
    let messages_inserted = messages_inserted?;
    report.messages_inserted += messages_inserted;
    report.commits += u64::from(!messages.is_empty());
    let mut search_inserted = search_inserted?;
    if !revisions.is_empty() {
        let (inserted, revised, searchable) =
            commit_revisions(store, opts, client, &revisions, &projects, now, report).await?;
        report.messages_inserted += inserted;
        report.messages_revised += revised;
        search_inserted += searchable;
        report.commits += 2;
    }
    report.search_rows_inserted += search_inserted;
    report.commits += u64::from(search_inserted > 0);
    // Rows already present were skipped, vectors and all.
    report.vectors_inserted += vectors.min(search_inserted);
    if let (true, Some(model)) = (vectors > 0, report.embed_model.as_deref()) {
        store.note_embed_model(model).await?;
    }

    // A session first seen in this batch, all of whose messages went in
    // just now, holds exactly those: counting it in the store (a scan of
    // the messages table) is needed only for the others.
    let all_new = revisions.is_empty() && messages_inserted == messages.len() as u64;
    let is_new = |id: &str| all_new && !existing.contains_key(id);
    let to_count: Vec<&str> = ids.iter().copied().filter(|id| !is_new(id)).collect();
    let mut counts = message_counts(store, &to_count).await?;
    for m in &messages {
        if is_new(&m.message.session_id) {
            *counts.entry(m.message.session_id.clone()).or_insert(0) += 1;
        }
    }
    let sessions: Vec<Session> = touched
        .into_iter()
        .map(|(id, facts)| {
            merge_session(
                existing.get(id),
                id,
                client,
                &opts.host,
                facts,
                counts.get(id),
            )
        })
        .collect();
    if opts.redact {
        let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
        store
            .insert_absent(
                TableKind::Redactions,
                crate::store::redactions::redactions_batch(&ids, &opts.host, now)?,
            )
            .await?;
    }
    let (inserted, updated) = store
        .upsert(TableKind::Sessions, schema::sessions_batch(&sessions, now)?)
        .await?;
    report.sessions_inserted += inserted;
    report.sessions_updated += updated;
    report.commits += u64::from(!sessions.is_empty());

    for w in batch {
        cursors.files.insert(w.file_id, w.cursor);
    }
    save_cursors(cursors)
}

/// Messages that may be newer copies of stored ones: inserted when absent,
/// replaced when their parts changed, and their search rows likewise.
/// Returns (messages inserted, messages replaced, search rows inserted).
async fn commit_revisions(
    store: &Store,
    opts: &SyncOptions,
    client: &str,
    revisions: &[MessageRow<'_>],
    projects: &HashMap<&str, Option<&str>>,
    now: chrono::DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<(u64, u64, u64), SyncError> {
    let (search, vectors) = indexing::search_rows(
        &opts.embedder,
        client,
        &opts.host,
        revisions,
        projects,
        now,
        report,
    )?;
    let batch = schema::messages_batch(revisions, now)?;
    let (inserted, replaced) = store
        .replace_changed(TableKind::Messages, batch, "parts")
        .await?;
    let searchable = match search {
        Some(batch) => {
            let (inserted, _) = store
                .replace_changed(TableKind::Search, batch, "text")
                .await?;
            report.vectors_inserted += vectors.min(inserted);
            inserted
        }
        None => 0,
    };
    Ok((inserted, replaced, searchable))
}

pub(super) fn save_cursors(cursors: &Cursors) -> Result<(), SyncError> {
    cursors.save().map_err(|source| SyncError::Cursors {
        path: cursors.path().to_path_buf(),
        source,
    })
}

async fn message_counts(
    store: &Store,
    session_ids: &[&str],
) -> Result<HashMap<String, u64>, StoreError> {
    if session_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let filter = sql_in("session_id", session_ids.iter().copied());
    let batches = store
        .scan(TableKind::Messages, Some(&filter), Some(&["session_id"]))
        .await?;
    let mut counts = HashMap::new();
    for b in &batches {
        for id in schema::Columns::new(b).str("session_id")?.iter().flatten() {
            *counts.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn merge_session(
    existing: Option<&Session>,
    id: &str,
    client: &str,
    host: &str,
    facts: SessionFacts,
    count: Option<&u64>,
) -> Session {
    let base = existing.cloned().unwrap_or_else(|| Session {
        id: id.to_string(),
        client: client.to_string(),
        project: None,
        git_branch: None,
        model: None,
        title: None,
        started_at: None,
        updated_at: None,
        parent_id: None,
        host: host.to_string(),
        message_count: 0,
    });
    Session {
        project: base.project.or(facts.project),
        git_branch: facts.git_branch.or(base.git_branch),
        model: facts.model.or(base.model),
        title: facts.title.or(base.title),
        parent_id: base.parent_id.or(facts.parent_id),
        started_at: min_time(base.started_at, facts.first_seen),
        updated_at: max_time(base.updated_at, facts.last_seen),
        host: host.to_string(),
        message_count: count.copied().unwrap_or(base.message_count),
        ..base
    }
}
