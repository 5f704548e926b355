//! `POST /v1/ingest`: session files from hosts that cannot reach the bucket.
//!
//! The server keeps a mirror of each (host, client, root) it is sent and
//! runs the ordinary sync pipeline over it, recording the sending host and
//! its original root. So a file pushed here gets the same record ids,
//! cursors, idempotency and byte-exact export as if that host had synced it
//! directly, and pushing the same bytes twice stores nothing new.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::upload::{Refusal, Upload, after_prefix, receive, unique_suffix};
use super::{AppState, error};
use crate::access::{Grant, Scope};
use crate::adapter::Adapter;
use crate::spool;
use crate::store::{Store, StoreError, TableKind, sql_in};
use crate::sync::report::SyncReport;
use crate::sync::{DEFAULT_BATCH_BYTES, SyncOptions};

/// The only body type `/v1/ingest` takes: what `pond sync --to` sends. A web
/// page cannot send it across sites without the browser asking first.
const BODY_TYPE: &str = "application/octet-stream";

pub(crate) struct Ingester {
    spool: PathBuf,
    max_upload_bytes: usize,
    /// A run past this is stopped: runs go one at a time, so one endless
    /// run (a crafted file, a store that hangs) would stop every ingest.
    deadline: std::time::Duration,
    /// One pipeline run at a time on this server, like the host lock of a
    /// local sync: two runs over one mirror would read the same bytes twice.
    running: tokio::sync::Mutex<()>,
}

impl Ingester {
    /// Where the mirrors are.
    pub(crate) fn spool(&self) -> &Path {
        &self.spool
    }

    /// Holds off every ingest run while the mirrors are purged.
    pub(crate) async fn pause_runs(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.running.lock().await
    }

    pub fn new(spool: PathBuf, max_upload_bytes: usize, deadline: std::time::Duration) -> Ingester {
        Ingester {
            spool,
            max_upload_bytes,
            deadline,
            running: tokio::sync::Mutex::new(()),
        }
    }
}

/// Query of `POST /v1/ingest`. The body is the file's bytes, as the client
/// wrote them.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    /// The host the file comes from, as it would record itself.
    pub host: String,
    /// The client (adapter) whose file this is, e.g. `claude-code`.
    pub client: String,
    /// The client's session directory on that host.
    pub root: String,
    /// The file's path relative to `root` (`/`-separated). Absent: only run
    /// the ingest of what was sent before.
    pub path: Option<String>,
    /// Ingest now (default true). Senders of many files pass false on all
    /// but the last.
    pub sync: Option<bool>,
    /// The body is what follows the first `append_at` bytes of the file
    /// the server holds at `path`; refused with 409 unless the server's
    /// copy is exactly that long and its SHA-256 is `prefix_sha256`.
    pub append_at: Option<u64>,
    /// SHA-256 (hex) of the first `append_at` bytes, as the sender has them.
    pub prefix_sha256: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IngestAnswer {
    /// The file stored, when one was sent.
    pub stored: Option<StoredFile>,
    /// The ingest run, as `pond sync --json` reports it.
    pub sync: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredFile {
    pub path: String,
    pub bytes: u64,
}

/// Takes the whole request so the scope is checked before anything the
/// caller sent is read: a read token learns nothing from how its query or
/// body would have been parsed.
pub(crate) async fn handle(
    State(state): State<Arc<AppState>>,
    axum::Extension(grant): axum::Extension<Grant>,
    request: Request,
) -> Response {
    match ingest(&state, &grant, request).await {
        Ok(answer) => answer,
        Err(Refusal(status, message)) => error(status, message),
    }
}

/// An ingest as its steps: admit the request, keep the file in this host's
/// mirror, then sync the mirror. Each step answers the caller itself when
/// it refuses.
async fn ingest(
    state: &Arc<AppState>,
    grant: &Grant,
    request: Request,
) -> Result<Response, Refusal> {
    let (q, adapter) = admit(grant, &request)?;
    let body = request.into_body();
    let host = q.host.trim();
    let ingester = &state.ingest;
    let mirror = ingester.spool.join(mirror_key(host, &q.client, &q.root));
    let files = mirror.join("files");
    let origin = spool::Origin {
        host: host.to_string(),
        client: q.client.clone(),
        root: q.root.clone(),
    };
    spool::prepare_mirror(&ingester.spool, &mirror, &origin).map_err(|e| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot prepare the mirror of this host's files: {e}"),
        )
    })?;
    let here = Mirror {
        adapter: adapter.clone(),
        host,
        files: &files,
        dir: &mirror,
    };
    let stored = match &q.path {
        Some(path) => Some(keep_upload(state, grant, &here, &q, path, body).await?),
        None => None,
    };
    let sync = if q.sync.unwrap_or(true) {
        Some(sync_mirror(state, grant, adapter, host, &q.root, &files, &mirror).await?)
    } else {
        None
    };
    Ok((StatusCode::OK, Json(IngestAnswer { stored, sync })).into_response())
}

