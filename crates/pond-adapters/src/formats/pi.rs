//! pi's session files: the `session` header, entry ids and summaries, and
//! pi-ai's message blocks (`text`, `thinking`, `toolCall`, `image`). pi
//! writes them, and OpenClaw, built on pi's agent, stores the same entries.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::{Interpretation, RecordContext, SourceFile};
use crate::formats::json::{blocks_or_text, json_text, str_field};
use crate::formats::time::timestamp_field;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};
use crate::naming::{first_or_hint, record_message, sha_id};

/// Entry types that change no conversation text but are known.
const BOOKKEEPING: &[&str] = &["thinking_level_change", "custom", "label"];

/// The session a file holds: its `session` header's id, else the one the
/// file's name carries.
pub(crate) fn header_session_id(file: &SourceFile, first_records: &[Value]) -> Option<String> {
    first_or_hint(file, first_records, |r| {
        (str_field(r, "type") == Some("session")).then(|| str_field(r, "id"))?
    })
}

/// An entry's message id. Entry ids are unique only within a file, so they
/// are prefixed with the session id; v1 entries carry none and fall back to
/// the record's content hash.
pub(crate) fn entry_message_id(ctx: RecordContext<'_>, record: &Value) -> String {
    match str_field(record, "id") {
        Some(id) => format!("{}/{id}", ctx.session_id),
        None => sha_id(ctx),
    }
}

/// An entry's type, and its time counted into fresh facts: how pi and
/// OpenClaw start reading every entry. `None` for a record of no type.
pub(crate) fn entry_head(record: &Value) -> Option<(&str, Option<DateTime<Utc>>, SessionFacts)> {
    let kind = str_field(record, "type")?;
    let at = timestamp_field(record, "timestamp");
    let mut facts = SessionFacts::default();
    facts.saw(at);
    Some((kind, at, facts))
}

/// The entries pi and OpenClaw write alike besides the header and the
/// messages, which each reads its own way; any other kind is unknown.
pub(crate) fn shared_entry(
    ctx: RecordContext<'_>,
    record: &Value,
    kind: &str,
    at: Option<DateTime<Utc>>,
    mut facts: SessionFacts,
) -> Interpretation {
    match kind {
        "model_change" => {
            facts.model = str_field(record, "modelId").map(str::to_string);
            Interpretation::facts(facts)
        }
        "compaction" | "branch_summary" => {
            Interpretation::message(facts, summary_message(ctx, record, kind, at))
        }
        k if BOOKKEEPING.contains(&k) => Interpretation::facts(facts),
        _ => Interpretation::unknown_with_facts(facts),
    }
}

/// A `compaction` or `branch_summary` entry (`kind`): its summary, kept as a
/// system message, or the kind when it has none.
fn summary_message(
    ctx: RecordContext<'_>,
    record: &Value,
    kind: &str,
    at: Option<DateTime<Utc>>,
) -> Message {
    let text = str_field(record, "summary")
        .map(str::to_string)
        .unwrap_or_else(|| format!("[{kind}]"));
    record_message(
        ctx,
        entry_message_id(ctx, record),
        Role::System,
        at,
        None,
        vec![Part::text(PartKind::Text, text)],
    )
}

/// A pi-ai message's content (a string or blocks); OpenClaw, built on pi's
/// agent, stores the same messages.
pub(crate) fn content_parts(content: Option<&Value>) -> Vec<Part> {
    blocks_or_text(content, block_part)
}

pub(crate) fn block_part(block: &Value) -> Part {
    match str_field(block, "type").unwrap_or("unknown") {
        "text" => Part::text(PartKind::Text, str_field(block, "text").unwrap_or_default()),
        "thinking" => Part::text(
            PartKind::Thinking,
            str_field(block, "thinking").unwrap_or_default(),
        ),
        "toolCall" => Part::tool_call(
            str_field(block, "name"),
            str_field(block, "id"),
            block.get("arguments").map(json_text),
        ),
        "image" => Part::text(
            PartKind::File,
            format!(
                "[image: {}]",
                str_field(block, "mimeType").unwrap_or("unknown type")
            ),
        ),
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}
