//! Claude Code: `~/.claude/projects/<encoded cwd>/<session>.jsonl`.
//!
//! Each line is a self-describing record (`user`, `assistant`, `system`,
//! `summary`, and a growing zoo of bookkeeping types). Subagents live either
//! beside their parent as `agent-<id>.jsonl` (old layout) or under
//! `<session>/subagents/agent-<id>.jsonl` with an `agent-<id>.meta.json` (2.1.x);
//! both become child sessions.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{Classified, client_home, discover_classified, file_name};
use crate::formats::json::{blocks_or_text, json_text, speaker, str_field};
use crate::formats::time::timestamp_field;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};
use crate::naming::{hint_or_first, is_uuid, record_message, sha_id};
use crate::usage::Usage;

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
                let usage = call_usage(ctx, record, message.as_ref());
                Interpretation {
                    usage: usage.into_iter().collect(),
                    ..Interpretation::with_messages(facts, message.into_iter().collect())
                }
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
            _ => Interpretation::unknown_with_facts(facts),
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

/// The usage an assistant record reports. Claude Code writes one API
/// response as a record per content block, each repeating the response's
/// usage under the same message id and request id, and copies earlier
/// records into the file of a resumed session: that pair names the call.
/// A record without both is its own call, named by its `uuid`, which the
/// copies of it keep.
fn call_usage(ctx: RecordContext<'_>, record: &Value, message: Option<&Message>) -> Option<Usage> {
    let body = record.get("message")?;
    let tokens = crate::formats::anthropic::usage_tokens(body.get("usage")?);
    // Claude Code's own placeholders (`<synthetic>` replies to an
    // interruption) report zeros: no call was made.
    if tokens.is_zero() {
        return None;
    }
    let call = match (str_field(body, "id"), str_field(record, "requestId")) {
        (Some(id), Some(request)) => format!("{id}:{request}"),
        _ => match str_field(record, "uuid") {
            Some(uuid) => format!("record:{uuid}"),
            None => sha_id(ctx),
        },
    };
    Some(Usage {
        call,
        message_id: message.map(|m| m.id.clone()),
        session_id: ctx.session_id.to_string(),
        timestamp: timestamp_field(record, "timestamp"),
        model: str_field(body, "model").map(str::to_string),
        tokens,
        cost_usd: record.get("costUSD").and_then(Value::as_f64),
    })
}

fn conversation_message(ctx: RecordContext<'_>, record: &Value, kind: &str) -> Option<Message> {
    let body = record.get("message")?;
    let parts = blocks_or_text(body.get("content"), crate::formats::anthropic::block_part);
    let role = if kind == "assistant" {
        Role::Assistant
    } else {
        speaker(Role::User, &parts)
    };
    Some(record_message(
        ctx,
        message_id(ctx, record),
        role,
        timestamp_field(record, "timestamp"),
        str_field(body, "model").map(str::to_string),
        parts,
    ))
}
