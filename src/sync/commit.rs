//! Committing one batch of read files: messages and search rows
//! (concurrently, each a keyed insert), then the merged sessions, then the
//! raw records, then the cursors that say the files were read.
//!
//! The order is the crash-safety argument of `docs/spec.md` (rule 12): a
//! sync whose cursor is lost resumes after the raw records the store holds,
//! so raw records must never be stored before what is derived from them.
//! Committed last, their presence proves the derived rows are there too; a
//! failure anywhere before leaves no raw record, and the next sync reads the
//! file again, the keyed inserts skipping whatever did land.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;

use super::report::SyncReport;
use super::{FileWork, SyncError, SyncOptions, indexing};
use crate::model::{RawRecord, Session, SessionFacts, max_time, min_time};
use crate::store::tables::schema::{self, MessageRow};
use crate::store::{Store, StoreError, TableKind, sql_in};
use crate::sync::cursor::Cursors;
use crate::usage::Usage;

/// Commits one batch: derived rows, then raw records, then cursors.
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
    crate::pause::at("sync-commit");
    let now = Utc::now();
    // Rule 12: derived rows first, raw records after them, cursors last, so a
    // stored raw record proves its session and messages are there.
    commit_derived(store, opts, client, &batch, now, report).await?;

    // Rule 2: only a file the store has no record of, under a held host lock,
    // is appended; every other raw record is a keyed insert.
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
    if opts.dry_run {
        report.records_inserted += (raw.len() + fresh_raw.len()) as u64;
        return Ok(());
    }
    let documents: Vec<&RawRecord> = batch
        .iter()
        .filter(|w| w.document)
        .flat_map(|w| &w.raw)
        .collect();
    let patches = store.document_patches(&documents).await?;
    report.documents_patched += patches.len() as u64;
    let raw_batch = schema::raw_batch(&raw, &patches, now)?;
    let fresh_raw_batch = schema::raw_batch(&fresh_raw, &patches, now)?;
    let (raw_inserted, fresh_raw_appended) = tokio::join!(
        store.insert_absent(TableKind::Raw, raw_batch),
        store.append_new(TableKind::Raw, fresh_raw_batch),
    );
    report.records_inserted += raw_inserted? + fresh_raw_appended?;
    report.commits += u64::from(!raw.is_empty()) + u64::from(!fresh_raw.is_empty());

    // Rule 44: an erasure may have landed since this run read the
    // tombstones; what the batch stored of its sessions goes again, and
    // their files keep no cursor, so a tombstone lifted later lets them in.
    let written: HashSet<String> = batch
        .iter()
        .flat_map(|w| w.facts.iter().map(|(id, _)| id.clone()))
        .chain(
            batch
                .iter()
                .flat_map(|w| w.raw.iter().map(|r| r.session_id.clone())),
        )
        .collect();
    let erased = store.remove_if_erased(&written).await?;
    for w in batch {
        let holds_erased = w.raw.iter().any(|r| erased.contains(&r.session_id))
            || w.facts.iter().any(|(id, _)| erased.contains(id));
        if !holds_erased {
            cursors.files.insert(w.file_id, w.cursor);
        }
    }
    save_cursors(cursors)
}

