//! Writes a session's source files back from the raw records, byte for byte.
//!
//! The store keeps every record with its file, generation and offset; the
//! newest generation of a file, in offset order, is exactly the file as the
//! client last wrote it. Nothing here knows any client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::RawRecord;
use crate::store::{Store, StoreError, TableKind, sql_str, tables::schema};

/// Why a session could not be written back.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no raw records for session `{0}`")]
    NoRecords(String),
    #[error(
        "{rel_path}: the store has no bytes for offsets {from}..{to}; refusing to export an incomplete file"
    )]
    Incomplete {
        rel_path: String,
        from: u64,
        to: u64,
    },
    #[error("refusing to export to unsafe path `{0}`")]
    UnsafePath(String),
    #[error("{} exists; pass --force to replace it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedFile {
    pub path: PathBuf,
    pub rel_path: String,
    pub bytes: u64,
    pub records: u64,
    pub host: String,
    pub root: String,
}

/// One source file of a session, as its client last wrote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub rel_path: String,
    pub bytes: Vec<u8>,
    pub records: u64,
    pub host: String,
    pub root: String,
}

/// Exports every source file of `session_id` under `out_dir`, at its path
/// relative to the root it was synced from. Existing files are only replaced
/// with `overwrite`.
pub async fn export_raw(
    store: &Store,
    session_id: &str,
    out_dir: &Path,
    prefer_host: &str,
    overwrite: bool,
    redact: bool,
) -> Result<Vec<ExportedFile>, ExportError> {
    let files = source_files(store, session_id, prefer_host, redact).await?;
    let mut targets = Vec::with_capacity(files.len());
    for file in &files {
        // A stored path never writes outside `out_dir`.
        let relative = crate::paths::safe_relative(&file.rel_path)
            .ok_or_else(|| ExportError::UnsafePath(file.rel_path.clone()))?;
        let target = out_dir.join(relative);
        if target.exists() && !overwrite {
            return Err(ExportError::Exists(target));
        }
        targets.push(target);
    }
    let mut written = Vec::with_capacity(files.len());
    for (file, target) in files.into_iter().zip(targets) {
        // Its directories are made on the way.
        crate::paths::write_atomic(&target, &file.bytes).map_err(|source| ExportError::Write {
            path: target.clone(),
            source,
        })?;
        written.push(ExportedFile {
            path: target,
            rel_path: file.rel_path,
            bytes: file.bytes.len() as u64,
            records: file.records,
            host: file.host,
            root: file.root,
        });
    }
    Ok(written)
}

/// Every source file of `session_id`, rebuilt in memory from its raw
/// records: one copy per relative path, `prefer_host`'s where it has one.
pub async fn source_files(
    store: &Store,
    session_id: &str,
    prefer_host: &str,
    redact: bool,
) -> Result<Vec<SourceFile>, ExportError> {
    let mut files = Vec::new();
    for (rel_path, records) in source_records(store, session_id, prefer_host).await? {
        files.push(assemble(rel_path, records, redact)?);
    }
    Ok(files)
}

/// The raw records of every source file of `session_id`, by relative path:
/// what [`source_files`] assembles, for a caller that must first leave out
/// the records of sessions it may not give away ([`assemble`] then).
pub async fn source_records(
    store: &Store,
    session_id: &str,
    prefer_host: &str,
) -> Result<BTreeMap<String, Vec<RawRecord>>, ExportError> {
    let mut by_path = BTreeMap::new();
    for (rel_path, file_id) in source_file_ids(store, session_id, prefer_host).await? {
        by_path.insert(rel_path, file_records(store, &file_id).await?);
    }
    Ok(by_path)
}

