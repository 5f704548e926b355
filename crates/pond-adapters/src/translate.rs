//! Turning a file's bytes into records and records into canonical messages,
//! with no store and no cursors: the pure half of reading a file.
//!
//! The sync pipeline uses it for every read, and tests, the adapter
//! conformance suite and the fuzz targets call it directly, so what they
//! check is exactly what a sync would store.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::adapter::{Adapter, Layout, RecordContext, SourceFile};
use crate::digest::sha256_hex;
use crate::model::{Message, RecordStatus, SessionFacts};
use crate::records::{self, Parsed, Segment};

/// Cuts `buf` (the file's bytes from `offset`, at 1-based `line`) into the
/// records its layout defines. Returns them and how many bytes they cover;
/// the rest waits for the next read.
pub fn segments<'a>(
    adapter: &dyn Adapter,
    layout: Layout,
    buf: &'a [u8],
    offset: u64,
    line: u64,
) -> (Vec<Segment<'a>>, usize) {
    match layout {
        Layout::Jsonl | Layout::Database => records::split(buf, offset, line),
        Layout::Text => records::cut(buf, &adapter.cut_text(buf, true), offset, line),
        Layout::Document if buf.is_empty() => (Vec::new(), 0),
        Layout::Document => (
            vec![Segment {
                offset: 0,
                line: 1,
                bytes: buf,
            }],
            buf.len(),
        ),
    }
}

/// What one record turned into, beside its bytes.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    pub sha256: String,
    pub status: RecordStatus,
    /// The session the record belongs to. A database row belongs to the one
    /// session it speaks of, not to the file's first: a database holds every
    /// session of its client, and a row's bytes are exported, served and
    /// erased with its session.
    pub session_id: String,
    /// Why it did not parse, for the sync report.
    pub invalid: Option<String>,
}

/// The canonical view of a run of records.
#[derive(Debug, Default)]
pub struct Translation {
    /// The session the first record belongs to.
    pub session_id: String,
    /// The session the last record belongs to (where an appended file continues).
    pub current_session: String,
    /// In source order; an id seen twice keeps its first copy, or its last
    /// when the adapter marked it revisable.
    pub messages: Vec<Message>,
    /// Ids of messages an adapter marked as revisable.
    pub revised: HashSet<String>,
    /// Facts per session, in order of first mention.
    pub facts: Vec<(String, SessionFacts)>,
    /// One per segment, in order.
    pub records: Vec<RecordOutcome>,
    pub unknown_records: u64,
    pub unparsed_records: u64,
    /// Model calls' usage, each call once (the record with the largest
    /// output wins).
    pub usage: Vec<crate::usage::Usage>,
}

impl Translation {
    fn facts_for(&mut self, session: &str) -> &mut SessionFacts {
        match self.facts.iter().position(|(id, _)| id == session) {
            Some(i) => &mut self.facts[i].1,
            None => {
                self.facts
                    .push((session.to_string(), SessionFacts::default()));
                &mut self.facts.last_mut().expect("just pushed").1
            }
        }
    }
}

