//! Google Antigravity: the CLI's per-conversation step transcript, appended
//! as JSONL.
//!
//! Where (inferred from other tools' readers, the same on every OS):
//! `~/.gemini/antigravity-cli/brain/<conversation id>/.system_generated/logs/transcript.jsonl`;
//! the IDE's `~/.gemini/antigravity/brain/` is an extra root in case it
//! writes the same transcripts (it is otherwise known to hold Markdown
//! artifacts, which are not read). The IDE's conversation store
//! (`conversations/<id>.db` / `.pb`) is not read: its encoding is not known
//! well enough to translate it faithfully.
//!
//! Records, as in the fixture: `{step_index, source: USER_EXPLICIT|MODEL|
//! SYSTEM, type, status, created_at, content, thinking, tool_calls[{name,
//! args}], truncated_fields}`. `USER_INPUT` is the user's turn (the request
//! inside `<USER_REQUEST>` when tagged; a `Model Selection` settings change in
//! it names the model); `PLANNER_RESPONSE` is the model's turn (thinking,
//! answer, tool calls); other `MODEL` steps (`RUN_COMMAND`, `VIEW_FILE`,
//! `LIST_DIRECTORY`, `CODE_ACTION`, `SEARCH_WEB`, `GREP_SEARCH`, `GENERIC`, …)
//! are tool results; `CHECKPOINT` and `SYSTEM_MESSAGE` are system messages;
//! `CONVERSATION_HISTORY` carries nothing.
//!
//! Tool calls and their results carry no ids, and results do not name the
//! call they answer, so results are left unpaired (`tool_call_id` empty) and
//! named after their step type. Content the CLI clipped (`truncated_fields`
//! holding `content`) is marked as such. Message ids are the record's
//! content hash within the session: step indexes repeat in the fixture, so
//! they cannot serve as ids.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{Classified, discover_classified};
use crate::formats::json::{items_of, json_text, str_field};
use crate::formats::time::timestamp_field;
use crate::model::{Part, PartKind, Role, SessionFacts};
use crate::naming::{record_message, sha_id};

pub struct Antigravity;

const TRUNCATED: &str = "\n[truncated by Antigravity]";

impl Adapter for Antigravity {
    fn name(&self) -> &'static str {
        "antigravity"
    }

    fn default_root(&self) -> PathBuf {
        crate::paths::home_dir()
            .join(".gemini")
            .join("antigravity-cli")
            .join("brain")
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        vec![
            crate::paths::home_dir()
                .join(".gemini")
                .join("antigravity")
                .join("brain"),
        ]
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| p.extension().is_some_and(|e| e == "jsonl");
        discover_classified(root, keep, |path| {
            Classified::named(Layout::Jsonl, conversation_id(path))
        })
    }

    fn identify(&self, file: &SourceFile, _first_records: &[Value]) -> Option<String> {
        // Records never name their conversation; only the folder does.
        file.session_hint.clone()
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let mut facts = SessionFacts::default();
        let at = timestamp_field(record, "created_at");
        facts.saw(at);
        let (Some(kind), true) = (
            str_field(record, "type"),
            record.get("step_index").is_some(),
        ) else {
            return Interpretation::unknown();
        };
        let source = str_field(record, "source").unwrap_or_default();
        let content = content_text(record);
        let (role, parts) = match kind {
            "USER_INPUT" => {
                let raw = str_field(record, "content").unwrap_or_default();
                facts.model = selected_model(raw);
                let request = user_request(raw);
                if source == "USER_EXPLICIT"
                    && record.get("step_index").and_then(Value::as_u64) == Some(0)
                {
                    facts.title = request
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(str::to_string);
                }
                let text = if content.as_deref().is_some_and(|c| c.ends_with(TRUNCATED)) {
                    format!("{request}{TRUNCATED}")
                } else {
                    request
                };
                (Role::User, vec![Part::text(PartKind::Text, text)])
            }
            "PLANNER_RESPONSE" => {
                let mut parts = Vec::new();
                if let Some(thinking) = str_field(record, "thinking") {
                    parts.push(Part::text(PartKind::Thinking, thinking));
                }
                if let Some(text) = content {
                    parts.push(Part::text(PartKind::Text, text));
                }
                for call in items_of(record, "tool_calls") {
                    parts.push(Part::tool_call(
                        str_field(call, "name"),
                        None,
                        call.get("args").map(json_text),
                    ));
                }
                (Role::Assistant, parts)
            }
            "CONVERSATION_HISTORY" => return Interpretation::facts(facts),
            "CHECKPOINT" | "SYSTEM_MESSAGE" => (
                Role::System,
                content
                    .map(|t| vec![Part::text(PartKind::Text, t)])
                    .unwrap_or_default(),
            ),
            // Every other step the model took is an action whose output this is.
            _ if source == "MODEL" => (
                Role::Tool,
                vec![Part::tool_result(
                    Some(&kind.to_ascii_lowercase()),
                    None,
                    content,
                    matches!(
                        str_field(record, "status"),
                        Some("ERROR" | "FAILED" | "CANCELED" | "CANCELLED")
                    ),
                )],
            ),
            _ => return Interpretation::unknown_with_facts(facts),
        };
        let message = record_message(ctx, sha_id(ctx), role, at, None, parts);
        Interpretation::message(facts, message)
    }
}

