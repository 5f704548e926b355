//! GitHub Copilot CLI: an append-only event log per session.
//!
//! Copilot CLI keeps everything under `~/.copilot` (`%USERPROFILE%\.copilot`
//! on Windows); `COPILOT_HOME` moves that directory (mentioned by users and
//! maintainers in github/copilot-cli#1954). Current versions write
//! `session-state/<sessionId>/events.jsonl`; early ones wrote
//! `session-state/<sessionId>.jsonl`, same records. Resuming a session
//! appends to the same file (`session.resume`).
//!
//! Every line is `{type, data, id, parentId, timestamp}`. Understood:
//! `session.start` / `session.resume` (cwd, branch, model), `session.model_change`,
//! `user.message` (content and attached files), `assistant.message` (text,
//! reasoning, `toolRequests`), `assistant.reasoning`, `tool.execution_complete`
//! (the result, paired to the request by `toolCallId`), `system.message`,
//! `system.notification`, `session.error`, and a list of bookkeeping events
//! (turns, hooks, usage, truncation, subagent start/stop) kept as facts only.
//! `tool.execution_start` repeats the call already named in the assistant
//! message's `toolRequests`, so it adds no message. Subagent traffic
//! (`parentToolCallId`) is written into the parent's log and stays there.
//!
//! Legacy `history-session-state/<id>.json` (rewritten whole) is known only
//! from other tools' descriptions: `{sessionId, startTime, chatMessages:
//! [OpenAI-style chat messages], timeline}`. It is read tolerantly: a
//! document without `chatMessages` is kept raw and counted as unknown.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{env_dir, walk};
use crate::formats::json::{items_of, json_text, str_field};
use crate::formats::openai::openai_tool_calls;
use crate::formats::time::{saw_fields, timestamp_field};
use crate::model::{Message, Part, PartKind, Role, SessionFacts, joined_text};
use crate::naming::{first_or_hint, is_uuid, record_message, sha_id};

pub struct CopilotCli;

/// Event types known to carry no conversation text.
const BOOKKEEPING: &[&str] = &[
    "assistant.turn_start",
    "assistant.turn_end",
    "assistant.message_delta",
    "assistant.usage",
    "tool.execution_start",
    "tool.execution_partial_result",
    "hook.start",
    "hook.end",
    "session.info",
    "session.truncation",
    "session.usage_checkpoint",
    "session.auto_mode_resolved",
    "session.shutdown",
    "subagent.started",
    "subagent.completed",
    "subagent.failed",
    "abort",
];

