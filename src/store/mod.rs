//! The Lance store: tables, their schemas, and the few operations pond needs.
//!
//! It speaks only the canonical model (sessions, messages, raw records) and
//! knows nothing of any client. Every write is keyed on a deterministic `id`
//! and inserts only what is absent, so repeating a write (after a crash or an
//! ambiguous failure) never stores anything twice.

mod error;
pub mod reach;
pub mod tables;
pub mod upkeep;
pub mod writes;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::{Connection, Table};

pub use error::StoreError;
use error::{lance_error, names_missing_file};
pub use reach::location::StoreLocation;
use tables::meta::meta_batch;
pub use tables::meta::{restamp_format_version, stamp_format_version};
pub use tables::sql::{
    key_or_prefix_sql, like_escape, scoped_key_sql, sql_eq, sql_in, sql_str, sql_time,
    starts_with_sql,
};

/// The on-store layout this binary reads and writes. Bump it when a change
/// would make an older binary misread the store.
///
/// 2: session and message ids are scoped by client (`<client>:<id>`), so a
/// format-1 binary would write unscoped keys beside them.
/// 3: a whole document's later generations may be stored as patches
/// (`patch_base`), which a format-2 binary would export as the document.
/// 4: sessions may be erased (`erasures`), and a format-3 binary, which
/// does not read the tombstones, would store them again. Stamped by the
/// first erasure, so stores that never erase stay open to format 3.
/// 5: files no manifest references are swept once older than every write
/// intent (`store::writes::intents`), and a format-4 binary writes without
/// announcing its writes. Stamped by the first sweep.
pub const FORMAT_VERSION: u32 = 5;

const FORMAT_KEY: &str = "format_version";
/// One row per embedding model whose vectors the store holds: a store with a
/// single model needs no per-row model filter on the vector search path.
const EMBED_MODEL_KEY: &str = "embed_model";
/// Present once every message is in the search table: a store made before
/// that table existed lacks it until a sync has indexed the old messages.
const SEARCH_BACKFILLED_KEY: &str = "search_backfilled";
/// Present once every stored id is scoped by client (format 2): a store
/// written by format 1 lacks it until a sync has rewritten its keys.
const IDS_SCOPED_KEY: &str = "ids_scoped";
/// The connection (and table) option that picks the Lance file format of
/// new tables, and the format pond creates most of them in. Every Lance
/// reader reads 2.0.
const NEW_TABLE_FORMAT_OPTION: &str = "new_table_data_storage_version";
const NEW_TABLE_FORMAT: &str = "2.0";
/// The format of the messages table, which is read a row at a time: 2.0
/// compresses a column in pages of about 8 MiB, so one message read whole
/// decompresses two such pages (text and parts); 2.1+ reads a value from a
/// small chunk (docs/decisions.md).
const ROW_READ_TABLE_FORMAT: &str = "2.2";

/// Whether opening may create the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    Create,
    Existing,
}

/// The tables pond keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    Raw,
    Messages,
    Sessions,
    /// One row per sync run of any host: the fleet's history.
    SyncRuns,
    /// One row per host: its latest run, kept small so fleet status stays fast.
    Hosts,
    /// One row per searchable message part: text, filters and vector.
    Search,
    /// Sessions stored with secrets masked.
    Redactions,
    /// Erased sessions: the tombstones every writer honours.
    Erasures,
    /// One row per group of ephemeral hosts (CI runs): the group's latest
    /// run, so a thousand one-run hosts read as one line.
    HostGroups,
    /// One row per model call: its tokens, keyed by the call so it counts once.
    Usage,
}

/// Every table, in the order the store creates them.
const ALL_TABLES: [TableKind; 10] = [
    TableKind::Raw,
    TableKind::Messages,
    TableKind::Sessions,
    TableKind::SyncRuns,
    TableKind::Hosts,
    TableKind::Search,
    TableKind::Redactions,
    TableKind::Erasures,
    TableKind::HostGroups,
    TableKind::Usage,
];

