//! Turns canonical messages into search rows: one per part with text, each
//! labelled with its kind, cut to a size worth indexing.
//!
//! Storage keeps every byte; the index does not need to. A 2 MB build log in
//! a tool result would dominate BM25 statistics and cost embedding time while
//! its useful words are at the start (the command's echo) and the end (the
//! error), so that is what gets indexed.

use std::collections::HashMap;

use crate::model::{Message, PartKind};
use crate::store::tables::search::SearchDoc;

/// Prose and thinking are what people search for; keep nearly all of it.
const MAX_PROSE: usize = 16 * 1024;
/// Tool input: commands, paths and patches are worth a few kilobytes.
const MAX_TOOL_CALL: usize = 4 * 1024;
/// Tool output: the head and the tail, where commands and errors are.
const TOOL_RESULT_HEAD: usize = 2 * 1024;
const TOOL_RESULT_TAIL: usize = 1024;

/// The session-level facts every row of a session carries.
pub struct SessionContext<'a> {
    pub client: &'a str,
    pub host: &'a str,
    pub project: Option<&'a str>,
}

/// Kind names as they appear in the store, in `--kind` and in JSON output.
pub fn kind_name(kind: PartKind) -> &'static str {
    match kind {
        PartKind::Text => "text",
        PartKind::Thinking => "thinking",
        PartKind::ToolCall => "tool-call",
        PartKind::ToolResult => "tool-result",
        PartKind::File => "file",
        PartKind::Other => "other",
    }
}

pub const KIND_NAMES: [&str; 6] = [
    "text",
    "thinking",
    "tool-call",
    "tool-result",
    "file",
    "other",
];

/// Search rows for `messages`. `context` gives each message's session facts;
/// a message whose session is absent is skipped (it cannot be filtered right).
pub fn documents<'m, 'c>(
    messages: impl IntoIterator<Item = &'m Message> + Clone,
    context: impl Fn(&str) -> Option<SessionContext<'c>>,
) -> Vec<SearchDoc> {
    // Results name their call only by id; the call carries the tool's name.
    let mut tool_of_call: HashMap<&str, &str> = HashMap::new();
    for m in messages.clone() {
        for p in &m.parts {
            if let (PartKind::ToolCall, Some(id), Some(name)) =
                (p.kind, p.tool_call_id.as_deref(), p.tool_name.as_deref())
            {
                tool_of_call.insert(id, name);
            }
        }
    }
    let mut docs = Vec::new();
    for m in messages {
        let Some(ctx) = context(&m.session_id) else {
            continue;
        };
        let mut part_no = 0u32;
        for part in &m.parts {
            let tool = part.tool_name.as_deref().or_else(|| {
                part.tool_call_id
                    .as_deref()
                    .and_then(|id| tool_of_call.get(id).copied())
            });
            let raw = part.text.as_deref().unwrap_or("");
            let text = match part.kind {
                PartKind::ToolCall => {
                    let call = match tool {
                        Some(name) => format!("{name} {raw}"),
                        None => raw.to_string(),
                    };
                    head(&call, MAX_TOOL_CALL).to_string()
                }
                PartKind::ToolResult => head_and_tail(raw, TOOL_RESULT_HEAD, TOOL_RESULT_TAIL),
                _ => head(raw, MAX_PROSE).to_string(),
            };
            if text.trim().is_empty() {
                continue;
            }
            // Rule 20: one search row per part with text, labelled with its kind, tool,
            // role, client, project, host and time.
            docs.push(SearchDoc {
                // Rule 21: keyed `<message>#<part>`, so a re-sync adds no search row.
                id: format!("{}#{part_no}", m.id),
                message_id: m.id.clone(),
                session_id: m.session_id.clone(),
                client: ctx.client.to_string(),
                host: ctx.host.to_string(),
                project: ctx.project.map(str::to_string),
                role: m.role.as_str().to_string(),
                kind: kind_name(part.kind).to_string(),
                tool: tool.map(str::to_string),
                timestamp: m.timestamp,
                part_no,
                text,
            });
            part_no += 1;
        }
    }
    docs
}

/// The longest prefix of `s` within `max` bytes that ends on a char boundary.
/// Bytes either side of a cut searched for a secret spanning it: the
/// longest secrets (private keys) are a few KB, and tool output can be
/// megabytes, not worth scanning whole for one cut.
const CUT_WINDOW: usize = 8 * 1024;

