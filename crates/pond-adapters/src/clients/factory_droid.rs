//! Factory Droid (Factory.ai's coding agent CLI).
//!
//! Droid's session store lives in `~/.factory/sessions/` on Linux, macOS and
//! Windows (`%USERPROFILE%\.factory\sessions`): `<cwd with / as ->/<uuid>.jsonl`
//! holds the transcript and `<uuid>.settings.json` beside it the session's
//! settings (model, provider lock, token usage); older versions kept the files
//! directly in `sessions/`. This layout is known from other tools'
//! descriptions, not from a real directory; no override variable is known.
//!
//! Transcript lines (fixture): a `session_start` header `{id, title,
//! sessionTitle, cwd, owner, version}`, then `message` records `{id,
//! parentId, timestamp, message:{role, content[]}}` whose blocks follow
//! Anthropic's shapes (text, thinking, tool_use, tool_result, image).
//!
//! The same adapter reads captures of `droid exec --output-format
//! stream-json` (fixture), which a user may keep and point `--path` at: flat
//! `system` (init: session id, model, cwd), `message {role, text}`,
//! `tool_call`, `tool_result` and `completion {finalText}` records carrying
//! `session_id` / `sessionId` and ISO or epoch-millisecond timestamps. A
//! tool result names its call by `toolCallId`, or by `id` in some versions.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{Classified, discover_classified, file_name};
use crate::formats::json::{blocks_or_text, json_text, speaker, str_field};
use crate::formats::time::instant;
use crate::model::{Part, PartKind, Role, SessionFacts};
use crate::naming::{first_or_hint, record_message, sha_id};

pub struct FactoryDroid;

const SETTINGS_SUFFIX: &str = ".settings.json";

impl Adapter for FactoryDroid {
    fn name(&self) -> &'static str {
        "factory-droid"
    }

    fn default_root(&self) -> PathBuf {
        crate::paths::home_dir().join(".factory").join("sessions")
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| {
            let name = file_name(p);
            name.ends_with(".jsonl") || settings_stem(name).is_some()
        };
        discover_classified(root, keep, |path| {
            let name = file_name(path);
            let (layout, stem) = match settings_stem(name) {
                Some(stem) => (Layout::Document, stem),
                None => (Layout::Jsonl, name.trim_end_matches(".jsonl")),
            };
            Classified::named(layout, Some(stem.to_string()).filter(|s| !s.is_empty()))
        })
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        if file.layout == Layout::Document {
            return file.session_hint.clone();
        }
        first_or_hint(file, first_records, |r| {
            if str_field(r, "type") == Some("session_start") {
                str_field(r, "id")
            } else {
                str_field(r, "session_id").or_else(|| str_field(r, "sessionId"))
            }
        })
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if ctx.file.layout == Layout::Document {
            return settings(record);
        }
        let at = instant(record.get("timestamp"));
        let mut facts = SessionFacts::default();
        facts.saw(at);
        let Some(kind) = str_field(record, "type") else {
            return Interpretation::unknown();
        };
        let sha_id = || sha_id(ctx);
        let message = |id: String, role: Role, parts: Vec<Part>| {
            record_message(ctx, id, role, at, None, parts)
        };
        match kind {
            "session_start" => {
                facts.project = str_field(record, "cwd").map(str::to_string);
                facts.title = str_field(record, "sessionTitle")
                    .or_else(|| str_field(record, "title"))
                    .map(str::to_string);
                Interpretation::facts(facts)
            }
            // Session store: a wrapped message. Stream-json: a flat one.
            "message" => {
                let id = str_field(record, "id")
                    .map(|id| format!("{}/{id}", ctx.session_id))
                    .unwrap_or_else(sha_id);
                let m = match record.get("message").filter(|m| m.is_object()) {
                    Some(body) => store_message(body).map(|(role, parts)| message(id, role, parts)),
                    None => str_field(record, "role").and_then(Role::parse).map(|role| {
                        let text = str_field(record, "text").unwrap_or_default();
                        message(id, role, vec![Part::text(PartKind::Text, text)])
                    }),
                };
                Interpretation {
                    understood: m.is_some(),
                    facts,
                    messages: m.into_iter().collect(),
                    ..Interpretation::default()
                }
            }
            "system" => {
                facts.project = str_field(record, "cwd").map(str::to_string);
                facts.model = str_field(record, "model").map(str::to_string);
                Interpretation::facts(facts)
            }
            "tool_call" => {
                let part = Part::tool_call(
                    str_field(record, "toolName").or_else(|| str_field(record, "toolId")),
                    call_id(record),
                    record.get("parameters").map(json_text),
                );
                Interpretation::message(facts, message(sha_id(), Role::Assistant, vec![part]))
            }
            "tool_result" => {
                let value = record.get("value");
                let exit_failed = value
                    .and_then(|v| v.get("exitCode"))
                    .and_then(Value::as_i64)
                    .is_some_and(|c| c != 0);
                let part = Part::tool_result(
                    str_field(record, "toolName").or_else(|| str_field(record, "toolId")),
                    call_id(record),
                    value.map(json_text),
                    record.get("isError").and_then(Value::as_bool) == Some(true) || exit_failed,
                );
                Interpretation::message(facts, message(sha_id(), Role::Tool, vec![part]))
            }
            "completion" => match str_field(record, "finalText") {
                Some(text) => {
                    let parts = vec![Part::text(PartKind::Text, text)];
                    Interpretation::message(facts, message(sha_id(), Role::Assistant, parts))
                }
                None => Interpretation::facts(facts),
            },
            _ => Interpretation::unknown_with_facts(facts),
        }
    }
}

