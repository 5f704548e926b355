//! The CLI's JSONL transcripts, and the `{role, content}` message shape they
//! share with `store.db` blobs.

use super::*;
use crate::formats::json::{blocks_or_text, speaker, tool_result_text};

/// The agent's context block names the folder: `Workspace Path: /x`.
pub(super) fn workspace_path(message: &Message) -> Option<String> {
    message
        .parts
        .iter()
        .filter_map(|p| p.text.as_deref())
        .flat_map(str::lines)
        .find_map(|l| l.trim().strip_prefix("Workspace Path:"))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
}

/// A `{role, content}` message of the CLI (a `store.db` blob, or the
/// `message` of a transcript line).
pub(super) fn content_message(
    ctx: RecordContext<'_>,
    record: &Value,
    content: Option<&Value>,
    id: String,
    seq: u64,
) -> Option<Message> {
    let role = Role::parse(str_field(record, "role")?)?;
    let parts = blocks_or_text(content, block_part);
    let role = speaker(role, &parts);
    Some(Message {
        id,
        session_id: ctx.session_id.to_string(),
        seq,
        role,
        timestamp: None,
        model: None,
        parts,
    })
}

/// Content blocks in both spellings the CLI uses: Anthropic's (transcripts)
/// and the AI SDK's (`store.db`).
pub(super) fn block_part(block: &Value) -> Part {
    let kind = str_field(block, "type").unwrap_or("unknown");
    let first = |keys: &[&str]| keys.iter().find_map(|k| str_field(block, k));
    match kind {
        "text" => Part::text(PartKind::Text, first(&["text"]).unwrap_or_default()),
        "thinking" | "reasoning" => Part::text(
            PartKind::Thinking,
            first(&["thinking", "text"]).unwrap_or_default(),
        ),
        "redacted_thinking" | "redacted-reasoning" => {
            Part::text(PartKind::Thinking, "[redacted thinking]")
        }
        "tool_use" | "tool-call" | "tool_call" => Part::tool_call(
            first(&["name", "toolName"]),
            first(&["id", "toolCallId"]),
            block
                .get("input")
                .or_else(|| block.get("args"))
                .map(json_text),
        ),
        "tool_result" | "tool-result" => Part::tool_result(
            first(&["toolName", "name"]),
            first(&["tool_use_id", "toolCallId"]),
            ["content", "result", "output"]
                .iter()
                .find_map(|k| block.get(*k))
                .map(tool_result_text),
            ["is_error", "isError"]
                .iter()
                .any(|k| block.get(*k).and_then(Value::as_bool) == Some(true)),
        ),
        "image" | "file" => {
            let media = first(&["mediaType", "mimeType"])
                .or_else(|| block.get("source").and_then(|s| str_field(s, "media_type")))
                .unwrap_or("unknown type");
            Part::text(PartKind::File, format!("[{kind}: {media}]"))
        }
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}

/// The id of a record that carries none, in a file only ever appended to:
/// its offset (stable there, and what tells two identical lines apart, such
/// as "continue" typed twice) and a hash of its bytes.
pub(super) fn line_id(ctx: RecordContext<'_>) -> String {
    format!("{}/{}-{}", ctx.session_id, ctx.offset, &ctx.sha256[..8])
}

/// One transcript line. Lines carry no ids or times.
pub(super) fn transcript_record(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    if record.get("role").is_some() {
        let id = line_id(ctx);
        let content = record.get("message").and_then(|m| m.get("content"));
        return match content_message(ctx, record, content, id, ctx.offset) {
            Some(m) => Interpretation::message(SessionFacts::default(), m),
            None => Interpretation::unknown(),
        };
    }
    match str_field(record, "type") {
        Some("turn_ended") => Interpretation::facts(SessionFacts::default()),
        _ => Interpretation::unknown(),
    }
}