impl Adapter for CopilotCli {
    fn name(&self) -> &'static str {
        "copilot-cli"
    }

    fn default_root(&self) -> PathBuf {
        copilot_home().join("session-state")
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        vec![copilot_home().join("history-session-state")]
    }

    fn discover(&self, root: &Path) -> Discovery {
        let (found, problems) = walk(root, |p| {
            p.extension().is_some_and(|e| e == "jsonl") || is_legacy_document(root, p)
        });
        let files = found
            .into_iter()
            .map(|(path, rel_path)| {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                let is_json = path.extension().is_some_and(|e| e == "json");
                let session_hint = if is_json {
                    Some(stem.to_string()).filter(|s| !s.is_empty())
                } else if stem == "events" {
                    path.parent()
                        .and_then(|d| d.file_name())
                        .and_then(|n| n.to_str())
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                } else {
                    is_uuid(stem).then(|| stem.to_string())
                };
                SourceFile {
                    path,
                    rel_path,
                    layout: if is_json {
                        Layout::Document
                    } else {
                        Layout::Jsonl
                    },
                    session_hint,
                    parent_hint: None,
                }
            })
            .collect();
        Discovery { files, problems }
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_or_hint(file, first_records, |r| {
            if file.layout == Layout::Document {
                str_field(r, "sessionId")
            } else if str_field(r, "type") == Some("session.start") {
                r.get("data").and_then(|d| str_field(d, "sessionId"))
            } else {
                None
            }
        })
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if ctx.file.layout == Layout::Document {
            return legacy_document(ctx, record);
        }
        let at = timestamp_field(record, "timestamp");
        let mut facts = SessionFacts::default();
        facts.saw(at);
        let (Some(kind), Some(data)) = (
            str_field(record, "type"),
            record.get("data").filter(|d| d.is_object()),
        ) else {
            return Interpretation::unknown();
        };
        let message = |role: Role, model: Option<&str>, parts: Vec<Part>| {
            record_message(
                ctx,
                event_id(ctx, record),
                role,
                at,
                model.map(str::to_string),
                parts,
            )
        };
        match kind {
            "session.start" | "session.resume" => {
                if let Some(c) = data.get("context") {
                    facts.project = str_field(c, "cwd")
                        .or_else(|| str_field(c, "gitRoot"))
                        .map(str::to_string);
                    facts.git_branch = str_field(c, "branch").map(str::to_string);
                }
                facts.model = str_field(data, "selectedModel").map(str::to_string);
                saw_fields(&mut facts, data, &["startTime", "resumeTime"]);
                Interpretation::facts(facts)
            }
            "session.model_change" => {
                facts.model = str_field(data, "newModel").map(str::to_string);
                Interpretation::facts(facts)
            }
            "user.message" => {
                let mut parts = Vec::new();
                if let Some(text) = str_field(data, "content") {
                    parts.push(Part::text(PartKind::Text, text));
                }
                for a in items_of(data, "attachments") {
                    let name = str_field(a, "path")
                        .or_else(|| str_field(a, "displayName"))
                        .unwrap_or("[attachment]");
                    parts.push(Part::text(PartKind::File, name));
                }
                Interpretation::message(facts, message(Role::User, None, parts))
            }
            "assistant.message" => {
                let model = str_field(data, "model");
                facts.model = model.map(str::to_string);
                let mut parts = Vec::new();
                if let Some(thought) = str_field(data, "reasoningText") {
                    parts.push(Part::text(PartKind::Thinking, thought));
                }
                if let Some(text) = str_field(data, "content") {
                    parts.push(Part::text(PartKind::Text, text));
                }
                for request in items_of(data, "toolRequests") {
                    parts.push(Part::tool_call(
                        str_field(request, "name"),
                        str_field(request, "toolCallId"),
                        request.get("arguments").map(json_text),
                    ));
                }
                Interpretation::message(facts, message(Role::Assistant, model, parts))
            }
            "assistant.reasoning" => {
                let text = str_field(data, "content").unwrap_or_default();
                let parts = vec![Part::text(PartKind::Thinking, text)];
                Interpretation::message(facts, message(Role::Assistant, None, parts))
            }
            "tool.execution_complete" => {
                facts.model = str_field(data, "model").map(str::to_string);
                let result = data.get("result");
                let text = result
                    .and_then(|r| r.get("content"))
                    .or_else(|| data.get("error").and_then(|e| e.get("message")))
                    .or(result)
                    .map(json_text);
                let part = Part::tool_result(
                    str_field(data, "toolName"),
                    str_field(data, "toolCallId"),
                    text,
                    data.get("success").and_then(Value::as_bool) == Some(false),
                );
                Interpretation::message(facts, message(Role::Tool, None, vec![part]))
            }
            "system.message" => {
                let role = str_field(data, "role")
                    .and_then(Role::parse)
                    .unwrap_or(Role::System);
                let text = str_field(data, "content").unwrap_or_default();
                let parts = vec![Part::text(PartKind::Text, text)];
                Interpretation::message(facts, message(role, None, parts))
            }
            "system.notification" => {
                let text = str_field(data, "content").unwrap_or_default();
                let parts = vec![Part::text(PartKind::Text, text)];
                Interpretation::message(facts, message(Role::System, None, parts))
            }
            "session.error" => {
                let text = format!(
                    "[error: {}]",
                    str_field(data, "message").unwrap_or("unknown")
                );
                let parts = vec![Part::text(PartKind::Other, text)];
                Interpretation::message(facts, message(Role::System, None, parts))
            }
            "assistant.turn_start" => {
                facts.model = str_field(data, "model").map(str::to_string);
                Interpretation::facts(facts)
            }
            k if BOOKKEEPING.contains(&k) => Interpretation::facts(facts),
            _ => Interpretation::unknown_with_facts(facts),
        }
    }
}

fn copilot_home() -> PathBuf {
    env_dir("COPILOT_HOME").unwrap_or_else(|| crate::paths::home_dir().join(".copilot"))
}

/// `history-session-state/<id>.json`, whether the root is that directory or
/// `~/.copilot` itself.
fn is_legacy_document(root: &Path, p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "json")
        && p.parent().is_some_and(|dir| {
            dir == root
                || dir
                    .file_name()
                    .is_some_and(|n| n == "history-session-state")
        })
}

