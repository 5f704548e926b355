//! Amp (Sourcegraph): one JSON document per thread, rewritten whole.
//!
//! Where: the CLI and current editor extensions keep threads in
//! `$XDG_DATA_HOME/amp/threads/T-<uuid>.json` (default
//! `~/.local/share/amp/threads`). Amp is a Node program that uses this
//! XDG-style path on macOS too; on Windows the same layout under the user
//! profile is assumed (`%USERPROFILE%\.local\share\amp\threads`), which is an
//! inference, not something seen. Older editor extensions kept threads in the
//! editor's `User/globalStorage/sourcegraph.amp/threads3/`; those are extra
//! roots.
//!
//! Format (known only from other tools' readers and descriptions, no real
//! thread file was available): `{v, id, created (epoch ms), title, agentMode,
//! env.initial.{trees[{uri, displayName, repository}], platform}, messages[]}`;
//! each message `{role: user|assistant|info, messageId, content[], state,
//! usage{model, …}, meta{sentAt (epoch ms)}}` with Anthropic-like blocks
//! (`text`, `thinking`, `tool_use{id,name,input}`, and Amp's own
//! `tool_result{toolUseID, run{status, result, progress}}`) and `summary`
//! blocks in `info` messages. Because the shape is second-hand, every field
//! is optional: a message given as a plain `text`/`content` string with a
//! `createdAt` (the shape of the only fixture) is read too, and unknown block
//! types become `Other` parts rather than failing the thread.
//!
//! Ids: `<thread>/<messageId>` when the message carries one, else
//! `<thread>/#<index>`. Amp rewrites the file while a message streams, so the
//! thread's messages are marked revisable: the last copy read wins.
//!
//! The few helpers at the bottom (epoch/ISO times, percent-decoding, editor
//! storage directories) are shared with the other document adapters.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{discover_files, env_dir};
use crate::formats::anthropic;
use crate::formats::editor::{editor_global_storage, uri_path};
use crate::formats::json::{json_text, speaker, str_field};
use crate::formats::time::instant;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};
use crate::naming::first_or_hint;

pub struct Amp;

impl Adapter for Amp {
    fn name(&self) -> &'static str {
        "amp"
    }

    fn default_root(&self) -> PathBuf {
        env_dir("XDG_DATA_HOME")
            .unwrap_or_else(|| crate::paths::home_dir().join(".local").join("share"))
            .join("amp")
            .join("threads")
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        editor_global_storage()
            .into_iter()
            .map(|d| d.join("sourcegraph.amp").join("threads3"))
            .collect()
    }

    fn discover(&self, root: &Path) -> Discovery {
        discover_files(
            root,
            |p| p.extension().is_some_and(|e| e == "json"),
            Layout::Document,
            |stem| {
                Some(stem)
                    .filter(|s| s.starts_with("T-"))
                    .map(str::to_string)
            },
        )
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_or_hint(file, first_records, |r| str_field(r, "id"))
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let messages = record.get("messages").and_then(Value::as_array);
        if !record.is_object() || (messages.is_none() && record.get("id").is_none()) {
            return Interpretation::unknown();
        }
        let mut facts = SessionFacts {
            title: str_field(record, "title").map(str::to_string),
            project: workspace(record),
            ..SessionFacts::default()
        };
        facts.saw(instant(record.get("created")));
        let mut out = Vec::new();
        for (index, m) in messages.into_iter().flatten().enumerate() {
            if !m.is_object() {
                continue;
            }
            let message = thread_message(ctx, index, m);
            facts.saw(message.timestamp);
            if message.model.is_some() {
                facts.model.clone_from(&message.model);
            }
            out.push(message);
        }
        Interpretation::revised(facts, out)
    }
}

