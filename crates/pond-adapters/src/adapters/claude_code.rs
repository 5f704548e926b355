//! Claude Code: `~/.claude/projects/<encoded cwd>/<session>.jsonl`.
//!
//! Each line is a self-describing record (`user`, `assistant`, `system`,
//! `summary`, and a growing zoo of bookkeeping types). Subagents live either
//! beside their parent as `agent-<id>.jsonl` (old layout) or under
//! `<session>/subagents/agent-<id>.jsonl` with an `agent-<id>.meta.json` (2.1.x);
//! both become child sessions.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    Adapter, Classified, Discovery, Interpretation, Layout, RecordContext, SourceFile, client_home,
    discover_classified, file_name, hint_or_first, is_uuid, json_text, record_message, sha_id,
    str_field, timestamp_field, tool_result_text,
};
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

pub struct ClaudeCode;

/// Record types that carry no message but are known; anything else is counted
/// as unknown (and still kept byte-for-byte).
const BOOKKEEPING: &[&str] = &[
    "file-history-snapshot",
    "attachment",
    "progress",
    "queue-operation",
    "permission-mode",
    "mode",
    "worktree-state",
    "agent-name",
    "last-prompt",
    "pr-link",
    "frame-link",
    "relocated",
    "bridge-session",
    "started",
    "result",
    "atis-latch",
];

impl Adapter for ClaudeCode {
    fn name(&self) -> &'static str {
        "claude-code"
    }

    fn default_root(&self) -> PathBuf {
        client_home("CLAUDE_CONFIG_DIR", ".claude", "projects")
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| {
            let name = file_name(p);
            name.ends_with(".jsonl") || (name.starts_with("agent-") && name.ends_with(".meta.json"))
        };
        discover_classified(root, keep, |path| {
            let name = file_name(path);
            let (stem, layout) = match name.strip_suffix(".meta.json") {
                Some(stem) => (stem, Layout::Document),
                None => (name.trim_end_matches(".jsonl"), Layout::Jsonl),
            };
            Classified {
                layout,
                session_hint: (is_agent_id(stem) || is_uuid(stem)).then(|| stem.to_string()),
                parent_hint: subagent_parent(path),
            }
        })
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        hint_or_first(file, first_records, |r| str_field(r, "sessionId"))
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if ctx.file.layout == Layout::Document {
            // agent-<id>.meta.json: {"agentType": ...}
            let mut facts = base_facts(ctx, record);
            facts.title = str_field(record, "agentType").map(|t| format!("subagent: {t}"));
            return Interpretation::facts(facts);
        }
        let mut facts = base_facts(ctx, record);
        let Some(kind) = str_field(record, "type") else {
            return Interpretation::unknown();
        };
        match kind {
            "user" | "assistant" => {
                let message = conversation_message(ctx, record, kind);
                if let Some(m) = &message
                    && m.model.is_some()
                {
                    facts.model.clone_from(&m.model);
                }
                Interpretation::with_messages(facts, message.into_iter().collect())
            }
            // Early versions wrote tool calls and results as records of their own.
            "tool_use" | "tool_result" => {
                let part = if kind == "tool_use" {
                    Part::tool_call(
                        str_field(record, "name"),
                        str_field(record, "uuid"),
                        record.get("input").map(json_text),
                    )
                } else {
                    Part::tool_result(
                        str_field(record, "name"),
                        None,
                        record.get("output").map(json_text),
                        false,
                    )
                };
                let role = if kind == "tool_use" {
                    Role::Assistant
                } else {
                    Role::Tool
                };
                Interpretation {
                    understood: true,
                    facts,
                    messages: vec![record_message(
                        ctx,
                        message_id(ctx, record),
                        role,
                        timestamp_field(record, "timestamp"),
                        None,
                        vec![part],
                    )],
                    ..Interpretation::default()
                }
            }
            "system" => {
                let text = str_field(record, "content")
                    .map(str::to_string)
                    .or_else(|| str_field(record, "subtype").map(|s| format!("[{s}]")));
                let message = text.map(|t| {
                    record_message(
                        ctx,
                        message_id(ctx, record),
                        Role::System,
                        timestamp_field(record, "timestamp"),
                        None,
                        vec![Part::text(PartKind::Text, t)],
                    )
                });
                Interpretation::with_messages(facts, message.into_iter().collect())
            }
            "summary" => {
                facts.title = str_field(record, "summary").map(str::to_string);
                Interpretation::facts(facts)
            }
            "custom-title" => {
                facts.title = str_field(record, "customTitle").map(str::to_string);
                Interpretation::facts(facts)
            }
            "ai-title" => {
                facts.title = str_field(record, "aiTitle").map(str::to_string);
                Interpretation::facts(facts)
            }
            k if BOOKKEEPING.contains(&k) => Interpretation::facts(facts),
            _ => Interpretation {
                understood: false,
                facts,
                ..Interpretation::default()
            },
        }
    }
}

/// `agent-<id>` with an alphanumeric id, as Claude Code names subagent files.
fn is_agent_id(stem: &str) -> bool {
    stem.strip_prefix("agent-")
        .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `<session>/subagents/agent-x.jsonl` names its parent in the path.
fn subagent_parent(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    if dir.file_name()? != "subagents" {
        return None;
    }
    let owner = dir.parent()?.file_name()?.to_str()?;
    is_uuid(owner).then(|| owner.to_string())
}

fn base_facts(ctx: RecordContext<'_>, record: &Value) -> SessionFacts {
    let mut facts = SessionFacts {
        project: str_field(record, "cwd")
            .or_else(|| str_field(record, "project"))
            .map(str::to_string),
        git_branch: str_field(record, "gitBranch").map(str::to_string),
        parent_id: ctx.file.parent_hint.clone(),
        ..SessionFacts::default()
    };
    // Old-layout subagent files carry their parent's sessionId on every record.
    if facts.parent_id.is_none()
        && is_agent_id(ctx.session_id)
        && let Some(sid) = str_field(record, "sessionId")
        && sid != ctx.session_id
    {
        facts.parent_id = Some(sid.to_string());
    }
    facts.saw(timestamp_field(record, "timestamp"));
    facts
}

fn message_id(ctx: RecordContext<'_>, record: &Value) -> String {
    match str_field(record, "uuid") {
        Some(uuid) => format!("{}/{uuid}", ctx.session_id),
        None => sha_id(ctx),
    }
}

fn conversation_message(ctx: RecordContext<'_>, record: &Value, kind: &str) -> Option<Message> {
    let body = record.get("message")?;
    let parts = match body.get("content") {
        Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
        Some(Value::Array(blocks)) => blocks.iter().map(block_part).collect(),
        _ => Vec::new(),
    };
    let mut role = if kind == "assistant" {
        Role::Assistant
    } else {
        Role::User
    };
    if role == Role::User
        && !parts.is_empty()
        && parts.iter().all(|p| p.kind == PartKind::ToolResult)
    {
        role = Role::Tool;
    }
    Some(record_message(
        ctx,
        message_id(ctx, record),
        role,
        timestamp_field(record, "timestamp"),
        str_field(body, "model").map(str::to_string),
        parts,
    ))
}

/// One Anthropic Messages API content block: Claude Code's lines hold
/// them, and so do other clients that store the API's messages (Cline).
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
