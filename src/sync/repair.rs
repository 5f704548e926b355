//! `pond repair`: finds raw records whose derived rows (messages, search
//! rows, sessions) are missing, and derives them again from the stored bytes.
//!
//! Since rule 12's ordering (raw records committed last) no sync leaves such
//! a gap, but stores written by earlier releases, which committed raw
//! records first, can hold sessions that `export --raw` has and `sessions`,
//! `show` and search do not. The raw records are the source of truth, so the
//! gap is closed from them alone: the source files need not exist any more,
//! and a file of any host can be repaired from any host.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use super::commit::commit_derived;
use super::ids::IdScope;
use super::records::{self, Parsed, Segment};
use super::report::SyncReport;
use super::{FileWork, SyncError, SyncOptions, translate};
use crate::adapter::{Adapter, Layout, SourceFile};
use crate::embed;
use crate::model::RawRecord;
use crate::registry;
use crate::store::{Store, StoreError, TableKind, sql_in, tables::schema};

/// Files whose records are read and translated at a time: bounds memory.
const FILES_PER_BATCH: usize = 64;
/// Ids per `IN (...)` filter when looking messages up.
const IDS_PER_QUERY: usize = 512;

pub struct RepairOptions {
    /// This host: its own files are described by its adapters' discovery
    /// (session and parent hints), others' from the stored records alone.
    pub host: String,
    pub dry_run: bool,
    pub embedder: Arc<embed::Lazy>,
}

/// What a repair found and did, for people and for `--json`.
#[derive(Debug, Default, Serialize)]
pub struct RepairReport {
    pub dry_run: bool,
    pub files_checked: u64,
    pub files_with_gaps: u64,
    pub sessions_missing: u64,
    pub messages_missing: u64,
    pub sessions_restored: u64,
    pub messages_restored: u64,
    pub search_rows_restored: u64,
    /// Model calls whose usage the raw records report and the store lacks
    /// (sessions stored before usage was: rule 47).
    pub usage_calls_missing: u64,
    pub usage_calls_restored: u64,
    /// Database rows labelled with another session than the one they name
    /// (stores written before rows were attributed), relabelled unless a
    /// dry run.
    pub database_rows_relabelled: u64,
    /// Each file with a gap.
    pub gaps: Vec<Gap>,
    /// Files that could not be checked, with the reason.
    pub problems: Vec<String>,
    /// Keys scoped by client and counts corrected (rule 40), when the
    /// repair wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scoping: Option<ScopingReport>,
}

/// What an upgrade rewrote and corrected.
#[derive(Debug, Default, Serialize)]
pub struct ScopingReport {
    pub sessions: u64,
    pub messages: u64,
    pub raw_records: u64,
    pub search_rows: u64,
    pub redactions: u64,
    /// Sessions that had been merged with another client's and were
    /// derived again on their own.
    pub sessions_split: u64,
    pub counts_corrected: u64,
}

impl ScopingReport {
    pub fn rewritten(&self) -> u64 {
        self.sessions + self.messages + self.raw_records + self.search_rows + self.redactions
    }
}

#[derive(Debug, Serialize)]
pub struct Gap {
    pub host: String,
    pub client: String,
    pub rel_path: String,
    pub generation: u32,
    pub sessions_missing: Vec<String>,
    pub messages_missing: u64,
}

/// One stored source file, as its raw records name it.
#[derive(Debug, Clone)]
struct StoredFile {
    file_id: String,
    host: String,
    client: String,
    root: String,
    rel_path: String,
    generation: u32,
}

