//! OpenAI Codex CLI: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`.
//!
//! Current rollouts wrap every line in an envelope `{timestamp, type, payload}`;
//! older ones (≤0.4x) write the response items directly, after a first line
//! `{id, timestamp, instructions}`. Records carry no ids of their own, so
//! message ids derive from the record's content hash within its session: the
//! same line read twice, from any host, gets the same id.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, RecordContext, SourceFile};
use crate::discover::{client_home, discover_jsonl};
use crate::formats::json::{blocks_or_text, json_text, str_field};
use crate::formats::openai::reasoning_parts;
use crate::formats::time::timestamp_field;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};
use crate::naming::{first_or_hint, record_message, sha_id, uuid_tail};
use crate::usage::{Tokens, Usage, count};

pub struct Codex;

/// Envelope types that carry no message of their own. `event_msg` duplicates
/// what `response_item` already holds (user text, agent text), so it is not
/// turned into messages twice.
const BOOKKEEPING: &[&str] = &[
    "event_msg",
    "world_state",
    "inter_agent_communication_metadata",
];

/// Response items that are state rather than conversation.
const QUIET_ITEMS: &[&str] = &["ghost_snapshot"];

impl Adapter for Codex {
    fn name(&self) -> &'static str {
        "codex"
    }

    fn default_root(&self) -> PathBuf {
        client_home("CODEX_HOME", ".codex", "sessions")
    }

    fn discover(&self, root: &Path) -> Discovery {
        discover_jsonl(root, |stem| uuid_tail(stem).map(str::to_string))
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_or_hint(file, first_records, |r| {
            if str_field(r, "type") == Some("session_meta") {
                r.get("payload").and_then(|p| str_field(p, "id"))
            } else if r.get("type").is_none() && r.get("instructions").is_some() {
                str_field(r, "id")
            } else {
                None
            }
        })
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let at = timestamp_field(record, "timestamp");
        let mut facts = SessionFacts::default();
        facts.saw(at);
        let envelope_type = str_field(record, "type");
        let payload = record.get("payload").filter(|p| p.is_object());
        match (envelope_type, payload) {
            (Some("session_meta"), Some(p)) => {
                facts.project = str_field(p, "cwd").map(str::to_string);
                facts.git_branch = p
                    .get("git")
                    .and_then(|g| str_field(g, "branch"))
                    .map(str::to_string);
                facts.saw(timestamp_field(p, "timestamp"));
                Interpretation::facts(facts)
            }
            (Some("turn_context"), Some(p)) => {
                facts.project = str_field(p, "cwd").map(str::to_string);
                facts.model = str_field(p, "model").map(str::to_string);
                Interpretation::facts(facts)
            }
            (Some("response_item"), Some(p)) => item(ctx, p, at, facts),
            (Some("event_msg"), Some(p)) if usage_event(p) => Interpretation {
                usage: call_usage(ctx, p, at).into_iter().collect(),
                ..Interpretation::facts(facts)
            },
            (Some("compacted"), Some(p)) => {
                let text = str_field(p, "message").unwrap_or("[compacted]").to_string();
                let message = new_message(
                    ctx,
                    Role::System,
                    at,
                    vec![Part::text(PartKind::Text, text)],
                );
                Interpretation::message(facts, message)
            }
            (Some(t), Some(_)) if BOOKKEEPING.contains(&t) => Interpretation::facts(facts),
            (Some(_), Some(_)) => Interpretation::unknown_with_facts(facts),
            // Legacy layout: items at top level, state markers, a header line.
            _ if str_field(record, "record_type") == Some("state") => Interpretation::facts(facts),
            (Some(_), None) => item(ctx, record, at, facts),
            (None, _) if record.get("instructions").is_some() || record.get("id").is_some() => {
                Interpretation::facts(facts)
            }
            _ => Interpretation::unknown(),
        }
    }
}

fn usage_event(payload: &Value) -> bool {
    matches!(
        str_field(payload, "type"),
        Some("token_count" | "turn.completed")
    )
}

