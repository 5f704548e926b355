//! pi (badlogic/pi-mono's coding agent): one JSONL file per session.
//!
//! pi keeps its sessions under `~/.pi/agent/sessions/--<cwd with / as ->--/`
//! as `<ISO timestamp>_<uuid>.jsonl`, in the home directory on Linux, macOS
//! and Windows alike. pi reportedly honours an override of its agent
//! directory, but no fixture or note here confirms the variable, so only the
//! default is read; `--path` covers a moved directory.
//!
//! The first line is a header `{type:"session", id, timestamp, cwd, ...}`
//! (`parentSession` names the file a fork came from). Then entries:
//! `message` wraps one pi-ai message (`role` user / assistant / toolResult,
//! plus pi's own bashExecution / custom / branchSummary / compactionSummary)
//! whose `content` is a string or blocks of text / thinking / toolCall /
//! image; `model_change`, `thinking_level_change`, `compaction` and
//! `branch_summary` (summaries become system messages), `custom_message`
//! (extension text sent to the model), `custom`, `label`, `session_info`
//! (the session's name).
//!
//! Format versions: v1 entries carry no ids (the real fixture is one); v2+
//! entries carry an 8-hex `id` and `parentId` forming a tree, where a branch
//! keeps the abandoned path in the same file. Every entry is kept in file
//! order; the tree is not replayed, so an abandoned branch stays searchable.
//! Entry ids are unique only within a file, so message ids are prefixed with
//! the session id; v1 entries fall back to the record's content hash.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, RecordContext, SourceFile};
use crate::discover::discover_jsonl;
use crate::formats::json::{json_text, str_field};
use crate::formats::pi::{
    content_parts, entry_head, entry_message_id, header_session_id, shared_entry,
};
use crate::formats::time::instant;
use crate::model::{Message, Part, PartKind, Role, joined_text};
use crate::naming::{record_message, uuid_tail};
use crate::usage::{Tokens, Usage, count};

pub struct Pi;

impl Adapter for Pi {
    fn name(&self) -> &'static str {
        "pi"
    }

    fn default_root(&self) -> PathBuf {
        crate::paths::home_dir()
            .join(".pi")
            .join("agent")
            .join("sessions")
    }

    fn discover(&self, root: &Path) -> Discovery {
        discover_jsonl(root, |stem| uuid_tail(stem).map(str::to_string))
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        header_session_id(file, first_records)
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let Some((kind, at, mut facts)) = entry_head(record) else {
            return Interpretation::unknown();
        };
        match kind {
            "session" => {
                facts.project = str_field(record, "cwd").map(str::to_string);
                facts.model = str_field(record, "modelId").map(str::to_string);
                facts.parent_id = str_field(record, "parentSession").and_then(parent_session_id);
                Interpretation::facts(facts)
            }
            "message" => match record.get("message").filter(|m| m.is_object()) {
                Some(body) => {
                    let message = agent_message(ctx, record, body, at);
                    if let Some(m) = &message
                        && m.role == Role::Assistant
                    {
                        facts.model.clone_from(&m.model);
                    }
                    Interpretation {
                        understood: message.is_some(),
                        facts,
                        usage: call_usage(ctx, body, message.as_ref(), at)
                            .into_iter()
                            .collect(),
                        messages: message.into_iter().collect(),
                        ..Interpretation::default()
                    }
                }
                None => Interpretation::unknown_with_facts(facts),
            },
            "session_info" => {
                facts.title = str_field(record, "name").map(str::to_string);
                Interpretation::facts(facts)
            }
            "custom_message" => {
                let parts = content_parts(record.get("content"));
                let message = new_message(ctx, record, Role::Developer, at, parts);
                Interpretation::message(facts, message)
            }
            _ => shared_entry(ctx, record, kind, at, facts),
        }
    }
}