pub async fn run(
    store: &Store,
    opts: &RepairOptions,
    progress: &dyn Fn(&str),
) -> Result<RepairReport, SyncError> {
    let mut report = RepairReport {
        dry_run: opts.dry_run,
        ..RepairReport::default()
    };
    report.database_rows_relabelled =
        super::attribution::relabel_database_rows(store, opts.dry_run).await?;
    let files = stored_files(store).await?;
    let mut known_sessions = session_ids(store).await?;
    let mut missing_calls_seen: HashSet<String> = HashSet::new();
    let mut discovered: HashMap<(String, String), Vec<SourceFile>> = HashMap::new();
    progress(&format!("checking {} stored files", files.len()));
    for (n, chunk) in files.chunks(FILES_PER_BATCH).enumerate() {
        let mut records = records_of(store, chunk).await?;
        for file in chunk {
            report.files_checked += 1;
            let Some(adapter) = registry::by_name(&file.client) else {
                report.problems.push(format!(
                    "{} ({}): no adapter for client `{}` in this pond",
                    file.rel_path, file.host, file.client
                ));
                continue;
            };
            let file_records = select_records(records.remove(&file.file_id).unwrap_or_default());
            if file_records.is_empty() {
                continue;
            }
            let source = describe(
                adapter.as_ref(),
                file,
                &file_records,
                &opts.host,
                &mut discovered,
            );
            let work = translate_stored(adapter.as_ref(), file, &source, &file_records);
            let missing_sessions: Vec<String> = work
                .facts
                .iter()
                .map(|(id, _)| id.clone())
                .filter(|id| !known_sessions.contains(id))
                .collect();
            let ids: Vec<&str> = work.messages.iter().map(|m| m.id.as_str()).collect();
            let missing_messages = (ids.len() as u64)
                .saturating_sub(present_keys(store, TableKind::Messages, &ids).await?);
            let missing_calls = missing_calls(store, &work, &mut missing_calls_seen).await?;
            if missing_sessions.is_empty() && missing_messages == 0 && missing_calls == 0 {
                continue;
            }
            report.record_gap(file, &missing_sessions, missing_messages, missing_calls);
            if opts.dry_run {
                continue;
            }
            if missing_sessions.is_empty() && missing_messages == 0 {
                restore_usage(store, file, &work, &mut report).await?;
                continue;
            }
            close_gap(store, opts, file, adapter, work, &mut report).await?;
            known_sessions.extend(missing_sessions);
        }
        progress(&format!(
            "checked {} of {} files, {} with gaps",
            ((n + 1) * FILES_PER_BATCH).min(files.len()),
            files.len(),
            report.files_with_gaps
        ));
    }
    Ok(report)
}

impl RepairReport {
    fn record_gap(
        &mut self,
        file: &StoredFile,
        sessions_missing: &[String],
        messages_missing: u64,
        calls_missing: u64,
    ) {
        self.usage_calls_missing += calls_missing;
        self.files_with_gaps += 1;
        self.sessions_missing += sessions_missing.len() as u64;
        self.messages_missing += messages_missing;
        self.gaps.push(Gap {
            host: file.host.clone(),
            client: file.client.clone(),
            rel_path: file.rel_path.clone(),
            generation: file.generation,
            sessions_missing: sessions_missing.to_vec(),
            messages_missing,
        });
    }
}

/// How many of the calls a file reports the usage table lacks. A call many
/// files report (a resumed session's copies) is missing once.
async fn missing_calls(
    store: &Store,
    work: &FileWork,
    seen: &mut HashSet<String>,
) -> Result<u64, SyncError> {
    let calls: Vec<&str> = work
        .usage
        .iter()
        .map(|u| u.call.as_str())
        .filter(|c| !seen.contains(*c))
        .collect();
    let present = store.present_ids(TableKind::Usage, &calls).await?;
    let missing: Vec<&str> = calls
        .into_iter()
        .filter(|c| !present.contains(*c))
        .collect();
    let count = missing.len() as u64;
    seen.extend(missing.into_iter().map(str::to_string));
    Ok(count)
}

/// Rule 47: only the usage of a file is missing (it was stored before
/// usage was kept): that is written, and the sessions are left as they are.
async fn restore_usage(
    store: &Store,
    file: &StoredFile,
    work: &FileWork,
    report: &mut RepairReport,
) -> Result<(), SyncError> {
    let calls = super::commit::distinct_calls(std::slice::from_ref(work));
    let written = super::commit::write_usage(
        store,
        &file.client,
        &file.host,
        None,
        &calls,
        chrono::Utc::now(),
    )
    .await?;
    report.usage_calls_restored += written.inserted;
    let spoken: HashSet<String> = calls.iter().map(|u| u.session_id.clone()).collect();
    store.remove_if_erased(&spoken).await?;
    Ok(())
}