/// The source files `session_id` has records in, by relative path (sorted),
/// each the copy `prefer_host` synced where it has one: only the file ids,
/// so a caller can load one file at a time.
pub async fn source_file_ids(
    store: &Store,
    session_id: &str,
    prefer_host: &str,
) -> Result<Vec<(String, String)>, ExportError> {
    // Whole files, not only the session's records: a file can hold several
    // sessions (a chat log with one per header, an export), and its bytes
    // are only exact in full.
    let filter = format!("session_id = {}", sql_str(session_id));
    let mut chosen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for b in store
        .scan(
            TableKind::Raw,
            Some(&filter),
            Some(&["file_id", "rel_path", "host"]),
        )
        .await?
    {
        let columns = schema::Columns::new(&b);
        let (ids, paths, hosts) = (
            columns.str("file_id")?,
            columns.str("rel_path")?,
            columns.str("host")?,
        );
        for ((id, rel), host) in ids.iter().zip(paths.iter()).zip(hosts.iter()) {
            let (Some(id), Some(rel), Some(host)) = (id, rel, host) else {
                continue;
            };
            let better = match chosen.get(rel) {
                None => true,
                Some((current_id, current_host)) => {
                    current_id != id && current_host != prefer_host && host == prefer_host
                }
            };
            if better {
                chosen.insert(rel.to_string(), (id.to_string(), host.to_string()));
            }
        }
    }
    if chosen.is_empty() {
        return Err(ExportError::NoRecords(session_id.to_string()));
    }
    Ok(chosen.into_iter().map(|(rel, (id, _))| (rel, id)).collect())
}

/// The records one source file is exported from: the newest generation of
/// a file, in order, or every distinct row of a database.
pub async fn file_records(store: &Store, file_id: &str) -> Result<Vec<RawRecord>, ExportError> {
    let records = store
        .raw_records(&format!("file_id = {}", sql_str(file_id)))
        .await?;
    if records.is_empty() {
        return Err(ExportError::NoRecords(file_id.to_string()));
    }
    // Only the generation a file is exported from: an older one holds bytes
    // the file no longer has.
    Ok(if records.iter().any(is_database_row) {
        database_rows(records)
    } else {
        latest_generation(records)
    })
}

/// The path a file is exported under, once its records are known whole: a
/// database's rows become JSON lines; a file with a gap is refused (rule 1).
pub fn export_path(rel_path: String, records: &[RawRecord]) -> Result<String, ExportError> {
    if records.iter().any(is_database_row) {
        return Ok(format!("{rel_path}.jsonl"));
    }
    // Rule 1: export writes the newest generation back byte for byte, and
    // refuses a file with a gap.
    check_contiguous(&rel_path, records)?;
    Ok(rel_path)
}

/// One source file from the records [`source_records`] gave for its path
/// (all of them, or the rows of a database a caller kept).
pub fn assemble(
    rel_path: String,
    records: Vec<RawRecord>,
    redact: bool,
) -> Result<SourceFile, ExportError> {
    let Some(first) = records.first() else {
        return Err(ExportError::NoRecords(rel_path));
    };
    let (host, root) = (first.host.clone(), first.root.clone());
    let rel_path = export_path(rel_path, &records)?;
    let mut bytes = Vec::with_capacity(records.iter().map(|r| r.bytes.len()).sum());
    for r in &records {
        if redact {
            bytes.extend_from_slice(&crate::redact::redact_bytes(&r.bytes).0);
        } else {
            bytes.extend_from_slice(&r.bytes);
        }
    }
    Ok(SourceFile {
        rel_path,
        bytes,
        records: records.len() as u64,
        host,
        root,
    })
}

fn latest_generation(mut records: Vec<RawRecord>) -> Vec<RawRecord> {
    let newest = records
        .iter()
        .map(|r| r.generation)
        .max()
        .unwrap_or_default();
    records.retain(|r| r.generation == newest);
    records.sort_by_key(|r| r.offset);
    records
}

/// Records of a database source are keyed by content (see `sync::database`),
/// not by position in a file.
pub fn is_database_row(r: &RawRecord) -> bool {
    r.id.starts_with(&format!("{}:db:", r.file_id))
}

/// A database has no bytes to give back, so its export is every distinct row
/// version stored, as JSON lines in the order they were read.
fn database_rows(mut records: Vec<RawRecord>) -> Vec<RawRecord> {
    records.sort_by(|a, b| (a.offset, &a.sha256).cmp(&(b.offset, &b.sha256)));
    records
}

/// A gap means a record is missing: exporting would silently corrupt the file.
fn check_contiguous(rel_path: &str, records: &[RawRecord]) -> Result<(), ExportError> {
    let mut expected = 0;
    for r in records {
        if r.offset != expected {
            return Err(ExportError::Incomplete {
                rel_path: rel_path.to_string(),
                from: expected,
                to: r.offset,
            });
        }
        expected = r.offset + r.length;
    }
    Ok(())
}