/// An assistant message's `usage`, Anthropic-style (`input` without the
/// cache), with pi's own cost. Each message is one call, named by its id.
fn call_usage(
    ctx: RecordContext<'_>,
    body: &Value,
    message: Option<&Message>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<Usage> {
    let message = message.filter(|m| m.role == Role::Assistant)?;
    let u = body.get("usage")?;
    let tokens = Tokens {
        input: count(u.get("input")),
        output: count(u.get("output")),
        cache_write: count(u.get("cacheWrite")),
        cache_write_1h: 0,
        cache_read: count(u.get("cacheRead")),
        reasoning: 0,
    };
    (!tokens.is_zero()).then(|| Usage {
        call: message.id.clone(),
        message_id: Some(message.id.clone()),
        session_id: ctx.session_id.to_string(),
        timestamp: at,
        model: message.model.clone(),
        tokens,
        cost_usd: u
            .get("cost")
            .and_then(|c| c.get("total"))
            .and_then(Value::as_f64),
    })
}

/// `parentSession` is the parent's file path; its name ends in the parent's id.
/// `None` when the name does not end in one: a host's file path is no id.
fn parent_session_id(path: &str) -> Option<String> {
    let stem = Path::new(path).file_stem().and_then(|s| s.to_str())?;
    uuid_tail(stem).map(str::to_string)
}

fn new_message(
    ctx: RecordContext<'_>,
    record: &Value,
    role: Role,
    at: Option<DateTime<Utc>>,
    parts: Vec<Part>,
) -> Message {
    record_message(ctx, entry_message_id(ctx, record), role, at, None, parts)
}

/// pi-ai messages carry their own epoch-millisecond `timestamp`; the entry's
/// ISO one is preferred (v1 files have both).
fn agent_message(
    ctx: RecordContext<'_>,
    record: &Value,
    body: &Value,
    at: Option<DateTime<Utc>>,
) -> Option<Message> {
    let at = at.or_else(|| instant(body.get("timestamp")));
    let (role, parts) = match str_field(body, "role")? {
        "user" => (Role::User, content_parts(body.get("content"))),
        "assistant" => {
            let mut parts = content_parts(body.get("content"));
            if let Some(error) = str_field(body, "errorMessage") {
                parts.push(Part::text(PartKind::Other, format!("[error: {error}]")));
            }
            (Role::Assistant, parts)
        }
        "toolResult" => {
            let text = joined_text(&content_parts(body.get("content")));
            let part = Part::tool_result(
                str_field(body, "toolName"),
                str_field(body, "toolCallId"),
                Some(text),
                body.get("isError")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            );
            (Role::Tool, vec![part])
        }
        // A shell command the user ran from the prompt (`!cmd`): not a model
        // tool call, so the call and its output carry no call id.
        "bashExecution" => {
            let call = Part::tool_call(
                Some("bash"),
                None,
                str_field(body, "command").map(str::to_string),
            );
            let result = Part::tool_result(
                Some("bash"),
                None,
                body.get("output").map(json_text),
                body.get("exitCode")
                    .and_then(Value::as_i64)
                    .is_some_and(|c| c != 0),
            );
            (Role::User, vec![call, result])
        }
        // Extension messages (`hookMessage` before v3) reach the model as
        // injected context.
        "custom" | "hookMessage" => (Role::Developer, content_parts(body.get("content"))),
        "branchSummary" | "compactionSummary" => (
            Role::System,
            vec![Part::text(
                PartKind::Text,
                str_field(body, "summary").unwrap_or_default(),
            )],
        ),
        _ => return None,
    };
    Some(record_message(
        ctx,
        entry_message_id(ctx, record),
        role,
        at,
        (role == Role::Assistant)
            .then(|| str_field(body, "model").map(str::to_string))
            .flatten(),
        parts,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Layout;
    use crate::clients::testing::assert_tool_pairs;
    use crate::clients::testing::{Fixtures, read_junk, role_counts, roles};
    use crate::translate::translate_bytes;

    const FIXTURES: Fixtures = Fixtures::new(&Pi, "pi");

    #[test]
    fn discovers_every_fixture() {
        FIXTURES.assert_discovers(&[
            ("agent-sessions-small.jsonl", Layout::Jsonl),
            ("large-session.jsonl", Layout::Jsonl),
        ]);
    }

    #[test]
    fn real_large_session() {
        let t = FIXTURES.read_session(
            "large-session.jsonl",
            "d703a1a9-1b7b-4fb1-b512-c9738b1fe617",
        );
        assert_eq!(t.unparsed_records, 0);
        // 88 user + 453 assistant + 373 toolResult entries, no two alike.
        assert_eq!(t.messages.len(), 914);
        assert_eq!(
            role_counts(&t, [Role::User, Role::Assistant, Role::Tool]),
            [88, 453, 373]
        );
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        let errors = t
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == PartKind::ToolResult && p.is_error)
            .count();
        assert_eq!(errors, 19);
        assert!(
            t.messages
                .iter()
                .flat_map(|m| &m.parts)
                .any(|p| p.kind == PartKind::Thinking)
        );
        assert_tool_pairs(&t.messages);
        let facts = &t.facts[0].1;
        assert_eq!(
            facts.project.as_deref(),
            Some("/Users/badlogic/workspaces/pi-mono")
        );
        assert!(facts.model.is_some());
        assert!(facts.first_seen.is_some() && facts.last_seen > facts.first_seen);
    }

    #[test]
    fn tree_session_with_compactions() {
        let t = FIXTURES.read_session(
            "agent-sessions-small.jsonl",
            "019e19b4-eb48-746a-aa6b-8dfcfa37954b",
        );
        // 2 user, 2 assistant, 2 compaction summaries.
        assert_eq!(t.messages.len(), 6);
        assert_eq!(
            roles(&t),
            [
                Role::User,
                Role::Assistant,
                Role::System,
                Role::User,
                Role::Assistant,
                Role::System
            ]
        );
        // Entry ids are kept, scoped by the session.
        assert_eq!(
            t.messages[0].id,
            "019e19b4-eb48-746a-aa6b-8dfcfa37954b/30c6a75f"
        );
        assert_eq!(t.messages[1].model.as_deref(), Some("pi-fixture-model"));
        let facts = &t.facts[0].1;
        assert_eq!(
            facts.project.as_deref(),
            Some("/tmp/as-agent-fixture/project")
        );
        assert_eq!(facts.model.as_deref(), Some("pi-fixture-model"));
    }

    #[test]
    fn same_bytes_same_ids() {
        for name in ["agent-sessions-small.jsonl", "large-session.jsonl"] {
            FIXTURES.assert_ids_stable(name);
        }
    }

    #[test]
    fn fork_names_its_parent() {
        let file = SourceFile::new(PathBuf::from("x.jsonl"), "x.jsonl", Layout::Jsonl);
        let header = br#"{"type":"session","version":3,"id":"aaaaaaaa-0000-4000-8000-000000000002","timestamp":"2025-01-01T00:00:00Z","cwd":"/p","parentSession":"/h/.pi/agent/sessions/--p--/2025-01-01T00-00-00-000Z_aaaaaaaa-0000-4000-8000-000000000001.jsonl"}
"#;
        let t = translate_bytes(&Pi, &file, header);
        assert_eq!(
            t.facts[0].1.parent_id.as_deref(),
            Some("aaaaaaaa-0000-4000-8000-000000000001")
        );
    }

    #[test]
    fn truncated_and_garbage_input_do_not_panic() {
        let file = FIXTURES.assert_reads_cut("large-session.jsonl", 7);
        read_junk(
            &Pi,
            &file,
            &[
                &b"\x00\xff{{not json\n[1,2]\n\"s\"\n{\"type\":\"message\",\"message\":5}\n"[..],
                b"{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":7}],\"timestamp\":1e400}}\n",
                b"{\"type\":\"session\",\"parentSession\":\"\"}\n{\"type\":\"compaction\"}\n",
            ],
        );
    }
}
