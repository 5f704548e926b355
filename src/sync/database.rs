//! Reading a client's database source: the whole database each time it
//! changed, as JSON-line records keyed by their content.
//!
//! A database has no byte offsets that survive the client's next write, so
//! the append/rewrite logic of files does not apply. Each changed database
//! is read whole from a snapshot; a row's record id is its content hash, so
//! rows already stored are skipped by the keyed insert, and a row the client
//! changed is stored as a new version beside the old one.

use std::path::Path;

use super::cursor::{self, FileCursor, sha256_hex};
use super::records::Segment;
use super::report::SyncReport;
use super::translate;
use super::{FileError, FileWork, Planned, Reader};
use crate::adapter::{Adapter, SourceFile};
use crate::model::RawRecord;

/// Size and modification time of a database with its WAL: a client in WAL
/// mode may leave the main file untouched for a long time.
pub(super) fn stamp(path: &Path) -> std::io::Result<(u64, i128)> {
    let main = std::fs::metadata(path)?;
    let (mut size, mut mtime) = (main.len(), cursor::mtime_ns(&main));
    if let Ok(wal) = std::fs::metadata(crate::formats::sqlite::wal_path(path)) {
        size += wal.len();
        mtime = mtime.max(cursor::mtime_ns(&wal));
    }
    Ok((size, mtime))
}

pub(super) fn read(
    reader: &Reader,
    planned: Planned,
    report: &mut SyncReport,
) -> Result<Option<FileWork>, FileError> {
    let (adapter, host, root) = (reader.adapter.as_ref(), &reader.host, &reader.root);
    let path = planned.file.path.clone();
    let (size, mtime_ns) = stamp(&path).map_err(FileError::io(&path, "cannot stat"))?;
    let records = adapter.read_records(&planned.file).map_err(|e| FileError {
        path: e.path,
        detail: e.detail,
    })?;
    let buf = join(&records);
    report.bytes_read += buf.len() as u64;
    let segments = segments(&buf, records.iter().map(|r| r.len() + 1));
    let used = buf.len();
    let scope = super::ids::IdScope::new(adapter, host);
    let mut translation = translate::translate(adapter, &planned.file, &segments, None, || {
        format!("{}-{}", adapter.name(), &planned.file_id[..16])
    });
    scope.apply(&mut translation);
    report.unknown_records += translation.unknown_records;
    let raw = segments
        .iter()
        .zip(&translation.records)
        .map(|(segment, outcome)| record(&planned, host, adapter.name(), root, segment, outcome))
        .collect();
    let reached = FileCursor {
        generation: 0,
        consumed: used as u64,
        next_line: segments.len() as u64 + 1,
        size,
        mtime_ns,
        ..FileCursor::default()
    };
    // Not fresh: rows are keyed by content, and a row may repeat, so they
    // are always merged.
    let mut work = FileWork::translated(&planned, &scope, translation, reached);
    work.raw = raw;
    Ok(Some(work))
}

/// What a database's records translate to, cut into segments exactly as
/// [`read`] cuts them.
pub(super) fn translate_records(
    adapter: &dyn Adapter,
    file: &SourceFile,
    records: &[Vec<u8>],
) -> translate::Translation {
    let buf = join(records);
    let segments = segments(&buf, records.iter().map(|r| r.len() + 1));
    translate::translate(adapter, file, &segments, None, String::new)
}

/// The records one after another, each ended by a newline, so the stored
/// records of a database read as JSON lines.
fn join(records: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum());
    for r in records {
        buf.extend_from_slice(r);
        buf.push(b'\n');
    }
    buf
}

/// One segment per record (a record may span lines: an export's
/// pretty-printed JSON).
fn segments(buf: &[u8], lengths: impl Iterator<Item = usize>) -> Vec<Segment<'_>> {
    let (mut start, mut line) = (0usize, 1u64);
    let mut out = Vec::new();
    for len in lengths {
        let Some(bytes) = buf.get(start..start + len) else {
            break;
        };
        out.push(Segment {
            offset: start as u64,
            line,
            bytes,
        });
        line += memchr::memchr_iter(b'\n', bytes).count() as u64;
        start += len;
    }
    out
}

fn record(
    planned: &Planned,
    host: &str,
    client: &str,
    root: &str,
    segment: &Segment<'_>,
    outcome: &translate::RecordOutcome,
) -> RawRecord {
    let SourceFile { rel_path, .. } = &planned.file;
    RawRecord {
        // Keyed by content, not position: see the module doc.
        id: format!("{}:db:{}", planned.file_id, outcome.sha256),
        file_id: planned.file_id.clone(),
        host: host.to_string(),
        client: client.to_string(),
        root: root.to_string(),
        rel_path: rel_path.clone(),
        session_id: outcome.session_id.clone(),
        generation: 0,
        offset: segment.offset,
        length: segment.bytes.len() as u64,
        line: segment.line,
        sha256: sha256_hex(segment.bytes),
        status: outcome.status,
        bytes: segment.bytes.to_vec(),
    }
}
