//! `pond erase`: removing sessions from the archive for good.
//!
//! An erasure has three parts, in this order, each safe to interrupt:
//! 1. the tombstones are recorded, so from then on no sync or ingest of
//!    any host stores the sessions again;
//! 2. the sessions' rows are deleted from every table (a deletion file per
//!    fragment: the bytes are still in the data files);
//! 3. the bytes go: the fragments holding deleted rows are rewritten, which
//!    also remaps every index off them, and the versions that still
//!    reference the old files are pruned. Upkeep does this at its next run
//!    (versions once past the retention); `--now` does it at once, under
//!    the upkeep lease, pruning every superseded version.
//!
//! A process killed after any step leaves a readable store, and the next
//! `pond maintain` finishes the erasure: it deletes any row of a tombstoned
//! session it finds, and compacts every fragment with deletions.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::tables::erasures::{ErasedFile, Erasure, ErasureKind, RowCounts};
use crate::store::upkeep::lease::{self, Taken};
use crate::store::upkeep::{Compacted, Pruned};
use crate::store::{Store, StoreError, TableKind, sql_eq, tables::schema};

/// Set by the crash tests: after the named step (`recorded`, `deleted`,
/// `compacted`, `pruned`) the process says so on stderr and waits to be
/// killed, so a kill lands at a known point rather than a guessed time.
pub const PAUSE_AFTER_ENV: &str = "POND_ERASE_PAUSE_AFTER";

/// Which sessions to erase: given ids, or every session matching all of
/// the filters that are set.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Session keys, already resolved.
    pub sessions: Vec<String>,
    pub project: Option<String>,
    pub host: Option<String>,
    pub client: Option<String>,
    /// Sessions last active before this time.
    pub before: Option<DateTime<Utc>>,
    /// Leave child sessions (subagents) of the selected ones in place.
    pub without_children: bool,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.project.is_none()
            && self.host.is_none()
            && self.client.is_none()
            && self.before.is_none()
    }

    /// The selection as recorded with the erasure: what was asked, not
    /// what was found.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.sessions.clone();
        let mut flag = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                parts.push(format!("--{name} {v}"));
            }
        };
        flag("project", &self.project);
        flag("host", &self.host);
        flag("client", &self.client);
        if let Some(before) = self.before {
            parts.push(format!("--before {}", before.to_rfc3339()));
        }
        if self.without_children {
            parts.push("--without-children".into());
        }
        parts.join(" ")
    }

    fn filter(&self) -> Option<String> {
        let mut clauses = Vec::new();
        clauses.extend(sql_eq("project", self.project.as_deref()));
        clauses.extend(sql_eq("host", self.host.as_deref()));
        clauses.extend(sql_eq("client", self.client.as_deref()));
        if let Some(before) = self.before {
            let at = format!("TIMESTAMP '{}'", before.format("%Y-%m-%d %H:%M:%S%.6f"));
            clauses.push(format!(
                "(updated_at < {at} OR (updated_at IS NULL AND started_at < {at}))"
            ));
        }
        (!clauses.is_empty()).then(|| clauses.join(" AND "))
    }
}

/// A session an erasure takes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErasedSession {
    pub id: String,
    pub client: String,
    pub host: String,
    pub project: Option<String>,
    pub title: Option<String>,
    /// Set on a child session taken with its parent.
    pub parent_id: Option<String>,
}

/// Exactly what an erasure removes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErasePlan {
    pub sessions: Vec<ErasedSession>,
    pub rows: RowCounts,
    pub files: Vec<ErasedFile>,
    /// Sessions outside the selection holding copies of its messages (a
    /// client that copies a session's records into the file of its
    /// resumed continuation): erasing without them would leave that text
    /// in the archive, so the erasure is refused until they are selected.
    pub copies_in: Vec<String>,
}

