//! The one sync pipeline: discover files, read what changed, translate it
//! through the adapter, commit it in a few keyed batches, advance cursors.
//!
//! Order matters for crash safety: rows are committed before the cursor that
//! says they were read is saved. A crash in between makes the next sync read
//! the same bytes again, and the keyed inserts turn that into a no-op.

pub use pond_adapters::{records, translate};

pub mod attribution;
mod backfill;
mod commit;
pub mod cursor;
mod database;
mod erased;
pub mod ids;
mod indexing;
pub mod lock;
pub mod repair;
pub mod report;
pub mod scoping;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::adapter::{Adapter, Layout, SourceFile};
use crate::embed;
use crate::model::{Message, RawRecord, SessionFacts};
use crate::store::tables::schema;
use crate::store::{Store, StoreError, TableKind, sql_in};
use crate::usage::Usage;
use cursor::{Cursors, FileCursor, sha256_hex};
use report::SyncReport;

mod read;
use read::*;

/// Why a sync stopped. Problems with single files or records are not errors:
/// they are reported in [`SyncReport::errors`] and the sync goes on.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading files stopped: {0}")]
    Reading(String),
    #[error("session `{session}` belongs to host `{host}`, outside this ingest's host limit")]
    ForeignSession { session: String, host: String },
    #[error(
        "cannot save sync cursors to {path}: {source} (committed data is safe; the next sync re-checks it)"
    )]
    Cursors {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Raw bytes gathered before a commit: big enough that a sync is a handful of
/// commits, small enough to bound memory.
pub const DEFAULT_BATCH_BYTES: u64 = 64 * 1024 * 1024;

pub struct SyncOptions {
    pub adapters: Vec<Arc<dyn Adapter>>,
    /// Read this directory instead of each adapter's default root.
    pub path: Option<PathBuf>,
    pub host: String,
    pub dry_run: bool,
    pub state_dir: PathBuf,
    pub batch_bytes: u64,
    /// Embeds each new search row. Without a model, rows are stored without
    /// vectors and full-text search still finds them.
    pub embedder: Arc<embed::Lazy>,
    /// Record this as the root files came from instead of the directory
    /// read: a server ingesting a host's pushed files stores them exactly as
    /// that host's own sync would.
    pub origin_root: Option<String>,
    /// `[redact] at_ingest`: mask secrets in everything stored, raw bytes
    /// included.
    pub redact: bool,
    /// This run holds the host's single-flight lock, so it is the only writer
    /// of this host's files: records of files the store has never seen are
    /// appended rather than merged by key (the key join is the costliest part
    /// of a first sync). A server ingesting for other hosts holds no such lock.
    pub host_locked: bool,
    /// An ingest token's host limit: sessions the store holds under a host
    /// outside it may not be changed by this run (checked at commit, so a
    /// session another host stores meanwhile is covered too).
    pub host_limit: Option<String>,
}

/// Runs one sync against an open store, filling `report`. Problems with single
/// files or records land in `report.errors`; only store failures are errors.
pub async fn run(
    store: &Store,
    opts: &SyncOptions,
    report: &mut SyncReport,
    progress: &dyn Fn(&str),
) -> Result<(), SyncError> {
    if !opts.dry_run && store.needs_id_scoping() {
        let repair_opts = repair::RepairOptions {
            host: opts.host.clone(),
            dry_run: false,
            embedder: opts.embedder.clone(),
        };
        scoping::run(store, &repair_opts, progress).await?;
    }
    // Rule 27: until the store is marked done, each sync indexes the messages
    // stored before search existed.
    if !opts.dry_run && store.needs_search_backfill() {
        backfill::run(store, &opts.embedder, report, progress).await?;
    }
    // Read once per run: an erasure recorded after this point is finished
    // by the next upkeep, which deletes what this run stores of it.
    let erased = store.erased_sessions().await?;
    let mut cursors = Cursors::load(&opts.state_dir, &store.location().key);
    for adapter in &opts.adapters {
        let roots = match &opts.path {
            Some(path) => vec![path.clone()],
            None => adapter.roots(),
        };
        for root in roots {
            if let Err(why) = std::fs::read_dir(&root)
                && why.kind() == std::io::ErrorKind::PermissionDenied
            {
                // Said before the walk, whose own words name no way out.
                report.problem(
                    &root,
                    None,
                    "cannot be read by this user (permission denied): run pond as the user whose sessions these are, or give this user read access",
                );
                continue;
            }
            if !root.is_dir() {
                if opts.path.is_some() {
                    // A typo in a timer's --path must not pass as a sync.
                    let why = if root.exists() {
                        "is not a directory: --path takes the folder a client keeps its sessions in"
                    } else {
                        "does not exist: check the --path given (`pond adapters` shows where each client keeps its sessions)"
                    };
                    report.problem(&root, None, why);
                } else {
                    progress(&format!(
                        "{}: nothing to sync ({} not found)",
                        adapter.name(),
                        root.display()
                    ));
                }
                continue;
            }
            let root = std::path::absolute(&root).unwrap_or(root);
            let place = Place {
                adapter,
                root: &root,
                erased: &erased,
            };
            sync_root(store, opts, place, &mut cursors, report, progress).await?;
        }
    }
    if !opts.dry_run {
        indexing::maintain(store, report, progress).await;
    }
    Ok(())
}

/// A file that changed since its cursor, with what is known of it.
struct Planned {
    file: SourceFile,
    file_id: String,
    prior: Prior,
}

enum Prior {
    Cursor(FileCursor),
    Stored(StoredExtent),
    Nothing,
}

/// What the store holds of a file whose cursor this host has lost.
#[derive(Debug, Clone)]
struct StoredExtent {
    generation: u32,
    session_id: String,
    first_sha: Option<String>,
    last: (u64, u64, u64, String), // offset, length, line, sha
}

/// The translated result of reading one file.
struct FileWork {
    file_id: String,
    /// The session the file's first record read belongs to (its parent hint
    /// applies to this one).
    session_id: String,
    parent_hint: Option<String>,
    raw: Vec<RawRecord>,
    messages: Vec<Message>,
    /// Model calls' usage the records reported, each call once.
    usage: Vec<Usage>,
    /// Messages an adapter marked as revisable: a later copy replaces the
    /// stored one.
    revised: HashSet<String>,
    /// Facts per session the file's records spoke of, in order of first mention.
    facts: Vec<(String, SessionFacts)>,
    cursor: FileCursor,
    /// The store holds no record of this file (no cursor, no stored extent)
    /// and the host lock keeps other writers of it away: its records can be
    /// appended without comparing keys.
    fresh: bool,
    /// The file is one document rewritten whole: its record may be stored
    /// as a patch against the generation before (`store::tables::documents`).
    document: bool,
}

/// One adapter's root, and the sessions nothing may store again.
struct Place<'a> {
    adapter: &'a Arc<dyn Adapter>,
    root: &'a Path,
    erased: &'a HashSet<String>,
}