/// Event ids are the source's own (UUIDs in real logs, unique within a
/// session at least). Copies redacted for sharing replace them with one
/// placeholder text; an "id" with whitespace is such a placeholder, and
/// keying on it would fold distinct events into one, so those fall back to
/// the record's hash.
fn event_id(ctx: RecordContext<'_>, record: &Value) -> String {
    match str_field(record, "id").filter(|id| !id.chars().any(char::is_whitespace)) {
        Some(id) => format!("{}/{id}", ctx.session_id),
        None => sha_id(ctx),
    }
}

/// The legacy single-document session: every chat message, keyed by its
/// index, since the file is rewritten whole as the session grows.
fn legacy_document(ctx: RecordContext<'_>, doc: &Value) -> Interpretation {
    let Some(chat) = doc.get("chatMessages").and_then(Value::as_array) else {
        return Interpretation::unknown();
    };
    let mut facts = SessionFacts::default();
    let started = timestamp_field(doc, "startTime");
    facts.saw(started);
    for event in items_of(doc, "timeline") {
        facts.saw(timestamp_field(event, "timestamp"));
    }
    let messages = chat
        .iter()
        .enumerate()
        .filter_map(|(i, m)| chat_message(ctx, i, m, started))
        .collect();
    // A rewrite may complete a message that was still streaming.
    Interpretation::revised(facts, messages)
}