/// `brain/<id>/.system_generated/logs/transcript.jsonl` → `<id>`.
fn conversation_id(path: &Path) -> Option<String> {
    let mut dirs = path.ancestors().skip(1);
    while let Some(dir) = dirs.next() {
        if dir.file_name().is_some_and(|n| n == ".system_generated") {
            return dirs
                .next()?
                .file_name()?
                .to_str()
                .filter(|n| !n.is_empty())
                .map(str::to_string);
        }
    }
    None
}

/// The record's `content`, marked when the CLI clipped it.
fn content_text(record: &Value) -> Option<String> {
    let text = str_field(record, "content")?;
    let clipped = record
        .get("truncated_fields")
        .and_then(Value::as_array)
        .is_some_and(|fields| fields.iter().any(|f| f.as_str() == Some("content")));
    Some(if clipped {
        format!("{text}{TRUNCATED}")
    } else {
        text.to_string()
    })
}

/// The text inside `<USER_REQUEST>…</USER_REQUEST>`, or all of it.
fn user_request(content: &str) -> String {
    const OPEN: &str = "<USER_REQUEST>";
    const CLOSE: &str = "</USER_REQUEST>";
    content
        .find(OPEN)
        .map(|start| start + OPEN.len())
        .and_then(|start| {
            let end = start + content[start..].find(CLOSE)?;
            Some(content[start..end].trim().to_string())
        })
        .unwrap_or_else(|| content.to_string())
}

/// "…`Model Selection` from <old> to <new>." names the model now in use.
fn selected_model(content: &str) -> Option<String> {
    let after = &content[content.find("Model Selection")?..];
    let line = after.lines().next()?;
    let model = line[line.rfind(" to ")? + 4..].trim().trim_end_matches('.');
    (!model.is_empty()).then(|| model.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::testing::{assert_ids_stable, message_ids, read_junk, role_counts};
    use crate::translate::translate_bytes;

    fn fixture() -> (SourceFile, Vec<u8>) {
        crate::clients::testing::only_fixture(&Antigravity, "antigravity", "cli_small.jsonl")
    }

    /// The fixture as it would sit in a conversation folder.
    fn in_brain(file: &SourceFile) -> SourceFile {
        let rel = "4c1d9a/.system_generated/logs/transcript.jsonl";
        let path = Path::new("/home/me/.gemini/antigravity-cli/brain").join(rel);
        SourceFile {
            session_hint: conversation_id(&path),
            path,
            rel_path: rel.to_string(),
            ..file.clone()
        }
    }

    #[test]
    fn fixture_is_read() {
        let (file, bytes) = fixture();
        let file = in_brain(&file);
        let t = translate_bytes(&Antigravity, &file, &bytes);
        assert_eq!(t.session_id, "4c1d9a");
        // The last record's source and status were scrubbed: a GENERIC step of
        // unknown origin.
        assert_eq!(t.unknown_records, 1);
        assert_eq!(t.messages.len(), 17);
        assert_eq!(
            role_counts(&t, [Role::User, Role::Assistant, Role::Tool, Role::System]),
            [2, 3, 9, 3]
        );
        assert_eq!(t.messages[0].plain_text(), "List the files.");
        // The first twelve steps are dated; the scrubbed ones are not.
        assert!(t.messages[..11].iter().all(|m| m.timestamp.is_some()));
        let facts = &t.facts[0].1;
        assert_eq!(facts.title.as_deref(), Some("List the files."));
        assert_eq!(facts.model.as_deref(), Some("Gemini 3.5 Flash (Medium)"));
        crate::clients::testing::assert_seen(facts, "2026-06-26T21:16:16Z", "2026-06-26T21:16:26Z");
        let parts = || t.messages.iter().flat_map(|m| &m.parts);
        assert_eq!(parts().filter(|p| p.kind == PartKind::ToolCall).count(), 2);
        // Results cannot be paired: none claims a call id.
        assert!(
            parts()
                .filter(|p| p.kind == PartKind::ToolResult)
                .all(|p| p.tool_call_id.is_none() && p.tool_name.is_some())
        );
        assert!(parts().any(|p| p.text.as_deref().is_some_and(|t| t.ends_with(TRUNCATED))));
        assert_ids_stable(&Antigravity, &file, &bytes, &t);
    }

    #[test]
    fn appended_steps_keep_earlier_ids() {
        let (file, bytes) = fixture();
        let cut = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(5)
            .map(|(i, _)| i + 1)
            .expect("six lines");
        let before = message_ids(&translate_bytes(&Antigravity, &file, &bytes[..cut]));
        let after = message_ids(&translate_bytes(&Antigravity, &file, &bytes));
        assert_eq!(before.len(), 5);
        assert_eq!(after[..before.len()], before[..]);
    }

    #[test]
    fn truncated_and_garbage_do_not_panic() {
        let (file, bytes) = fixture();
        for cut in [1, bytes.len() / 2, bytes.len() - 3] {
            let t = translate_bytes(&Antigravity, &file, &bytes[..cut]);
            assert!(t.messages.len() <= 17);
        }
        read_junk(
            &Antigravity,
            &file,
            &[
                &b"\x00\xff\n{{\n"[..],
                b"[]\n{\"type\":\"USER_INPUT\"}\n",
                b"{\"step_index\":0,\"type\":\"USER_INPUT\",\"content\":\"Model Selection to\"}\n",
                b"{\"step_index\":1,\"type\":\"PLANNER_RESPONSE\",\"tool_calls\":[3]}\n",
            ],
        );
        assert_eq!(conversation_id(Path::new("/.system_generated/x")), None);
    }
}