impl TableKind {
    /// Every table of a store.
    pub const ALL: [TableKind; 10] = ALL_TABLES;

    pub fn name(self) -> &'static str {
        match self {
            TableKind::Raw => tables::schema::RAW,
            TableKind::Messages => tables::schema::MESSAGES,
            TableKind::Sessions => tables::schema::SESSIONS,
            TableKind::SyncRuns => tables::runs::SYNC_RUNS,
            TableKind::Hosts => tables::runs::HOSTS,
            TableKind::Search => tables::search::SEARCH,
            TableKind::Redactions => tables::redactions::REDACTIONS,
            TableKind::Erasures => tables::erasures::ERASURES,
            TableKind::HostGroups => tables::runs::HOST_GROUPS,
            TableKind::Usage => tables::usage::USAGE,
        }
    }

    /// The Lance file format the table is created in: whole-page
    /// compression (2.0) where the table is read in bulk or by small
    /// columns, small independently readable chunks (2.2) where a hot path
    /// reads single wide rows.
    fn file_format(self) -> &'static str {
        match self {
            TableKind::Messages => ROW_READ_TABLE_FORMAT,
            _ => NEW_TABLE_FORMAT,
        }
    }

    fn schema(self) -> arrow_schema::SchemaRef {
        match self {
            TableKind::Raw => tables::schema::raw_schema(),
            TableKind::Messages => tables::schema::messages_schema(),
            TableKind::Sessions => tables::schema::sessions_schema(),
            TableKind::SyncRuns => tables::runs::sync_runs_schema(),
            TableKind::Hosts => tables::runs::hosts_schema(),
            TableKind::Search => tables::search::search_schema(),
            TableKind::Redactions => tables::redactions::redactions_schema(),
            TableKind::Erasures => tables::erasures::erasures_schema(),
            TableKind::HostGroups => tables::runs::hosts_schema(),
            TableKind::Usage => tables::usage::usage_schema(),
        }
    }
}

pub struct Store {
    location: StoreLocation,
    db: Connection,
    tables: HashMap<TableKind, Table>,
    retry: reach::retry::RetryPolicy,
    /// Writes retried after a lost commit race or a transient failure.
    retries: AtomicU64,
    /// Commit conflicts Lance resolved itself by rebasing (attempts beyond the first).
    conflicts: AtomicU64,
    /// Embedding models whose vectors the store holds, from `pond_meta`.
    embed_models: std::sync::Mutex<Vec<String>>,
    search_backfilled: std::sync::atomic::AtomicBool,
    ids_scoped: std::sync::atomic::AtomicBool,
    /// The format the store was stamped with when opened (0: none).
    format_found: AtomicU32,
    /// Rule 50: the intents this handle holds while it writes.
    intents: Arc<writes::intents::WriteIntents>,
}