fn thread_message(ctx: RecordContext<'_>, index: usize, m: &Value) -> Message {
    let id = match m.get("messageId") {
        Some(Value::Number(n)) => format!("{}/{n}", ctx.session_id),
        Some(Value::String(s)) if !s.is_empty() => format!("{}/{s}", ctx.session_id),
        _ => format!("{}/#{index}", ctx.session_id),
    };
    let parts: Vec<Part> = match m.get("content") {
        Some(Value::Array(blocks)) => blocks.iter().map(block_part).collect(),
        Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
        _ => str_field(m, "text")
            .map(|t| vec![Part::text(PartKind::Text, t)])
            .unwrap_or_default(),
    };
    let role = match str_field(m, "role").unwrap_or_default() {
        // `info` messages are Amp's own notes in the thread (summaries, handoffs).
        "info" => Role::System,
        other => Role::parse(other).unwrap_or(Role::System),
    };
    // Tool results travel in user messages, as in the Anthropic API.
    let role = speaker(role, &parts);
    let timestamp = m
        .get("meta")
        .and_then(|meta| instant(meta.get("sentAt")))
        .or_else(|| instant(m.get("createdAt")))
        .or_else(|| instant(m.get("timestamp")));
    Message {
        id,
        session_id: ctx.session_id.to_string(),
        seq: ctx.offset + index as u64,
        role,
        timestamp,
        model: m
            .get("usage")
            .and_then(|u| str_field(u, "model"))
            .map(str::to_string),
        parts,
    }
}

/// Amp's blocks are Anthropic's but for its own tool results, summaries
/// and thinking text; blocks of the API that Amp does not write stay opaque.
fn block_part(block: &Value) -> Part {
    let kind = str_field(block, "type").unwrap_or("unknown");
    match kind {
        "thinking" => Part::text(
            PartKind::Thinking,
            str_field(block, "thinking")
                .or_else(|| str_field(block, "text"))
                .unwrap_or_default(),
        ),
        "tool_result" => {
            let run = block.get("run");
            let status = run.and_then(|r| str_field(r, "status"));
            let text = run
                .and_then(|r| r.get("result").or_else(|| r.get("progress")))
                .filter(|v| !v.is_null())
                .or_else(|| block.get("content"))
                .map(json_text)
                .or_else(|| status.map(|s| format!("[{s}]")));
            Part::tool_result(
                None,
                str_field(block, "toolUseID").or_else(|| str_field(block, "tool_use_id")),
                text,
                matches!(status, Some("error" | "cancelled" | "rejected-by-user"))
                    || block.get("is_error").and_then(Value::as_bool) == Some(true),
            )
        }
        "summary" => {
            let summary = block.get("summary");
            let text = summary
                .and_then(|s| str_field(s, "summary"))
                .map(str::to_string)
                .or_else(|| summary.and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "[summary]".to_string());
            Part::text(PartKind::Text, text)
        }
        "document" | "server_tool_use" => Part::text(PartKind::Other, format!("[{kind}]")),
        _ => anthropic::block_part(block),
    }
}

/// The thread's first workspace tree (a `file://` URI), or an explicit cwd.
fn workspace(thread: &Value) -> Option<String> {
    let initial = thread.get("env")?.get("initial")?;
    if let Some(cwd) = str_field(initial, "cwd") {
        return Some(cwd.to_string());
    }
    initial
        .get("trees")?
        .as_array()?
        .iter()
        .find_map(|t| str_field(t, "uri"))
        .map(uri_path)
}

#[cfg(test)]
mod tests {
    use crate::clients::testing::paired_results;

    use chrono::DateTime;
    use serde_json::json;

    use super::*;
    use crate::clients::testing::{assert_ids_stable, only_fixture, read_junk, roles};
    use crate::translate::translate_bytes;

    fn fixture_root() -> PathBuf {
        crate::clients::testing::fixtures("amp")
    }