/// Stores what a batch of files translates to (messages, search rows,
/// sessions), every write keyed, so it can be repeated any number of times:
/// by the next sync after a failure, or by `pond repair` from the raw records.
pub(super) async fn commit_derived(
    store: &Store,
    opts: &SyncOptions,
    client: &str,
    batch: &[FileWork],
    now: chrono::DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let (revisions, messages) = message_rows(batch, client, &opts.host);
    let touched = session_facts(batch);
    let ids: Vec<&str> = touched.keys().copied().collect();
    let existing = stored_sessions(store, &ids).await?;
    // Rule 37: a host-limited ingest may not change a session stored for another
    // host (checked again here, just before anything is written).
    refuse_foreign(opts, &existing)?;

    if opts.dry_run {
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
    let rows = Rows {
        client,
        messages,
        revisions,
        projects,
    };
    let messages_inserted =
        write_rows(store, opts, &rows, &distinct_calls(batch), now, report).await?;

    // A session first seen in this batch, all of whose messages went in
    // just now, holds exactly those: counting it in the store (a scan of
    // the messages table) is needed only for the others.
    let all_new = rows.revisions.is_empty() && messages_inserted == rows.messages.len() as u64;
    let fresh_counts = if all_new {
        fresh_counts(&rows.messages, &existing)
    } else {
        HashMap::new()
    };
    // Rule 38: a session stored with secrets masked is marked so in `redactions`.
    if opts.redact {
        store
            .insert_absent(
                TableKind::Redactions,
                crate::store::tables::redactions::redactions_batch(&ids, &opts.host, now)?,
            )
            .await?;
    }
    write_sessions(
        store,
        opts,
        client,
        &touched,
        existing,
        fresh_counts,
        now,
        report,
    )
    .await
}

/// A batch's messages, each once, as rows: those an adapter marked as
/// revisable (which replace a stored copy) apart from the rest.
fn message_rows<'a>(
    batch: &'a [FileWork],
    client: &'a str,
    host: &'a str,
) -> (Vec<MessageRow<'a>>, Vec<MessageRow<'a>>) {
    let mut seen = HashSet::new();
    let revisable: HashSet<&str> = batch
        .iter()
        .flat_map(|w| w.revised.iter().map(String::as_str))
        .collect();
    batch
        .iter()
        .flat_map(|w| w.messages.iter())
        .filter(|m| seen.insert(m.id.as_str()))
        .map(|message| MessageRow {
            message,
            client,
            host,
        })
        .partition(|m| revisable.contains(m.message.id.as_str()))
}

/// Facts per session, in file order; a file's own session takes its parent
/// from the directory layout when no record names one.
fn session_facts(batch: &[FileWork]) -> BTreeMap<&str, SessionFacts> {
    let mut touched: BTreeMap<&str, SessionFacts> = BTreeMap::new();
    for w in batch {
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
    touched
}

/// The rows a batch derives for one client.
struct Rows<'a> {
    client: &'a str,
    messages: Vec<MessageRow<'a>>,
    revisions: Vec<MessageRow<'a>>,
    projects: HashMap<&'a str, Option<&'a str>>,
}

