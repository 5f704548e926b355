//! A session's and a message's identity: which session a file holds, the
//! id of a message whose record carries none, and where a message sits.
//! Every host must name the same record alike, so these never read a clock
//! or a random source.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::{RecordContext, SourceFile};
use crate::model::{Message, Part, Role};

/// The session id the file's name carries, else the first one `field`
/// finds in the file's first records.
pub(crate) fn hint_or_first<'a>(
    file: &SourceFile,
    first_records: &'a [Value],
    field: impl Fn(&'a Value) -> Option<&'a str>,
) -> Option<String> {
    file.session_hint
        .clone()
        .or_else(|| first_records.iter().find_map(field).map(str::to_string))
}

/// The first session id `field` finds in the first records, else the one
/// the file's name carries.
pub(crate) fn first_or_hint<'a>(
    file: &SourceFile,
    first_records: &'a [Value],
    field: impl Fn(&'a Value) -> Option<&'a str>,
) -> Option<String> {
    first_records
        .iter()
        .find_map(field)
        .map(str::to_string)
        .or_else(|| file.session_hint.clone())
}

/// Whether `s` looks like a UUID (8-4-4-4-12 hex).
pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The stem itself when it is a UUID: clients that name each session file
/// by its id.
pub(crate) fn uuid_stem(stem: &str) -> Option<String> {
    Some(stem).filter(|s| is_uuid(s)).map(str::to_string)
}

/// The UUID at the end of a stem like `<ISO timestamp>_<uuid>`, where
/// clients that sort their files by time keep the session id.
pub(crate) fn uuid_tail(stem: &str) -> Option<&str> {
    stem.len()
        .checked_sub(36)
        .and_then(|start| stem.get(start..))
        .filter(|tail| is_uuid(tail))
}

/// The id of a message whose record carries none: its session and a hash of
/// the record's bytes, the same on every host.
pub(crate) fn sha_id(ctx: RecordContext<'_>) -> String {
    format!("{}/sha-{}", ctx.session_id, &ctx.sha256[..16])
}

/// A message of the record `ctx` points at: in its session, placed by the
/// record's offset.
pub(crate) fn record_message(
    ctx: RecordContext<'_>,
    id: String,
    role: Role,
    timestamp: Option<DateTime<Utc>>,
    model: Option<String>,
    parts: Vec<Part>,
) -> Message {
    Message {
        id,
        session_id: ctx.session_id.to_string(),
        seq: ctx.offset,
        role,
        timestamp,
        model,
        parts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid("0195a2b0-1c2d-4e5f-8a9b-0c1d2e3f4a5b"));
        assert!(!is_uuid("session-1"));
    }
}