/// A request's usage. `token_count` events carry the request's own
/// (`last_token_usage`) beside the session's running total, and Codex
/// writes most of them twice: the running total names the request, so the
/// repeat is the same call. Cached prompt tokens are part of
/// `input_tokens` and reasoning part of `output_tokens`; they are taken
/// out so each token is counted under one kind.
fn call_usage(
    ctx: RecordContext<'_>,
    payload: &Value,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<Usage> {
    let (last, call) = match payload.get("info") {
        Some(info) if info.get("last_token_usage").is_some() => {
            let total = info
                .get("total_token_usage")
                .map(|t| count(t.get("total_tokens")));
            let call = match total {
                Some(total) if total > 0 => format!("{}/tokens/{total}", ctx.session_id),
                _ => sha_id(ctx),
            };
            (info.get("last_token_usage")?, call)
        }
        // Early versions: `{prompt, completion}` per request.
        Some(info) if info.get("prompt").is_some() => {
            let tokens = Tokens {
                input: count(info.get("prompt")),
                output: count(info.get("completion")),
                ..Tokens::default()
            };
            return usage_of(ctx, sha_id(ctx), tokens, at);
        }
        // `codex exec --json`: a turn's usage when it completes.
        _ => (payload.get("usage")?, sha_id(ctx)),
    };
    let input = count(last.get("input_tokens"));
    let cached = count(last.get("cached_input_tokens")).min(input);
    let output = count(last.get("output_tokens"));
    let reasoning = count(last.get("reasoning_output_tokens")).min(output);
    let tokens = Tokens {
        input: input - cached,
        output: output - reasoning,
        cache_write: count(last.get("cache_write_input_tokens")),
        cache_write_1h: 0,
        cache_read: cached,
        reasoning,
    };
    usage_of(ctx, call, tokens, at)
}

fn usage_of(
    ctx: RecordContext<'_>,
    call: String,
    tokens: Tokens,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<Usage> {
    // Events before the first request report zeros: no call was made.
    (!tokens.is_zero()).then(|| Usage {
        call,
        message_id: None,
        session_id: ctx.session_id.to_string(),
        timestamp: at,
        model: None,
        tokens,
        cost_usd: None,
    })
}

fn new_message(
    ctx: RecordContext<'_>,
    role: Role,
    at: Option<chrono::DateTime<chrono::Utc>>,
    parts: Vec<Part>,
) -> Message {
    record_message(ctx, sha_id(ctx), role, at, None, parts)
}

fn item(
    ctx: RecordContext<'_>,
    p: &Value,
    at: Option<chrono::DateTime<chrono::Utc>>,
    facts: SessionFacts,
) -> Interpretation {
    let kind = str_field(p, "type").unwrap_or_default();
    let (role, parts) = match kind {
        "message" => {
            let role = str_field(p, "role")
                .and_then(Role::parse)
                .unwrap_or(Role::User);
            let parts = blocks_or_text(p.get("content"), content_part);
            (role, parts)
        }
        "reasoning" => (Role::Assistant, reasoning_parts(p)),
        "function_call" | "custom_tool_call" => (
            Role::Assistant,
            vec![tool_call(
                str_field(p, "name"),
                str_field(p, "call_id"),
                p.get("arguments").or_else(|| p.get("input")),
            )],
        ),
        "local_shell_call" => (
            Role::Assistant,
            vec![tool_call(
                Some("local_shell"),
                str_field(p, "call_id"),
                p.get("action"),
            )],
        ),
        // Messages between agents of a multi-agent run.
        "agent_message" => {
            let parts = match p.get("content") {
                Some(Value::Array(blocks)) => blocks.iter().map(content_part).collect(),
                _ => Vec::new(),
            };
            (Role::Assistant, parts)
        }
        "tool_search_call" => (
            Role::Assistant,
            vec![tool_call(
                Some("tool_search"),
                str_field(p, "call_id"),
                p.get("arguments"),
            )],
        ),
        "image_generation_call" => (
            Role::Assistant,
            vec![tool_call(
                Some("image_generation"),
                str_field(p, "id"),
                p.get("revised_prompt"),
            )],
        ),
        "web_search_call" => (
            Role::Assistant,
            vec![tool_call(
                Some("web_search"),
                str_field(p, "id"),
                p.get("action"),
            )],
        ),
        "tool_search_output" => (
            Role::Tool,
            vec![tool_result(p, p.get("tools").map(json_text))],
        ),
        "function_call_output" | "custom_tool_call_output" => (
            Role::Tool,
            vec![tool_result(p, p.get("output").map(output_text))],
        ),
        k if QUIET_ITEMS.contains(&k) => return Interpretation::facts(facts),
        _ => return Interpretation::unknown_with_facts(facts),
    };
    Interpretation::message(facts, new_message(ctx, role, at, parts))
}

fn tool_call(name: Option<&str>, call_id: Option<&str>, input: Option<&Value>) -> Part {
    Part::tool_call(name, call_id, input.map(json_text))
}

fn tool_result(item: &Value, text: Option<String>) -> Part {
    Part::tool_result(None, str_field(item, "call_id"), text, false)
}

fn content_part(block: &Value) -> Part {
    match str_field(block, "type").unwrap_or_default() {
        "input_text" | "output_text" | "text" => {
            Part::text(PartKind::Text, str_field(block, "text").unwrap_or_default())
        }
        "input_image" => Part::text(PartKind::File, "[image]"),
        "encrypted_content" => Part::text(PartKind::Other, "[encrypted content]"),
        other => Part::text(PartKind::Other, format!("[{other}]")),
    }
}

/// Tool output is a string, or `{content, metadata}` in some versions.
fn output_text(output: &Value) -> String {
    match output {
        Value::Object(o) => o
            .get("content")
            .map(json_text)
            .unwrap_or_else(|| output.to_string()),
        other => json_text(other),
    }
}
