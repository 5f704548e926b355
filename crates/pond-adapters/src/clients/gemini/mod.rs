//! Gemini CLI: `~/.gemini/tmp/<project>/chats/session-<time>-<short id>.json[l]`.
//!
//! The CLI keeps every project's state under `$GEMINI_CLI_HOME/.gemini/tmp/`
//! (`GEMINI_CLI_HOME` replaces the home directory; the default is `~` on
//! Linux and macOS and `%USERPROFILE%` on Windows). `<project>` is the
//! SHA-256 of the project root in older releases and a short slug registered
//! in `~/.gemini/projects.json` (with a `.project_root` marker in the
//! directory) in newer ones. Four kinds of file live there:
//!
//! - `chats/session-*.json` (to ~0.3x): one pretty-printed conversation
//!   document `{sessionId, projectHash, startTime, lastUpdated, summary?,
//!   kind?, messages[]}`, rewritten whole on every update. Messages carry
//!   their own `id`, so each version yields the same ids and only new or
//!   changed messages differ (a message gains its tool calls in a later
//!   version: the last copy wins).
//! - `chats/session-*.jsonl` (newer): a header line with the same metadata,
//!   then message lines, `{"$set": {...}}` metadata updates (which may carry
//!   the whole `messages` list after history is rewritten) and
//!   `{"$rewindTo": id}` markers. A message is appended again under the same
//!   id when its tokens or tool calls arrive: the last copy wins. Subagent
//!   sessions sit in `chats/<parent session id>/<session id>.jsonl`.
//! - `logs.json`: the prompt log, an array of `{sessionId, messageId,
//!   timestamp, type, message}` for all sessions of the project. Every prompt
//!   in it is also a user message of its session's chat file, so the log only
//!   dates its sessions; its texts stay in the raw records.
//! - `checkpoint-<tag>.json` (`/chat save <tag>`): the API history at save
//!   time, `{history: Content[]}` or a bare array in older versions. It has
//!   no session id, so it becomes a session of its own named after its
//!   directory and tag.
//!
//! Message types: `user`, `gemini` (assistant: `thoughts` become thinking
//! parts, `toolCalls` a call part plus, once it has run, a result part
//! paired by the call's id), `info`, `warning`, `error` (system notices).
//!
//! The files hold no working directory, only `projectHash`. The project is
//! taken from a `directories` entry whose SHA-256 is that hash, else from the
//! `.project_root` marker or `projects.json` beside the file, else left
//! unknown. Files that fit none of the shapes above are kept raw and counted
//! as unknown.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::digest::sha256_hex;
use crate::discover::{env_dir, file_name, parent_dir_lossy, walk};
use crate::formats::genai;
use crate::formats::json::{items_of, json_text, str_field};
use crate::formats::time::{saw_fields, timestamp_field};
use crate::model::{Message, Part, PartKind, Role, SessionFacts, joined_text};
use crate::naming::{first_or_hint, is_uuid};
use crate::usage::{Tokens, Usage, count};

#[cfg(test)]
mod tests;

pub struct Gemini;

/// Directories under a project's tmp dir that hold no conversations
/// (`checkpoints/` are file-restore snapshots, not `/chat save` checkpoints).
const NOT_CHATS: &[&str] = &[
    "checkpoints",
    "tool-outputs",
    "plans",
    "tasks",
    "tracker",
    "bin",
];

impl Adapter for Gemini {
    fn name(&self) -> &'static str {
        "gemini-cli"
    }

    fn default_root(&self) -> PathBuf {
        env_dir("GEMINI_CLI_HOME")
            .unwrap_or_else(crate::paths::home_dir)
            .join(".gemini")
            .join("tmp")
    }

    fn discover(&self, root: &Path) -> Discovery {
        let (found, problems) = walk(root, |p| {
            let name = file_name(p);
            (name.ends_with(".json") || name.ends_with(".jsonl"))
                && !p.strip_prefix(root).unwrap_or(p).parent().is_some_and(|d| {
                    d.components()
                        .any(|c| NOT_CHATS.contains(&c.as_os_str().to_str().unwrap_or("")))
                })
        });
        let files = found
            .into_iter()
            .map(|(path, rel_path)| {
                let name = file_name(&path).to_string();
                let layout = if name.ends_with(".jsonl") {
                    Layout::Jsonl
                } else {
                    Layout::Document
                };
                let stem = name.trim_end_matches(".jsonl").trim_end_matches(".json");
                let session_hint = is_uuid(stem).then(|| stem.to_string());
                SourceFile {
                    parent_hint: subagent_parent(&path),
                    path,
                    rel_path,
                    layout,
                    session_hint,
                }
            })
            .collect();
        Discovery { files, problems }
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        match kind_of(file) {
            FileKind::Logs => first_records
                .first()
                .and_then(Value::as_array)
                .and_then(|entries| entries.iter().find_map(|e| str_field(e, "sessionId")))
                .map(str::to_string),
            FileKind::Checkpoint(tag) => {
                let dir = parent_dir_lossy(&file.path);
                Some(format!("gemini-checkpoint/{dir}/{tag}"))
            }
            FileKind::Chat => first_or_hint(file, first_records, |r| str_field(r, "sessionId")),
        }
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        match kind_of(ctx.file) {
            FileKind::Logs => prompt_log(ctx, record),
            FileKind::Checkpoint(tag) => checkpoint(ctx, record, &tag),
            FileKind::Chat => chat_record(ctx, record),
        }
    }
}

