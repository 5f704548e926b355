//! Keeping erased sessions out of a sync (rule 44): what a read batch
//! holds of a tombstoned session is dropped before anything is committed.

use std::collections::HashSet;

use super::FileWork;
use super::report::SyncReport;

/// Drops what read files hold of erased sessions (rule 44). A file left
/// with nothing is not committed, and its cursor stays where it was, so a
/// tombstone lifted later lets the next sync store it.
pub(super) fn without_erased(
    works: Vec<FileWork>,
    erased: &HashSet<String>,
    report: &mut SyncReport,
) -> Vec<FileWork> {
    if erased.is_empty() {
        return works;
    }
    let mut skipped_sessions = HashSet::new();
    let mut kept = Vec::with_capacity(works.len());
    let mut skip = |id: &String| {
        let gone = erased.contains(id);
        if gone {
            skipped_sessions.insert(id.clone());
        }
        !gone
    };
    for mut work in works {
        let before = work.raw.len();
        work.raw.retain(|r| skip(&r.session_id));
        report.erased_records_skipped += (before - work.raw.len()) as u64;
        work.messages.retain(|m| skip(&m.session_id));
        work.usage.retain(|u| skip(&u.session_id));
        work.facts.retain(|(id, _)| skip(id));
        if !work.raw.is_empty() {
            kept.push(work);
        }
    }
    report.erased_sessions_skipped += skipped_sessions.len() as u64;
    kept
}
