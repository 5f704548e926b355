//! Qwen Code (a Gemini CLI fork): `~/.qwen/projects/<cwd>/chats/<session>.jsonl`.
//!
//! Qwen Code dropped Gemini CLI's whole-document chat files for an
//! append-only JSONL transcript per session, under its runtime dir
//! (`$QWEN_RUNTIME_DIR` when set, else `~/.qwen`; `%USERPROFILE%\.qwen` on
//! Windows) in `projects/<sanitised cwd>/chats/`, named by the session's
//! UUID. Archived sessions move to `chats/archive/`, which is searched too.
//!
//! Every line is a self-contained `ChatRecord`: `uuid`, `parentUuid`,
//! `sessionId`, `timestamp`, `type` (`user`, `assistant`, `tool_result`,
//! `system`), an optional `subtype`, `cwd`, `version`, `gitBranch`, `model`,
//! and `message`: a GenAI `Content` (`role` user/model, `parts` of text,
//! `thought` text, `functionCall`, `functionResponse`), read like Gemini
//! CLI's. System records carry their data in `systemPayload`: a custom
//! title, the parent session, the session's model, compression checkpoints,
//! telemetry and other bookkeeping. `/branch` copies records verbatim into a
//! new session with `forkedFrom.sessionId`, so message ids are the record
//! `uuid` under its session.
//!
//! Known from the one fixture (written by another tool's authors, v0.21.13)
//! and from reading Qwen Code's recording source; not seen in a real user's
//! files. Inferred: background notifications (`user` records with subtype
//! `notification`, `cron`, `background_task_completed`) are not the user's
//! words and become system messages. Unknown record types and system
//! subtypes are kept raw and counted as unknown.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, RecordContext, SourceFile};
use crate::discover::{client_home, discover_jsonl};
use crate::formats::genai;
use crate::formats::json::str_field;
use crate::formats::time::timestamp_field;
use crate::model::{PartKind, Role, SessionFacts};
use crate::naming::{first_or_hint, record_message, sha_id, uuid_stem};

pub struct Qwen;

/// `user` subtypes the CLI injects itself rather than the person typing.
const INJECTED_USER: &[&str] = &["notification", "cron", "background_task_completed"];

/// System subtypes that hold state, not conversation.
const BOOKKEEPING: &[&str] = &[
    "session_notes",
    "chat_compression",
    "slash_command",
    "ui_telemetry",
    "at_command",
    "attribution_snapshot",
    "notification",
    "background_task_completed",
    "cron",
    "mid_turn_user_message",
    "session_source",
    "session_execution_engine",
    "omni_recall",
    "session_approval_mode",
    "rewind",
    "agent_bootstrap",
    "agent_launch_prompt",
    "agent_retry",
    "agent_session_ready",
    "file_history_snapshot",
    "user_text_elements",
    "session_artifact_event",
    "session_artifact_snapshot",
    "session_sources_snapshot",
    "branch_checkpoint",
    "goal_state",
    "goal_runtime",
    "goal_turn_end",
    "realtime_message",
    "turn_result",
    "managed_session_header_v1",
    "managed_session_event_v1",
    "managed_session_commit_v1",
];

