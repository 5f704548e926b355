//! Receiving an uploaded file: under a temporary name of its own, with a
//! stall limit and a size limit, and (for a file that only grew) joined to
//! the prefix the server already holds. Split from the ingest handler,
//! which decides what to do with a file once it is here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::StatusCode;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

/// Why an upload is turned away: the status and the reason the caller reads.
pub(super) struct Refusal(pub(super) StatusCode, pub(super) String);

/// A name no other upload or check, in this process or another, is using:
/// the pid tells processes apart, the counter requests within one.
pub(super) fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A received file under a temporary name of its own, removed when dropped
/// unless kept: two uploads of one path never write, rename or delete each
/// other's file, and a refused or cut-off one leaves nothing behind.
pub(super) struct Upload {
    pub(super) tmp: PathBuf,
    pub(super) bytes: u64,
    kept: bool,
}

impl Upload {
    /// Puts the file in place in one rename, so readers see the old copy or
    /// the new one, never a part.
    pub(super) async fn keep_as(mut self, target: &Path) -> std::io::Result<()> {
        tokio::fs::rename(&self.tmp, target).await?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// How long an upload may send nothing before it is refused.
const UPLOAD_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Streams the body to a temporary file beside `target`.
pub(super) async fn receive(target: &Path, body: Body, max: usize) -> Result<Upload, Refusal> {
    let fail = |e: std::io::Error| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store the upload: {e}"),
        )
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    // Rule 44: the pushed bytes are the team's sessions; no other user of
    // the server's machine reads them.
    crate::spool::private_dir(dir).map_err(fail)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Rule 37: each upload gets a temporary file of its own, so two uploads of
    // one path never touch each other's bytes.
    let mut upload = Upload {
        tmp: dir.join(format!(".{name}.upload-{}", unique_suffix())),
        bytes: 0,
        kept: false,
    };
    let mut file = tokio::fs::File::from_std(private_file(&upload.tmp).map_err(fail)?);
    let mut stream = body.into_data_stream();
    loop {
        // A client that stops sending mid-body would otherwise hold the
        // connection, the temporary file and the ingest slot for ever.
        let next = match tokio::time::timeout(UPLOAD_STALL, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                return Err(Refusal(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the upload stalled: nothing arrived for {}s",
                        UPLOAD_STALL.as_secs()
                    ),
                ));
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk
            .map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("upload interrupted: {e}")))?;
        upload.bytes += chunk.len() as u64;
        if upload.bytes > max as u64 {
            return Err(Refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("file larger than this server accepts ({max} bytes; --max-upload)"),
            ));
        }
        file.write_all(&chunk).await.map_err(fail)?;
    }
    file.sync_all().await.map_err(fail)?;
    Ok(upload)
}

/// The file the server holds at `target` with `tail` appended, as a new
/// upload (so it replaces the old copy in one rename, like any upload),
/// provided the server's copy is the `at`-byte prefix the sender extended.
/// A sender whose prefix the server does not hold gets 409 and sends the
/// whole file.
pub(super) async fn after_prefix(
    target: &Path,
    at: u64,
    prefix_sha256: &str,
    tail: Upload,
) -> Result<Upload, Refusal> {
    let fail = |e: std::io::Error| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store the upload: {e}"),
        )
    };
    let differs = || {
        Refusal(
            StatusCode::CONFLICT,
            "the server's copy of this file is not the prefix the sender extended; send the whole file"
                .to_string(),
        )
    };
    let dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();
    let target = target.to_path_buf();
    let prefix_sha256 = prefix_sha256.to_ascii_lowercase();
    // Streamed, never whole in memory: the held copy may be large.
    let joined = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Upload>> {
        use sha2::Digest;
        use std::io::{Read, Seek, Write};
        let mut held = match std::fs::File::open(&target) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if held.metadata()?.len() != at {
            return Ok(None);
        }
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = held.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != prefix_sha256 {
            return Ok(None);
        }
        let mut whole = Upload {
            tmp: dir.join(format!(".appended.upload-{}", unique_suffix())),
            bytes: 0,
            kept: false,
        };
        let mut out = private_file(&whole.tmp)?;
        // The same handle: a concurrent upload may rename a new copy into
        // place meanwhile, and this one was checked.
        held.seek(std::io::SeekFrom::Start(0))?;
        let head = std::io::copy(&mut (&mut held).take(at), &mut out)?;
        let appended = std::io::copy(&mut std::fs::File::open(&tail.tmp)?, &mut out)?;
        out.flush()?;
        out.sync_all()?;
        whole.bytes = head + appended;
        Ok(Some(whole))
    })
    .await
    .map_err(|e| fail(std::io::Error::other(e)))?
    .map_err(fail)?;
    joined.ok_or_else(differs)
}

/// A new file only its owner may read (rule 44).
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