#[tracing::instrument(name = "sync.adapter", skip_all, fields(adapter = place.adapter.name(), root = %place.root.display()))]
async fn sync_root(
    store: &Store,
    opts: &SyncOptions,
    place: Place<'_>,
    cursors: &mut Cursors,
    report: &mut SyncReport,
    progress: &dyn Fn(&str),
) -> Result<(), SyncError> {
    let Place {
        adapter,
        root,
        erased,
    } = place;
    let client = adapter.name();
    let root_str = opts
        .origin_root
        .clone()
        .unwrap_or_else(|| root.display().to_string());
    let discovery = tracing::info_span!("discover").in_scope(|| adapter.discover(root));
    for p in discovery.problems {
        report.problem(&p.path, None, p.detail);
    }
    report.files_scanned += discovery.files.len() as u64;

    let mut planned = plan_files(discovery.files, opts, client, &root_str, cursors, report);
    report.files_changed += planned.len() as u64;
    progress(&format!(
        "{client}: {} files under {}, {} changed",
        report.files_scanned,
        root.display(),
        planned.len()
    ));

    recover_extents(store, &mut planned).await?;

    // Reading (parsing, hashing) and committing (compression inside Lance)
    // each keep a core busy, so the next batch is read on a thread of its own
    // while this one commits. Batches still commit one at a time, in order.
    let reader = Arc::new(Reader {
        adapter: adapter.clone(),
        host: opts.host.clone(),
        root: root_str,
        redact: opts.redact,
        batch_bytes: opts.batch_bytes,
    });
    let mut touched_only = false;
    let mut next = Some(read_ahead(reader.clone(), planned.into_iter()));
    while let Some(reading) = next.take() {
        let read = reading
            .await
            .map_err(|e| SyncError::Reading(e.to_string()))?;
        report.absorb_reading(read.tally);
        for (file_id, cursor) in read.touched {
            // Touched, or only a partial line so far: nothing to commit.
            if !opts.dry_run {
                cursors.files.insert(file_id, cursor);
                touched_only = true;
            }
        }
        if let Some(rest) = read.rest {
            next = Some(read_ahead(reader.clone(), rest));
        }
        // Rule 44: nothing of a tombstoned session is committed again.
        let works = erased::without_erased(read.works, erased, report);
        if !works.is_empty() {
            commit::commit(store, opts, client, works, cursors, report).await?;
            progress(&format!(
                "{client}: committed {} records so far",
                report.records_inserted
            ));
        }
    }
    if touched_only {
        commit::save_cursors(cursors)?;
    }
    Ok(())
}

