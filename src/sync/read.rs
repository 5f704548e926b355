//! Reading one source file from where the last sync stopped: the resume point
//! its cursor and the stored extents agree on, and the bytes and records
//! from there.

use super::*;
use crate::sync::records::Segment;
use crate::sync::translate::{RecordOutcome, Translation};

/// Where reading resumes.
pub(super) struct Start {
    pub(super) generation: u32,
    pub(super) offset: u64,
    pub(super) line: u64,
    pub(super) session_id: Option<String>,
}

/// A file the sync could not read, and why: reported with the file, never
/// fatal to the run (rule 6).
pub(super) struct FileError {
    pub(super) path: PathBuf,
    pub(super) detail: String,
}

impl FileError {
    /// For `map_err` over an I/O step: what the step was, then the error.
    pub(super) fn io<'a>(
        path: &'a Path,
        what: &'static str,
    ) -> impl Fn(std::io::Error) -> FileError + 'a {
        move |e| FileError {
            path: path.to_path_buf(),
            detail: if what.is_empty() {
                e.to_string()
            } else {
                format!("{what}: {e}")
            },
        }
    }
}

impl FileWork {
    /// What both readers (files and databases) make of a file's
    /// translation: its raw records are left to the reader, which keys
    /// them its own way, and the cursor ends in the session the file did.
    pub(super) fn translated(
        planned: &Planned,
        scope: &ids::IdScope,
        translation: Translation,
        cursor: FileCursor,
    ) -> FileWork {
        FileWork {
            file_id: planned.file_id.clone(),
            session_id: translation.session_id,
            parent_hint: planned.file.parent_hint.as_deref().map(|p| scope.scope(p)),
            raw: Vec::new(),
            messages: translation.messages,
            usage: translation.usage,
            revised: translation.revised,
            facts: translation.facts,
            cursor: FileCursor {
                // The next read of an appended file continues the session it ended in.
                session_id: translation.current_session,
                ..cursor
            },
            fresh: false,
            document: false,
        }
    }
}

pub(super) fn read_file(
    reader: &Reader,
    planned: Planned,
    report: &mut SyncReport,
) -> Result<Option<FileWork>, FileError> {
    let (adapter, host) = (reader.adapter.as_ref(), reader.host.as_str());
    let path = planned.file.path.clone();
    let mut f = std::fs::File::open(&path).map_err(FileError::io(&path, "cannot open"))?;
    let meta = f.metadata().map_err(FileError::io(&path, "cannot stat"))?;
    let size = meta.len();
    let layout = planned.file.layout;

    let start =
        resume_point(&mut f, size, layout, &planned.prior).map_err(FileError::io(&path, ""))?;
    if start.generation > 0 && start.offset == 0 && !matches!(planned.prior, Prior::Nothing) {
        report.files_rewritten += 1;
    }
    let buf = cursor::read_at(&mut f, start.offset, size - start.offset)
        .map_err(FileError::io(&path, "cannot read"))?;
    report.bytes_read += buf.len() as u64;

    let (segments, used) = translate::segments(adapter, layout, &buf, start.offset, start.line);
    let consumed = start.offset + used as u64;
    let next_line = segments
        .last()
        .map(|s| s.line + memchr::memchr_iter(b'\n', s.bytes).count() as u64)
        .unwrap_or(start.line);

    let scope = ids::IdScope::new(adapter, host);
    let mut translation = translate_scoped(adapter, &scope, &planned, &segments, &start);
    report_records(report, &path, &segments, &translation);
    let outcomes = std::mem::take(&mut translation.records);
    let reached = FileCursor {
        generation: start.generation,
        consumed,
        next_line,
        size,
        mtime_ns: cursor::mtime_ns(&meta),
        digest: document_digest(layout, &planned.prior, start.offset, &buf[..used]),
        ..FileCursor::default()
    };
    let mut work = FileWork::translated(&planned, &scope, translation, reached);
    work.fresh = matches!(planned.prior, Prior::Nothing);
    work.document = layout == Layout::Document;
    let (head, tail) = cursor::fingerprint_after_read(&mut f, &buf, start.offset, consumed)
        .map_err(FileError::io(&path, "cannot read"))?;
    work.cursor.head_sha = head;
    work.cursor.tail_sha = tail;

    work.raw = raw_records(
        &planned,
        adapter.name(),
        host,
        &reader.root,
        start.generation,
        &segments,
        outcomes,
    );
    Ok(Some(work))
}

