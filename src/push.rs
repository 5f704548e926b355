//! `pond sync --to URL`: send this host's session files to a `pond serve`
//! that ingests them, for hosts that cannot reach the bucket themselves.
//!
//! The host finds files exactly as `pond sync` does and sends the ones whose
//! size or modification time changed since the last successful push; the
//! server runs the sync pipeline over its copy as this host, so the archive
//! ends up the same as after a direct sync. Sending a file again is
//! harmless: the server's cursors and keyed inserts make it a no-op.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::adapter::{Adapter, Layout};

pub struct PushOptions {
    /// The server's base URL, e.g. `https://pond.internal:8443`.
    pub server: url::Url,
    pub token: Option<String>,
    pub host: String,
    pub adapters: Vec<Box<dyn Adapter>>,
    pub path: Option<PathBuf>,
    pub state_dir: PathBuf,
}

/// What one push did; `runs` are the server's sync reports, one per root.
#[derive(Debug, Default, Serialize)]
pub struct PushReport {
    pub server: String,
    pub host: String,
    pub files_scanned: u64,
    pub files_sent: u64,
    /// Of those, files sent as what they grew by since the last push.
    pub files_appended: u64,
    pub bytes_sent: u64,
    pub messages_inserted: u64,
    pub sessions_inserted: u64,
    pub runs: Vec<serde_json::Value>,
    pub problems: Vec<String>,
}

/// Size and modification time of each file as last pushed, per server and
/// host name.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pushed {
    files: BTreeMap<String, (u64, i128)>,
    /// SHA-256 of each file's content as the server last received it: a
    /// file that only grew since is sent as its new bytes alone.
    #[serde(default)]
    sent: BTreeMap<String, String>,
}

/// The server does not hold the prefix an append extends (409).
/// Why a push stopped.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("bad server URL {url}")]
    BadUrl {
        url: String,
        source: url::ParseError,
    },
    #[error("cannot make an HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("sending {}", path.display())]
    Send { path: PathBuf, source: SendError },
    #[error("asking the server to ingest")]
    Ingest(#[source] SendError),
    #[error("cannot save {}", path.display())]
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why one request to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot reach {url}")]
    Unreachable { url: String, source: reqwest::Error },
    /// The server's copy differs from what this host last sent: the file
    /// goes again whole.
    #[error("the server's copy differs from what this host last sent")]
    PrefixMismatch,
    #[error("{url} answered {status}: {reason}")]
    Refused {
        url: String,
        status: reqwest::StatusCode,
        reason: String,
    },
    #[error("{url} answered with invalid JSON")]
    InvalidJson {
        url: String,
        source: serde_json::Error,
    },
}

pub async fn push(opts: &PushOptions, progress: &dyn Fn(&str)) -> Result<PushReport, PushError> {
    let endpoint = opts
        .server
        .join("v1/ingest")
        .map_err(|source| PushError::BadUrl {
            url: opts.server.to_string(),
            source,
        })?;
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(PushError::Client)?;
    let record_path = opts.state_dir.join(format!(
        "pushed-{}.json",
        &pond_adapters::digest::sha256_hex(format!("{}\0{}", opts.server, opts.host).as_bytes())
            [..16]
    ));
    let pushed: Pushed = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut pushing = Pushing {
        opts,
        client,
        endpoint,
        pushed,
        record_path,
        report: PushReport {
            server: opts.server.to_string(),
            host: opts.host.clone(),
            ..PushReport::default()
        },
    };
    for adapter in &opts.adapters {
        let roots = match &opts.path {
            Some(p) => vec![p.clone()],
            None => adapter.roots(),
        };
        for root in roots {
            if !root.is_dir() {
                if opts.path.is_some() {
                    return Err(PushError::NotADirectory(root));
                }
                continue;
            }
            pushing.root(adapter.as_ref(), root, progress).await?;
        }
    }
    Ok(pushing.report)
}

/// One push in progress: where it sends, what was sent before, and what it
/// has done so far.
struct Pushing<'a> {
    opts: &'a PushOptions,
    client: reqwest::Client,
    endpoint: url::Url,
    pushed: Pushed,
    record_path: PathBuf,
    report: PushReport,
}

/// A file sent: its record key, its size and time, and the SHA-256 of what
/// the server now holds.
type Sent = (String, (u64, i128), String);

