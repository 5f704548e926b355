//! opencode's session, message and part JSON, the same in both layouts, as
//! canonical facts, messages and parts.

use super::*;
use crate::formats::json::items_of;
use crate::formats::time::instant;
use crate::usage::{Tokens, Usage, count};

pub(super) fn whole_message(
    ctx: RecordContext<'_>,
    message: &Value,
    mid: &str,
    parts: &[Value],
) -> Interpretation {
    let sid = str_field(message, "sessionID").unwrap_or(ctx.session_id);
    let usage = call_usage(message, &format!("{sid}/{mid}"), sid);
    let (message, facts) = build_message(sid, mid, message, parts, ctx.offset);
    let mut out = Interpretation {
        understood: true,
        usage: usage.into_iter().collect(),
        messages: vec![message],
        revises: true,
        ..Interpretation::default()
    };
    if sid == ctx.session_id {
        out.facts = facts;
    } else {
        out.other_sessions.push((sid.to_string(), facts));
    }
    out
}

/// An assistant message's `tokens` (`input` without the cache) and
/// opencode's own `cost`. The step-finish parts repeat the same numbers
/// and the session row sums them: only the message is read, so each call
/// counts once.
fn call_usage(info: &Value, message_id: &str, sid: &str) -> Option<Usage> {
    let t = info.get("tokens")?;
    let cache = t.get("cache");
    let tokens = Tokens {
        input: count(t.get("input")),
        output: count(t.get("output")),
        cache_write: count(cache.and_then(|c| c.get("write"))),
        cache_write_1h: 0,
        cache_read: count(cache.and_then(|c| c.get("read"))),
        reasoning: count(t.get("reasoning")),
    };
    if tokens.is_zero() {
        return None;
    }
    Some(Usage {
        call: message_id.to_string(),
        message_id: Some(message_id.to_string()),
        session_id: sid.to_string(),
        timestamp: instant(info.get("time").and_then(|t| t.get("created"))),
        model: str_field(info, "modelID").map(str::to_string),
        tokens,
        // Drifted releases wrote `{usd}` or per-kind objects: a number only.
        cost_usd: info.get("cost").and_then(Value::as_f64),
    })
}

#[derive(Clone, Copy)]
pub(super) enum SessionShape {
    /// `storage/session/…/<id>.json`: nested `time`, camelCase.
    Storage,
    /// A `session` row: flat snake_case columns.
    Row,
}

pub(super) fn session_facts(record: &Value, shape: SessionShape) -> SessionFacts {
    let mut facts = SessionFacts {
        project: str_field(record, "directory").map(str::to_string),
        title: str_field(record, "title").map(str::to_string),
        ..SessionFacts::default()
    };
    match shape {
        SessionShape::Storage => {
            facts.parent_id = str_field(record, "parentID").map(str::to_string);
            if let Some(time) = record.get("time") {
                facts.saw(instant(time.get("created")));
                facts.saw(instant(time.get("updated")));
            }
        }
        SessionShape::Row => {
            facts.parent_id = str_field(record, "parent_id").map(str::to_string);
            facts.saw(instant(record.get("time_created")));
            facts.saw(instant(record.get("time_updated")));
            // `model` is JSON text: {"id": "...", "providerID": "..."}.
            facts.model = str_field(record, "model")
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .and_then(|m| str_field(&m, "id").map(str::to_string));
        }
    }
    facts
}