/// The files that changed since their cursor, each with what is known of
/// it. Rule 3: a file whose size and mtime match its cursor is not opened.
fn plan_files(
    files: Vec<SourceFile>,
    opts: &SyncOptions,
    client: &str,
    root_str: &str,
    cursors: &Cursors,
    report: &mut SyncReport,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    for file in files {
        let file_id = file_id(&opts.host, client, root_str, &file.rel_path);
        let stamp = match file.layout {
            Layout::Database => database::stamp(&file.path),
            _ => std::fs::metadata(&file.path).map(|m| (m.len(), cursor::mtime_ns(&m))),
        };
        let (size, mtime_ns) = match stamp {
            Ok(s) => s,
            Err(e) => {
                report.problem(&file.path, None, format!("cannot stat: {e}"));
                continue;
            }
        };
        let prior = match cursors.files.get(&file_id) {
            Some(c) if c.size == size && c.mtime_ns == mtime_ns => continue,
            Some(c) => Prior::Cursor(c.clone()),
            None => Prior::Nothing,
        };
        planned.push(Planned {
            file,
            file_id,
            prior,
        });
    }
    planned
}

/// A file with no cursor on this host may still be in the store (a lost
/// state directory, a new machine with the same host name): its stored
/// extent is where reading resumes.
async fn recover_extents(store: &Store, planned: &mut [Planned]) -> Result<(), SyncError> {
    let lost: Vec<&str> = planned
        .iter()
        .filter(|p| matches!(p.prior, Prior::Nothing))
        .map(|p| p.file_id.as_str())
        .collect();
    let mut stored = stored_extents(store, &lost).await?;
    for p in planned.iter_mut() {
        if let (Prior::Nothing, Some(extent)) = (&p.prior, stored.remove(&p.file_id)) {
            p.prior = Prior::Stored(extent);
        }
    }

    Ok(())
}

/// What reading a batch of files needs, shared with its thread.
struct Reader {
    adapter: Arc<dyn Adapter>,
    host: String,
    root: String,
    redact: bool,
    batch_bytes: u64,
}

/// One batch of read files, and what is left to read.
struct ReadBatch {
    works: Vec<FileWork>,
    /// Cursors of files read without new records.
    touched: Vec<(String, FileCursor)>,
    /// Counters and problems of the reading, folded into the run's report.
    tally: SyncReport,
    rest: Option<std::vec::IntoIter<Planned>>,
}

/// Reads files from `planned` on a blocking thread until a batch's worth
/// of raw bytes is gathered.
fn read_ahead(
    reader: Arc<Reader>,
    mut planned: std::vec::IntoIter<Planned>,
) -> tokio::task::JoinHandle<ReadBatch> {
    tokio::task::spawn_blocking(move || {
        let mut tally = SyncReport::new("", &reader.host, Vec::new(), false);
        let (mut works, mut touched, mut bytes) = (Vec::new(), Vec::new(), 0);
        for p in planned.by_ref() {
            let read = match p.file.layout {
                Layout::Database => database::read(&reader, p, &mut tally),
                _ => read_file(&reader, p, &mut tally),
            };
            match read {
                Ok(Some(work)) if work.raw.is_empty() => {
                    if work.cursor.consumed > 0 {
                        touched.push((work.file_id, work.cursor));
                    }
                }
                Ok(Some(mut work)) => {
                    // Rule 38: with `at_ingest`, secrets are masked before any is stored.
                    if reader.redact {
                        redact_work(&mut work);
                    }
                    bytes += work.raw.iter().map(|r| r.length).sum::<u64>();
                    works.push(work);
                    if bytes >= reader.batch_bytes {
                        break;
                    }
                }
                Ok(None) => {}
                // Rule 32: a damaged or unreadable file is named in `errors`; the
                // other files are still read and stored.
                Err(FileError { path, detail }) => tally.problem(&path, None, detail),
            }
        }
        ReadBatch {
            works,
            touched,
            tally,
            rest: (planned.len() > 0).then_some(planned),
        }
    })
}