/// Rule 12: a gap beside stored raw records is closed from their bytes, by key.
async fn close_gap(
    store: &Store,
    opts: &RepairOptions,
    file: &StoredFile,
    adapter: Box<dyn Adapter>,
    work: FileWork,
    report: &mut RepairReport,
) -> Result<(), SyncError> {
    let spoken: HashSet<String> = work.facts.iter().map(|(id, _)| id.clone()).collect();
    crate::pause::at("repair-write");
    let restored = rederive(store, opts, file, adapter, work).await?;
    // Rule 44: what it restored of a session erased meanwhile goes again.
    store.remove_if_erased(&spoken).await?;
    report.sessions_restored += restored.sessions_inserted;
    report.messages_restored += restored.messages_inserted;
    report.search_rows_restored += restored.search_rows_inserted;
    report.usage_calls_restored += restored.usage_calls_inserted;
    Ok(())
}

/// Every stored file with its newest generation, from the record index
/// columns only (no bytes).
async fn stored_files(store: &Store) -> Result<Vec<StoredFile>, StoreError> {
    let columns = [
        "file_id",
        "host",
        "client",
        "root",
        "rel_path",
        "generation",
    ];
    let mut files: BTreeMap<String, StoredFile> = BTreeMap::new();
    for b in store.scan(TableKind::Raw, None, Some(&columns)).await? {
        let c = schema::Columns::new(&b);
        let (fid, host, client) = (c.str("file_id")?, c.str("host")?, c.str("client")?);
        let (root, rel, generation) = (c.str("root")?, c.str("rel_path")?, c.u32("generation")?);
        for i in 0..b.num_rows() {
            let g = generation.value(i);
            let entry = files
                .entry(fid.value(i).to_string())
                .or_insert_with(|| StoredFile {
                    file_id: fid.value(i).to_string(),
                    host: host.value(i).to_string(),
                    client: client.value(i).to_string(),
                    root: root.value(i).to_string(),
                    rel_path: rel.value(i).to_string(),
                    generation: g,
                });
            entry.generation = entry.generation.max(g);
        }
    }
    Ok(files.into_values().collect())
}

async fn session_ids(store: &Store) -> Result<HashSet<String>, StoreError> {
    let ids = store.scan_strings(TableKind::Sessions, None, "id").await?;
    Ok(ids.into_iter().collect())
}

/// The records of the newest generation of each file in `files`.
async fn records_of(
    store: &Store,
    files: &[StoredFile],
) -> Result<HashMap<String, Vec<RawRecord>>, StoreError> {
    let newest: HashMap<&str, u32> = files
        .iter()
        .map(|f| (f.file_id.as_str(), f.generation))
        .collect();
    let filter = sql_in("file_id", files.iter().map(|f| f.file_id.as_str()));
    let mut by_file: HashMap<String, Vec<RawRecord>> = HashMap::new();
    for r in store.raw_records(&filter).await? {
        if newest.get(r.file_id.as_str()) == Some(&r.generation) {
            by_file.entry(r.file_id.clone()).or_default().push(r);
        }
    }
    Ok(by_file)
}

/// The records in the order a read produced them. A database's rows are
/// keyed by content and every version is kept, so all of them are read,
/// in the order they were stored.
fn select_records(mut records: Vec<RawRecord>) -> Vec<RawRecord> {
    records.sort_by(|a, b| (a.offset, &a.sha256).cmp(&(b.offset, &b.sha256)));
    records.dedup_by(|a, b| a.id == b.id);
    records
}

fn is_database(file: &StoredFile, records: &[RawRecord]) -> bool {
    let prefix = format!("{}:db:", file.file_id);
    records.iter().any(|r| r.id.starts_with(&prefix))
}