impl Pushing<'_> {
    /// Sends what changed under one root of one client, then asks the
    /// server to ingest it; the record of what was sent is kept only once
    /// the server's run did not fail.
    async fn root(
        &mut self,
        adapter: &dyn Adapter,
        root: PathBuf,
        progress: &dyn Fn(&str),
    ) -> Result<(), PushError> {
        let root = std::path::absolute(&root).unwrap_or(root);
        let root_str = root.display().to_string();
        let discovery = adapter.discover(&root);
        self.report
            .problems
            .extend(discovery.problems.iter().map(ToString::to_string));
        self.report.files_scanned += discovery.files.len() as u64;
        let mut sent_here = Vec::new();
        for file in &discovery.files {
            let mut paths = vec![(file.path.clone(), file.rel_path.clone())];
            if file.layout == Layout::Database {
                // A database's recent writes live in its write-ahead log.
                let wal = PathBuf::from(format!("{}-wal", file.path.display()));
                if wal.is_file() {
                    paths.push((wal, format!("{}-wal", file.rel_path)));
                }
            }
            let append_only = matches!(file.layout, Layout::Jsonl | Layout::Text);
            for (path, rel_path) in paths {
                let target = (adapter.name(), root_str.as_str(), rel_path.as_str());
                sent_here.extend(self.file(target, path, append_only).await?);
            }
        }
        if sent_here.is_empty() {
            return Ok(());
        }
        progress(&format!(
            "{}: sent {} file(s) from {root_str}; ingesting",
            adapter.name(),
            sent_here.len()
        ));
        if self.ingest(adapter.name(), &root_str).await? {
            for (key, stamp, digest) in sent_here {
                self.pushed.files.insert(key.clone(), stamp);
                self.pushed.sent.insert(key, digest);
            }
            save(&self.record_path, &self.pushed)?;
        }
        Ok(())
    }

    /// Sends one file unless it is as last sent: what it grew by when the
    /// server holds the rest, else whole. `target` is (client, root, path).
    async fn file(
        &mut self,
        (client, root, rel_path): (&str, &str, &str),
        path: PathBuf,
        append_only: bool,
    ) -> Result<Option<Sent>, PushError> {
        let key = format!("{client}\0{root}\0{rel_path}");
        let Ok(meta) = std::fs::metadata(&path) else {
            self.report
                .problems
                .push(format!("{}: cannot stat", path.display()));
            return Ok(None);
        };
        let stamp = (meta.len(), mtime_ns(&meta));
        if self.pushed.files.get(&key) == Some(&stamp) {
            return Ok(None);
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                self.report
                    .problems
                    .push(format!("{}: {e}", path.display()));
                return Ok(None);
            }
        };
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("host", &self.opts.host)
            .append_pair("client", client)
            .append_pair("root", root)
            .append_pair("path", rel_path)
            .append_pair("sync", "false");
        let digest = pond_adapters::digest::sha256_hex(&bytes);
        let token = self.opts.token.as_deref();
        if !self
            .sent_tail(&key, &url, &bytes, append_only, &path)
            .await?
        {
            self.report.bytes_sent += bytes.len() as u64;
            send(&self.client, url, token, bytes)
                .await
                .map_err(|source| PushError::Send {
                    path: path.clone(),
                    source,
                })?;
        }
        self.report.files_sent += 1;
        Ok(Some((key, stamp, digest)))
    }

    /// Sends only what an append-only file grew by, if the server still
    /// holds what it was sent last; `false` when the file must go whole.
    async fn sent_tail(
        &mut self,
        key: &str,
        url: &url::Url,
        bytes: &[u8],
        append_only: bool,
        path: &Path,
    ) -> Result<bool, PushError> {
        let last_sha = self.pushed.sent.get(key);
        let grown_from = self
            .pushed
            .files
            .get(key)
            .map(|(size, _)| *size)
            .filter(|size| append_only && *size > 0 && *size < bytes.len() as u64)
            .filter(|size| {
                last_sha.is_some_and(|sha| {
                    *sha == pond_adapters::digest::sha256_hex(&bytes[..*size as usize])
                })
            });
        let Some(size) = grown_from else {
            return Ok(false);
        };
        let mut tail_url = url.clone();
        tail_url
            .query_pairs_mut()
            .append_pair("append_at", &size.to_string())
            .append_pair("prefix_sha256", last_sha.map_or("", String::as_str));
        let tail = bytes[size as usize..].to_vec();
        let tail_len = tail.len() as u64;
        match send(&self.client, tail_url, self.opts.token.as_deref(), tail).await {
            Ok(_) => {
                self.report.bytes_sent += tail_len;
                self.report.files_appended += 1;
                Ok(true)
            }
            Err(SendError::PrefixMismatch) => Ok(false),
            Err(source) => Err(PushError::Send {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Asks the server to ingest what was sent for one root; `false` when
    /// its run failed, so the files go again next time.
    async fn ingest(&mut self, client: &str, root: &str) -> Result<bool, PushError> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("host", &self.opts.host)
            .append_pair("client", client)
            .append_pair("root", root);
        let answer = send(&self.client, url, self.opts.token.as_deref(), Vec::new())
            .await
            .map_err(PushError::Ingest)?;
        let Some(run) = answer.get("sync") else {
            return Ok(true);
        };
        let count = |k: &str| run.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        self.report.messages_inserted += count("messages_inserted");
        self.report.sessions_inserted += count("sessions_inserted");
        let failed = run.get("outcome").and_then(|o| o.as_str()) == Some("failed");
        self.report.runs.push(run.clone());
        Ok(!failed)
    }
}

async fn send(
    client: &reqwest::Client,
    url: url::Url,
    token: Option<&str>,
    body: Vec<u8>,
) -> Result<serde_json::Value, SendError> {
    let shown = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    );
    let mut request = client
        .post(url)
        .header("content-type", "application/octet-stream")
        .body(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request
        .send()
        .await
        .map_err(|source| SendError::Unreachable {
            url: shown.clone(),
            source,
        })?;
    let status = response.status();
    if status == reqwest::StatusCode::CONFLICT {
        return Err(SendError::PrefixMismatch);
    }
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let reason = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or(text);
        return Err(SendError::Refused {
            url: shown,
            status,
            reason,
        });
    }
    serde_json::from_str(&text).map_err(|source| SendError::InvalidJson { url: shown, source })
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_default()
}

fn save(path: &Path, pushed: &Pushed) -> Result<(), PushError> {
    let saved = serde_json::to_vec(pushed)
        .map_err(std::io::Error::other)
        .and_then(|bytes| crate::paths::write_atomic(path, &bytes));
    saved.map_err(|source| PushError::Save {
        path: path.to_path_buf(),
        source,
    })
}