/// Writes the messages, their search rows and the model calls, and the
/// revised messages after them. Returns how many new messages went in.
async fn write_rows(
    store: &Store,
    opts: &SyncOptions,
    rows: &Rows<'_>,
    calls: &[&Usage],
    now: chrono::DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<u64, SyncError> {
    let Rows {
        client,
        messages,
        revisions,
        projects,
    } = rows;
    let (search, vectors) = indexing::search_rows(
        &opts.embedder,
        client,
        &opts.host,
        messages,
        projects,
        now,
        report,
    )?;
    // The tables are independent: committing them concurrently keeps both
    // cores busy (most of a commit is compression inside Lance).
    let messages_batch = schema::messages_batch(messages, now)?;
    // Rule 31: messages are inserted by key, so a rewritten document adds only
    // the messages whose ids are new.
    let (messages_inserted, search_inserted, calls_inserted) = tokio::join!(
        store.insert_absent(TableKind::Messages, messages_batch),
        async {
            match search {
                // Rule 21: search rows are inserted only where their key is absent.
                Some(batch) => store.insert_absent(TableKind::Search, batch).await,
                None => Ok(0),
            }
        },
        write_usage(
            store,
            client,
            &opts.host,
            opts.host_limit.as_deref(),
            calls,
            now
        ),
    );
    calls_inserted?.add_to(report, client);
    let messages_inserted = messages_inserted?;
    report.messages_inserted += messages_inserted;
    report.commits += u64::from(!messages.is_empty());
    let mut search_inserted = search_inserted?;
    if !revisions.is_empty() {
        let (inserted, revised, searchable) =
            commit_revisions(store, opts, client, revisions, projects, now, report).await?;
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
    Ok(messages_inserted)
}

/// How many messages each session first stored by this batch holds.
fn fresh_counts(
    messages: &[MessageRow<'_>],
    existing: &HashMap<String, Session>,
) -> HashMap<String, u64> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for m in messages {
        if !existing.contains_key(&m.message.session_id) {
            *counts.entry(m.message.session_id.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// Each call of a batch once, as its copy with the largest output (rule 47).
pub(super) fn distinct_calls(batch: &[FileWork]) -> Vec<&Usage> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut calls: Vec<&Usage> = Vec::new();
    for u in batch.iter().flat_map(|w| w.usage.iter()) {
        match seen.get(u.call.as_str()) {
            Some(&at) if calls[at].tokens.output < u.tokens.output => calls[at] = u,
            Some(_) => {}
            None => {
                seen.insert(u.call.as_str(), calls.len());
                calls.push(u);
            }
        }
    }
    calls
}

/// What a usage write stored, for the run's report (kept apart so the
/// write can run beside the other writes of a commit).
#[derive(Default)]
pub(super) struct UsageWritten {
    pub(super) inserted: u64,
    commits: u64,
    /// The calls the store did not hold before.
    fresh: Vec<Usage>,
}

impl UsageWritten {
    pub(super) fn add_to(self, report: &mut SyncReport, client: &str) {
        report.usage_calls_inserted += self.inserted;
        report.commits += self.commits;
        let fresh: Vec<&Usage> = self.fresh.iter().collect();
        report.count_stored_usage(client, &fresh);
    }
}

/// Stores `calls` (rule 47): a call is stored once, under its key, and a
/// stored one is replaced only by a copy reporting more output. Returns
/// what was new, for the report and the usage counters.
pub(super) async fn write_usage(
    store: &Store,
    client: &str,
    host: &str,
    host_limit: Option<&str>,
    calls: &[&Usage],
    now: chrono::DateTime<Utc>,
) -> Result<UsageWritten, StoreError> {
    let mut written = UsageWritten::default();
    if calls.is_empty() {
        return Ok(written);
    }
    // What the store holds of these calls, reading only their keys and
    // output: the new ones go in by key, the rest only if they say more.
    let keys: Vec<&str> = calls.iter().map(|u| u.call.as_str()).collect();
    let stored = store.stored_outputs(&keys).await?;
    let fresh: Vec<&Usage> = calls
        .iter()
        .copied()
        .filter(|u| !stored.contains_key(&u.call))
        .collect();
    written.fresh = fresh.iter().map(|u| (*u).clone()).collect();
    let mut larger: Vec<&Usage> = calls
        .iter()
        .copied()
        .filter(|u| {
            stored
                .get(&u.call)
                .is_some_and(|&out| out < u.tokens.output)
        })
        .collect();
    if !fresh.is_empty() {
        let rows = crate::store::tables::usage::usage_batch(&fresh, client, host, now)?;
        written.inserted = store.insert_absent(TableKind::Usage, rows).await?;
        written.commits += 1;
        if written.inserted < fresh.len() as u64 {
            // Rule 47: another writer stored some of them since the lookup;
            // a copy of ours that says more still replaces its copy.
            let keys: Vec<&str> = fresh.iter().map(|u| u.call.as_str()).collect();
            let now_stored = store.stored_outputs(&keys).await?;
            larger.extend(fresh.iter().filter(|u| {
                now_stored
                    .get(&u.call)
                    .is_some_and(|&out| out < u.tokens.output)
            }));
        }
    }
    if !larger.is_empty() {
        let rows = crate::store::tables::usage::usage_batch(&larger, client, host, now)?;
        store
            .upsert_where(TableKind::Usage, rows, &replace_condition(host_limit))
            .await?;
        written.commits += 1;
    }
    Ok(written)
}

/// When a stored call may be replaced. Rule 47: only by a copy reporting
/// more output (a later record of the same streamed response), so any order
/// of files, syncs and hosts ends with the same row. Rule 37: only by a
/// copy of the same session (a record elsewhere that reuses a call's ids is
/// not that call), and, for a writer limited to some hosts, only a call
/// stored for one of them: otherwise a pushed record could move any call,
/// and its cost, to the sender's host.
fn replace_condition(host_limit: Option<&str>) -> String {
    let mut condition = String::from(
        "target.output_tokens < source.output_tokens AND target.session_id = source.session_id",
    );
    if let Some(prefix) = host_limit {
        condition.push_str(" AND ");
        condition.push_str(&crate::store::starts_with_sql("target.host", prefix));
    }
    condition
}

/// Attempts at writing a batch's sessions before giving up: each lost
/// attempt means another writer updated one of them in between.
const SESSION_WRITE_ATTEMPTS: usize = 16;

/// Stored session fields only ever move forward: a count never drops, the
/// last activity never goes back, the first never forward. A writer whose
/// merge started from an older row than the one now stored loses the race.
const SESSION_MONOTONIC: &str = "target.message_count <= source.message_count \
    AND (target.updated_at IS NULL OR (source.updated_at IS NOT NULL AND target.updated_at <= source.updated_at)) \
    AND (target.started_at IS NULL OR (source.started_at IS NOT NULL AND target.started_at >= source.started_at))";

/// Merges the facts into the stored sessions and writes them with a
/// monotonic condition (rule 39): a writer that read a row before another
/// host updated it re-reads, recounts and tries again, so concurrent syncs
/// of one session never leave it with a stale count or time.
#[allow(clippy::too_many_arguments)]
async fn write_sessions(
    store: &Store,
    opts: &SyncOptions,
    client: &str,
    touched: &BTreeMap<&str, SessionFacts>,
    mut existing: HashMap<String, Session>,
    mut fresh_counts: HashMap<String, u64>,
    now: chrono::DateTime<Utc>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let ids: Vec<&str> = touched.keys().copied().collect();
    for attempt in 1..=SESSION_WRITE_ATTEMPTS {
        let to_count: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| !fresh_counts.contains_key(*id))
            .collect();
        let mut counts = message_counts(store, &to_count).await?;
        counts.extend(fresh_counts.drain());
        let sessions: Vec<Session> = touched
            .iter()
            .map(|(id, facts)| {
                merge_session(
                    existing.get(*id),
                    id,
                    client,
                    &opts.host,
                    facts.clone(),
                    counts.get(*id),
                )
            })
            .collect();
        // Rule 39: a session row is written only if its count and times move
        // forward; a lost race re-reads, recounts and tries again.
        let (inserted, updated) = store
            .upsert_where(
                TableKind::Sessions,
                schema::sessions_batch(&sessions, now)?,
                SESSION_MONOTONIC,
            )
            .await?;
        report.sessions_inserted += inserted;
        report.sessions_updated += updated;
        report.commits += 1;
        if inserted + updated == sessions.len() as u64 {
            return Ok(());
        }
        tracing::debug!(attempt, "a session changed under this write; merging again");
        // Merge from what the winner committed: its messages and its row.
        store.refresh(TableKind::Messages).await?;
        store.refresh(TableKind::Sessions).await?;
        existing = stored_sessions(store, &ids).await?;
        refuse_foreign(opts, &existing)?;
    }
    Err(SyncError::Store(StoreError::Lance {
        location: store.location().display.clone(),
        operation: "update sessions".into(),
        message: format!(
            "other writers kept updating these sessions through {SESSION_WRITE_ATTEMPTS} attempts"
        ),
    }))
}

/// Refuses a run limited to some hosts (an ingest token's limit) that
/// would change a session the store holds under another host.
fn refuse_foreign(
    opts: &SyncOptions,
    existing: &HashMap<String, Session>,
) -> Result<(), SyncError> {
    if let Some(limit) = &opts.host_limit
        && let Some(s) = existing
            .values()
            .find(|s| !s.host.starts_with(limit.as_str()))
    {
        return Err(SyncError::ForeignSession {
            session: s.id.clone(),
            host: s.host.clone(),
        });
    }
    Ok(())
}

async fn stored_sessions(
    store: &Store,
    ids: &[&str],
) -> Result<HashMap<String, Session>, StoreError> {
    Ok(store
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
        .collect())
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
    let base = existing
        .cloned()
        .unwrap_or_else(|| Session::new(id, client, host));
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