/// The secret (byte range in `s`) that a cut at `at` would split, if any.
fn secret_across(s: &str, at: usize) -> Option<(usize, usize)> {
    let lo = at.saturating_sub(CUT_WINDOW);
    let hi = (at + CUT_WINDOW).min(s.len());
    crate::redact::secret_spans(&s.as_bytes()[lo..hi])
        .into_iter()
        .map(|(start, stop)| (lo + start, lo + stop))
        .find(|&(start, stop)| start < at && at < stop)
}

/// The first `max` bytes of `s`, cut on a character boundary and never
/// inside a secret: half a key in the index is a key no pattern recognises
/// any more, so output redaction could not mask it.
fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    if let Some((start, _)) = secret_across(s, end) {
        end = start;
    }
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last `max` bytes of `s`, cut like [`head`].
fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    if let Some((_, stop)) = secret_across(s, start) {
        start = stop;
    }
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn head_and_tail(s: &str, head_len: usize, tail_len: usize) -> String {
    if s.len() <= head_len + tail_len {
        return s.to_string();
    }
    format!("{}\n…\n{}", head(s, head_len), tail(s, tail_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Part, Role};

    #[test]
    fn rule33_an_indexed_cut_never_keeps_part_of_a_secret() {
        let key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        let (before, after) = (
            format!("{} ", "a".repeat(100)),
            format!(" {}", "b".repeat(100)),
        );
        let text = format!("{before}{key}{after}");
        for cut in before.len() + 1..before.len() + key.len() {
            assert_eq!(head(&text, cut), before, "head cut at {cut}");
            assert_eq!(tail(&text, text.len() - cut), after, "tail cut at {cut}");
        }
        assert!(head(&text, 300).contains(key));
    }

    fn message(id: &str, role: Role, parts: Vec<Part>) -> Message {
        Message {
            id: id.into(),
            session_id: "s".into(),
            seq: 0,
            role,
            timestamp: None,
            model: None,
            parts,
        }
    }

    fn ctx(_: &str) -> Option<SessionContext<'static>> {
        Some(SessionContext {
            client: "claude-code",
            host: "h",
            project: Some("/p"),
        })
    }

    #[test]
    fn one_row_per_part_with_its_kind_and_the_tool_of_its_call() {
        let call = Part {
            tool_name: Some("Bash".into()),
            tool_call_id: Some("c1".into()),
            ..Part::text(PartKind::ToolCall, "{\"command\":\"cargo test\"}")
        };
        let result = Part {
            tool_call_id: Some("c1".into()),
            ..Part::text(PartKind::ToolResult, "test result: ok")
        };
        let messages = [
            message(
                "m1",
                Role::Assistant,
                vec![Part::text(PartKind::Text, "running tests"), call],
            ),
            message("m2", Role::User, vec![result]),
        ];
        let docs = documents(&messages, ctx);
        let kinds: Vec<(&str, &str, Option<&str>)> = docs
            .iter()
            .map(|d| (d.id.as_str(), d.kind.as_str(), d.tool.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("m1#0", "text", None),
                ("m1#1", "tool-call", Some("Bash")),
                ("m2#0", "tool-result", Some("Bash")),
            ]
        );
        assert!(docs[1].text.starts_with("Bash {"));
    }

    #[test]
    fn long_tool_output_keeps_head_and_tail_on_char_boundaries() {
        let out = format!("START{}ERROR: boom", "é".repeat(10_000));
        let docs = documents(
            &[message(
                "m",
                Role::Tool,
                vec![Part::text(PartKind::ToolResult, out)],
            )],
            ctx,
        );
        let text = &docs[0].text;
        assert!(text.starts_with("START") && text.ends_with("ERROR: boom"));
        assert!(text.len() <= TOOL_RESULT_HEAD + TOOL_RESULT_TAIL + 8);
    }

    #[test]
    fn empty_parts_are_not_indexed() {
        let docs = documents(
            &[message(
                "m",
                Role::User,
                vec![
                    Part::text(PartKind::Text, "  \n"),
                    Part::text(PartKind::Text, "hi"),
                ],
            )],
            ctx,
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].part_no, 0);
    }
}
