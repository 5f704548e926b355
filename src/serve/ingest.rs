//! `POST /v1/ingest`: session files from hosts that cannot reach the bucket.
//!
//! The server keeps a mirror of each (host, client, root) it is sent and
//! runs the ordinary sync pipeline over it, recording the sending host and
//! its original root. So a file pushed here gets the same record ids,
//! cursors, idempotency and byte-exact export as if that host had synced it
//! directly, and pushing the same bytes twice stores nothing new.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::{AppState, QueryParams, error};
use crate::access::{Grant, Scope};
use crate::sync::report::SyncReport;
use crate::sync::{DEFAULT_BATCH_BYTES, SyncOptions};

pub(crate) struct Ingester {
    spool: PathBuf,
    max_upload_bytes: usize,
    /// One pipeline run at a time on this server, like the host lock of a
    /// local sync: two runs over one mirror would read the same bytes twice.
    running: tokio::sync::Mutex<()>,
}

impl Ingester {
    pub fn new(spool: PathBuf, max_upload_bytes: usize) -> Ingester {
        Ingester {
            spool,
            max_upload_bytes,
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

pub(crate) async fn handle(
    State(state): State<Arc<AppState>>,
    axum::Extension(grant): axum::Extension<Grant>,
    QueryParams(q): QueryParams<IngestQuery>,
    body: Body,
) -> Response {
    if !grant.permits(Scope::Ingest) {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has the read scope; ingest needs a token with the ingest scope",
                grant.name
            ),
        );
    }
    let host = q.host.trim();
    if host.is_empty() || q.root.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "host and root must not be empty");
    }
    if let Some(prefix) = &grant.limits.host_prefix
        && !host.starts_with(prefix.as_str())
    {
        return error(
            StatusCode::FORBIDDEN,
            format!("token `{}` may not ingest for host `{host}`", grant.name),
        );
    }
    let Some(adapter) = crate::adapters::by_name(&q.client) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown client `{}`; known: {}",
                q.client,
                crate::adapters::names().join(", ")
            ),
        );
    };
    let ingester = &state.ingest;
    let mirror = ingester.spool.join(mirror_key(host, &q.client, &q.root));
    let files = mirror.join("files");

    let stored = match &q.path {
        Some(path) => {
            let Some(rel) = safe_relative(path) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("`{path}` is not a plain relative path"),
                );
            };
            match receive(&files.join(rel), body, ingester.max_upload_bytes).await {
                Ok(bytes) => Some(StoredFile {
                    path: path.clone(),
                    bytes,
                }),
                Err(Refusal(status, message)) => return error(status, message),
            }
        }
        None => None,
    };

    let sync = if q.sync.unwrap_or(true) {
        let _one_at_a_time = ingester.running.lock().await;
        // The pipeline is written for a command's own thread (its progress
        // callback and cursors are not Send); it runs on a blocking thread
        // of its own, driving its I/O on this runtime.
        let runtime = tokio::runtime::Handle::current();
        let (state, host, root) = (state.clone(), host.to_string(), q.root.clone());
        let ran = tokio::task::spawn_blocking(move || {
            runtime.block_on(run_pipeline(&state, adapter, &host, &root, &files, &mirror))
        })
        .await;
        let report = match ran {
            Ok(report) => report,
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("ingest stopped: {e}"),
                );
            }
        };
        match serde_json::to_value(&report) {
            Ok(v) => Some(v),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    } else {
        None
    };
    (StatusCode::OK, Json(IngestAnswer { stored, sync })).into_response()
}

/// One directory per (host, client, root): a digest, so no name sent by a
/// client becomes a path on the server.
fn mirror_key(host: &str, client: &str, root: &str) -> String {
    let digest = pond_adapters::digest::sha256_hex(format!("{host}\0{client}\0{root}").as_bytes());
    digest[..32].to_string()
}

/// `a/b/c.jsonl` and nothing that could leave the mirror: no `..`, no
/// absolute or drive paths, no empty or `.` components.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        let as_path = Path::new(part);
        match as_path.components().collect::<Vec<_>>().as_slice() {
            [Component::Normal(c)] if *c == std::ffi::OsStr::new(part) => out.push(part),
            _ => return None,
        }
    }
    Some(out)
}

struct Refusal(StatusCode, String);

/// Streams the body to `target` through a temporary file, so a cut-off
/// upload never replaces what was there.
async fn receive(target: &Path, body: Body, max: usize) -> Result<u64, Refusal> {
    let fail = |e: std::io::Error| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store the upload: {e}"),
        )
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await.map_err(fail)?;
    let tmp = dir.join(format!(
        ".{}.upload-{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(fail)?;
    let mut written: u64 = 0;
    let mut stream = body.into_data_stream();
    let outcome = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Refusal(StatusCode::BAD_REQUEST, format!("upload interrupted: {e}"))
            })?;
            written += chunk.len() as u64;
            if written > max as u64 {
                return Err(Refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("file larger than this server accepts ({max} bytes; --max-upload)"),
                ));
            }
            file.write_all(&chunk).await.map_err(fail)?;
        }
        file.sync_all().await.map_err(fail)?;
        Ok(())
    }
    .await;
    if let Err(refusal) = outcome {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(refusal);
    }
    tokio::fs::rename(&tmp, target).await.map_err(fail)?;
    Ok(written)
}

/// The same pipeline `pond sync` runs, over the mirror, as the sending host.
async fn run_pipeline(
    state: &AppState,
    adapter: Box<dyn crate::adapters::Adapter>,
    host: &str,
    root: &str,
    files: &Path,
    mirror: &Path,
) -> SyncReport {
    let store = &state.shared.store;
    let client = adapter.name().to_string();
    let opts = SyncOptions {
        adapters: vec![Arc::from(adapter)],
        path: Some(files.to_path_buf()),
        host: host.to_string(),
        dry_run: false,
        state_dir: mirror.join("state"),
        batch_bytes: DEFAULT_BATCH_BYTES,
        embedder: state.shared.embedder.clone(),
        origin_root: Some(root.to_string()),
        redact: state.redact_at_ingest,
        host_locked: false,
    };
    let mut report = SyncReport::new(&store.location().display, host, vec![client], false);
    let result = if files.is_dir() {
        crate::sync::run(store, &opts, &mut report, &|_| {})
            .await
            .map_err(|e| format!("{e:#}"))
    } else {
        Ok(())
    };
    report.commit_retries = store.retries();
    report.commit_conflicts = store.conflicts();
    report.finish(result.err());
    report.shared_record_error = store
        .record_run(&report.run_row())
        .await
        .err()
        .map(|e| e.to_string());
    crate::telemetry::record_sync(&report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        assert_eq!(
            safe_relative("-home-u-p/abc.jsonl"),
            Some(PathBuf::from("-home-u-p/abc.jsonl"))
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "C:\\x",
            "a\0b",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }

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