enum FileKind {
    Chat,
    Logs,
    Checkpoint(String),
}

fn kind_of(file: &SourceFile) -> FileKind {
    let name = file_name(&file.path);
    if name == "logs.json" {
        return FileKind::Logs;
    }
    match name
        .strip_prefix("checkpoint-")
        .and_then(|n| n.strip_suffix(".json"))
    {
        Some(tag) if file.layout == Layout::Document => FileKind::Checkpoint(tag.to_string()),
        _ => FileKind::Chat,
    }
}

/// `chats/<parent id>/<id>.jsonl` names the parent session of a subagent.
fn subagent_parent(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    if dir.parent()?.file_name()? != "chats" {
        return None;
    }
    dir.file_name()?.to_str().map(str::to_string)
}

/// One record of a chat file: a whole legacy document, or one JSONL line.
fn chat_record(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    let Some(obj) = record.as_object() else {
        return Interpretation::unknown();
    };
    if let Some(set) = obj.get("$set").filter(|s| s.is_object()) {
        return metadata_update(ctx, set);
    }
    if obj.get("$rewindTo").is_some_and(Value::is_string) {
        // The CLI drops the messages from that id on from its view; an archive
        // keeps them, so the marker is only bookkeeping.
        return Interpretation::facts(SessionFacts::default());
    }
    if let Some(Value::Array(messages)) = obj.get("messages") {
        let mut facts = header_facts(ctx, record);
        let usage = calls(ctx, messages);
        let messages = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| chat_message(ctx, m, ctx.offset + i as u64, &mut facts))
            .collect();
        return Interpretation {
            usage,
            ..Interpretation::revised(facts, messages)
        };
    }
    if str_field(record, "id").is_some() {
        let mut facts = SessionFacts::default();
        return match chat_message(ctx, record, ctx.offset, &mut facts) {
            Some(message) => Interpretation {
                usage: calls(ctx, std::slice::from_ref(record)),
                ..Interpretation::revised(facts, vec![message])
            },
            None => Interpretation::unknown(),
        };
    }
    if str_field(record, "sessionId").is_some() {
        return Interpretation::facts(header_facts(ctx, record));
    }
    Interpretation::unknown()
}

/// Session facts of a conversation document or JSONL header.
fn header_facts(ctx: RecordContext<'_>, record: &Value) -> SessionFacts {
    let mut facts = SessionFacts {
        title: str_field(record, "summary").map(str::to_string),
        parent_id: ctx.file.parent_hint.clone(),
        project: project_of(
            ctx.file,
            str_field(record, "projectHash"),
            record.get("directories"),
        ),
        ..SessionFacts::default()
    };
    saw_fields(&mut facts, record, &["startTime", "lastUpdated"]);
    facts
}

