//! Google GenAI `Content`/`Part` objects into canonical parts.
//!
//! Gemini CLI stores message content, tool results and `/chat save`
//! checkpoints in the API's own shape, and Qwen Code (a Gemini CLI fork)
//! records every message that way, so both adapters read it through here.
//! A part is one of `text` (a thought when `thought: true`), `functionCall`,
//! `functionResponse`, `inlineData`, `fileData`, `executableCode` or
//! `codeExecutionResult`; anything else is kept as an `Other` part naming
//! its key, so new part kinds stay visible instead of vanishing.

use serde_json::Value;

use crate::formats::json::{json_text, str_field};
use crate::model::{Part, PartKind};

/// The parts of a `PartListUnion`: a string, one part, or a list of both.
/// Empty texts are dropped (the CLI writes `""` for tool-only turns).
pub(crate) fn parts(content: &Value) -> Vec<Part> {
    match content {
        Value::Array(items) => items.iter().filter_map(part).collect(),
        other => part(other).into_iter().collect(),
    }
}

fn part(p: &Value) -> Option<Part> {
    let obj = match p {
        Value::String(s) if s.is_empty() => return None,
        Value::String(s) => return Some(Part::text(PartKind::Text, s.clone())),
        Value::Object(o) => o,
        Value::Null => return None,
        other => return Some(Part::text(PartKind::Other, json_text(other))),
    };
    if let Some(text) = obj.get("text").and_then(Value::as_str) {
        if text.is_empty() {
            return None;
        }
        let kind = if obj.get("thought").and_then(Value::as_bool) == Some(true) {
            PartKind::Thinking
        } else {
            PartKind::Text
        };
        return Some(Part::text(kind, text));
    }
    if let Some(call) = obj.get("functionCall") {
        return Some(Part::tool_call(
            str_field(call, "name"),
            str_field(call, "id"),
            call.get("args").map(json_text),
        ));
    }
    if let Some(resp) = obj.get("functionResponse") {
        let (text, is_error) = response_text(resp.get("response").unwrap_or(&Value::Null));
        return Some(Part::tool_result(
            str_field(resp, "name"),
            str_field(resp, "id"),
            Some(text),
            is_error,
        ));
    }
    if let Some(data) = obj.get("inlineData") {
        let mime = str_field(data, "mimeType").unwrap_or("unknown type");
        return Some(Part::text(PartKind::File, format!("[inline data: {mime}]")));
    }
    if let Some(data) = obj.get("fileData") {
        let name = str_field(data, "fileUri")
            .or_else(|| str_field(data, "displayName"))
            .unwrap_or("[file]");
        return Some(Part::text(PartKind::File, name));
    }
    if let Some(code) = obj.get("executableCode") {
        let text = str_field(code, "code").unwrap_or_default();
        return Some(Part::text(PartKind::Other, text));
    }
    if let Some(result) = obj.get("codeExecutionResult") {
        let text = str_field(result, "output").unwrap_or_default();
        return Some(Part::text(PartKind::Other, text));
    }
    let key = obj.keys().next().map(String::as_str).unwrap_or("empty");
    Some(Part::text(PartKind::Other, format!("[{key}]")))
}

/// The text of a `functionResponse.response` and whether it reports an error.
/// Built-in tools answer `{output}` or `{error}`; MCP tools may answer any
/// object, kept as compact JSON so it stays searchable.
pub(crate) fn response_text(response: &Value) -> (String, bool) {
    if let Some(err) = response.get("error").filter(|e| !e.is_null()) {
        return (json_text(err), true);
    }
    match response.get("output").or_else(|| response.get("content")) {
        Some(out) => (json_text(out), false),
        None => (json_text(response), false),
    }
}
