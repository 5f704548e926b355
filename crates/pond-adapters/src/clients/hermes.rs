//! Hermes Agent (Nous Research): one JSON document per session, rewritten
//! whole as the conversation grows.
//!
//! Where (inferred from other tools' readers and Hermes' own docs, the same
//! on every OS): `$HERMES_HOME/sessions/session_<id>.json`, `HERMES_HOME`
//! defaulting to `~/.hermes`. Hermes also keeps a SQLite `state.db` beside
//! `sessions/`; it is not read.
//!
//! Document, as in the fixture: `{session_id, model, platform, session_start,
//! last_updated, cwd, message_count, messages[]}` (some versions put the cwd
//! under `model_config.cwd`). Messages are OpenAI chat messages: `role`
//! system/user/assistant/tool, `content` (string or text parts),
//! `tool_calls[{id, function{name, arguments}}]` on assistant messages,
//! `tool_call_id`/`tool_name` on tool messages, `reasoning` text, and
//! `finish_reason`. Messages carry no timestamps; the session's start and
//! last update do. Those are read when they carry a zone (RFC 3339); Hermes
//! may write local times without one, which cannot be placed on the
//! timeline from the file alone and are then left out.
//!
//! Ids: `<session_id>/<index>`, revisable (the file is rewritten whole).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{client_home, discover_files};
use crate::formats::json::{str_field, tool_result_text};
use crate::formats::openai::openai_tool_calls;
use crate::formats::time::instant;
use crate::formats::time::saw_fields;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};
use crate::naming::first_or_hint;

pub struct Hermes;

impl Adapter for Hermes {
    fn name(&self) -> &'static str {
        "hermes"
    }

    /// Not unique across machines: session ids are a start time.
    fn session_ids_are_global(&self) -> bool {
        false
    }

    fn default_root(&self) -> PathBuf {
        client_home("HERMES_HOME", ".hermes", "sessions")
    }

    fn discover(&self, root: &Path) -> Discovery {
        // `sessions.json` is the messaging gateway's index, not a session.
        discover_files(
            root,
            |p| {
                p.extension().is_some_and(|e| e == "json")
                    && p.file_name().is_some_and(|n| n != "sessions.json")
            },
            Layout::Document,
            |stem| {
                stem.strip_prefix("session_")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            },
        )
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_or_hint(file, first_records, |r| str_field(r, "session_id"))
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let messages = record.get("messages").and_then(Value::as_array);
        if messages.is_none() && str_field(record, "session_id").is_none() {
            return Interpretation::unknown();
        }
        let mut facts = SessionFacts {
            project: str_field(record, "cwd")
                .or_else(|| record.get("model_config").and_then(|c| str_field(c, "cwd")))
                .map(str::to_string),
            model: str_field(record, "model").map(str::to_string),
            title: str_field(record, "title").map(str::to_string),
            ..SessionFacts::default()
        };
        saw_fields(&mut facts, record, &["session_start", "last_updated"]);
        let mut out = Vec::new();
        for (index, m) in messages.into_iter().flatten().enumerate() {
            if !m.is_object() {
                continue;
            }
            let timestamp = instant(m.get("timestamp"));
            facts.saw(timestamp);
            out.push(Message {
                id: format!("{}/{index}", ctx.session_id),
                session_id: ctx.session_id.to_string(),
                seq: ctx.offset + index as u64,
                role: str_field(m, "role")
                    .and_then(Role::parse)
                    .unwrap_or(Role::System),
                timestamp,
                model: None,
                parts: message_parts(m),
            });
        }
        Interpretation::revised(facts, out)
    }
}

fn message_parts(m: &Value) -> Vec<Part> {
    let mut parts = Vec::new();
    if let Some(reasoning) = str_field(m, "reasoning") {
        parts.push(Part::text(PartKind::Thinking, reasoning));
    }
    let text = match m.get("content") {
        Some(content @ (Value::String(_) | Value::Array(_))) => Some(tool_result_text(content)),
        _ => None,
    };
    if str_field(m, "role") == Some("tool") {
        parts.push(Part::tool_result(
            str_field(m, "tool_name").or_else(|| str_field(m, "name")),
            str_field(m, "tool_call_id"),
            text,
            str_field(m, "finish_reason") == Some("error"),
        ));
        return parts;
    }
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        parts.push(Part::text(PartKind::Text, text));
    }
    parts.extend(openai_tool_calls(m));
    parts
}