impl Adapter for Qwen {
    fn name(&self) -> &'static str {
        "qwen"
    }

    fn default_root(&self) -> PathBuf {
        client_home("QWEN_RUNTIME_DIR", ".qwen", "projects")
    }

    fn discover(&self, root: &Path) -> Discovery {
        discover_jsonl(root, uuid_stem)
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_or_hint(file, first_records, |r| str_field(r, "sessionId"))
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let Some(kind) = str_field(record, "type") else {
            return Interpretation::unknown();
        };
        let mut facts = SessionFacts {
            project: str_field(record, "cwd").map(str::to_string),
            git_branch: str_field(record, "gitBranch").map(str::to_string),
            model: str_field(record, "model").map(str::to_string),
            parent_id: record
                .get("forkedFrom")
                .and_then(|f| str_field(f, "sessionId"))
                .filter(|p| *p != ctx.session_id)
                .map(str::to_string),
            ..SessionFacts::default()
        };
        facts.saw(timestamp_field(record, "timestamp"));
        let subtype = str_field(record, "subtype");
        let role = match (kind, subtype) {
            ("user", Some(s)) if INJECTED_USER.contains(&s) => Role::System,
            ("user", _) => Role::User,
            ("assistant", _) => Role::Assistant,
            ("tool_result", _) => Role::Tool,
            ("system", _) => return system(record, subtype, facts),
            _ => return Interpretation::unknown_with_facts(facts),
        };
        let mut parts = record
            .get("message")
            .and_then(|m| m.get("parts"))
            .map(genai::parts)
            .unwrap_or_default();
        if role == Role::Tool {
            pair_results(record, &mut parts);
        }
        mark_hook_context(record, &mut parts);
        if parts.is_empty() {
            return Interpretation::facts(facts);
        }
        let id = match str_field(record, "uuid") {
            Some(uuid) => format!("{}/{uuid}", ctx.session_id),
            None => sha_id(ctx),
        };
        let message = record_message(
            ctx,
            id,
            role,
            timestamp_field(record, "timestamp"),
            str_field(record, "model").map(str::to_string),
            parts,
        );
        Interpretation::message(facts, message)
    }
}

/// Fills what a `functionResponse` leaves out from the record's
/// `toolCallResult` (the call id, an error status).
fn pair_results(record: &Value, parts: &mut [crate::model::Part]) {
    let meta = record.get("toolCallResult");
    let call_id = meta.and_then(|m| str_field(m, "callId"));
    let failed = meta.and_then(|m| str_field(m, "status")) == Some("error");
    for part in parts.iter_mut().filter(|p| p.kind == PartKind::ToolResult) {
        if part.tool_call_id.is_none() {
            part.tool_call_id = call_id.map(str::to_string);
        }
        part.is_error |= failed;
    }
}

/// A prompt hook's output is sent to the model as an extra text part wrapped
/// in a `<qwen:...>` tag and repeated in `systemPayload.hookContext`: it is
/// context, not the user's words.
fn mark_hook_context(record: &Value, parts: &mut [crate::model::Part]) {
    let Some(hook) = record
        .get("systemPayload")
        .and_then(|p| str_field(p, "hookContext"))
    else {
        return;
    };
    for part in parts.iter_mut().filter(|p| p.kind == PartKind::Text) {
        if part
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("<qwen:") && t.contains(hook))
        {
            part.kind = PartKind::Other;
        }
    }
}