/// One message with all its parts, in part-id order (ids are time-sortable,
/// and storage files are named by them).
pub(super) fn build_message(
    sid: &str,
    mid: &str,
    info: &Value,
    parts: &[Value],
    fallback_seq: u64,
) -> (Message, SessionFacts) {
    let role = str_field(info, "role")
        .and_then(Role::parse)
        .unwrap_or(Role::Assistant);
    let created = info.get("time").and_then(|t| t.get("created"));
    let timestamp = instant(created);
    let model = str_field(info, "modelID")
        .or_else(|| info.get("model").and_then(|m| str_field(m, "modelID")))
        .map(str::to_string);
    let mut facts = SessionFacts::default();
    facts.saw(timestamp);
    if let Some(time) = info.get("time") {
        facts.saw(instant(time.get("completed")));
    }
    if role == Role::Assistant {
        facts.model.clone_from(&model);
        // `path` is {cwd, root} in current releases, a plain string in some.
        facts.project = info
            .get("path")
            .and_then(|p| str_field(p, "cwd").or_else(|| p.as_str()))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
    }
    let mut out: Vec<Part> = parts.iter().flat_map(part_parts).collect();
    if let Some(error) = info.get("error").filter(|e| !e.is_null()) {
        let name = str_field(error, "name").unwrap_or("error");
        let text = error
            .get("data")
            .and_then(|d| str_field(d, "message"))
            .map(|m| format!("[{name}: {m}]"))
            .unwrap_or_else(|| format!("[{name}]"));
        out.push(Part {
            is_error: true,
            ..Part::text(PartKind::Other, text)
        });
    }
    // Time-ordered ids give the same order in both layouts; byte offsets
    // would not (every storage file starts at 0, database rows move).
    let seq = created.and_then(Value::as_u64).unwrap_or(fallback_seq);
    let message = Message {
        id: format!("{sid}/{mid}"),
        session_id: sid.to_string(),
        seq,
        role,
        timestamp,
        model,
        parts: out,
    };
    (message, facts)
}

pub(super) fn part_parts(part: &Value) -> Vec<Part> {
    let kind = str_field(part, "type").unwrap_or("unknown");
    let text = str_field(part, "text");
    match kind {
        "text" => text
            .map(|t| vec![Part::text(PartKind::Text, t)])
            .unwrap_or_default(),
        "reasoning" => text
            .map(|t| vec![Part::text(PartKind::Thinking, t)])
            .unwrap_or_default(),
        "tool" => tool_parts(part),
        "file" => {
            let name = str_field(part, "filename")
                .or_else(|| part.get("source").and_then(|s| str_field(s, "path")))
                .or_else(|| str_field(part, "url"))
                .or_else(|| str_field(part, "mime"))
                .unwrap_or("file");
            vec![Part::text(PartKind::File, name)]
        }
        "patch" => {
            let files: Vec<&str> = items_of(part, "files").filter_map(Value::as_str).collect();
            vec![Part::text(
                PartKind::Other,
                format!("[patch: {}]", files.join(", ")),
            )]
        }
        "compaction" => vec![Part::text(PartKind::Other, "[compaction]")],
        "subtask" => {
            let agent = str_field(part, "agent").unwrap_or("agent");
            let what = str_field(part, "prompt")
                .or_else(|| str_field(part, "description"))
                .unwrap_or_default();
            vec![Part::text(
                PartKind::Other,
                format!("[subtask {agent}] {what}"),
            )]
        }
        "agent" => vec![Part::text(
            PartKind::Other,
            format!("[agent: {}]", str_field(part, "name").unwrap_or_default()),
        )],
        "retry" => {
            let why = part
                .get("error")
                .and_then(|e| e.get("data"))
                .and_then(|d| str_field(d, "message"))
                .unwrap_or_default();
            vec![Part::text(PartKind::Other, format!("[retry] {why}"))]
        }
        k if QUIET_PARTS.contains(&k) => Vec::new(),
        other => vec![Part::text(PartKind::Other, format!("[{other}]"))],
    }
}

/// A tool part holds the call and, once it ran, its outcome: the call and
/// the result become two parts sharing the call id.
pub(super) fn tool_parts(part: &Value) -> Vec<Part> {
    let state = part.get("state");
    let call_id = str_field(part, "callID")
        .or_else(|| str_field(part, "id"))
        .map(str::to_string);
    let tool = str_field(part, "tool").map(str::to_string);
    let mut out = vec![Part::tool_call(
        tool.as_deref(),
        call_id.as_deref(),
        state.and_then(|s| s.get("input")).map(json_text),
    )];
    let status = state.and_then(|s| str_field(s, "status"));
    if matches!(status, Some("completed" | "error")) {
        let is_error = status == Some("error");
        let text = state
            .and_then(|s| s.get(if is_error { "error" } else { "output" }))
            .map(json_text);
        out.push(Part::tool_result(
            tool.as_deref(),
            call_id.as_deref(),
            text,
            is_error,
        ));
    }
    out
}