/// The checks before anything is written: the token's scope and host
/// limit, the body's type, the query, and the client named.
fn admit(grant: &Grant, request: &Request) -> Result<(IngestQuery, Arc<dyn Adapter>), Refusal> {
    if !grant.permits(Scope::Ingest) {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has the read scope; ingest needs a token with the ingest scope",
                grant.name
            ),
        ));
    }
    if !is_body_type(request.headers()) {
        return Err(Refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the file as `Content-Type: {BODY_TYPE}`, as `pond sync --to` does"),
        ));
    }
    let Query(q) = Query::<IngestQuery>::try_from_uri(request.uri())
        .map_err(|rejection| Refusal(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let host = q.host.trim();
    if host.is_empty() || q.root.trim().is_empty() {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "host and root must not be empty".into(),
        ));
    }
    if let Some(prefix) = &grant.limits.host_prefix
        && !host.starts_with(prefix.as_str())
    {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            format!("token `{}` may not ingest for host `{host}`", grant.name),
        ));
    }
    let Some(adapter) = crate::registry::by_name(&q.client) else {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown client `{}`; known: {}",
                q.client,
                crate::registry::names().join(", ")
            ),
        ));
    };
    Ok((q, Arc::from(adapter)))
}

/// Where a host's files are kept on the server, and whose they are.
struct Mirror<'a> {
    adapter: Arc<dyn Adapter>,
    host: &'a str,
    files: &'a Path,
    dir: &'a Path,
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Receives the body as the file at `path` (whole, or what follows the
/// prefix the server holds), checks the sessions it would change, and only
/// then puts it in place.
async fn keep_upload(
    state: &AppState,
    grant: &Grant,
    mirror: &Mirror<'_>,
    q: &IngestQuery,
    path: &str,
    body: axum::body::Body,
) -> Result<StoredFile, Refusal> {
    let Some(rel) = crate::paths::safe_relative(path) else {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("`{path}` is not a plain relative path"),
        ));
    };
    let target = mirror.files.join(&rel);
    let upload = receive(&target, body, state.ingest.max_upload_bytes).await?;
    let upload = match (q.append_at, &q.prefix_sha256) {
        (None, None) => upload,
        (Some(at), Some(sha)) => after_prefix(&target, at, sha, upload).await?,
        _ => {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                "append_at and prefix_sha256 go together".into(),
            ));
        }
    };
    check_sessions(state, grant, mirror, &upload, &rel).await?;
    let bytes = upload.bytes;
    upload.keep_as(&target).await.map_err(|e| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store the upload: {e}"),
        )
    })?;
    Ok(StoredFile {
        path: path.to_string(),
        bytes,
    })
}