/// What `--now` did to make the bytes go, and what it cost.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Purge {
    /// `done`, `busy` (another host runs upkeep: it will finish the job),
    /// `partial` (a table's compaction gave way to writers), or
    /// `lease-lost` (a phase outlived the upkeep lease, and the host that
    /// took it over finishes the job).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    pub tables: Vec<PurgedTable>,
    pub duration_secs: f64,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct PurgedTable {
    pub table: String,
    pub compacted: Compacted,
    pub pruned: Pruned,
    pub gave_way: bool,
    pub secs: f64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EraseReport {
    /// `erased`, `dry-run`, or `nothing` (the selection matched no session).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure_id: Option<String>,
    pub selection: String,
    pub plan: ErasePlan,
    /// Rows deleted (may exceed the plan: a sync added some meanwhile).
    pub deleted: RowCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge: Option<Purge>,
    /// The pushed copies removed from this machine's `pond serve` spool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool: Option<crate::spool::SpoolPurge>,
    pub duration_secs: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

pub struct EraseOptions {
    pub host: String,
    pub user: String,
    pub now: bool,
    pub lease_ttl: Duration,
}

/// The sessions a selection takes (children included unless told
/// otherwise), their rows and their files. Reads only.
pub async fn plan(store: &Store, selection: &Selection) -> Result<ErasePlan, EraseError> {
    if selection.is_empty() {
        return Err(EraseError::Invalid(
            "nothing selected: give session ids, or --project, --host, --client or --before".into(),
        ));
    }
    if !selection.sessions.is_empty() && selection.filter().is_some() {
        return Err(EraseError::Invalid(
            "give session ids or a selection (--project, --host, --client, --before), not both"
                .into(),
        ));
    }
    let all = read_sessions(store, None).await?;
    let mut chosen: BTreeSet<String> = selection.sessions.iter().cloned().collect();
    if let Some(filter) = selection.filter() {
        chosen.extend(read_sessions(store, Some(&filter)).await?.into_keys());
    }
    if !selection.without_children {
        // Subagents of subagents too: follow parent links until nothing new.
        loop {
            let children: Vec<String> = all
                .values()
                .filter(|s| {
                    s.parent_id.as_ref().is_some_and(|p| chosen.contains(p))
                        && !chosen.contains(&s.id)
                })
                .map(|s| s.id.clone())
                .collect();
            if children.is_empty() {
                break;
            }
            chosen.extend(children);
        }
    }
    let ids: Vec<String> = chosen.into_iter().collect();
    let sessions = ids
        .iter()
        .map(|id| {
            all.get(id).cloned().unwrap_or_else(|| ErasedSession {
                id: id.clone(),
                client: String::new(),
                host: String::new(),
                project: None,
                title: None,
                parent_id: None,
            })
        })
        .collect();
    Ok(ErasePlan {
        sessions,
        rows: store.count_session_rows(&ids).await?,
        files: store.files_of_sessions(&ids).await?,
        copies_in: sessions_holding_copies(store, &ids).await?,
    })
}

/// Sessions outside `ids` that hold a message whose own id (the part after
/// its session's key) is one of theirs: Claude Code copies a session's
/// records, uuids and all, into the file of the session that resumes it.
/// Only sessions of the same client count, since clients' own ids need not
/// be unique between clients.
async fn sessions_holding_copies(store: &Store, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let chosen: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut own: HashSet<(String, String)> = HashSet::new();
    for chunk in ids.chunks(500) {
        let filter = crate::store::sql_in("session_id", chunk.iter().map(String::as_str));
        for (id, session) in store
            .scan_string_pairs(TableKind::Messages, Some(&filter), ["id", "session_id"])
            .await?
        {
            if let Some(local) = local_message_id(&id, &session) {
                own.insert((client_of(&session).to_string(), local.to_string()));
            }
        }
    }
    if own.is_empty() {
        return Ok(Vec::new());
    }
    let mut holders: BTreeSet<String> = BTreeSet::new();
    for b in store
        .scan(TableKind::Messages, None, Some(&["id", "session_id"]))
        .await?
    {
        let c = schema::Columns::new(&b);
        for (id, session) in c.str("id")?.iter().zip(c.str("session_id")?.iter()) {
            let (Some(id), Some(session)) = (id, session) else {
                continue;
            };
            if chosen.contains(session) || holders.contains(session) {
                continue;
            }
            if let Some(local) = local_message_id(id, session)
                && own.contains(&(client_of(session).to_string(), local.to_string()))
            {
                holders.insert(session.to_string());
            }
        }
    }
    Ok(holders.into_iter().collect())
}

/// A message's id within its session, when the id is the session's key
/// and its own (`<session>/<own id>`).
fn local_message_id<'a>(id: &'a str, session: &str) -> Option<&'a str> {
    id.strip_prefix(session)?.strip_prefix('/')
}

/// The client part of a session key (`<client>:` or `<client>@<host>:`).
fn client_of(session: &str) -> &str {
    let head = session.split(':').next().unwrap_or(session);
    head.split('@').next().unwrap_or(head)
}