/// Translates `segments` of `file`. `session_id` is the session an earlier
/// read left the file in; without one the adapter names it from the first
/// records, else `fallback_session` does.
pub fn translate(
    adapter: &dyn Adapter,
    file: &SourceFile,
    segments: &[Segment<'_>],
    session_id: Option<String>,
    fallback_session: impl FnOnce() -> String,
) -> Translation {
    let parsed: Vec<Parsed> = segments
        .iter()
        .map(|s| match file.layout {
            Layout::Text => records::text(s.bytes),
            _ => records::parse(s.bytes),
        })
        .collect();
    let session_id = session_id.unwrap_or_else(|| {
        let first: Vec<Value> = parsed
            .iter()
            .filter_map(|p| match p {
                Parsed::Values(v) | Parsed::Invalid { values: v, .. } => Some(v.iter()),
                Parsed::Blank => None,
            })
            .flatten()
            .take(64)
            .cloned()
            .collect();
        adapter
            .identify(file, &first)
            .unwrap_or_else(fallback_session)
    });
    let mut out = Translation {
        session_id: session_id.clone(),
        current_session: session_id.clone(),
        facts: vec![(session_id, SessionFacts::default())],
        records: Vec::with_capacity(segments.len()),
        ..Translation::default()
    };
    // Where each message id sits in `out.messages`.
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Where each call sits in `out.usage`.
    let mut calls: HashMap<String, usize> = HashMap::new();
    for (segment, parsed) in segments.iter().zip(parsed) {
        let sha = sha256_hex(segment.bytes);
        // Sessions this record names besides its file's current one.
        let mut spoken: Vec<String> = Vec::new();
        let (values, mut status, invalid) = match parsed {
            Parsed::Blank => (Vec::new(), RecordStatus::Blank, None),
            Parsed::Values(v) => (v, RecordStatus::Parsed, None),
            // Rule 6: invalid JSON stays as an unparsed raw record, counted, never fatal.
            Parsed::Invalid { values, error } => {
                out.unparsed_records += 1;
                (values, RecordStatus::Unparsed, Some(error))
            }
        };
        for (i, value) in values.iter().enumerate() {
            let key = if i == 0 {
                sha.clone()
            } else {
                sha256_hex(format!("{sha}/{i}").as_bytes())
            };
            let ctx = RecordContext {
                file,
                session_id: &out.current_session,
                offset: segment.offset,
                sha256: &key,
            };
            let meaning = adapter.interpret(ctx, value);
            if !meaning.understood {
                out.unknown_records += 1;
                if status == RecordStatus::Parsed {
                    status = RecordStatus::Unknown;
                }
            }
            if let Some(next) = meaning.begins_session {
                out.current_session = next;
            }
            let current = out.current_session.clone();
            out.facts_for(&current).absorb(meaning.facts);
            for (other, facts) in meaning.other_sessions {
                out.facts_for(&other).absorb(facts);
                spoken.push(other);
            }
            spoken.extend(meaning.messages.iter().map(|m| m.session_id.clone()));
            for mut u in meaning.usage {
                // Clients that name the model once per turn (Codex) leave
                // it to the facts read so far.
                if u.model.is_none() {
                    u.model.clone_from(&out.facts_for(&current).model);
                }
                // Rule 47: a call once, with the largest output any of its
                // records reports (a streamed response's first records
                // carry the count so far).
                match calls.get(&u.call) {
                    Some(&at) if out.usage[at].tokens.output < u.tokens.output => out.usage[at] = u,
                    Some(_) => {}
                    None => {
                        calls.insert(u.call.clone(), out.usage.len());
                        out.usage.push(u);
                    }
                }
            }
            for m in meaning.messages {
                if meaning.revises {
                    out.revised.insert(m.id.clone());
                }
                match seen.get(&m.id) {
                    Some(&at) if meaning.revises => out.messages[at] = m,
                    Some(_) => {}
                    None => {
                        seen.insert(m.id.clone(), out.messages.len());
                        out.messages.push(m);
                    }
                }
            }
        }
        out.records.push(RecordOutcome {
            sha256: sha,
            status,
            session_id: owner(file.layout, &out.current_session, spoken),
            invalid,
        });
    }
    out
}

/// The session a record belongs to: in a database, the one session its row
/// speaks of (a session row, a message row); otherwise, and for a row that
/// names no session or several, the file's current session.
fn owner(layout: Layout, current: &str, mut spoken: Vec<String>) -> String {
    if layout != Layout::Database {
        return current.to_string();
    }
    spoken.retain(|s| !s.is_empty());
    spoken.sort_unstable();
    spoken.dedup();
    match spoken.as_slice() {
        [only] => only.clone(),
        _ => current.to_string(),
    }
}

/// Reads a whole file as a first sync would: what tests and the adapter
/// conformance suite compare against.
pub fn translate_bytes(adapter: &dyn Adapter, file: &SourceFile, bytes: &[u8]) -> Translation {
    let (segments, _) = segments(adapter, file.layout, bytes, 0, 1);
    translate(adapter, file, &segments, None, || {
        format!(
            "{}-{}",
            adapter.name(),
            &sha256_hex(file.rel_path.as_bytes())[..16]
        )
    })
}