/// A local store's directory: made for a store being created, required
/// (with its tables) for one that must exist.
fn prepare_local_dir(location: &StoreLocation, mode: OpenMode) -> Result<(), StoreError> {
    if let Some(dir) = &location.local_dir {
        match mode {
            OpenMode::Create => {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Prepare {
                    location: location.display.clone(),
                    source,
                })?
            }
            // `exists` reads a directory pond may not open as absent, and
            // the store as empty; only a real absence is.
            OpenMode::Existing => {
                match dir
                    .join(format!("{}.lance", tables::schema::META))
                    .try_exists()
                {
                    Ok(true) => {}
                    Ok(false) => return Err(StoreError::NotFound(location.display.clone())),
                    Err(source) => {
                        return Err(StoreError::Unreadable {
                            location: location.display.clone(),
                            source,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// The Lance connection for a store: new tables in the current file
/// format, reads as fresh as `fresh_within`, and commits guarded by this
/// handle's write intents.
fn connection(
    location: &StoreLocation,
    fresh_within: Option<std::time::Duration>,
    intents: &Arc<writes::intents::WriteIntents>,
) -> lancedb::connection::ConnectBuilder {
    let mut connect = lancedb::connect(location.uri()).storage_options(location.storage_options());
    // Lance 2.1+ compresses a large value (most raw records) on its own,
    // so zstd never sees the repetition between neighbouring records; 2.0
    // compresses whole pages. Measured on a million messages: a store 27 %
    // smaller, and the writes of a first sync 16 % faster
    // (docs/decisions.md). Tables created earlier keep their version.
    connect = connect.storage_option(NEW_TABLE_FORMAT_OPTION, NEW_TABLE_FORMAT);
    if let Some(interval) = fresh_within {
        connect = connect.read_consistency_interval(interval);
    }
    // Rule 50: no commit of this handle lands after its write intent is gone.
    connect = connect.session(Arc::new(lance::session::Session::new(
        lance::dataset::DEFAULT_INDEX_CACHE_SIZE,
        lance::dataset::DEFAULT_METADATA_CACHE_SIZE,
        writes::commit_guard::registry(intents.clone()),
    )));
    connect
}

impl Drop for Store {
    fn drop(&mut self) {
        self.intents.release_local(&self.location);
    }
}

impl Store {
    /// Opens the store at `location`, creating its tables first with
    /// [`OpenMode::Create`]. Every write is keyed on the rows' `id`, so
    /// writing the same rows twice stores them once (spec rule 2):
    ///
    /// ```
    /// use pond::model::Session;
    /// use pond::store::tables::schema::sessions_batch;
    /// use pond::store::{OpenMode, Store, StoreLocation, TableKind};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// // A directory, `s3://bucket/prefix`, `gs://`, `az://` or `memory://`.
    /// let location = StoreLocation::parse(&dir.path().display().to_string())?;
    /// let session = Session {
    ///     project: Some("/home/me/app".into()),
    ///     title: Some("fix the login page".into()),
    ///     ..Session::new("s1", "notes", "laptop")
    /// };
    /// tokio::runtime::Runtime::new()?.block_on(async {
    ///     let store = Store::open(&location, OpenMode::Create).await?;
    ///     let rows = sessions_batch(&[session], chrono::Utc::now())?;
    ///     assert_eq!(store.insert_absent(TableKind::Sessions, rows.clone()).await?, 1);
    ///     assert_eq!(store.insert_absent(TableKind::Sessions, rows).await?, 0);
    ///     assert_eq!(store.count(TableKind::Sessions, None).await?, 1);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn open(location: &StoreLocation, mode: OpenMode) -> Result<Store, StoreError> {
        Store::open_tables(location, mode, &ALL_TABLES).await
    }

    /// Opens an existing store with only the tables a read needs: a one-shot
    /// search should not pay for opening tables it never reads.
    pub async fn open_only(
        location: &StoreLocation,
        kinds: &[TableKind],
    ) -> Result<Store, StoreError> {
        Store::open_tables(location, OpenMode::Existing, kinds).await
    }

    /// Opens (creating if needed) a store a server keeps open for hours:
    /// reads check for commits by other processes at most `fresh_within`
    /// old, so answers follow the syncs of every host.
    pub async fn open_long_lived(
        location: &StoreLocation,
        fresh_within: std::time::Duration,
    ) -> Result<Store, StoreError> {
        Store::open_with(location, OpenMode::Create, &ALL_TABLES, Some(fresh_within)).await
    }

    async fn open_tables(
        location: &StoreLocation,
        mode: OpenMode,
        kinds: &[TableKind],
    ) -> Result<Store, StoreError> {
        Store::open_with(location, mode, kinds, None).await
    }

    async fn open_with(
        location: &StoreLocation,
        mode: OpenMode,
        kinds: &[TableKind],
        fresh_within: Option<std::time::Duration>,
    ) -> Result<Store, StoreError> {
        prepare_local_dir(location, mode)?;
        let intents = Arc::new(writes::intents::WriteIntents::default());
        let connect = connection(location, fresh_within, &intents);
        let db = connect
            .execute()
            .await
            .map_err(|source| lance_error(location, "connect", source))?;
        let mut store = Store {
            location: location.clone(),
            db,
            tables: HashMap::new(),
            retry: reach::retry::RetryPolicy::default(),
            retries: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            embed_models: std::sync::Mutex::new(Vec::new()),
            search_backfilled: std::sync::atomic::AtomicBool::new(false),
            ids_scoped: std::sync::atomic::AtomicBool::new(false),
            format_found: AtomicU32::new(0),
            intents,
        };
        if mode == OpenMode::Create && !store.all_tables_exist().await? {
            store.create_tables().await?;
        }
        // The format check reads `pond_meta` while the tables open: each is
        // a manifest read, and a one-shot search waits for both.
        let db = &store.db;
        let opening = futures::future::join_all(
            kinds
                .iter()
                .map(|&kind| async move { (kind, db.open_table(kind.name()).execute().await) }),
        );
        let (format, opened) = tokio::join!(store.check_format(), opening);
        format?;
        for (kind, opened) in opened {
            match opened {
                Ok(table) => {
                    store.tables.insert(kind, table);
                }
                // Read commands on a store from before a table existed see it empty.
                Err(lancedb::Error::TableNotFound { .. }) if mode == OpenMode::Existing => {}
                Err(e) => {
                    return Err(lance_error(
                        location,
                        &format!("open table {}", kind.name()),
                        e,
                    ));
                }
            }
        }
        if mode == OpenMode::Create {
            store.ensure_patch_column().await?;
        }
        Ok(store)
    }

    async fn all_tables_exist(&self) -> Result<bool, StoreError> {
        let names = self
            .db
            .table_names()
            .execute()
            .await
            .map_err(|e| lance_error(&self.location, "list tables", e))?;
        Ok(std::iter::once(tables::schema::META)
            .chain(ALL_TABLES.iter().map(|k| k.name()))
            .all(|t| names.iter().any(|n| n == t)))
    }

    /// Creates whatever tables are missing, one host at a time (see [`init`]).
    async fn create_tables(&self) -> Result<(), StoreError> {
        self.intents.hold(&self.location).await?;
        // Rule 11: the election is named after the table set, so a release with
        // a new table elects one host to add it to an older store (rule 27).
        let tag = reach::init::table_set_tag(
            std::iter::once(tables::schema::META).chain(ALL_TABLES.iter().map(|k| k.name())),
        );
        if let reach::init::Role::Opener = reach::init::gate(&self.location, &tag).await? {
            return Ok(());
        }
        let stamp = meta_batch(FORMAT_KEY, &FORMAT_VERSION.to_string())?;
        // A new store has no messages to index; a store from before the
        // search table keeps the key absent until a sync indexes its messages.
        let fresh = match self
            .db
            .create_table(tables::schema::META, stamp)
            .execute()
            .await
        {
            Ok(_) => true,
            Err(lancedb::Error::TableAlreadyExists { .. }) => false,
            Err(e) => return Err(lance_error(&self.location, "create table pond_meta", e)),
        };
        if fresh {
            self.note_meta(SEARCH_BACKFILLED_KEY, "true").await?;
            self.note_meta(IDS_SCOPED_KEY, "true").await?;
        }
        for kind in ALL_TABLES {
            self.create_if_missing(kind, RecordBatch::new_empty(kind.schema()))
                .await?;
        }
        if fresh && self.location.scheme() != "memory" {
            // Rule 50: only binaries that put intents ever wrote this store.
            let (os, prefix) = reach::connect::object_store(&self.location).map_err(|e| {
                upkeep::lance_error_str(&self.location, "note the write intents", &e)
            })?;
            upkeep::sweep::note_made_with_intents(os.as_ref(), &prefix)
                .await
                .map_err(|e| {
                    upkeep::lance_error_str(
                        &self.location,
                        "note the write intents",
                        &e.to_string(),
                    )
                })?;
        }
        reach::init::mark_ready(&self.location, &tag).await
    }

    async fn create_if_missing(
        &self,
        kind: TableKind,
        data: RecordBatch,
    ) -> Result<(), StoreError> {
        let name = kind.name();
        let create = self
            .db
            .create_table(name, data)
            .storage_option(NEW_TABLE_FORMAT_OPTION, kind.file_format());
        match create.execute().await {
            Ok(_) | Err(lancedb::Error::TableAlreadyExists { .. }) => Ok(()),
            Err(e) => Err(lance_error(
                &self.location,
                &format!("create table {name}"),
                e,
            )),
        }
    }

    /// One page of a table in storage order, for work too big to hold at once.
    pub async fn scan_page(
        &self,
        kind: TableKind,
        columns: &[&str],
        offset: usize,
        limit: usize,
    ) -> Result<Vec<RecordBatch>, StoreError> {
        self.reading(kind, move || async move {
            if !self.has_table(kind) {
                return Ok(Vec::new());
            }
            let op = || format!("read {}", kind.name());
            self.table(kind)?
                .query()
                .select(Select::columns(columns))
                .offset(offset)
                .limit(limit)
                .execute()
                .await
                .map_err(|e| lance_error(&self.location, &op(), e))?
                .try_collect::<Vec<RecordBatch>>()
                .await
                .map_err(|e| lance_error(&self.location, &op(), e))
        })
        .await
    }

    /// How many writes were retried since the store was opened.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// How many commit conflicts Lance rebased over since the store was opened.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    pub fn has_table(&self, kind: TableKind) -> bool {
        self.tables.contains_key(&kind)
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    fn table(&self, kind: TableKind) -> Result<&Table, StoreError> {
        self.tables
            .get(&kind)
            .ok_or_else(|| StoreError::Schema(format!("table {} is not open", kind.name())))
    }

    /// Says this handle's writes are over: its write intents go, so sweeps
    /// need not keep files younger than them. Writing again puts a new one.
    pub async fn finish_writes(&self) {
        self.intents.release().await;
    }

    /// Stamps the store with this binary's format unless it already has it.
    async fn require_current_format(&self) -> Result<(), StoreError> {
        if self.format_found.load(Ordering::Relaxed) >= FORMAT_VERSION {
            return Ok(());
        }
        self.stamp_current_format().await?;
        self.format_found.store(FORMAT_VERSION, Ordering::Relaxed);
        Ok(())
    }

    /// Reads the rows matching an SQL `filter`, only the named columns when given.
    pub async fn scan(
        &self,
        kind: TableKind,
        filter: Option<&str>,
        columns: Option<&[&str]>,
    ) -> Result<Vec<RecordBatch>, StoreError> {
        self.reading(kind, || self.scan_once(kind, filter, columns))
            .await
    }

    /// The non-null values of one text column over the rows matching
    /// `filter`: most "which of these are stored" questions read only that.
    pub async fn scan_strings(
        &self,
        kind: TableKind,
        filter: Option<&str>,
        column: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut values = Vec::new();
        for b in self.scan(kind, filter, Some(&[column])).await? {
            let c = tables::schema::Columns::new(&b);
            values.extend(c.str(column)?.iter().flatten().map(str::to_string));
        }
        Ok(values)
    }

    /// Two text columns of the rows matching `filter`, as pairs (a row with
    /// either null is left out): a key and what it belongs to, read narrow.
    pub async fn scan_string_pairs(
        &self,
        kind: TableKind,
        filter: Option<&str>,
        columns: [&str; 2],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut pairs = Vec::new();
        for b in self.scan(kind, filter, Some(&columns)).await? {
            let c = tables::schema::Columns::new(&b);
            let (firsts, seconds) = (c.str(columns[0])?, c.str(columns[1])?);
            for (first, second) in firsts.iter().zip(seconds.iter()) {
                if let (Some(first), Some(second)) = (first, second) {
                    pairs.push((first.to_string(), second.to_string()));
                }
            }
        }
        Ok(pairs)
    }

    /// Runs a read; when it finds a file gone (store upkeep pruned the
    /// version this handle still read, rule 42), moves the table to its
    /// newest version and reads once more.
    pub(crate) async fn reading<T, F, Fut>(&self, kind: TableKind, read: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        // Rule 42: a read that finds its version pruned moves to the newest
        // version and reads once more, so no `Not found` reaches the caller.
        match read().await {
            Err(e) if e.is_missing_file() => {
                tracing::debug!(
                    table = kind.name(),
                    "read a pruned version; reading the newest"
                );
                self.refresh(kind).await?;
                read().await
            }
            other => other,
        }
    }

    async fn scan_once(
        &self,
        kind: TableKind,
        filter: Option<&str>,
        columns: Option<&[&str]>,
    ) -> Result<Vec<RecordBatch>, StoreError> {
        if !self.has_table(kind) {
            return Ok(Vec::new());
        }
        let table = self.table(kind)?;
        let mut query = table.query();
        if let Some(f) = filter {
            query = query.only_if(f);
        }
        if let Some(cols) = columns {
            query = query.select(Select::columns(cols));
        }
        let op = || format!("read {}", kind.name());
        let stream = query
            .execute()
            .await
            .map_err(|e| lance_error(&self.location, &op(), e))?;
        stream
            .try_collect()
            .await
            .map_err(|e| lance_error(&self.location, &op(), e))
    }

    /// Moves a table's reads to its newest version. A table handle reads the
    /// version it last loaded or wrote; a writer that lost a conditional
    /// write must see what the winner committed before it merges again.
    pub async fn refresh(&self, kind: TableKind) -> Result<(), StoreError> {
        if !self.has_table(kind) {
            return Ok(());
        }
        self.table(kind)?
            .checkout_latest()
            .await
            .map_err(|e| lance_error(&self.location, &format!("refresh {}", kind.name()), e))
    }

    pub async fn count(&self, kind: TableKind, filter: Option<&str>) -> Result<usize, StoreError> {
        if !self.has_table(kind) {
            return Ok(0);
        }
        self.reading(kind, || async {
            self.table(kind)?
                .count_rows(filter.map(str::to_string))
                .await
                .map_err(|e| lance_error(&self.location, &format!("count {}", kind.name()), e))
        })
        .await
    }

    /// Bytes the store occupies, for local stores.
    pub fn disk_usage(&self) -> Option<u64> {
        self.location.local_dir.as_deref().map(dir_size)
    }
}

/// Bytes of the files below `dir` (a local store, or part of one).
pub fn dir_size(dir: &std::path::Path) -> u64 {
    file_sizes(dir).sum()
}

/// The size of each file below `dir`; what cannot be read counts as absent,
/// as a store's size is a figure to show, not a check.
pub fn file_sizes(dir: &std::path::Path) -> impl Iterator<Item = u64> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Empties the search table and marks the store as needing its messages
/// indexed again, which the next sync does. For rebuilding search from the
/// stored messages, and for tests of a store from before search existed.
pub async fn reset_search(location: &StoreLocation) -> Result<(), StoreError> {
    let store = Store::open(location, OpenMode::Existing).await?;
    let meta = store.meta_table().await?;
    meta.delete(&format!("key = {}", sql_str(SEARCH_BACKFILLED_KEY)))
        .await
        .map_err(|e| lance_error(location, "reset search", e))?;
    store
        .table_to_write(TableKind::Search)
        .await?
        .delete("true")
        .await
        .map_err(|e| lance_error(location, "reset search", e))?;
    Ok(())
}

/// Lets Lance compute (encode, compress, build indexes) on every core.
///
/// Lance holds two cores back for I/O, so on a 2-core machine it compresses
/// and builds the full-text index on one. pond's writes are compute-bound,
/// and giving Lance both cores made a first sync of a million messages 12 %
/// faster here (docs/benchmarks.md). A `LANCE_CPU_THREADS` the user set wins.
///
/// # Safety
/// Sets an environment variable: call it before any thread is started.
pub unsafe fn compute_on_every_core() {
    if std::env::var_os("LANCE_CPU_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: the caller guarantees no other thread reads the environment.
        unsafe { std::env::set_var("LANCE_CPU_THREADS", cores.to_string()) };
    }
}
