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
use super::report::SyncReport;
use super::translate;
use super::{FileError, FileWork, Planned};
use crate::adapters::{Adapter, SourceFile};
use crate::model::RawRecord;

/// Size and modification time of a database with its WAL: a client in WAL
/// mode may leave the main file untouched for a long time.
pub(super) fn stamp(path: &Path) -> std::io::Result<(u64, i128)> {
    let main = std::fs::metadata(path)?;
    let (mut size, mut mtime) = (main.len(), cursor::mtime_ns(&main));
    if let Ok(wal) = std::fs::metadata(crate::adapters::sqlite::wal_path(path)) {
        size += wal.len();
        mtime = mtime.max(cursor::mtime_ns(&wal));
    }
    Ok((size, mtime))
}

pub(super) fn read(
    adapter: &dyn Adapter,
    host: &str,
    root: &str,
    planned: Planned,
    report: &mut SyncReport,
) -> Result<Option<FileWork>, FileError> {
    let path = planned.file.path.clone();
    let (size, mtime_ns) = stamp(&path).map_err(|e| (path.clone(), anyhow::anyhow!("cannot stat: {e}")))?;
    let rows = adapter
        .read_database(&planned.file)
        .map_err(|e| (path.clone(), anyhow::anyhow!(e)))?;
    let mut buf = Vec::new();
    for row in &rows {
        if serde_json::to_writer(&mut buf, row).is_ok() {
            buf.push(b'\n');
        }
    }
    report.bytes_read += buf.len() as u64;
    let (segments, used) = translate::segments(adapter, planned.file.layout, &buf, 0, 1);
    let translation = translate::translate(
        adapter,
        &planned.file,
        &segments,
        None,
        || format!("{}-{}", adapter.name(), &planned.file_id[..16]),
    );
    report.unknown_records += translation.unknown_records;
    let raw = segments
        .iter()
        .zip(&translation.records)
        .map(|(segment, outcome)| record(&planned, host, adapter.name(), root, segment, outcome))
        .collect();
    Ok(Some(FileWork {
        file_id: planned.file_id.clone(),
        session_id: translation.session_id.clone(),
        parent_hint: planned.file.parent_hint.clone(),
        raw,
        messages: translation.messages,
        revised: translation.revised,
        facts: translation.facts,
        cursor: FileCursor {
            session_id: translation.current_session,
            generation: 0,
            consumed: used as u64,
            next_line: segments.len() as u64 + 1,
            size,
            mtime_ns,
            head_sha: String::new(),
            tail_sha: String::new(),
        },
    }))
}

fn record(
    planned: &Planned,
    host: &str,
    client: &str,
    root: &str,
    segment: &super::records::Segment<'_>,
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