/// The source file as discovery described it when it was read: this host's
/// own files are found again by discovery (which knows the session and
/// parent hints its path carries); other files are described from their
/// records, their layout told by their bytes.
fn describe(
    adapter: &dyn Adapter,
    file: &StoredFile,
    records: &[RawRecord],
    this_host: &str,
    discovered: &mut HashMap<(String, String), Vec<SourceFile>>,
) -> SourceFile {
    let root = PathBuf::from(&file.root);
    if file.host == this_host && root.is_dir() {
        let found = discovered
            .entry((file.client.clone(), file.root.clone()))
            .or_insert_with(|| adapter.discover(&root).files);
        if let Some(source) = found.iter().find(|f| f.rel_path == file.rel_path) {
            return source.clone();
        }
    }
    let layout = if is_database(file, records) {
        Layout::Database
    } else if looks_like_text(records) {
        Layout::Text
    } else if records.len() == 1 {
        Layout::Document
    } else {
        Layout::Jsonl
    };
    SourceFile {
        path: Path::new(&file.root).join(&file.rel_path),
        rel_path: file.rel_path.clone(),
        layout,
        session_hint: None,
        parent_hint: None,
    }
}

/// Plain-text logs (Markdown chats) are the only sources whose first
/// non-blank record is not JSON.
fn looks_like_text(records: &[RawRecord]) -> bool {
    records
        .iter()
        .map(|r| records::parse(&r.bytes))
        .find(|p| !matches!(p, Parsed::Blank))
        .is_some_and(|p| matches!(p, Parsed::Invalid { ref values, .. } if values.is_empty()))
}

/// Translates stored records exactly as the sync that stored them did: the
/// same segments, and the session the records were stored under.
fn translate_stored(
    adapter: &dyn Adapter,
    file: &StoredFile,
    source: &SourceFile,
    stored: &[RawRecord],
) -> FileWork {
    let segments: Vec<Segment<'_>> = stored
        .iter()
        .map(|r| Segment {
            offset: r.offset,
            line: r.line,
            bytes: &r.bytes,
        })
        .collect();
    // Keys are scoped by the host that stored the file, not this one.
    let scope = IdScope::new(adapter, &file.host);
    let first_session = stored
        .first()
        .map(|r| scope.source(&r.session_id).to_string());
    let mut translation = translate::translate(adapter, source, &segments, first_session, || {
        format!(
            "{}-{}",
            file.client,
            &file.file_id[..16.min(file.file_id.len())]
        )
    });
    scope.apply(&mut translation);
    FileWork {
        file_id: file.file_id.clone(),
        session_id: translation.session_id,
        parent_hint: source.parent_hint.as_deref().map(|p| scope.scope(p)),
        raw: Vec::new(),
        messages: translation.messages,
        usage: translation.usage,
        revised: translation.revised,
        facts: translation.facts,
        cursor: super::cursor::FileCursor::default(),
        fresh: false,
        document: false,
    }
}

/// How many of `ids` the table `kind` holds (none where it does not exist yet).
async fn present_keys(store: &Store, kind: TableKind, ids: &[&str]) -> Result<u64, StoreError> {
    if !store.has_table(kind) {
        return Ok(0);
    }
    let mut present = 0;
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let filter = sql_in("id", chunk.iter().copied());
        present += store.count(kind, Some(&filter)).await? as u64;
    }
    Ok(present)
}

/// Writes the file's derived rows as its own host's sync would have: every
/// write keyed, so what is already stored is left alone.
async fn rederive(
    store: &Store,
    opts: &RepairOptions,
    file: &StoredFile,
    adapter: Box<dyn Adapter>,
    work: FileWork,
) -> Result<SyncReport, SyncError> {
    let sync_opts = SyncOptions {
        adapters: vec![Arc::from(adapter)],
        path: None,
        host: file.host.clone(),
        dry_run: false,
        state_dir: PathBuf::new(),
        batch_bytes: super::DEFAULT_BATCH_BYTES,
        embedder: opts.embedder.clone(),
        origin_root: Some(file.root.clone()),
        // Records stored masked are translated masked; their session is
        // already in the redactions table.
        redact: false,
        host_locked: false,
        host_limit: None,
    };
    let mut report = SyncReport::new(
        &store.location().display,
        &file.host,
        vec![file.client.clone()],
        false,
    );
    commit_derived(
        store,
        &sync_opts,
        &file.client,
        std::slice::from_ref(&work),
        Utc::now(),
        &mut report,
    )
    .await?;
    Ok(report)
}
