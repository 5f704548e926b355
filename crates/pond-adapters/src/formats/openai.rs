//! OpenAI's shapes, which Codex, Copilot, Grok and Hermes write: the chat
//! API's `tool_calls` and the Responses API's `reasoning` items.

use serde_json::Value;

use crate::formats::json::{items_of, json_text, str_field};
use crate::model::{Part, PartKind};

/// The calls of a message in OpenAI's chat shape,
/// `tool_calls: [{id, function: {name, arguments}}]`, as parts.
pub(crate) fn openai_tool_calls(message: &Value) -> impl Iterator<Item = Part> + '_ {
    items_of(message, "tool_calls").map(|call| {
        let function = call.get("function");
        Part::tool_call(
            function.and_then(|f| str_field(f, "name")),
            str_field(call, "id"),
            function.and_then(|f| f.get("arguments")).map(json_text),
        )
    })
}

/// An OpenAI-style `reasoning` item: its summaries as thoughts, or one
/// placeholder when only `encrypted_content` was kept, so the turn still
/// shows that the model reasoned.
pub(crate) fn reasoning_parts(item: &Value) -> Vec<Part> {
    let summaries: Vec<Part> = items_of(item, "summary")
        .filter_map(|s| str_field(s, "text"))
        .map(|t| Part::text(PartKind::Thinking, t))
        .collect();
    if summaries.is_empty() {
        vec![Part::text(PartKind::Thinking, "[encrypted reasoning]")]
    } else {
        summaries
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reasoning_without_summary_is_marked_encrypted() {
        let parts = reasoning_parts(&json!({"summary": [{"text": "plan"}]}));
        assert_eq!(parts, vec![Part::text(PartKind::Thinking, "plan")]);
        let parts = reasoning_parts(&json!({"encrypted_content": "gAAA"}));
        assert_eq!(parts[0].text.as_deref(), Some("[encrypted reasoning]"));
    }
}
