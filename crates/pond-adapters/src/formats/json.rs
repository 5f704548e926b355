//! Reading the JSON every client writes: a field, the elements of an
//! array, compact text for a structured value, `%XX` escapes, and the
//! content shapes (a string or a list of blocks) most clients share.

use serde_json::Value;

use crate::model::{Part, PartKind, Role};

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The elements of the array at `key`: none when the key is missing or
/// holds anything else, which clients' older records often do.
pub(crate) fn items_of<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Compact JSON for tool inputs and structured outputs, so they stay searchable.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Message content that is a string or a list of blocks (Anthropic's and
/// OpenAI's shapes, and the clients built on them), as parts.
pub(crate) fn blocks_or_text(content: Option<&Value>, block: impl Fn(&Value) -> Part) -> Vec<Part> {
    match content {
        Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
        Some(Value::Array(blocks)) => blocks.iter().map(block).collect(),
        _ => Vec::new(),
    }
}

/// Who speaks in a message: Anthropic's API, and the clients modelled on
/// it, send tool output as a user message, which is the tools speaking.
pub(crate) fn speaker(role: Role, parts: &[Part]) -> Role {
    let only_results = !parts.is_empty() && parts.iter().all(|p| p.kind == PartKind::ToolResult);
    if role == Role::User && only_results {
        Role::Tool
    } else {
        role
    }
}

/// A tool result's content as text: a string as it is, a list of blocks
/// as their texts (other blocks by their type), anything else as JSON.
pub(crate) fn tool_result_text(content: &Value) -> String {
    match content {
        Value::Array(items) => items
            .iter()
            .map(|item| match str_field(item, "type") {
                Some("text") => str_field(item, "text").unwrap_or_default().to_string(),
                Some(other) => format!("[{other}]"),
                None => json_text(item),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => json_text(other),
    }
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], escaped) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode("/home/me/my%20repo"), "/home/me/my repo");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
    }

    #[test]
    fn tool_result_text_joins_blocks() {
        assert_eq!(tool_result_text(&json!("done")), "done");
        let blocks = json!([{"type": "text", "text": "a"}, {"type": "image"}, {"x": 1}]);
        assert_eq!(tool_result_text(&blocks), "a\n[image]\n{\"x\":1}");
        assert_eq!(tool_result_text(&json!({"ok": true})), "{\"ok\":true}");
    }
}