/// The records translated, with session ids scoped as the store keys them
/// (rule 40); an appended file continues the session it ended in.
fn translate_scoped(
    adapter: &dyn Adapter,
    scope: &ids::IdScope,
    planned: &Planned,
    segments: &[Segment<'_>],
    start: &Start,
) -> Translation {
    let mut translation = translate::translate(
        adapter,
        &planned.file,
        segments,
        start
            .session_id
            .as_deref()
            .map(|id| scope.source(id).to_string()),
        || format!("{}-{}", adapter.name(), &planned.file_id[..16]),
    );
    scope.apply(&mut translation);
    translation
}

/// Rule 6: each invalid line is reported with its file and line; the sync
/// goes on. Unparsed and unknown records are counted.
fn report_records(
    report: &mut SyncReport,
    path: &Path,
    segments: &[Segment<'_>],
    translation: &Translation,
) {
    for (segment, outcome) in segments.iter().zip(&translation.records) {
        if let Some(error) = &outcome.invalid {
            report.problem(path, Some(segment.line), format!("invalid JSON: {error}"));
        }
    }
    report.unparsed_records += translation.unparsed_records;
    report.unknown_records += translation.unknown_records;
}

/// Rule 1: every byte read goes into exactly one raw record, keyed by file,
/// generation and offset, with its original bytes.
fn raw_records(
    planned: &Planned,
    client: &str,
    host: &str,
    root: &str,
    generation: u32,
    segments: &[Segment<'_>],
    outcomes: Vec<RecordOutcome>,
) -> Vec<RawRecord> {
    segments
        .iter()
        .zip(outcomes)
        .map(|(segment, outcome)| RawRecord {
            id: format!("{}:{}:{}", planned.file_id, generation, segment.offset),
            file_id: planned.file_id.clone(),
            host: host.to_string(),
            client: client.to_string(),
            root: root.to_string(),
            rel_path: planned.file.rel_path.clone(),
            session_id: outcome.session_id,
            generation,
            offset: segment.offset,
            length: segment.bytes.len() as u64,
            line: segment.line,
            sha256: outcome.sha256,
            status: outcome.status,
            bytes: segment.bytes.to_vec(),
        })
        .collect()
}

/// The digest of a whole document as the cursor keeps it: of the bytes just
/// read when it was read from the start, else (unchanged) the one it had.
pub(super) fn document_digest(
    layout: Layout,
    prior: &Prior,
    offset: u64,
    read: &[u8],
) -> Option<String> {
    if layout != Layout::Document {
        return None;
    }
    if offset == 0 {
        return Some(sha256_hex(read));
    }
    match prior {
        Prior::Cursor(c) => c.digest.clone(),
        // A stored document is one record: its digest is the file's.
        Prior::Stored(e) => Some(e.last.3.clone()),
        Prior::Nothing => None,
    }
}

/// Decides where to resume: after what is stored when the file only grew,
/// from the start in a new generation when it was rewritten.
pub(super) fn resume_point(
    f: &mut std::fs::File,
    size: u64,
    layout: Layout,
    prior: &Prior,
) -> std::io::Result<Start> {
    let fresh = |generation, session_id| Start {
        generation,
        offset: 0,
        line: 1,
        session_id,
    };
    Ok(match prior {
        Prior::Nothing => fresh(0, None),
        Prior::Cursor(c) => {
            // Rule 3: a document is checked by its whole SHA-256, an appended file by
            // the first and last 4 KiB of what is already stored.
            let intact = match (&c.digest, layout) {
                (Some(digest), Layout::Document) => {
                    size == c.consumed && sha256_hex(&cursor::read_at(f, 0, size)?) == *digest
                }
                _ => {
                    size >= c.consumed
                        && cursor::fingerprint(f, c.consumed)?
                            == (c.head_sha.clone(), c.tail_sha.clone())
                }
            };
            let grown_in_place = intact && (layout != Layout::Document || size == c.consumed);
            // Rule 30: an intact appended file resumes at its stored offset, so only
            // the appended bytes are read and inserted.
            if grown_in_place {
                Start {
                    generation: c.generation,
                    offset: c.consumed,
                    line: c.next_line,
                    session_id: Some(c.session_id.clone()),
                }
            } else {
                // Rule 5: a shrunk or changed file is read again from byte 0 as the next
                // generation; older generations stay.
                fresh(c.generation + 1, Some(c.session_id.clone()))
            }
        }
        Prior::Stored(e) => {
            let (offset, length, line, sha) = &e.last;
            let end = offset + length;
            let last = cursor::read_at(f, *offset, *length)?;
            let first_ok = match &e.first_sha {
                Some(first) if *offset > 0 => {
                    let first_len = first_record_len(f)?;
                    &sha256_hex(&cursor::read_at(f, 0, first_len)?) == first
                }
                _ => true,
            };
            let intact = size >= end && &sha256_hex(&last) == sha && first_ok;
            if intact && (layout != Layout::Document || size == end) {
                let line = if last.last() == Some(&b'\n') {
                    line + 1
                } else {
                    *line
                };
                Start {
                    generation: e.generation,
                    offset: end,
                    line,
                    session_id: Some(e.session_id.clone()),
                }
            } else {
                // Rule 5: the same without a cursor: a changed stored region means a new
                // generation.
                fresh(e.generation + 1, Some(e.session_id.clone()))
            }
        }
    })
}

/// Length of the file's first line, newline included.
pub(super) fn first_record_len(f: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::{BufRead, BufReader, Seek, SeekFrom};
    f.seek(SeekFrom::Start(0))?;
    let mut line = Vec::new();
    BufReader::new(&mut *f).read_until(b'\n', &mut line)?;
    Ok(line.len() as u64)
}
