//! How far each source file has been read, kept on this host.
//!
//! A cursor lets the next sync skip unchanged files on a `stat` and resume an
//! appended file at its byte offset. It is only a cache: if it is lost, the
//! pipeline rebuilds it from the raw records in the store, and every write is
//! keyed, so a stale cursor can cost time but never duplicate data.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bytes hashed at each end of the consumed region to detect a rewrite.
pub const FINGERPRINT_WINDOW: u64 = 4096;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCursor {
    pub session_id: String,
    pub generation: u32,
    /// Bytes of the file already stored.
    pub consumed: u64,
    /// Line number the next unread byte is on.
    pub next_line: u64,
    pub size: u64,
    pub mtime_ns: i128,
    /// SHA-256 of the first and last [`FINGERPRINT_WINDOW`] bytes of the consumed region.
    pub head_sha: String,
    pub tail_sha: String,
    /// SHA-256 of the whole consumed region, for documents rewritten whole:
    /// they are read whole anyway, and a same-size edit in the middle (a
    /// status flip, a timestamp) escapes the head and tail windows. Absent
    /// in cursors written before it existed, which fall back to the windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Cursors of one store on this host, by file id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cursors {
    #[serde(skip)]
    path: PathBuf,
    pub files: BTreeMap<String, FileCursor>,
}

impl Cursors {
    pub fn load(state_dir: &Path, store_key: &str) -> Cursors {
        let path = state_dir.join(format!("cursors-{store_key}.json"));
        let mut cursors: Cursors = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        cursors.path = path;
        cursors
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn save(&self) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::paths::write_atomic(&self.path, &json)
    }
}

pub use pond_adapters::digest::sha256_hex;

/// Reads `len` bytes at `offset`.
pub fn read_at(file: &mut std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Fingerprints of the region `[0, consumed)` of `file`.
pub fn fingerprint(file: &mut std::fs::File, consumed: u64) -> std::io::Result<(String, String)> {
    let window = consumed.min(FINGERPRINT_WINDOW);
    let head = read_at(file, 0, window)?;
    let tail = read_at(file, consumed - window, window)?;
    Ok((sha256_hex(&head), sha256_hex(&tail)))
}

/// Fingerprints of `[0, consumed)` computed from bytes already in memory
/// (`buf` holds the file from `buf_offset`), falling back to the file when the
/// window reaches before `buf`.
pub fn fingerprint_after_read(
    file: &mut std::fs::File,
    buf: &[u8],
    buf_offset: u64,
    consumed: u64,
) -> std::io::Result<(String, String)> {
    let window = consumed.min(FINGERPRINT_WINDOW);
    let head = if buf_offset == 0 && buf.len() as u64 >= window {
        sha256_hex(&buf[..window as usize])
    } else {
        sha256_hex(&read_at(file, 0, window)?)
    };
    let tail_start = consumed - window;
    let tail = if tail_start >= buf_offset && consumed - buf_offset <= buf.len() as u64 {
        sha256_hex(&buf[(tail_start - buf_offset) as usize..(consumed - buf_offset) as usize])
    } else {
        sha256_hex(&read_at(file, tail_start, window)?)
    };
    Ok((head, tail))
}

pub fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_default()
}