fn chat_message(
    ctx: RecordContext<'_>,
    index: usize,
    m: &Value,
    started: Option<DateTime<Utc>>,
) -> Option<Message> {
    let role = Role::parse(str_field(m, "role")?)?;
    let mut parts: Vec<Part> = match m.get("content") {
        Some(Value::String(s)) if !s.is_empty() => vec![Part::text(PartKind::Text, s.clone())],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .map(|b| match str_field(b, "text") {
                Some(t) => Part::text(PartKind::Text, t),
                None => Part::text(
                    PartKind::Other,
                    format!("[{}]", str_field(b, "type").unwrap_or("unknown")),
                ),
            })
            .collect(),
        _ => Vec::new(),
    };
    if role == Role::Tool {
        let text = joined_text(&parts);
        parts = vec![Part::tool_result(
            str_field(m, "name"),
            str_field(m, "tool_call_id"),
            Some(text),
            false,
        )];
    }
    parts.extend(openai_tool_calls(m));
    Some(Message {
        id: format!("{}/chat-{index}", ctx.session_id),
        session_id: ctx.session_id.to_string(),
        seq: ctx.offset + index as u64,
        role,
        // Chat messages carry no time of their own; only the first is
        // known to be at the session's start.
        timestamp: if index == 0 { started } else { None },
        model: None,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::testing::assert_tool_pairs;
    use crate::clients::testing::{Fixtures, read_junk, role_counts, roles};
    use crate::translate::translate_bytes;

    const FIXTURES: Fixtures = Fixtures::new(&CopilotCli, "copilot-cli");

    const EVENTS: &str = "session-state/aaaabbbb-1111-2222-3333-ccccddddeeee/events.jsonl";

    #[test]
    fn discovers_every_fixture() {
        let found = FIXTURES.assert_discovers(&[
            ("agent-sessions-small.jsonl", Layout::Jsonl),
            (EVENTS, Layout::Jsonl),
        ]);
        assert_eq!(
            found.files[1].session_hint.as_deref(),
            Some("aaaabbbb-1111-2222-3333-ccccddddeeee")
        );
    }

    #[test]
    fn events_log() {
        let t = FIXTURES.read_session(EVENTS, "aaaabbbb-1111-2222-3333-ccccddddeeee");
        // user, assistant (tool request), tool result, assistant.
        assert_eq!(
            roles(&t),
            [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
        );
        assert_eq!(t.messages[0].id, "aaaabbbb-1111-2222-3333-ccccddddeeee/e2");
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        assert_tool_pairs(&t.messages);
        let result = &t.messages[2].parts[0];
        assert_eq!(result.text.as_deref(), Some("file1\nfile2\n"));
        assert!(!result.is_error);
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/tmp/project"));
        assert_eq!(facts.git_branch.as_deref(), Some("main"));
    }

    #[test]
    fn many_event_types() {
        let t = FIXTURES.read_session("agent-sessions-small.jsonl", "copilot_stage0_small");
        // 32 events: 2 user, 5 assistant.message + 1 reasoning,
        // 4 tool results, system.message, system.notification, session.error.
        assert_eq!(t.messages.len(), 15);
        assert_eq!(
            role_counts(&t, [Role::User, Role::Assistant, Role::Tool, Role::System]),
            [2, 6, 4, 3]
        );
        assert_tool_pairs(&t.messages);
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/tmp/repo"));
        assert_eq!(facts.model.as_deref(), Some("gpt-5-mini"));
        // The redacted tail has placeholder timestamps; the head's are real.
        assert!(facts.first_seen.is_some());
        let failed = t
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == PartKind::ToolResult && p.is_error)
            .count();
        assert_eq!(failed, 3);
        let files: Vec<&Part> = t
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == PartKind::File)
            .collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn same_bytes_same_ids() {
        for name in ["agent-sessions-small.jsonl", EVENTS] {
            FIXTURES.assert_ids_stable(name);
        }
    }

    #[test]
    fn truncated_and_garbage_input_do_not_panic() {
        let file = FIXTURES.assert_reads_cut("agent-sessions-small.jsonl", 3);
        read_junk(
            &CopilotCli,
            &file,
            &[
                &b"\x00\xff{{not json\n[1]\n{\"type\":\"user.message\",\"data\":7}\n"[..],
                b"{\"type\":\"assistant.message\",\"data\":{\"toolRequests\":[1,{\"arguments\":null}]}}\n",
            ],
        );
    }

    /// Written from the descriptions of the legacy format; no real file of
    /// it was available.
    const LEGACY: &str = r#"{"sessionId":"0b1c2d3e-0000-4000-8000-000000000001","startTime":"2025-10-08T21:10:16.398Z","chatMessages":[{"role":"user","content":"please add mcp servers"},{"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"str_replace_editor","arguments":"{\"command\":\"view\",\"path\":\"/x\"}"}}]},{"role":"tool","tool_call_id":"call_1","name":"str_replace_editor","content":"file contents here"}],"timeline":[{"type":"tool_call_completed","timestamp":"2025-10-08T21:11:00.000Z"}]}"#;

    fn legacy_file() -> SourceFile {
        let root = Path::new("/h/.copilot/history-session-state");
        SourceFile::new(
            root.join("0b1c2d3e-0000-4000-8000-000000000001.json"),
            "0b1c2d3e-0000-4000-8000-000000000001.json",
            Layout::Document,
        )
        .with_session("0b1c2d3e-0000-4000-8000-000000000001")
    }

    #[test]
    fn legacy_document_grows_by_one_message() {
        let file = legacy_file();
        let t = translate_bytes(&CopilotCli, &file, LEGACY.as_bytes());
        assert_eq!(t.session_id, "0b1c2d3e-0000-4000-8000-000000000001");
        assert_eq!(roles(&t), [Role::User, Role::Assistant, Role::Tool]);
        assert_tool_pairs(&t.messages);
        assert!(t.facts[0].1.last_seen > t.facts[0].1.first_seen);

        let grown = LEGACY.replace(
            r#""content":"file contents here"}]"#,
            r#""content":"file contents here"},{"role":"assistant","content":"done"}]"#,
        );
        let t2 = translate_bytes(&CopilotCli, &file, grown.as_bytes());
        let old: Vec<&str> = t.messages.iter().map(|m| m.id.as_str()).collect();
        let new: Vec<&str> = t2.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(new.len(), old.len() + 1);
        assert_eq!(&new[..old.len()], &old[..]);

        let _ = translate_bytes(&CopilotCli, &file, &grown.as_bytes()[..grown.len() / 2]);
        let _ = translate_bytes(&CopilotCli, &file, br#"{"chatMessages":[1,{"role":7}]}"#);
    }

    #[test]
    fn legacy_documents_are_discovered() {
        let dir = std::env::temp_dir().join(format!("pond-copilot-{}", std::process::id()));
        let legacy = dir.join("history-session-state");
        std::fs::create_dir_all(&legacy).expect("tmp");
        std::fs::write(legacy.join("abc.json"), LEGACY).expect("tmp");
        let found = CopilotCli.discover(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.files.len(), 1);
        assert_eq!(found.files[0].layout, Layout::Document);
        assert_eq!(found.files[0].session_hint.as_deref(), Some("abc"));
    }
}