fn system(record: &Value, subtype: Option<&str>, mut facts: SessionFacts) -> Interpretation {
    let payload = record.get("systemPayload");
    let field = |key: &str| payload.and_then(|p| str_field(p, key)).map(str::to_string);
    match subtype {
        Some("custom_title") => facts.title = field("customTitle"),
        Some("parent_session") => facts.parent_id = field("parentSessionId"),
        Some("session_model") => facts.model = field("modelId"),
        Some(s) if BOOKKEEPING.contains(&s) => {}
        _ => return Interpretation::unknown_with_facts(facts),
    }
    Interpretation::facts(facts)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::adapter::Layout;
    use crate::clients::testing::{only_fixture, roles};
    use crate::model::Part;
    use crate::translate::{Translation, translate_bytes};

    const SESSION: &str = "019f0000-0000-7000-8000-000000000001";

    fn fixture() -> (SourceFile, Vec<u8>) {
        only_fixture(&Qwen, "qwen", &format!("{SESSION}.jsonl"))
    }

    fn read() -> Translation {
        let (file, bytes) = fixture();
        translate_bytes(&Qwen, &file, &bytes)
    }

    #[test]
    fn fixture_is_one_session_of_five_messages() {
        let (file, _) = fixture();
        assert_eq!(file.layout, Layout::Jsonl);
        assert_eq!(file.session_hint.as_deref(), Some(SESSION));
        let t = read();
        assert_eq!(t.session_id, SESSION);
        assert_eq!(t.records.len(), 6);
        assert_eq!(t.unknown_records + t.unparsed_records, 0);
        assert_eq!(
            roles(&t),
            [
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Assistant,
                Role::System
            ]
        );
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        assert_eq!(
            t.messages[0].id,
            format!("{SESSION}/019f0000-0000-7000-8000-000000000011")
        );
        let facts = &t.facts[0].1;
        assert_eq!(
            facts.project.as_deref(),
            Some("/tmp/as-qwen-fixture/project")
        );
        assert_eq!(facts.git_branch.as_deref(), Some("fixture-branch"));
        assert_eq!(facts.model.as_deref(), Some("synthetic-model"));
        assert!(facts.first_seen < facts.last_seen);
    }

    #[test]
    fn parts_keep_thoughts_calls_results_and_hook_context_apart() {
        let t = read();
        let kinds = |i: usize| {
            t.messages[i]
                .parts
                .iter()
                .map(|p| p.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(0), [PartKind::Text, PartKind::Other]);
        assert_eq!(kinds(1), [PartKind::Thinking, PartKind::ToolCall]);
        assert_eq!(kinds(2), [PartKind::ToolResult]);
        let result: &Part = &t.messages[2].parts[0];
        assert_eq!(result.text.as_deref(), Some("Synthetic file contents."));
        assert_eq!(result.tool_name.as_deref(), Some("read_file"));
        let calls: HashSet<&str> =
            crate::clients::testing::tool_ids(&t.messages, PartKind::ToolCall)
                .into_iter()
                .collect();
        for p in t.messages.iter().flat_map(|m| &m.parts) {
            if p.kind == PartKind::ToolResult {
                assert!(calls.contains(p.tool_call_id.as_deref().unwrap_or("")));
            }
        }
    }

    #[test]
    fn same_bytes_give_same_ids() {
        let ids = |t: Translation| t.messages.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(read()), ids(read()));
    }

    #[test]
    fn system_records_set_title_and_parent() {
        let (file, _) = fixture();
        let bytes = format!(
            "{}\n{}\n{}\n",
            r#"{"uuid":"a","sessionId":"S","timestamp":"2026-01-01T00:00:00Z","type":"system","subtype":"custom_title","systemPayload":{"customTitle":"Fix login"}}"#,
            r#"{"uuid":"b","sessionId":"S","timestamp":"2026-01-01T00:00:01Z","type":"system","subtype":"parent_session","systemPayload":{"parentSessionId":"P"}}"#,
            r#"{"uuid":"c","sessionId":"S","timestamp":"2026-01-01T00:00:02Z","type":"system","subtype":"brand_new"}"#,
        );
        let t = translate_bytes(&Qwen, &file, bytes.as_bytes());
        assert_eq!(t.session_id, "S");
        assert!(t.messages.is_empty());
        assert_eq!(t.unknown_records, 1);
        assert_eq!(t.facts[0].1.title.as_deref(), Some("Fix login"));
        assert_eq!(t.facts[0].1.parent_id.as_deref(), Some("P"));
    }

    #[test]
    fn forked_session_names_its_source() {
        let (file, _) = fixture();
        let line = r#"{"uuid":"u1","sessionId":"NEW","timestamp":"2026-01-01T00:00:00Z","type":"user","message":{"role":"user","parts":[{"text":"hi"}]},"forkedFrom":{"sessionId":"OLD","messageUuid":"u1"}}"#;
        let t = translate_bytes(&Qwen, &file, line.as_bytes());
        assert_eq!(t.facts[0].1.parent_id.as_deref(), Some("OLD"));
        // The copied uuid lives under the new session, apart from the original.
        assert_eq!(t.messages[0].id, "NEW/u1");
    }

    #[test]
    fn truncated_and_garbage_input_do_not_panic() {
        let (file, bytes) = fixture();
        for cut in [1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 2] {
            let t = translate_bytes(&Qwen, &file, &bytes[..cut]);
            assert!(t.messages.len() <= 5);
        }
        let _ = translate_bytes(
            &Qwen,
            &file,
            b"\xff\xfe garbage\n{\"type\":\"assistant\",\"message\":{\"parts\":7}}\n[]\n{\"type\":5}\n",
        );
    }
}
