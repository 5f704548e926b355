//! pi-ai's message blocks (`text`, `thinking`, `toolCall`, `image`): pi
//! writes them, and OpenClaw, built on pi's agent, stores the same messages.

use serde_json::Value;

use crate::formats::json::{blocks_or_text, json_text, str_field};
use crate::model::{Part, PartKind};

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