#[cfg(test)]
mod tests {
    use crate::clients::testing::{assert_seen, paired_results};

    use serde_json::json;

    use super::*;
    use crate::clients::testing::{message_ids, only_fixture, read_junk, roles};
    use crate::translate::translate_bytes;

    fn session_file() -> SourceFile {
        SourceFile::new(
            PathBuf::from("session_20260501_x.json"),
            "session_20260501_x.json",
            Layout::Document,
        )
        .with_session("20260501_x")
    }

    fn tool_session(extra: bool) -> Vec<u8> {
        let mut messages = vec![
            json!({"role": "system", "content": "You are Hermes."}),
            json!({"role": "user", "content": "list files"}),
            json!({"role": "assistant", "content": "", "reasoning": "use the terminal",
                   "tool_calls": [{"id": "call_1", "type": "function",
                                   "function": {"name": "terminal", "arguments": "{\"command\":\"ls\"}"}}]}),
            json!({"role": "tool", "tool_call_id": "call_1", "tool_name": "terminal", "content": "a.txt"}),
            json!({"role": "assistant", "content": "One file.", "finish_reason": "stop"}),
        ];
        if extra {
            messages.push(json!({"role": "user", "content": "thanks"}));
        }
        serde_json::to_vec_pretty(&json!({
            "session_id": "20260501_x", "model": "m", "platform": "cli",
            "session_start": "2026-05-01T10:00:00.123456", "last_updated": "2026-05-01T10:00:09+02:00",
            "model_config": {"cwd": "/srv/app"}, "messages": messages,
        }))
        .expect("serializes")
    }

    #[test]
    fn fixture_is_discovered_and_read() {
        let (file, bytes) = only_fixture(&Hermes, "hermes", "small.json");
        let t = translate_bytes(&Hermes, &file, &bytes);
        assert_eq!(t.session_id, "20260429_hermes_small");
        assert_eq!(t.unknown_records, 0);
        assert_eq!(roles(&t), [Role::User, Role::Assistant]);
        assert_eq!(
            t.messages[1].plain_text(),
            "This directory contains a small Hermes fixture."
        );
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/tmp/hermes-small"));
        assert_eq!(facts.model.as_deref(), Some("claude-sonnet-4-6"));
        assert_seen(facts, "2026-04-29T20:00:00Z", "2026-04-29T20:00:04Z");
        assert_eq!(
            message_ids(&t),
            message_ids(&translate_bytes(&Hermes, &file, &bytes))
        );
    }

    #[test]
    fn tool_calls_pair_with_results() {
        let t = translate_bytes(&Hermes, &session_file(), &tool_session(false));
        assert_eq!(
            roles(&t),
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Assistant
            ]
        );
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/srv/app"));
        // The zoneless start is left out; the zoned update is kept.
        assert_eq!(facts.first_seen, facts.last_seen);
        assert!(facts.last_seen.is_some());
        let results = paired_results(&t.messages);
        assert_eq!(results.len(), 1);
        for r in results {
            assert_eq!(r.tool_name.as_deref(), Some("terminal"));
        }
        assert_eq!(t.messages[2].parts[0].kind, PartKind::Thinking);
    }

    #[test]
    fn rewrite_with_one_more_message_adds_one_id() {
        let before = message_ids(&translate_bytes(
            &Hermes,
            &session_file(),
            &tool_session(false),
        ));
        let after = message_ids(&translate_bytes(
            &Hermes,
            &session_file(),
            &tool_session(true),
        ));
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after[..before.len()], before[..]);
    }

    #[test]
    fn truncated_and_garbage_do_not_panic() {
        let bytes = tool_session(false);
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            let t = translate_bytes(&Hermes, &session_file(), &bytes[..cut]);
            assert!(t.messages.is_empty());
        }
        read_junk(
            &Hermes,
            &session_file(),
            &[
                &b"\x00\xff{"[..],
                b"[]",
                b"{\"messages\":[1,{\"role\":7,\"tool_calls\":9}]}",
            ],
        );
    }
}
