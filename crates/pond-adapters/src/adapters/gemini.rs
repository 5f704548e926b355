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
use sha2::{Digest, Sha256};

use super::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile, env_dir, genai, is_uuid,
    json_text, str_field, timestamp_field, walk,
};
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

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
                let dir = file
                    .path
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Some(format!("gemini-checkpoint/{dir}/{tag}"))
            }
            FileKind::Chat => first_records
                .iter()
                .find_map(|r| str_field(r, "sessionId"))
                .map(str::to_string)
                .or_else(|| file.session_hint.clone()),
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

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
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
        let messages = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| chat_message(ctx, m, ctx.offset + i as u64, &mut facts))
            .collect();
        return Interpretation {
            understood: true,
            facts,
            messages,
            revises: true,
            ..Interpretation::default()
        };
    }
    if str_field(record, "id").is_some() {
        let mut facts = SessionFacts::default();
        return match chat_message(ctx, record, ctx.offset, &mut facts) {
            Some(message) => Interpretation {
                understood: true,
                facts,
                messages: vec![message],
                revises: true,
                ..Interpretation::default()
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
    facts.saw(timestamp_field(record, "startTime"));
    facts.saw(timestamp_field(record, "lastUpdated"));
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
    facts.saw(timestamp_field(set, "lastUpdated"));
    facts.saw(timestamp_field(set, "startTime"));
    let messages = match set.get("messages") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, m)| chat_message(ctx, m, ctx.offset + i as u64, &mut facts))
            .collect(),
        _ => Vec::new(),
    };
    Interpretation {
        understood: true,
        facts,
        messages,
        revises: true,
        ..Interpretation::default()
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
    let id = match str_field(m, "id") {
        Some(id) => format!("{}/{id}", ctx.session_id),
        None => format!(
            "{}/sha-{}",
            ctx.session_id,
            &sha256_hex(m.to_string())[..16]
        ),
    };
    let at = timestamp_field(m, "timestamp");
    facts.saw(at);
    let model = str_field(m, "model").map(str::to_string);
    if model.is_some() {
        facts.model.clone_from(&model);
    }

    let mut parts: Vec<Part> = m
        .get("thoughts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(thought)
        .collect();
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
        parts.push(Part {
            kind: PartKind::ToolCall,
            text: call.get("args").map(json_text),
            tool_name: name.clone(),
            tool_call_id: Some(call_id.clone()),
            is_error: false,
        });
        if let Some(result) = call.get("result").filter(|r| !r.is_null()) {
            let result_parts = genai::parts(result);
            let mut text = genai::joined_text(&result_parts);
            if text.is_empty() {
                text = call.get("resultDisplay").map(json_text).unwrap_or_default();
            }
            parts.push(Part {
                kind: PartKind::ToolResult,
                text: Some(text),
                tool_name: name,
                tool_call_id: Some(call_id),
                is_error: str_field(call, "status") == Some("error")
                    || result_parts.iter().any(|p| p.is_error),
            });
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
    Interpretation {
        understood: true,
        facts,
        messages,
        revises: true,
        ..Interpretation::default()
    }
}

fn sha256_hex(s: impl AsRef<[u8]>) -> String {
    format!("{:x}", Sha256::digest(s.as_ref()))
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
            .find(|d| sha256_hex(d) == hash)
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
                || Some(sha256_hex(path.as_str()).as_str()) == project_hash
                || sha256_hex(path.as_str()) == slug
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

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::translate::{Translation, translate_bytes};

    fn root() -> PathBuf {
        crate::adapters::testing::fixtures("gemini")
    }

    fn file(rel: &str) -> SourceFile {
        Gemini
            .discover(&root())
            .files
            .into_iter()
            .find(|f| f.rel_path == rel)
            .unwrap_or_else(|| panic!("{rel} not discovered"))
    }

    fn read(rel: &str) -> Translation {
        let f = file(rel);
        let bytes = std::fs::read(&f.path).expect("fixture");
        translate_bytes(&Gemini, &f, &bytes)
    }

    fn ids(t: &Translation) -> Vec<String> {
        t.messages.iter().map(|m| m.id.clone()).collect()
    }

    /// Every tool result answers a call of the same session.
    fn assert_paired(t: &Translation) {
        let calls: HashSet<(&str, &str)> = t
            .messages
            .iter()
            .flat_map(|m| m.parts.iter().map(move |p| (m, p)))
            .filter(|(_, p)| p.kind == PartKind::ToolCall)
            .filter_map(|(m, p)| Some((m.session_id.as_str(), p.tool_call_id.as_deref()?)))
            .collect();
        for m in &t.messages {
            for p in m.parts.iter().filter(|p| p.kind == PartKind::ToolResult) {
                let id = p.tool_call_id.as_deref().expect("result names its call");
                assert!(
                    calls.contains(&(m.session_id.as_str(), id)),
                    "{id} unpaired"
                );
            }
        }
    }

    const FIXTURES: &[(&str, &str, usize)] = &[
        ("agent-sessions-jsonl_v040.jsonl", "gemini_stage0_jsonl", 3),
        (
            "agent-sessions-small.json",
            "session-2026-01-16T18-34-3739ef95",
            2,
        ),
        ("agentsview-standard_session.json", "sess-uuid-1", 4),
        ("agentsview-thinking_only.json", "sess-uuid-thinking", 2),
        ("agentsview-tool_calls.json", "sess-uuid-2", 2),
        (
            "entire/12_cbfeaa512b_0.json",
            "faff42ab-6ea5-4f78-b8c4-f7dd6272af08",
            6,
        ),
        (
            "entire/9c_53780d06b7_0.json",
            "f7633853-6663-4dbb-bbf4-6159afa29df8",
            8,
        ),
        (
            "entire/c9_45f262e88d_0.json",
            "f7633853-6663-4dbb-bbf4-6159afa29df8",
            3,
        ),
        (
            "entire/ec_38b74f08e3_2.json",
            "29eb990e-c773-4302-a4e7-317f0af0001f",
            1,
        ),
        (
            "m-gemini/session-2025-12-24T06-27-36e8d28f.json",
            "36e8d28f-d561-4a3d-8823-4964a2919723",
            41,
        ),
        (
            "m-gemini/session-2025-12-28T04-02-3d0463e2.json",
            "3d0463e2-5112-49de-9fde-a36e17975bd8",
            9,
        ),
        (
            "m-gemini/session-2025-12-30T01-16-3f9ce747.json",
            "3f9ce747-7498-479f-9b91-936cc1549014",
            13,
        ),
        (
            "m-gemini/session-2025-12-30T22-54-d2230b34.json",
            "d2230b34-e170-4c53-976d-5fec7ff9a796",
            20,
        ),
        (
            "m-gemini/session-2026-01-01T06-04-e0af73a9.json",
            "e0af73a9-cb76-4a45-b6ad-deffb324d708",
            7,
        ),
    ];

    #[test]
    fn every_fixture_is_discovered_with_its_layout() {
        let found = Gemini.discover(&root());
        assert!(found.problems.is_empty());
        let rels: Vec<&str> = found.files.iter().map(|f| f.rel_path.as_str()).collect();
        assert_eq!(rels.len(), FIXTURES.len());
        for (rel, _, _) in FIXTURES {
            assert!(rels.contains(rel), "{rel}");
            let expected = if rel.ends_with(".jsonl") {
                Layout::Jsonl
            } else {
                Layout::Document
            };
            assert_eq!(file(rel).layout, expected, "{rel}");
        }
    }

    #[test]
    fn sessions_and_messages_are_counted() {
        for (rel, session, count) in FIXTURES {
            let t = read(rel);
            assert_eq!(t.session_id, *session, "{rel}");
            assert_eq!(t.messages.len(), *count, "{rel}");
            assert_eq!(t.unknown_records + t.unparsed_records, 0, "{rel}");
            assert!(t.messages.iter().all(|m| m.timestamp.is_some()), "{rel}");
            assert!(t.messages.iter().all(|m| m.session_id == *session), "{rel}");
            let facts = &t.facts[0].1;
            assert!(
                facts.first_seen.is_some() && facts.last_seen.is_some(),
                "{rel}"
            );
            // No projects.json beside the fixtures: the project stays unknown.
            assert_eq!(facts.project, None, "{rel}");
            assert_paired(&t);
        }
    }

    #[test]
    fn real_session_roles_parts_and_facts() {
        let t = read("m-gemini/session-2025-12-24T06-27-36e8d28f.json");
        let count = |r: Role| t.messages.iter().filter(|m| m.role == r).count();
        assert_eq!(
            (
                count(Role::User),
                count(Role::Assistant),
                count(Role::System)
            ),
            (4, 30, 7)
        );
        let parts = |k: PartKind| {
            t.messages
                .iter()
                .flat_map(|m| &m.parts)
                .filter(|p| p.kind == k)
                .count()
        };
        assert_eq!(parts(PartKind::ToolCall), 28);
        assert_eq!(parts(PartKind::ToolResult), 28);
        assert!(parts(PartKind::Thinking) > 0);
        let facts = &t.facts[0].1;
        assert_eq!(
            facts.title.as_deref(),
            Some("Set up Gemini-Playground and its context.")
        );
        assert!(facts.model.is_some());
        // Message ids are the source's, under the session.
        assert!(
            t.messages[0]
                .id
                .starts_with("36e8d28f-d561-4a3d-8823-4964a2919723/")
        );
        let seqs: Vec<u64> = t.messages.iter().map(|m| m.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn cancelled_tool_call_is_an_error_result() {
        let t = read("m-gemini/session-2025-12-30T01-16-3f9ce747.json");
        let errors: Vec<&Part> = t
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .filter(|p| p.kind == PartKind::ToolResult && p.is_error)
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .text
                .as_deref()
                .is_some_and(|t| t.contains("Operation Cancelled"))
        );
    }

    #[test]
    fn jsonl_tool_result_text_comes_from_function_response() {
        let t = read("agent-sessions-jsonl_v040.jsonl");
        let result = t
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .find(|p| p.kind == PartKind::ToolResult)
            .expect("result");
        assert_eq!(
            result.tool_call_id.as_deref(),
            Some("run_shell_command_stage0")
        );
        assert!(
            result
                .text
                .as_deref()
                .is_some_and(|t| t.contains("README.md"))
        );
        let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::Assistant]);
        assert_eq!(
            t.facts[0].1.model.as_deref(),
            Some("gemini-3-flash-preview")
        );
    }

    #[test]
    fn same_bytes_give_same_ids() {
        for (rel, _, _) in FIXTURES {
            assert_eq!(ids(&read(rel)), ids(&read(rel)), "{rel}");
        }
    }

    #[test]
    fn rewritten_document_keeps_old_ids() {
        // Two real snapshots of one session: the later one holds every earlier
        // id and the message that gained a tool call since.
        let early = read("entire/c9_45f262e88d_0.json");
        let late = read("entire/9c_53780d06b7_0.json");
        let late_ids = ids(&late);
        assert!(ids(&early).iter().all(|id| late_ids.contains(id)));
        assert!(late.revised.contains(&early.messages[2].id));

        // One message more yields exactly one id more.
        let f = file("entire/9c_53780d06b7_0.json");
        let mut doc: Value = serde_json::from_slice(&std::fs::read(&f.path).unwrap()).unwrap();
        doc["messages"].as_array_mut().unwrap().pop();
        let shorter = serde_json::to_vec_pretty(&doc).unwrap();
        let before = ids(&translate_bytes(&Gemini, &f, &shorter));
        assert_eq!(before.len() + 1, late_ids.len());
        assert_eq!(before[..], late_ids[..before.len()]);
    }

    #[test]
    fn jsonl_reappended_message_keeps_last_copy() {
        let f = SourceFile {
            path: PathBuf::from("/nowhere/chats/session-2026-01-01T00-00-abcdef01.jsonl"),
            rel_path: "chats/session-2026-01-01T00-00-abcdef01.jsonl".into(),
            layout: Layout::Jsonl,
            session_hint: None,
            parent_hint: None,
        };
        // Shaped like the CLI writes (header, message, re-append, $set, rewind).
        let bytes = br#"{"sessionId":"s1","projectHash":"ab","startTime":"2026-01-01T00:00:00Z","lastUpdated":"2026-01-01T00:00:00Z","kind":"main"}
{"id":"m1","timestamp":"2026-01-01T00:00:01Z","type":"gemini","content":"","toolCalls":[{"id":"c1","name":"ls","args":{},"status":"executing","timestamp":"2026-01-01T00:00:01Z"}]}
{"id":"m1","timestamp":"2026-01-01T00:00:01Z","type":"gemini","content":"","toolCalls":[{"id":"c1","name":"ls","args":{},"status":"error","result":[{"functionResponse":{"id":"c1","name":"ls","response":{"error":"boom"}}}],"timestamp":"2026-01-01T00:00:02Z"}]}
{"$set":{"summary":"Listing","lastUpdated":"2026-01-01T00:00:03Z"}}
{"$rewindTo":"m1"}
"#;
        let t = translate_bytes(&Gemini, &f, bytes);
        assert_eq!(t.session_id, "s1");
        assert_eq!(t.unknown_records, 0);
        assert_eq!(t.messages.len(), 1);
        let parts = &t.messages[0].parts;
        assert_eq!(parts.len(), 2);
        assert!(parts[1].is_error);
        assert_eq!(parts[1].text.as_deref(), Some("boom"));
        assert_eq!(t.facts[0].1.title.as_deref(), Some("Listing"));
    }

    #[test]
    fn subagent_file_names_its_parent() {
        let dir = std::env::temp_dir().join(format!("pond-gemini-sub-{}", std::process::id()));
        let parent = "11111111-2222-4333-8444-555555555555";
        let child = "66666666-7777-4888-9999-000000000000";
        let chats = dir.join("abc").join("chats").join(parent);
        std::fs::create_dir_all(&chats).unwrap();
        std::fs::write(
            chats.join(format!("{child}.jsonl")),
            format!("{{\"sessionId\":\"{child}\",\"projectHash\":\"x\",\"kind\":\"subagent\"}}\n"),
        )
        .unwrap();
        let found = Gemini.discover(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.files.len(), 1);
        let f = &found.files[0];
        assert_eq!(f.parent_hint.as_deref(), Some(parent));
        assert_eq!(f.session_hint.as_deref(), Some(child));
        let t = translate_bytes(
            &Gemini,
            f,
            format!("{{\"sessionId\":\"{child}\",\"projectHash\":\"x\",\"kind\":\"subagent\"}}\n")
                .as_bytes(),
        );
        assert_eq!(t.session_id, child);
        assert_eq!(t.facts[0].1.parent_id.as_deref(), Some(parent));
    }

    #[test]
    fn project_comes_from_marker_or_registry_or_directories() {
        let home = std::env::temp_dir().join(format!("pond-gemini-proj-{}", std::process::id()));
        let tmp = home.join("tmp");
        let session = br#"{"sessionId":"s","projectHash":"h","messages":[]}"#;
        for dir in ["slugged", "registered"] {
            std::fs::create_dir_all(tmp.join(dir).join("chats")).unwrap();
            std::fs::write(tmp.join(dir).join("chats/session-x.json"), session).unwrap();
        }
        std::fs::write(tmp.join("slugged/.project_root"), "/work/marked\n").unwrap();
        std::fs::write(
            home.join("projects.json"),
            r#"{"projects":{"/work/registered":"registered"}}"#,
        )
        .unwrap();
        let found = Gemini.discover(&tmp);
        let projects: HashMap<String, Option<String>> = found
            .files
            .iter()
            .map(|f| {
                let t = translate_bytes(&Gemini, f, session);
                (f.rel_path.clone(), t.facts[0].1.project.clone())
            })
            .collect();
        let _ = std::fs::remove_dir_all(&home);
        assert_eq!(
            projects["slugged/chats/session-x.json"].as_deref(),
            Some("/work/marked")
        );
        assert_eq!(
            projects["registered/chats/session-x.json"].as_deref(),
            Some("/work/registered")
        );

        let hash = sha256_hex("/work/dir");
        let doc = format!(
            r#"{{"sessionId":"s","projectHash":"{hash}","directories":["/other","/work/dir"],"messages":[]}}"#
        );
        let f = file("agent-sessions-small.json");
        let t = translate_bytes(&Gemini, &f, doc.as_bytes());
        assert_eq!(t.facts[0].1.project.as_deref(), Some("/work/dir"));
    }

    #[test]
    fn prompt_log_dates_its_sessions_without_messages() {
        let f = SourceFile {
            path: PathBuf::from("/nowhere/abc/logs.json"),
            rel_path: "abc/logs.json".into(),
            layout: Layout::Document,
            session_hint: None,
            parent_hint: None,
        };
        let bytes = br#"[
  {"sessionId": "a", "messageId": 0, "timestamp": "2025-07-01T10:00:00.000Z", "type": "user", "message": "hi"},
  {"sessionId": "b", "messageId": 0, "timestamp": "2025-07-02T10:00:00.000Z", "type": "user", "message": "yo"},
  {"sessionId": "a", "messageId": 1, "timestamp": "2025-07-01T11:00:00.000Z", "type": "user", "message": "again"}
]"#;
        let t = translate_bytes(&Gemini, &f, bytes);
        assert_eq!(t.session_id, "a");
        assert!(t.messages.is_empty());
        assert_eq!(t.unknown_records, 0);
        assert_eq!(t.facts.len(), 2);
        let a = &t.facts[0].1;
        assert_eq!(
            a.first_seen,
            crate::model::parse_timestamp("2025-07-01T10:00:00Z")
        );
        assert_eq!(
            a.last_seen,
            crate::model::parse_timestamp("2025-07-01T11:00:00Z")
        );
        assert_eq!(t.facts[1].0, "b");
    }

    #[test]
    fn checkpoint_is_a_session_of_its_own() {
        let f = SourceFile {
            path: PathBuf::from("/nowhere/abc/checkpoint-v1.json"),
            rel_path: "abc/checkpoint-v1.json".into(),
            layout: Layout::Document,
            session_hint: None,
            parent_hint: None,
        };
        let bytes = br#"{"history": [
  {"role": "user", "parts": [{"text": "list files"}]},
  {"role": "model", "parts": [{"text": "thinking", "thought": true}, {"functionCall": {"id": "c1", "name": "ls", "args": {"path": "."}}}]},
  {"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": "ls", "response": {"output": "a.txt"}}}]}
]}"#;
        let t = translate_bytes(&Gemini, &f, bytes);
        assert_eq!(t.session_id, "gemini-checkpoint/abc/v1");
        let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool]);
        assert_eq!(t.messages[1].parts[0].kind, PartKind::Thinking);
        assert_eq!(t.facts[0].1.title.as_deref(), Some("checkpoint: v1"));
        assert_paired(&t);
        // The legacy form is a bare array.
        let legacy = br#"[{"role": "user", "parts": [{"text": "hi"}]}]"#;
        assert_eq!(translate_bytes(&Gemini, &f, legacy).messages.len(), 1);
    }

    #[test]
    fn truncated_and_garbage_input_do_not_panic() {
        for (rel, _, _) in FIXTURES {
            let f = file(rel);
            let bytes = std::fs::read(&f.path).unwrap();
            for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
                let _ = translate_bytes(&Gemini, &f, &bytes[..cut]);
            }
            let _ = translate_bytes(&Gemini, &f, b"\x00\xff{not json]]\n{\"id\":7}\n[1,2]");
        }
        for rec in [
            serde_json::json!(null),
            serde_json::json!({"messages": "x"}),
            serde_json::json!({"messages": [1, {"type": 3}, {"id": "a", "type": "gemini", "toolCalls": [1, {"result": 2}], "thoughts": [null]}]}),
            serde_json::json!({"$set": {"messages": [{"id": 1}], "directories": 5}}),
        ] {
            let f = file("agent-sessions-small.json");
            let _ = translate_bytes(&Gemini, &f, rec.to_string().as_bytes());
        }
    }
}