/// Masks secrets in what a file's reading produced, before any of it is
/// stored. Record lengths and digests keep describing the source file, so
/// cursors and recovery still line up with it.
fn redact_work(work: &mut FileWork) {
    use crate::redact::{redact_bytes, redact_str};
    use std::borrow::Cow;
    for record in &mut work.raw {
        if let (Cow::Owned(masked), _) = redact_bytes(&record.bytes) {
            record.bytes = masked;
        }
    }
    let mask = |text: &mut String| {
        if let Cow::Owned(masked) = redact_str(text) {
            *text = masked;
        }
    };
    for part in work.messages.iter_mut().flat_map(|m| m.parts.iter_mut()) {
        if let Some(text) = &mut part.text {
            mask(text);
        }
    }
    for (_, facts) in &mut work.facts {
        if let Some(title) = &mut facts.title {
            mask(title);
        }
    }
}

/// The sessions a source file speaks of, read and translated as a sync
/// would, without a store: what an ingest must check a token may touch
/// before it keeps the file. Sessions named after nothing in the file (the
/// empty fallback) are left out: they are named after the file's own place.
pub fn sessions_in(
    adapter: &dyn Adapter,
    host: &str,
    file: &SourceFile,
) -> Result<std::collections::BTreeSet<String>, String> {
    let mut translation = match file.layout {
        Layout::Database => {
            let records = adapter.read_records(file).map_err(|e| e.to_string())?;
            database::translate_records(adapter, file, &records)
        }
        _ => {
            let bytes = std::fs::read(&file.path).map_err(|e| format!("cannot read: {e}"))?;
            translate::translate_bytes(adapter, file, &bytes)
        }
    };
    ids::IdScope::new(adapter, host).apply(&mut translation);
    let mut sessions: std::collections::BTreeSet<String> = translation
        .facts
        .into_iter()
        .map(|(id, _)| id)
        .chain(translation.messages.into_iter().map(|m| m.session_id))
        .collect();
    sessions.remove("");
    Ok(sessions)
}

/// The session a stored database row belongs to, read from the row itself
/// as a sync reads it. Stores written before rows were attributed to their
/// own session label every row of a database with its first session, so
/// what a row may be given to is decided from its content, not its label.
pub fn database_row_owner(adapter: &dyn Adapter, host: &str, rel_path: &str, row: &[u8]) -> String {
    let row = row.strip_suffix(b"\n").unwrap_or(row);
    let file = SourceFile::new(rel_path, rel_path, Layout::Database);
    let mut translation = database::translate_records(adapter, &file, &[row.to_vec()]);
    ids::IdScope::new(adapter, host).apply(&mut translation);
    translation
        .records
        .into_iter()
        .next()
        .map(|r| r.session_id)
        .unwrap_or_default()
}

fn file_id(host: &str, client: &str, root: &str, rel_path: &str) -> String {
    let key = format!("{host}\0{client}\0{root}\0{rel_path}");
    sha256_hex(key.as_bytes())[..32].to_string()
}

/// The latest generation the store holds of each file, for files this host
/// has no cursor for.
async fn stored_extents(
    store: &Store,
    file_ids: &[&str],
) -> Result<HashMap<String, StoredExtent>, StoreError> {
    let mut extents: HashMap<String, StoredExtent> = HashMap::new();
    if file_ids.is_empty() {
        return Ok(extents);
    }
    let filter = sql_in("file_id", file_ids.iter().copied());
    let columns = [
        "file_id",
        "generation",
        "offset",
        "length",
        "line",
        "sha256",
        "session_id",
    ];
    let batches = store
        .scan(TableKind::Raw, Some(&filter), Some(&columns))
        .await?;
    for b in &batches {
        let c = schema::Columns::new(b);
        let (fid, generation, offset) = (c.str("file_id")?, c.u32("generation")?, c.u64("offset")?);
        let (length, line, sha, session) = (
            c.u64("length")?,
            c.u64("line")?,
            c.str("sha256")?,
            c.str("session_id")?,
        );
        for i in 0..b.num_rows() {
            let row = (
                offset.value(i),
                length.value(i),
                line.value(i),
                sha.value(i).to_string(),
            );
            let g = generation.value(i);
            let e = extents
                .entry(fid.value(i).to_string())
                .or_insert_with(|| StoredExtent {
                    generation: g,
                    session_id: session.value(i).to_string(),
                    first_sha: None,
                    last: row.clone(),
                });
            if g > e.generation {
                *e = StoredExtent {
                    generation: g,
                    session_id: session.value(i).to_string(),
                    first_sha: None,
                    last: row.clone(),
                };
            }
            if g == e.generation {
                if row.0 == 0 {
                    e.first_sha = Some(row.3.clone());
                }
                if row.0 >= e.last.0 {
                    e.last = row;
                }
            }
        }
    }
    Ok(extents)
}
