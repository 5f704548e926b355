//! `pond resume`: a stored session written back as a client's own files, so
//! it can be continued there.
//!
//! To the client that wrote it, a session goes back byte for byte (its raw
//! records, with its child sessions). To another client it is converted from
//! the canonical model: Claude Code and Codex both read the other's sessions
//! this way. A conversion keeps the conversation (text, thinking, tool calls
//! and results, in order), not what only the source client understood
//! (images, its bookkeeping records); those stay in the archive. Nothing is
//! ever overwritten: an existing file stops the resume.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::export::ExportError;
use crate::model::{Message, PartKind, Role, Session};
use crate::store::{Store, StoreError, TableKind, sql_str, tables::schema};
use crate::sync::cursor::sha256_hex;

/// Why a session could not be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("no session `{0}`")]
    NoSession(String),
    #[error("unknown client `{0}` (see `pond adapters`)")]
    UnknownClient(String),
    #[error("sessions can be converted into {targets} only, not {0}", targets = TARGETS.join(" and "))]
    NotConvertible(String),
    #[error("{} exists; pond resume never overwrites", .0.display())]
    Exists(PathBuf),
    /// Also what a failed write of the converted files is reported as
    /// (`ExportError::Write`): one wording for a file pond cannot write.
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Clients a session can be converted into.
pub const TARGETS: &[&str] = &["claude-code", "codex"];

#[derive(Debug, Serialize)]
pub struct Resumed {
    /// The session id the target client will know it by.
    pub session_id: String,
    pub client: String,
    pub files: Vec<PathBuf>,
    /// `true` when the files are the source's own bytes.
    pub byte_exact: bool,
}

/// Writes session `id` as files of `target` under `out` (the target
/// client's session root when not given).
pub async fn resume(
    store: &Store,
    id: &str,
    target: &str,
    out: Option<&Path>,
    prefer_host: &str,
    redact: bool,
) -> Result<Resumed, ResumeError> {
    let mut session = load_session(store, id).await?;
    let adapter = crate::registry::by_name(target)
        .ok_or_else(|| ResumeError::UnknownClient(target.to_string()))?;
    let root = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| adapter.default_root());
    if session.client == target {
        let mut files = Vec::new();
        // Rule 34: into its own client a session and its children go back byte for
        // byte, without overwriting.
        for sid in family(store, id).await? {
            let written =
                crate::export::export_raw(store, &sid, &root, prefer_host, false, redact).await?;
            files.extend(written.into_iter().map(|f| f.path));
        }
        return Ok(Resumed {
            session_id: crate::sync::ids::source_id(id, &session.client).to_string(),
            client: target.to_string(),
            files,
            byte_exact: !redact,
        });
    }
    let mut messages = load_messages(store, id).await?;
    if redact {
        crate::redact::mask_transcript(&mut session, &mut messages);
    }
    // Named after the client's own id, so the same session converted before
    // keys were scoped by client gets the same new id.
    let source_id = crate::sync::ids::source_id(id, &session.client);
    let new_id = derived_uuid(&format!("{target}\0{source_id}"));
    let (path, bytes) = match target {
        "codex" => (
            codex_path(&root, &session, &new_id),
            to_codex(&session, &messages, &new_id),
        ),
        "claude-code" => (
            claude_path(&root, &session, &new_id),
            to_claude(&session, &messages, &new_id),
        ),
        other => return Err(ResumeError::NotConvertible(other.to_string())),
    };
    // Rule 34: an existing file stops the resume; nothing is ever overwritten.
    if path.exists() {
        return Err(ResumeError::Exists(path));
    }
    // Its directories are made on the way.
    crate::paths::write_atomic(&path, &bytes).map_err(|source| ExportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Resumed {
        session_id: new_id,
        client: target.to_string(),
        files: vec![path],
        byte_exact: false,
    })
}

async fn load_session(store: &Store, id: &str) -> Result<Session, ResumeError> {
    let filter = format!("id = {}", sql_str(id));
    for b in store.scan(TableKind::Sessions, Some(&filter), None).await? {
        if let Some(s) = schema::sessions_from_batch(&b)?.into_iter().next() {
            return Ok(s);
        }
    }
    Err(ResumeError::NoSession(id.to_string()))
}

async fn load_messages(store: &Store, id: &str) -> Result<Vec<Message>, StoreError> {
    let filter = format!("session_id = {}", sql_str(id));
    let mut messages = Vec::new();
    for b in store.scan(TableKind::Messages, Some(&filter), None).await? {
        messages.extend(schema::messages_from_batch(&b)?);
    }
    messages.sort_by_key(|m| m.seq);
    Ok(messages)
}

/// The session and its descendants (subagents), parents first.
async fn family(store: &Store, id: &str) -> Result<Vec<String>, StoreError> {
    let mut ids = vec![id.to_string()];
    let mut at = 0;
    while at < ids.len() {
        let filter = format!("parent_id = {}", sql_str(&ids[at]));
        for b in store.scan(TableKind::Sessions, Some(&filter), None).await? {
            for s in schema::sessions_from_batch(&b)? {
                if !ids.contains(&s.id) {
                    ids.push(s.id);
                }
            }
        }
        at += 1;
    }
    Ok(ids)
}

