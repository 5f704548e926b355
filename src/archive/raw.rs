//! A session's source files as a caller may have them. A caller who may see
//! every session a file holds gets the file byte for byte; a token limited to
//! some projects or hosts gets only what belongs to sessions it may see.
//!
//! This exists because a file is not a session: a client's database holds
//! every session of every project in one file, and a chat log or an export
//! holds several. Handing over a whole file because one of its sessions is
//! visible would hand over the others with it.

use std::collections::BTreeSet;

use super::{ArchiveError, View, visible_session};
use crate::export::{self, ExportError};
use crate::model::RawRecord;
use crate::store::{Store, TableKind, sql_in};

/// One of a session's source files as a caller may have it, loaded alone
/// and sent record by record (see [`RawDownload::into_chunks`]).
pub struct RawDownload {
    /// The file's path as its client knows it (a database's rows: `.jsonl`).
    pub rel_path: String,
    /// How many source files the session has.
    pub files: usize,
    records: Vec<RawRecord>,
    redact: bool,
}

impl RawDownload {
    /// The file's bytes, one chunk per record, each masked on its own as
    /// `pond export --redact` masks it: the file is never held twice, and
    /// never whole beside its records.
    pub fn into_chunks(self) -> impl Iterator<Item = Vec<u8>> + Send {
        let redact = self.redact;
        self.records.into_iter().map(move |record| {
            if redact {
                crate::redact::redact_bytes(&record.bytes).0.into_owned()
            } else {
                record.bytes
            }
        })
    }
}

/// Source file `index` (in path order) of the session `given` names, within
/// the view's limits (rule 36).
pub async fn source_file(
    store: &Store,
    view: &View,
    given: &str,
    index: usize,
) -> Result<RawDownload, ArchiveError> {
    let session = visible_session(store, view, given).await?;
    let files = export::source_file_ids(store, &session.id, &session.host)
        .await
        .map_err(export_error)?;
    let count = files.len();
    let Some((rel_path, file_id)) = files.into_iter().nth(index) else {
        return Err(ArchiveError::NotFound(format!(
            "the session has {count} source file(s); there is no file {index}"
        )));
    };
    let records = export::file_records(store, &file_id)
        .await
        .map_err(export_error)?;
    let records = if view.limits.is_unlimited() {
        records
    } else {
        within_view(store, view, &session.id, &rel_path, records).await?
    };
    if records.is_empty() {
        return Err(ArchiveError::NotFound(format!(
            "no source records for session `{}`",
            session.id
        )));
    }
    let rel_path = export::export_path(rel_path, &records).map_err(export_error)?;
    Ok(RawDownload {
        rel_path,
        files: count,
        records,
        redact: view.redact,
    })
}

/// The session a stored record belongs to. A database row is read again by
/// its client's adapter, because stores written before rows were attributed
/// label every row of a database with the database's first session.
pub(crate) fn record_owner(record: &RawRecord) -> String {
    if !export::is_database_row(record) {
        return record.session_id.clone();
    }
    match crate::registry::by_name(&record.client) {
        Some(adapter) => crate::sync::database_row_owner(
            adapter.as_ref(),
            &record.host,
            &record.rel_path,
            &record.bytes,
        ),
        None => record.session_id.clone(),
    }
}

/// `records` of one file, for a limited view: all of them when every
/// session they belong to is visible; else a database's rows of visible
/// sessions only; else a refusal, since other files are only exact whole.
async fn within_view(
    store: &Store,
    view: &View,
    session_id: &str,
    rel_path: &str,
    records: Vec<RawRecord>,
) -> Result<Vec<RawRecord>, ArchiveError> {
    let owners: Vec<String> = records.iter().map(record_owner).collect();
    let others: BTreeSet<&str> = owners
        .iter()
        .map(String::as_str)
        .filter(|o| *o != session_id)
        .collect();
    let hidden = hidden_sessions(store, view, &others).await?;
    drop(others);
    if hidden.is_empty() {
        return Ok(records);
    }
    if records.iter().all(export::is_database_row) {
        return Ok(records
            .into_iter()
            .zip(owners)
            .filter(|(_, owner)| !hidden.contains(owner))
            .map(|(record, _)| record)
            .collect());
    }
    Err(ArchiveError::Forbidden(format!(
        "`{rel_path}` also holds {} session(s) outside this token's limits, and a file of this kind is only given whole: download it with a token without project or host limits, or run `pond export` where the store is reachable",
        hidden.len()
    )))
}

/// Those of `ids` the view may not see: outside its limits, or not in the
/// store at all (a row that names no session counts as hidden too).
async fn hidden_sessions(
    store: &Store,
    view: &View,
    ids: &BTreeSet<&str>,
) -> Result<BTreeSet<String>, ArchiveError> {
    let mut hidden: BTreeSet<String> = ids.iter().map(|id| id.to_string()).collect();
    let named: Vec<&str> = ids.iter().copied().filter(|id| !id.is_empty()).collect();
    // Bounded, so a database of many sessions does not make one huge filter.
    for chunk in named.chunks(500) {
        let mut clauses = vec![sql_in("id", chunk.iter().copied())];
        clauses.extend(view.limits.to_sql());
        for id in store
            .scan_strings(TableKind::Sessions, Some(&clauses.join(" AND ")), "id")
            .await?
        {
            hidden.remove(&id);
        }
    }
    Ok(hidden)
}

fn export_error(e: ExportError) -> ArchiveError {
    match e {
        ExportError::Store(e) => ArchiveError::Store(e),
        ExportError::NoRecords(id) => {
            ArchiveError::NotFound(format!("no source records for session `{id}`"))
        }
        other => ArchiveError::BadRequest(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecordStatus;

    fn database_row(label: &str, row: &str) -> RawRecord {
        RawRecord {
            id: "f00d:db:abc".into(),
            file_id: "f00d".into(),
            host: "laptop".into(),
            client: "opencode".into(),
            root: "/home/u/.local/share/opencode".into(),
            rel_path: "opencode.db".into(),
            session_id: label.into(),
            generation: 0,
            offset: 0,
            length: row.len() as u64,
            line: 1,
            sha256: "abc".into(),
            status: RecordStatus::Parsed,
            bytes: format!("{row}\n").into_bytes(),
        }
    }

    #[test]
    fn rule36_a_database_row_belongs_to_the_session_it_names_whatever_its_label() {
        // As an older store labelled it: with the database's first session.
        let row = r#"{"table":"message","id":"msg_b1","session_id":"ses_b","time_created":1,"time_updated":1,"data":{"role":"user","time":{"created":1785420302660}},"parts":[{"data":{"type":"text","text":"team b's plan"}}]}"#;
        assert_eq!(
            record_owner(&database_row("opencode:ses_a", row)),
            "opencode:ses_b"
        );
        let session = r#"{"table":"session","id":"ses_c","directory":"/repos/c","title":"c","time_created":1,"time_updated":1}"#;
        assert_eq!(
            record_owner(&database_row("opencode:ses_a", session)),
            "opencode:ses_c"
        );
        // A file's record (not a database row) keeps its label.
        let mut line = database_row("opencode:ses_a", row);
        line.id = "f00d:0:0".into();
        assert_eq!(record_owner(&line), "opencode:ses_a");
    }
}
