//! Content blocks of Anthropic's Messages API. Claude Code's lines hold
//! them, and Cline and Factory Droid store the API's messages as sent, so
//! one reading serves the three.

use serde_json::Value;

use crate::formats::json::{json_text, str_field, tool_result_text};
use crate::model::{Part, PartKind};
use crate::usage::{Tokens, count};

/// One content block as a part.
pub(crate) fn block_part(block: &Value) -> Part {
    let kind = str_field(block, "type").unwrap_or("unknown");
    match kind {
        "text" => Part::text(PartKind::Text, str_field(block, "text").unwrap_or_default()),
        "thinking" => Part::text(
            PartKind::Thinking,
            str_field(block, "thinking").unwrap_or_default(),
        ),
        "redacted_thinking" => Part::text(PartKind::Thinking, "[redacted thinking]"),
        "tool_use" | "server_tool_use" => Part::tool_call(
            str_field(block, "name"),
            str_field(block, "id"),
            block.get("input").map(json_text),
        ),
        "tool_result" => Part::tool_result(
            None,
            str_field(block, "tool_use_id"),
            block.get("content").map(tool_result_text),
            block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        "image" | "document" => {
            let media = block
                .get("source")
                .and_then(|s| str_field(s, "media_type"))
                .unwrap_or("unknown type");
            Part::text(PartKind::File, format!("[{kind}: {media}]"))
        }
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}

/// A response's `usage`: `input_tokens` excludes what the cache served
/// (`cache_read_input_tokens`) or took in (`cache_creation_input_tokens`,
/// split by lifetime in `cache_creation` where the API reports it).
pub(crate) fn usage_tokens(usage: &Value) -> Tokens {
    Tokens {
        input: count(usage.get("input_tokens")),
        output: count(usage.get("output_tokens")),
        cache_write: count(usage.get("cache_creation_input_tokens")),
        cache_write_1h: count(
            usage
                .get("cache_creation")
                .and_then(|c| c.get("ephemeral_1h_input_tokens")),
        ),
        cache_read: count(usage.get("cache_read_input_tokens")),
        reasoning: 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Factory Droid's own copy had drifted: it dumped a screenshot in a
    /// tool result as its whole JSON (base64 and all) into the searchable
    /// text, named images without their type, and read server tools as
    /// unknown blocks. The shared reading is the one that keeps text
    /// searchable and says what was attached.
    #[test]
    fn tool_results_name_their_images_instead_of_dumping_them() {
        let result = block_part(&json!({
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [
                {"type": "text", "text": "saved"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ]
        }));
        assert_eq!(result.kind, PartKind::ToolResult);
        assert_eq!(result.text.as_deref(), Some("saved\n[image]"));
        assert_eq!(result.tool_call_id.as_deref(), Some("toolu_1"));

        let image = block_part(&json!({
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}
        }));
        assert_eq!(image.kind, PartKind::File);
        assert_eq!(image.text.as_deref(), Some("[image: image/jpeg]"));

        let search = block_part(&json!({
            "type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
            "input": {"query": "lance"}
        }));
        assert_eq!(search.kind, PartKind::ToolCall);
        assert_eq!(search.tool_name.as_deref(), Some("web_search"));
    }
}