/// Refuses an upload that would store an erased session again (rule 44) or,
/// for a token with a host limit, change a session the archive holds for a
/// host outside it.
async fn check_sessions(
    state: &AppState,
    grant: &Grant,
    mirror: &Mirror<'_>,
    upload: &Upload,
    rel: &Path,
) -> Result<(), Refusal> {
    let store = state.shared.store.or_empty().await.map_err(internal)?;
    let erased = store.erased_sessions().await.map_err(internal)?;
    let prefix = grant.limits.host_prefix.as_deref();
    if prefix.is_none() && erased.is_empty() {
        return Ok(());
    }
    let sessions =
        upload_sessions(mirror.adapter.clone(), mirror.host, upload, rel, mirror.dir).await?;
    if let Some(gone) = sessions.iter().find(|s| erased.contains(*s)) {
        return Err(Refusal(
            StatusCode::GONE,
            format!(
                "session `{gone}` was erased from this archive (`pond erase`) and is not stored again; `pond erase --forget-tombstone {gone}` lifts that"
            ),
        ));
    }
    let Some(prefix) = prefix else {
        return Ok(());
    };
    match foreign_session(store, &sessions, prefix).await {
        Ok(None) => Ok(()),
        Ok(Some(session)) => Err(Refusal(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` may not change session `{session}`: the archive holds it for a host outside the token's limit",
                grant.name
            ),
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot look up the sessions of an upload");
            Err(Refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot look up the sessions of this file in the store".into(),
            ))
        }
    }
}

/// Syncs the host's mirror, one ingest at a time, and answers its report.
async fn sync_mirror(
    state: &Arc<AppState>,
    grant: &Grant,
    adapter: Arc<dyn Adapter>,
    host: &str,
    root: &str,
    files: &Path,
    mirror: &Path,
) -> Result<serde_json::Value, Refusal> {
    let ingester = &state.ingest;
    let _one_at_a_time = ingester.running.lock().await;
    // The pipeline is written for a command's own thread (its progress
    // callback and cursors are not Send); it runs on a blocking thread
    // of its own, driving its I/O on this runtime.
    let runtime = tokio::runtime::Handle::current();
    let run = IngestRun {
        state: state.clone(),
        adapter,
        host: host.to_string(),
        root: root.to_string(),
        files: files.to_path_buf(),
        mirror: mirror.to_path_buf(),
        host_limit: grant.limits.host_prefix.clone(),
    };
    let deadline = ingester.deadline;
    let ran = tokio::task::spawn_blocking(move || {
        let report = runtime.block_on(run_within(deadline, &run));
        // Rule 44: what the pipeline wrote into the mirror is owner-only.
        spool::lock_down(&run.mirror);
        report
    })
    .await;
    let report = ran.map_err(|e| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ingest stopped: {e}"),
        )
    })?;
    serde_json::to_value(&report).map_err(internal)
}

/// `application/octet-stream`, parameters allowed.
fn is_body_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(BODY_TYPE))
}

/// One directory per (host, client, root): a digest, so no name sent by a
/// client becomes a path on the server.
fn mirror_key(host: &str, client: &str, root: &str) -> String {
    let digest = pond_adapters::digest::sha256_hex(format!("{host}\0{client}\0{root}").as_bytes());
    digest[..32].to_string()
}

/// The sessions the upload would add to or change, read as the pipeline
/// will read them: checked against the erased sessions (rule 44), and for
/// a token with a host limit against the sessions the store holds for
/// hosts outside it (the pipeline moves a session to the host that last
/// sent it, so without this a token limited to `ci-` hosts could write
/// into, and take over, any session whose id it knows).
async fn upload_sessions(
    adapter: Arc<dyn Adapter>,
    host: &str,
    upload: &Upload,
    rel: &Path,
    mirror: &Path,
) -> Result<BTreeSet<String>, Refusal> {
    let scratch = Scratch(mirror.join(format!("check-{}", unique_suffix())));
    let (tmp, rel, files) = (upload.tmp.clone(), rel.to_path_buf(), mirror.join("files"));
    let host = host.to_string();
    let unreadable = |e: String| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the upload: {e}"),
        )
    };
    tokio::task::spawn_blocking(move || {
        let found = sessions_in(adapter.as_ref(), &host, &tmp, &rel, &files, &scratch.0);
        drop(scratch);
        found
    })
    .await
    .map_err(|e| unreadable(e.to_string()))?
    .map_err(|e| unreadable(e.to_string()))
}

/// A directory removed with everything in it when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The sessions a file speaks of once it is at `rel` in the mirror. The
/// adapter finds it in a scratch root holding only it (and its database
/// companion) at the same relative path, so it is found, typed and named as
/// the pipeline will find, type and name it, without walking the mirror.
fn sessions_in(
    adapter: &dyn Adapter,
    host: &str,
    upload: &Path,
    rel: &Path,
    files: &Path,
    scratch: &Path,
) -> std::io::Result<BTreeSet<String>> {
    spool::private_dir(scratch)?;
    place(upload, &scratch.join(rel))?;
    // A database's recent writes live in its `-wal`, sent as a file of its
    // own: whichever of the two arrives is read with the other as stored.
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let companion = match name.strip_suffix("-wal") {
        Some(main) => rel.with_file_name(main),
        None => rel.with_file_name(format!("{name}-wal")),
    };
    if files.join(&companion).is_file() {
        place(&files.join(&companion), &scratch.join(&companion))?;
    }
    let mut sessions = BTreeSet::new();
    for file in adapter.discover(scratch).files {
        // The pipeline stores nothing of a database it cannot read, so a
        // file that cannot be read names no session to check.
        if let Ok(named) = crate::sync::sessions_in(adapter, host, &file) {
            sessions.extend(named);
        }
    }
    Ok(sessions)
}

/// A link where the file system allows one (the scratch root is on the
/// mirror's file system), else a copy.
fn place(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        spool::private_dir(dir)?;
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => std::fs::copy(from, to).map(|_| ()),
    }
}

/// The first of `sessions` the store holds for a host not starting with
/// `prefix`.
async fn foreign_session(
    store: &Store,
    sessions: &BTreeSet<String>,
    prefix: &str,
) -> Result<Option<String>, StoreError> {
    let ids: Vec<&str> = sessions.iter().map(String::as_str).collect();
    // Bounded, so a file naming many sessions does not make one huge filter.
    for chunk in ids.chunks(500) {
        let batches = store
            .scan(
                TableKind::Sessions,
                Some(&sql_in("id", chunk.iter().copied())),
                Some(&["id", "host"]),
            )
            .await?;
        for batch in &batches {
            let columns = crate::store::tables::schema::Columns::new(batch);
            for (id, host) in columns.str("id")?.iter().zip(columns.str("host")?.iter()) {
                if let (Some(id), Some(host)) = (id, host)
                    && !host.starts_with(prefix)
                {
                    return Ok(Some(id.to_string()));
                }
            }
        }
    }
    Ok(None)
}

/// One ingest run's inputs, owned, so they can move to the blocking thread
/// the pipeline runs on and be lent to each step from there.
struct IngestRun {
    state: Arc<AppState>,
    adapter: Arc<dyn Adapter>,
    host: String,
    root: String,
    files: PathBuf,
    mirror: PathBuf,
    host_limit: Option<String>,
}

/// [`run_pipeline`], stopped at `deadline`. Dropping the run at an await is
/// what a killed sync is (rule 12): what it committed stays, its cursors
/// were not saved, and the next run reads the rest again.
async fn run_within(deadline: std::time::Duration, run: &IngestRun) -> SyncReport {
    match tokio::time::timeout(deadline, run_pipeline(run)).await {
        Ok(report) => report,
        Err(_) => {
            let mut report = new_report(run);
            report.finish(Some(format!(
                "the ingest ran past its deadline of {} (--ingest-deadline) and was stopped; what it committed is kept, and sending again finishes it",
                humantime::format_duration(deadline)
            )));
            report
        }
    }
}

/// The report of one ingest run, before it ran.
fn new_report(run: &IngestRun) -> SyncReport {
    SyncReport::new(
        &run.state.shared.store.location().display,
        &run.host,
        vec![run.adapter.name().to_string()],
        false,
    )
}

/// The same pipeline `pond sync` runs, over the mirror, as the sending host.
async fn run_pipeline(run: &IngestRun) -> SyncReport {
    let IngestRun {
        state,
        adapter,
        host,
        root,
        files,
        mirror,
        host_limit,
    } = run;
    let mut report = new_report(run);
    // The first ingest into a store nobody synced yet creates it.
    let store = match state.shared.store.for_writing().await {
        Ok(store) => store,
        Err(e) => {
            report.finish(Some(format!("{e:#}")));
            return report;
        }
    };
    // Rule 37: an upload is ingested by the sync pipeline itself, as the sending
    // host and with its root, so the archive equals a direct sync's.
    let opts = SyncOptions {
        adapters: vec![adapter.clone()],
        path: Some(files.to_path_buf()),
        host: host.to_string(),
        dry_run: false,
        state_dir: mirror.join("state"),
        batch_bytes: DEFAULT_BATCH_BYTES,
        embedder: state.shared.embedder.clone(),
        origin_root: Some(root.to_string()),
        redact: state.redact_at_ingest,
        host_locked: false,
        host_limit: host_limit.clone(),
    };
    let result = if files.is_dir() {
        crate::sync::run(store, &opts, &mut report, &|_| {})
            .await
            .map_err(|e| format!("{e:#}"))
    } else {
        Ok(())
    };
    crate::round::finish(Some(store), &mut report, result, true).await;
    crate::round::observe(&report, &state.shared.prices);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_named_by_digest() {
        let k = mirror_key("h", "claude-code", "/home/u/.claude/projects");
        assert_eq!(k.len(), 32);
        assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(
            k,
            mirror_key("h2", "claude-code", "/home/u/.claude/projects")
        );
    }
}