/// `{"$set": {...}}`: metadata the CLI changed. `messages` replaces the
/// history after the CLI rewrote it (masking, compression); ids stay the same,
/// so those are revisions of messages already read.
fn metadata_update(ctx: RecordContext<'_>, set: &Value) -> Interpretation {
    let mut facts = SessionFacts {
        title: str_field(set, "summary").map(str::to_string),
        ..SessionFacts::default()
    };
    if let Some(dirs) = set.get("directories") {
        facts.project = project_of(ctx.file, None, Some(dirs));
    }
    saw_fields(&mut facts, set, &["lastUpdated", "startTime"]);
    let (messages, usage) = match set.get("messages") {
        Some(Value::Array(list)) => (
            list.iter()
                .enumerate()
                .filter_map(|(i, m)| chat_message(ctx, m, ctx.offset + i as u64, &mut facts))
                .collect(),
            calls(ctx, list),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    Interpretation {
        usage,
        ..Interpretation::revised(facts, messages)
    }
}

/// The usage of each model reply (`tokens`). `cached` is part of `input`
/// and the tool-use prompt is not; thoughts are billed as output and
/// counted apart. The reply's id names the call, so a reply the CLI wrote
/// again (re-appended, or in a rewritten history) counts once.
fn calls(ctx: RecordContext<'_>, messages: &[Value]) -> Vec<Usage> {
    messages
        .iter()
        .filter(|m| str_field(m, "type") == Some("gemini"))
        .filter_map(|m| {
            let t = m.get("tokens")?;
            let input = count(t.get("input"));
            let cached = count(t.get("cached")).min(input);
            let tokens = Tokens {
                input: input - cached + count(t.get("tool")),
                output: count(t.get("output")),
                cache_read: cached,
                reasoning: count(t.get("thoughts")),
                ..Tokens::default()
            };
            (!tokens.is_zero()).then(|| Usage {
                call: message_key(ctx, m),
                message_id: Some(message_key(ctx, m)),
                session_id: ctx.session_id.to_string(),
                timestamp: timestamp_field(m, "timestamp"),
                model: str_field(m, "model").map(str::to_string),
                tokens,
                cost_usd: None,
            })
        })
        .collect()
}

/// A message's id: the CLI's own, else one from its content.
fn message_key(ctx: RecordContext<'_>, m: &Value) -> String {
    match str_field(m, "id") {
        Some(id) => format!("{}/{id}", ctx.session_id),
        None => format!(
            "{}/sha-{}",
            ctx.session_id,
            &sha256_hex(m.to_string().as_bytes())[..16]
        ),
    }
}

/// One `MessageRecord`; `None` for a type this adapter does not know.
fn chat_message(
    ctx: RecordContext<'_>,
    m: &Value,
    seq: u64,
    facts: &mut SessionFacts,
) -> Option<Message> {
    let role = match str_field(m, "type")? {
        "user" => Role::User,
        "gemini" => Role::Assistant,
        "info" | "warning" | "error" => Role::System,
        _ => return None,
    };
    let id = message_key(ctx, m);
    let at = timestamp_field(m, "timestamp");
    facts.saw(at);
    let model = str_field(m, "model").map(str::to_string);
    if model.is_some() {
        facts.model.clone_from(&model);
    }

    let mut parts: Vec<Part> = items_of(m, "thoughts").filter_map(thought).collect();
    if let Some(content) = m.get("content") {
        parts.extend(genai::parts(content));
    }
    let calls = m.get("toolCalls").and_then(Value::as_array);
    for (i, call) in calls.into_iter().flatten().enumerate() {
        facts.saw(timestamp_field(call, "timestamp"));
        // Old records may lack call ids; a stable stand-in keeps the pair linked.
        let call_id = str_field(call, "id")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{id}#{i}"));
        let name = str_field(call, "name").map(str::to_string);
        parts.push(Part::tool_call(
            name.as_deref(),
            Some(call_id.as_str()),
            call.get("args").map(json_text),
        ));
        if let Some(result) = call.get("result").filter(|r| !r.is_null()) {
            let result_parts = genai::parts(result);
            let mut text = joined_text(&result_parts);
            if text.is_empty() {
                text = call.get("resultDisplay").map(json_text).unwrap_or_default();
            }
            parts.push(Part::tool_result(
                name.as_deref(),
                Some(&call_id),
                Some(text),
                str_field(call, "status") == Some("error")
                    || result_parts.iter().any(|p| p.is_error),
            ));
        }
    }
    Some(Message {
        id,
        session_id: ctx.session_id.to_string(),
        seq,
        role,
        timestamp: at,
        model,
        parts,
    })
}

/// A thought summary `{subject, description}` as one thinking part.
fn thought(t: &Value) -> Option<Part> {
    let description = str_field(t, "description");
    let text = match (str_field(t, "subject"), description) {
        (Some(s), Some(d)) => format!("{s}\n{d}"),
        (Some(s), None) => s.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => return None,
    };
    Some(Part::text(PartKind::Thinking, text))
}

/// `logs.json`: dates every session it mentions. The prompts themselves are
/// also user messages in the chat files, so they are not repeated here.
fn prompt_log(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    let Some(entries) = record.as_array() else {
        return Interpretation::unknown();
    };
    let mut own = SessionFacts::default();
    let mut others: Vec<(String, SessionFacts)> = Vec::new();
    for entry in entries {
        let (Some(session), at) = (
            str_field(entry, "sessionId"),
            timestamp_field(entry, "timestamp"),
        ) else {
            continue;
        };
        if session == ctx.session_id {
            own.saw(at);
        } else if let Some((_, facts)) = others.iter_mut().find(|(id, _)| id == session) {
            facts.saw(at);
        } else {
            let mut facts = SessionFacts::default();
            facts.saw(at);
            others.push((session.to_string(), facts));
        }
    }
    Interpretation {
        understood: true,
        facts: own,
        other_sessions: others,
        ..Interpretation::default()
    }
}

/// `checkpoint-<tag>.json`: the API history as saved by `/chat save`. It has
/// neither ids nor timestamps, so messages are numbered by position; saving
/// the tag again rewrites the file, and the last copy wins.
fn checkpoint(ctx: RecordContext<'_>, record: &Value, tag: &str) -> Interpretation {
    let history = match record {
        Value::Array(h) => h,
        Value::Object(o) => match o.get("history") {
            Some(Value::Array(h)) => h,
            _ => return Interpretation::unknown(),
        },
        _ => return Interpretation::unknown(),
    };
    let messages = history
        .iter()
        .enumerate()
        .map(|(i, content)| {
            let parts = content.get("parts").map(genai::parts).unwrap_or_default();
            let role = match str_field(content, "role") {
                Some("model") => Role::Assistant,
                _ if !parts.is_empty() && parts.iter().all(|p| p.kind == PartKind::ToolResult) => {
                    Role::Tool
                }
                _ => Role::User,
            };
            Message {
                id: format!("{}/{i}", ctx.session_id),
                session_id: ctx.session_id.to_string(),
                seq: ctx.offset + i as u64,
                role,
                timestamp: None,
                model: None,
                parts,
            }
        })
        .collect();
    let facts = SessionFacts {
        title: Some(format!("checkpoint: {tag}")),
        project: project_of(ctx.file, None, None),
        ..SessionFacts::default()
    };
    Interpretation::revised(facts, messages)
}

/// The project root a session ran in, when something says so for certain:
/// a workspace directory whose hash is the session's `projectHash`, the
/// `.project_root` marker newer CLIs write in the project's tmp dir, or the
/// `projects.json` registry naming that dir (by slug or by hash).
fn project_of(
    file: &SourceFile,
    project_hash: Option<&str>,
    directories: Option<&Value>,
) -> Option<String> {
    let tmp_dir = project_tmp_dir(file);
    // Older CLIs name the project's dir by the hash itself.
    let dir_hash = tmp_dir
        .as_ref()
        .and_then(|(_, d)| d.file_name()?.to_str())
        .filter(|n| n.len() == 64 && n.chars().all(|c| c.is_ascii_hexdigit()));
    if let Some(hash) = project_hash.or(dir_hash)
        && let Some(dirs) = directories.and_then(Value::as_array)
        && let Some(dir) = dirs
            .iter()
            .filter_map(Value::as_str)
            .find(|d| sha256_hex(d.as_bytes()) == hash)
    {
        return Some(dir.to_string());
    }
    let (root, project_dir) = tmp_dir?;
    if let Ok(marker) = std::fs::read_to_string(project_dir.join(".project_root")) {
        let marker = marker.trim();
        if !marker.is_empty() {
            return Some(marker.to_string());
        }
    }
    // The registry sits beside `tmp/`, only when the root is the CLI's own.
    if root.file_name()? != "tmp" {
        return None;
    }
    let registry: Value =
        serde_json::from_slice(&std::fs::read(root.parent()?.join("projects.json")).ok()?).ok()?;
    let slug = project_dir.file_name()?.to_str()?;
    registry
        .get("projects")?
        .as_object()?
        .iter()
        .find(|(path, id)| {
            id.as_str() == Some(slug)
                || Some(sha256_hex(path.as_bytes()).as_str()) == project_hash
                || sha256_hex(path.as_bytes()) == slug
        })
        .map(|(path, _)| path.clone())
}

/// The root a file was found under and the project's dir (`<root>/<first
/// component of rel_path>`), when the file lies below such a dir.
fn project_tmp_dir(file: &SourceFile) -> Option<(PathBuf, PathBuf)> {
    let depth = file.rel_path.split('/').count();
    if depth < 2 {
        return None;
    }
    let root = file.path.ancestors().nth(depth)?.to_path_buf();
    let first = file.rel_path.split('/').next()?;
    let dir = root.join(first);
    Some((root, dir))
}