async fn read_sessions(
    store: &Store,
    filter: Option<&str>,
) -> Result<HashMap<String, ErasedSession>, StoreError> {
    let mut found = HashMap::new();
    for b in store.scan(TableKind::Sessions, filter, None).await? {
        for s in schema::sessions_from_batch(&b)? {
            found.insert(
                s.id.clone(),
                ErasedSession {
                    id: s.id,
                    client: s.client,
                    host: s.host,
                    project: s.project,
                    title: s.title,
                    parent_id: s.parent_id,
                },
            );
        }
    }
    Ok(found)
}

/// Resolves a session key, a unique prefix of one, or the client's own id.
pub async fn resolve_session(store: &Store, given: &str) -> Result<String, EraseError> {
    use crate::archive::SessionLookupError;
    crate::archive::resolve_session_key(store, given)
        .await
        .map_err(|e| match e {
            SessionLookupError::Store(e) => EraseError::Store(e),
            invalid => EraseError::Invalid(invalid.to_string()),
        })
}

/// The report of a run that changed nothing: what the plan would take.
pub fn preview(selection: &Selection, plan: ErasePlan) -> EraseReport {
    EraseReport {
        outcome: if plan.sessions.is_empty() {
            "nothing"
        } else {
            "dry-run"
        }
        .into(),
        erasure_id: None,
        selection: selection.describe(),
        deleted: RowCounts::default(),
        purge: None,
        spool: None,
        duration_secs: 0.0,
        plan,
    }
}