/// A UUID-shaped id derived from `key`: resuming the same session twice
/// names the same file, which then refuses to be overwritten.
fn derived_uuid(key: &str) -> String {
    let h = sha256_hex(key.as_bytes());
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn start_time(session: &Session, messages: &[Message]) -> chrono::DateTime<chrono::Utc> {
    session
        .started_at
        .or_else(|| messages.iter().find_map(|m| m.timestamp))
        .unwrap_or_else(chrono::Utc::now)
}

fn stamp(m: &Message, fallback: chrono::DateTime<chrono::Utc>) -> String {
    m.timestamp
        .unwrap_or(fallback)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn codex_path(root: &Path, session: &Session, id: &str) -> PathBuf {
    let t = session.started_at.unwrap_or_else(chrono::Utc::now);
    root.join(t.format("%Y/%m/%d").to_string()).join(format!(
        "rollout-{}-{id}.jsonl",
        t.format("%Y-%m-%dT%H-%M-%S")
    ))
}

/// A Codex rollout: a `session_meta` line, then one `response_item` per
/// part (Codex keeps text, reasoning, calls and outputs as separate items).
fn to_codex(session: &Session, messages: &[Message], id: &str) -> Vec<u8> {
    let start = start_time(session, messages);
    let mut lines = vec![json!({
        "timestamp": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "type": "session_meta",
        "payload": {
            "id": id,
            "timestamp": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "cwd": session.project.clone().unwrap_or_default(),
            "originator": "pond resume",
            "instructions": null,
        },
    })];
    for m in messages {
        let at = stamp(m, start);
        for p in &m.parts {
            let text = p.text.clone().unwrap_or_default();
            let item = match p.kind {
                PartKind::Text => {
                    let (role, block) = match m.role {
                        Role::Assistant => ("assistant", "output_text"),
                        Role::System => ("system", "input_text"),
                        Role::Developer => ("developer", "input_text"),
                        Role::User | Role::Tool => ("user", "input_text"),
                    };
                    json!({"type": "message", "role": role, "content": [{"type": block, "text": text}]})
                }
                PartKind::Thinking => json!({
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": text}],
                }),
                PartKind::ToolCall => json!({
                    "type": "function_call",
                    "name": p.tool_name.clone().unwrap_or_default(),
                    "arguments": text,
                    "call_id": p.tool_call_id.clone().unwrap_or_default(),
                }),
                PartKind::ToolResult => json!({
                    "type": "function_call_output",
                    "call_id": p.tool_call_id.clone().unwrap_or_default(),
                    "output": text,
                }),
                // Images and client-specific blocks have no Codex form.
                PartKind::File | PartKind::Other => continue,
            };
            lines.push(json!({"timestamp": at, "type": "response_item", "payload": item}));
        }
    }
    jsonl(&lines)
}

/// Claude Code names a project directory after its path.
fn claude_path(root: &Path, session: &Session, id: &str) -> PathBuf {
    let cwd = session.project.clone().unwrap_or_else(|| "/".into());
    let encoded: String = cwd
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    root.join(encoded).join(format!("{id}.jsonl"))
}

/// A Claude Code session: one `user` or `assistant` line per message, tool
/// results as user lines of `tool_result` blocks, chained by `parentUuid`.
fn to_claude(session: &Session, messages: &[Message], id: &str) -> Vec<u8> {
    let start = start_time(session, messages);
    let cwd = session.project.clone().unwrap_or_default();
    let mut lines = Vec::new();
    let mut parent: Option<String> = None;
    for (i, m) in messages.iter().enumerate() {
        let blocks: Vec<Value> = m
            .parts
            .iter()
            .filter_map(|p| {
                let text = p.text.clone().unwrap_or_default();
                Some(match p.kind {
                    PartKind::Text => json!({"type": "text", "text": text}),
                    PartKind::Thinking => json!({"type": "thinking", "thinking": text, "signature": ""}),
                    PartKind::ToolCall => json!({
                        "type": "tool_use",
                        "id": p.tool_call_id.clone().unwrap_or_default(),
                        "name": p.tool_name.clone().unwrap_or_default(),
                        // Claude Code keeps arguments as an object; text that
                        // is not JSON stays a string under `input`.
                        "input": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
                    }),
                    PartKind::ToolResult => json!({
                        "type": "tool_result",
                        "tool_use_id": p.tool_call_id.clone().unwrap_or_default(),
                        "content": text,
                        "is_error": p.is_error,
                    }),
                    PartKind::File | PartKind::Other => return None,
                })
            })
            .collect();
        if blocks.is_empty() {
            continue;
        }
        let (kind, role) = match m.role {
            Role::Assistant => ("assistant", "assistant"),
            _ => ("user", "user"),
        };
        let uuid = derived_uuid(&format!("{id}\0{i}"));
        lines.push(json!({
            "type": kind,
            "uuid": uuid,
            "parentUuid": parent,
            "sessionId": id,
            "timestamp": stamp(m, start),
            "cwd": cwd,
            "isSidechain": false,
            "userType": "external",
            "message": {"role": role, "content": blocks},
        }));
        parent = Some(uuid);
    }
    jsonl(&lines)
}

fn jsonl(lines: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}
