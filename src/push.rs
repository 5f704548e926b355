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

use crate::adapters::{Adapter, Layout};

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
    let mut pushed: Pushed = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut report = PushReport {
        server: opts.server.to_string(),
        host: opts.host.clone(),
        ..PushReport::default()
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
            let root = std::path::absolute(&root).unwrap_or(root);
            let root_str = root.display().to_string();
            let discovery = adapter.discover(&root);
            report
                .problems
                .extend(discovery.problems.iter().map(ToString::to_string));
            report.files_scanned += discovery.files.len() as u64;
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
                    let key = format!("{}\0{root_str}\0{rel_path}", adapter.name());
                    let Ok(meta) = std::fs::metadata(&path) else {
                        report
                            .problems
                            .push(format!("{}: cannot stat", path.display()));
                        continue;
                    };
                    let stamp = (meta.len(), mtime_ns(&meta));
                    if pushed.files.get(&key) == Some(&stamp) {
                        continue;
                    }
                    let bytes = match std::fs::read(&path) {
                        Ok(b) => b,
                        Err(e) => {
                            report.problems.push(format!("{}: {e}", path.display()));
                            continue;
                        }
                    };
                    let mut url = endpoint.clone();
                    url.query_pairs_mut()
                        .append_pair("host", &opts.host)
                        .append_pair("client", adapter.name())
                        .append_pair("root", &root_str)
                        .append_pair("path", &rel_path)
                        .append_pair("sync", "false");
                    let digest = pond_adapters::digest::sha256_hex(&bytes);
                    // A file that only grew goes as its new bytes, if the
                    // server still holds what it was sent last.
                    let grown_from = pushed
                        .files
                        .get(&key)
                        .map(|(size, _)| *size)
                        .filter(|size| append_only && *size > 0 && *size < bytes.len() as u64)
                        .filter(|size| {
                            pushed.sent.get(&key).is_some_and(|sha| {
                                *sha == pond_adapters::digest::sha256_hex(&bytes[..*size as usize])
                            })
                        });
                    let mut sent_whole = true;
                    if let Some(size) = grown_from {
                        let mut tail_url = url.clone();
                        tail_url
                            .query_pairs_mut()
                            .append_pair("append_at", &size.to_string())
                            .append_pair(
                                "prefix_sha256",
                                pushed.sent.get(&key).map_or("", String::as_str),
                            );
                        let tail = bytes[size as usize..].to_vec();
                        let tail_len = tail.len() as u64;
                        match send(&client, tail_url, opts.token.as_deref(), tail).await {
                            Ok(_) => {
                                report.bytes_sent += tail_len;
                                report.files_appended += 1;
                                sent_whole = false;
                            }
                            Err(SendError::PrefixMismatch) => {}
                            Err(source) => return Err(PushError::Send { path, source }),
                        }
                    }
                    if sent_whole {
                        report.bytes_sent += bytes.len() as u64;
                        send(&client, url, opts.token.as_deref(), bytes)
                            .await
                            .map_err(|source| PushError::Send {
                                path: path.clone(),
                                source,
                            })?;
                    }
                    report.files_sent += 1;
                    sent_here.push((key, stamp, digest));
                }
            }
            if sent_here.is_empty() {
                continue;
            }
            progress(&format!(
                "{}: sent {} file(s) from {root_str}; ingesting",
                adapter.name(),
                sent_here.len()
            ));
            let mut url = endpoint.clone();
            url.query_pairs_mut()
                .append_pair("host", &opts.host)
                .append_pair("client", adapter.name())
                .append_pair("root", &root_str);
            let answer = send(&client, url, opts.token.as_deref(), Vec::new())
                .await
                .map_err(PushError::Ingest)?;
            if let Some(run) = answer.get("sync") {
                let count = |k: &str| run.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
                report.messages_inserted += count("messages_inserted");
                report.sessions_inserted += count("sessions_inserted");
                let failed = run.get("outcome").and_then(|o| o.as_str()) == Some("failed");
                report.runs.push(run.clone());
                if failed {
                    // Keep the stamps: the files go again next time.
                    continue;
                }
            }
            for (key, stamp, digest) in sent_here {
                pushed.files.insert(key.clone(), stamp);
                pushed.sent.insert(key, digest);
            }
            save(&record_path, &pushed)?;
        }
    }
    Ok(report)
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
