//! OpenClaw (formerly Clawdbot), a personal agent built on the pi coding
//! agent's session format: one appended JSONL file per session.
//!
//! Where (inferred from other tools' readers, the same on every OS):
//! `$OPENCLAW_STATE_DIR/agents/<agentId>/sessions/<session>.jsonl`, the state
//! directory defaulting to `~/.openclaw`; the older Clawdbot name kept
//! `~/.clawdbot/agents/…` (an extra root). `*.trajectory.jsonl` files beside
//! the sessions are traces, not sessions, and deleted sessions renamed to
//! `*.jsonl.deleted.<time>` are not read.
//!
//! Records, as in the fixture: a `session` header (`id`, `version`,
//! `timestamp`, `cwd`), `model_change` (`modelId`, `provider`), and `message`
//! entries (`id`, `parentId`, `timestamp`, `message{role: user|assistant|
//! toolResult, content string or blocks text/thinking/toolCall/image,
//! toolCallId, toolName, isError, model}`). Entries form a tree through
//! `parentId` (branching); messages are kept in file order. Records of the
//! pi family known to carry no message (`thinking_level_change`, `label`,
//! `custom`) are bookkeeping; `compaction` and `branch_summary` summaries
//! become system messages; anything else is counted unknown.
//!
//! Session id: the header's `id`, else a UUID file name. Message ids:
//! `<session>/<entry id>` (entry ids are short and only unique within a
//! session), else the record's content hash.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{client_home, discover_files};
use crate::formats::json::{json_text, str_field};
use crate::formats::pi::{
    block_part, content_parts, entry_head, entry_message_id, header_session_id, shared_entry,
};
use crate::formats::time::instant;
use crate::model::{Part, Role};
use crate::naming::{record_message, uuid_stem};

pub struct OpenClaw;

impl Adapter for OpenClaw {
    fn name(&self) -> &'static str {
        "openclaw"
    }

    fn default_root(&self) -> PathBuf {
        client_home("OPENCLAW_STATE_DIR", ".openclaw", "agents")
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        vec![crate::paths::home_dir().join(".clawdbot").join("agents")]
    }

    fn discover(&self, root: &Path) -> Discovery {
        discover_files(
            root,
            |p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.ends_with(".jsonl") && !name.ends_with(".trajectory.jsonl")
            },
            Layout::Jsonl,
            uuid_stem,
        )
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        header_session_id(file, first_records)
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let Some((kind, at, mut facts)) = entry_head(record) else {
            return Interpretation::unknown();
        };
        match kind {
            "session" => {
                facts.project = str_field(record, "cwd").map(str::to_string);
                Interpretation::facts(facts)
            }
            "message" => {
                let Some(body) = record.get("message").filter(|m| m.is_object()) else {
                    return Interpretation::unknown_with_facts(facts);
                };
                let at = at.or_else(|| instant(body.get("timestamp")));
                facts.saw(at);
                let model = str_field(body, "model").map(str::to_string);
                if model.is_some() {
                    facts.model.clone_from(&model);
                }
                let (role, parts) = match str_field(body, "role").unwrap_or_default() {
                    "toolResult" => (
                        Role::Tool,
                        vec![Part::tool_result(
                            str_field(body, "toolName"),
                            str_field(body, "toolCallId"),
                            body.get("content").map(content_text),
                            body.get("isError").and_then(Value::as_bool) == Some(true),
                        )],
                    ),
                    other => (
                        Role::parse(other).unwrap_or(Role::System),
                        content_parts(body.get("content")),
                    ),
                };
                let id = entry_message_id(ctx, record);
                let message = record_message(ctx, id, role, at, model, parts);
                Interpretation::message(facts, message)
            }
            _ => shared_entry(ctx, record, kind, at, facts),
        }
    }
}

fn content_text(content: &Value) -> String {
    match content {
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| block_part(b).text)
            .collect::<Vec<_>>()
            .join("\n"),
        other => json_text(other),
    }
}

#[cfg(test)]
mod tests {
    use crate::clients::testing::{assert_seen, paired_results};

    use super::*;
    use crate::clients::testing::{assert_ids_stable, message_ids, read_junk, roles};
    use crate::translate::translate_bytes;

    fn fixture() -> (SourceFile, Vec<u8>) {
        crate::clients::testing::only_fixture(&OpenClaw, "openclaw", "small.jsonl")
    }

    #[test]
    fn fixture_is_read() {
        let (file, bytes) = fixture();
        let t = translate_bytes(&OpenClaw, &file, &bytes);
        assert_eq!(t.session_id, "openclaw-stage0-small");
        assert_eq!(t.unknown_records, 0);
        assert_eq!(roles(&t), [Role::User, Role::Assistant, Role::Tool]);
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        assert_eq!(t.messages[0].id, "openclaw-stage0-small/m1");
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/tmp/repo"));
        assert_eq!(facts.model.as_deref(), Some("openclaw-small"));
        assert_seen(facts, "2026-02-24T09:00:00Z", "2026-02-24T09:00:04Z");
        let results = paired_results(&t.messages);
        assert_eq!(results.len(), 1);
        for r in results {
            assert_eq!(r.text.as_deref(), Some("main.swift\nResources\n"));
            assert!(!r.is_error);
        }
        assert_ids_stable(&OpenClaw, &file, &bytes, &t);
    }

    #[test]
    fn appended_lines_keep_earlier_ids() {
        let (file, bytes) = fixture();
        let before = message_ids(&translate_bytes(&OpenClaw, &file, &bytes));
        let mut more = bytes.clone();
        more.extend_from_slice(
            br#"{"type":"compaction","id":"c1","parentId":"m3","timestamp":"2026-02-24T09:01:00Z","summary":"Listed files."}"#,
        );
        more.push(b'\n');
        more.extend_from_slice(
            br#"{"type":"thinking_level_change","id":"t1","thinkingLevel":"high"}"#,
        );
        more.push(b'\n');
        let t = translate_bytes(&OpenClaw, &file, &more);
        assert_eq!(t.unknown_records, 0);
        let after = message_ids(&t);
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after[..before.len()], before[..]);
        assert_eq!(t.messages[3].role, Role::System);
    }

    #[test]
    fn truncated_and_garbage_do_not_panic() {
        let (file, bytes) = fixture();
        for cut in [1, bytes.len() / 2, bytes.len() - 5] {
            let t = translate_bytes(&OpenClaw, &file, &bytes[..cut]);
            assert!(t.messages.len() < 3);
        }
        read_junk(
            &OpenClaw,
            &file,
            &[
                &b"\x00\xff\n{{\n"[..],
                b"[]\n\"x\"\n",
                b"{\"type\":\"message\",\"message\":{\"role\":3,\"content\":[7,{\"type\":null}]}}\n",
                b"{\"type\":\"message\",\"message\":5}\n",
            ],
        );
    }
}