/// `<id>.settings.json` → `<id>`; the global `settings.json` has no id.
fn settings_stem(name: &str) -> Option<&str> {
    name.strip_suffix(SETTINGS_SUFFIX).filter(|s| !s.is_empty())
}

fn call_id(record: &Value) -> Option<&str> {
    str_field(record, "toolCallId").or_else(|| str_field(record, "id"))
}

/// `<id>.settings.json`: the session's model, and when it was locked.
fn settings(doc: &Value) -> Interpretation {
    if !doc.is_object() {
        return Interpretation::unknown();
    }
    let mut facts = SessionFacts {
        model: str_field(doc, "model").map(str::to_string),
        ..SessionFacts::default()
    };
    facts.saw(instant(doc.get("providerLockTimestamp")));
    Interpretation::facts(facts)
}

fn store_message(body: &Value) -> Option<(Role, Vec<Part>)> {
    let role = Role::parse(str_field(body, "role")?)?;
    let parts = blocks_or_text(body.get("content"), crate::formats::anthropic::block_part);
    let role = speaker(role, &parts);
    Some((role, parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::testing::assert_tool_pairs;
    use crate::clients::testing::{Fixtures, read_junk, roles};
    use crate::translate::translate_bytes;

    const FIXTURES: Fixtures = Fixtures::new(&FactoryDroid, "factory-droid");

    #[test]
    fn discovers_every_fixture() {
        FIXTURES.assert_discovers(&[
            ("session_store_small.jsonl", Layout::Jsonl),
            ("stream_json_small.jsonl", Layout::Jsonl),
        ]);
    }

    #[test]
    fn session_store() {
        let t = FIXTURES.read_session("session_store_small.jsonl", "droid_s1");
        assert_eq!(roles(&t), [Role::User, Role::Assistant, Role::Tool]);
        assert_eq!(t.messages[0].id, "droid_s1/m1");
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        assert_tool_pairs(&t.messages);
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/tmp"));
        assert_eq!(facts.title.as_deref(), Some("Stage0 Droid Small"));
        // The trailing blank line is a record of its own, kept as such.
        assert_eq!(t.records.len(), 5);
    }

    #[test]
    fn stream_json() {
        let t = FIXTURES.read_session("stream_json_small.jsonl", "sid_stage0_small");
        assert_eq!(
            roles(&t),
            [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
        );
        assert_eq!(t.messages[3].plain_text(), "Done");
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        assert_tool_pairs(&t.messages);
    }

    #[test]
    fn newer_stream_json_and_settings() {
        let file = SourceFile::new(PathBuf::from("run.jsonl"), "run.jsonl", Layout::Jsonl)
            .with_session("run");
        // Shapes as other tools describe newer versions: ms times, `id` as call id.
        let lines = concat!(
            r#"{"type":"system","subtype":"init","sessionId":"sid_x","timestamp":1767812640310,"model":"droid-model","cwd":"/tmp/x"}"#,
            "\n",
            r#"{"type":"tool_call","sessionId":"sid_x","timestamp":1767812642000,"id":"call_1","toolName":"Execute","parameters":{"command":"ls"}}"#,
            "\n",
            r#"{"type":"tool_result","sessionId":"sid_x","timestamp":1767812643000,"id":"call_1","isError":true,"value":"ls: nope"}"#,
            "\n",
        );
        let t = translate_bytes(&FactoryDroid, &file, lines.as_bytes());
        assert_eq!(t.session_id, "sid_x");
        assert_eq!(t.facts[0].1.model.as_deref(), Some("droid-model"));
        assert!(t.messages[1].parts[0].is_error);
        assert_tool_pairs(&t.messages);

        let settings = SourceFile::new(
            PathBuf::from("abc.settings.json"),
            "abc.settings.json",
            Layout::Document,
        )
        .with_session("abc");
        let t = translate_bytes(
            &FactoryDroid,
            &settings,
            br#"{"model":"glm-4.6","providerLockTimestamp":"2025-11-04T10:26:09.323Z"}"#,
        );
        assert_eq!(t.session_id, "abc");
        assert_eq!(t.facts[0].1.model.as_deref(), Some("glm-4.6"));
        assert!(t.facts[0].1.first_seen.is_some());
    }

    #[test]
    fn same_bytes_same_ids() {
        for name in ["session_store_small.jsonl", "stream_json_small.jsonl"] {
            FIXTURES.assert_ids_stable(name);
        }
    }

    #[test]
    fn truncated_and_garbage_input_do_not_panic() {
        let file = FIXTURES.assert_reads_cut("session_store_small.jsonl", 0);
        read_junk(
            &FactoryDroid,
            &file,
            &[
                &b"\x00\xff{{not json\n[1]\n{\"type\":\"message\",\"message\":[]}\n"[..],
                b"{\"type\":\"tool_result\",\"value\":{\"exitCode\":\"x\"},\"timestamp\":1e300}\n",
                b"{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":[5,{\"type\":\"tool_result\",\"content\":[1]}]}}\n",
            ],
        );
    }
}