/// Records the tombstones, deletes the rows, and with `now` makes the
/// bytes go.
pub async fn execute(
    store: &Store,
    selection: &Selection,
    plan: ErasePlan,
    opts: &EraseOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<EraseReport, EraseError> {
    let started = Instant::now();
    if !plan.copies_in.is_empty() {
        let selected: Vec<&str> = plan.sessions.iter().map(|s| s.id.as_str()).collect();
        return Err(EraseError::Invalid(format!(
            "{} other session(s) hold copies of what this erasure takes (a resumed session copies the messages of the one it continues): {}. Erase them too, for example `pond erase {} {}`, or see `pond erase --dry-run`",
            plan.copies_in.len(),
            plan.copies_in.join(", "),
            selected.join(" "),
            plan.copies_in.join(" ")
        )));
    }
    let mut report = preview(selection, plan);
    if report.plan.sessions.is_empty() {
        return Ok(report);
    }
    let at = Utc::now();
    let ids: Vec<String> = report.plan.sessions.iter().map(|s| s.id.clone()).collect();
    let erasure = Erasure {
        erasure_id: erasure_id(&opts.host, at),
        kind: ErasureKind::Erase,
        session_ids: ids.clone(),
        selection: report.selection.clone(),
        host: opts.host.clone(),
        user: opts.user.clone(),
        at,
        rows: report.plan.rows.clone(),
    };
    // Rule 44: the format is stamped and the tombstones recorded before any row
    // is deleted, so from here on no host stores these sessions again.
    // Binaries that do not read tombstones must refuse the store before
    // the first one exists, or they would store the sessions again.
    store.stamp_current_format().await?;
    // A store from before database rows were attributed labels them all with
    // the database's first session; the deletion below goes by label.
    crate::sync::attribution::relabel_database_rows(store, false).await?;
    store.record_erasure(&erasure).await?;
    progress(&format!(
        "recorded the erasure of {} sessions; no host stores them again",
        ids.len()
    ));
    pause_if_asked("recorded");
    // Their share links end with them (rule 56); a page would say 410 anyway.
    let ended = crate::share::revoke_sessions(store, &ids).await?;
    if ended > 0 {
        progress(&format!("revoked {ended} share links of these sessions"));
    }
    report.deleted = store.delete_session_rows(&ids).await?;
    progress(&format!(
        "deleted {} rows ({} messages, {} raw records)",
        report.deleted.total(),
        report.deleted.messages,
        report.deleted.raw_records
    ));
    pause_if_asked("deleted");
    report.erasure_id = Some(erasure.erasure_id);
    report.outcome = "erased".into();
    if opts.now {
        report.purge = Some(purge_now(store, opts, progress).await?);
    }
    report.duration_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Lifts the tombstones of `session_ids`, recording who did and why the
/// sessions may come back.
pub async fn forget(
    store: &Store,
    session_ids: Vec<String>,
    opts: &EraseOptions,
) -> Result<Erasure, EraseError> {
    let erased = store.erased_sessions().await?;
    let unknown: Vec<&String> = session_ids
        .iter()
        .filter(|s| !erased.contains(*s))
        .collect();
    if !unknown.is_empty() {
        return Err(EraseError::Invalid(format!(
            "not erased, so there is no tombstone to forget: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let at = Utc::now();
    let record = Erasure {
        erasure_id: erasure_id(&opts.host, at),
        kind: ErasureKind::Forget,
        selection: session_ids.join(" "),
        session_ids,
        host: opts.host.clone(),
        user: opts.user.clone(),
        at,
        rows: RowCounts::default(),
    };
    store.record_erasure(&record).await?;
    Ok(record)
}

/// The tables an erasure deletes from: the ones `--now` rewrites.
const TOUCHED: [TableKind; 6] = [
    TableKind::Messages,
    TableKind::Search,
    TableKind::Raw,
    TableKind::Sessions,
    TableKind::Redactions,
    TableKind::Usage,
];

/// Rewrites the fragments holding deleted rows and prunes every version
/// but the newest, holding the upkeep lease so no other host compacts or
/// prunes meanwhile. Readers of a pruned version move to the newest
/// (rule 42); only fragments with deletions are rewritten, so the cost
/// follows the erased sessions, not the store.
async fn purge_now(
    store: &Store,
    opts: &EraseOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Purge, EraseError> {
    let started = Instant::now();
    let mut purge = Purge {
        outcome: "done".into(),
        ..Purge::default()
    };
    let mut lease =
        match lease::take(store.location(), lease::UPKEEP, &opts.host, opts.lease_ttl).await? {
            Taken::Held(lease) => lease,
            Taken::Busy(holder) => {
                progress(&format!(
                    "upkeep is running on {}; its run finishes the erasure",
                    holder.holder
                ));
                purge.outcome = "busy".into();
                purge.holder = Some(holder.holder);
                return Ok(purge);
            }
        };
    let kinds: Vec<TableKind> = TOUCHED
        .into_iter()
        .filter(|k| store.has_table(*k))
        .collect();
    let result = async {
        for &kind in &kinds {
            let table_started = Instant::now();
            store.refresh(kind).await?;
            let mut done = PurgedTable {
                table: kind.name().to_string(),
                ..PurgedTable::default()
            };
            match store.compact(kind, None).await? {
                Some(c) => done.compacted = c,
                None => {
                    done.gave_way = true;
                    purge.outcome = "partial".into();
                }
            }
            progress(&format!(
                "{}: {} fragments rewritten",
                kind.name(),
                done.compacted.fragments_removed
            ));
            done.secs = table_started.elapsed().as_secs_f64();
            purge.tables.push(done);
            // Rule 41: a long compaction must not outlive the lease; a
            // holder that lost it stops before pruning beside another.
            if let Err(lost) = lease.renew().await {
                return Ok(Some(lost));
            }
        }
        pause_if_asked("compacted");
        for (&kind, done) in kinds.iter().zip(purge.tables.iter_mut()) {
            if let Err(lost) = lease.renew().await {
                return Ok(Some(lost));
            }
            let prune_started = Instant::now();
            done.pruned = store.prune(kind, Duration::ZERO, 1).await?;
            done.secs += prune_started.elapsed().as_secs_f64();
        }
        pause_if_asked("pruned");
        Ok::<_, StoreError>(None)
    }
    .await;
    match result? {
        Some(lost) => {
            // Another host holds it now; its upkeep finishes the erasure.
            progress(&format!("{lost}; the next upkeep finishes the erasure"));
            purge.outcome = "lease-lost".into();
        }
        None => lease.release().await,
    }
    purge.duration_secs = started.elapsed().as_secs_f64();
    Ok(purge)
}

fn erasure_id(host: &str, at: DateTime<Utc>) -> String {
    let seed = format!(
        "{host}\0{}\0{}",
        at.timestamp_nanos_opt().unwrap_or(0),
        std::process::id()
    );
    format!(
        "{}-{}",
        at.format("%Y%m%dT%H%M%S"),
        &crate::digest::sha256_hex(seed.as_bytes())[..12]
    )
}

fn pause_if_asked(step: &str) {
    if std::env::var(PAUSE_AFTER_ENV).is_ok_and(|s| s == step) {
        eprintln!("erase: paused after {step}");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