    fn thread_file(name: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(name),
            rel_path: name.to_string(),
            layout: Layout::Document,
            session_hint: name
                .strip_suffix(".json")
                .filter(|s| s.starts_with("T-"))
                .map(str::to_string),
            parent_hint: None,
        }
    }

    /// A thread in the shape other tools describe for real Amp files.
    fn real_shape(extra: bool) -> Vec<u8> {
        let mut messages = vec![
            json!({"role": "user", "messageId": 0, "meta": {"sentAt": 1767865803494u64},
                   "content": [{"type": "text", "text": "fix the build"}]}),
            json!({"role": "assistant", "messageId": 1,
                   "usage": {"model": "claude-sonnet-4", "inputTokens": 10, "outputTokens": 5},
                   "state": {"type": "complete", "stopReason": "tool_use"},
                   "content": [{"type": "thinking", "thinking": "look first"},
                               {"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                "input": {"cmd": "cargo build"}}]}),
            json!({"role": "user", "messageId": 2, "meta": {"sentAt": 1767865810000u64},
                   "content": [{"type": "tool_result", "toolUseID": "toolu_1",
                                "run": {"status": "error", "result": {"output": "E0425", "exitCode": 1}}}]}),
            json!({"role": "info", "messageId": 3,
                   "content": [{"type": "summary", "summary": {"type": "message", "summary": "Build fixed"}}]}),
        ];
        if extra {
            messages.push(json!({"role": "assistant", "messageId": 4,
                                 "content": [{"type": "text", "text": "done"}]}));
        }
        serde_json::to_vec_pretty(&json!({
            "v": 3, "id": "T-019b9d03-62e3-772f-9780-3e637f90eaec", "created": 1767865803000u64,
            "title": "Fix the build",
            "env": {"initial": {"trees": [{"displayName": "my project",
                                            "uri": "file:///home/me/my%20project"}]}},
            "messages": messages,
        }))
        .expect("serializes")
    }

    #[test]
    fn fixture_is_discovered_and_read() {
        let (file, bytes) = only_fixture(&Amp, "amp", "threads/thread-001.json");
        assert_eq!(file.layout, Layout::Document);
        let t = translate_bytes(&Amp, &file, &bytes);
        assert_eq!(t.session_id, "thread-001");
        assert_eq!(t.unknown_records, 0);
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[0].role, Role::User);
        assert_eq!(t.messages[0].plain_text(), "Hello");
        assert_eq!(t.messages[1].role, Role::Assistant);
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        let facts = &t.facts[0].1;
        assert_eq!(facts.title.as_deref(), Some("Amp sample thread"));
        assert_eq!(
            facts.first_seen,
            DateTime::from_timestamp_millis(1_700_000_000_000)
        );
        assert_eq!(
            facts.last_seen,
            DateTime::from_timestamp_millis(1_700_000_005_000)
        );
        assert_ids_stable(&Amp, &file, &bytes, &t);
    }

    #[test]
    fn real_shape_thread() {
        let file = thread_file("T-019b9d03-62e3-772f-9780-3e637f90eaec.json");
        let t = translate_bytes(&Amp, &file, &real_shape(false));
        assert_eq!(t.session_id, "T-019b9d03-62e3-772f-9780-3e637f90eaec");
        assert_eq!(t.messages.len(), 4);
        assert_eq!(
            roles(&t),
            [Role::User, Role::Assistant, Role::Tool, Role::System]
        );
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/home/me/my project"));
        assert_eq!(facts.model.as_deref(), Some("claude-sonnet-4"));
        assert_eq!(facts.title.as_deref(), Some("Fix the build"));
        let results = paired_results(&t.messages);
        assert_eq!(results.len(), 1);
        for r in &results {
            assert!(r.is_error);
            assert!(r.text.as_deref().unwrap_or_default().contains("E0425"));
        }
        assert_eq!(t.messages[3].plain_text(), "Build fixed");
        assert!(t.revised.len() == 4);
    }

    #[test]
    fn rewrite_with_one_more_message_adds_one_id() {
        let file = thread_file("T-019b9d03-62e3-772f-9780-3e637f90eaec.json");
        let before = translate_bytes(&Amp, &file, &real_shape(false));
        let after = translate_bytes(&Amp, &file, &real_shape(true));
        let old: Vec<&String> = before.messages.iter().map(|m| &m.id).collect();
        let new: Vec<&String> = after.messages.iter().map(|m| &m.id).collect();
        assert_eq!(new.len(), old.len() + 1);
        assert_eq!(&new[..old.len()], &old[..]);
    }

    #[test]
    fn truncated_and_garbage_do_not_panic() {
        let file = thread_file("T-x.json");
        let bytes = real_shape(false);
        for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let t = translate_bytes(&Amp, &file, &bytes[..cut]);
            assert!(t.messages.is_empty());
        }
        let fixture = std::fs::read(fixture_root().join("threads/thread-001.json")).expect("read");
        translate_bytes(&Amp, &file, &fixture[..fixture.len() / 2]);
        read_junk(
            &Amp,
            &file,
            &[
                &b"\x00\xff{{"[..],
                b"[1,2,3]",
                b"\"str\"",
                b"{\"messages\": 7}",
            ],
        );
        let odd = br#"{"id":"T-y","messages":[7,{"role":5,"content":[{"type":null},3]},{"meta":{"sentAt":"x"}}]}"#;
        let t = translate_bytes(&Amp, &file, odd);
        assert_eq!(t.messages.len(), 2);
    }
}
