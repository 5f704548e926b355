//! Grok CLI (xAI's `grok` coding agent): one folder per session holding the
//! model history as JSONL and a summary document.
//!
//! Where (inferred from other tools' readers, the same on every OS):
//! `$GROK_HOME/sessions/<percent-encoded cwd>/<session uuid>/` with
//! `GROK_HOME` defaulting to `~/.grok` (`%USERPROFILE%\.grok` on Windows).
//! The folder holds `chat_history.jsonl` (the raw model history, appended),
//! `summary.json` (session metadata, rewritten whole) and files this adapter
//! does not read: `updates.jsonl` (the UI's session-update stream, whose shape
//! is not known here), `usage.json`, `events.jsonl`, `hunk_records.jsonl`.
//!
//! `chat_history.jsonl` records, as seen in the fixture: `system`, `user`
//! (content string or blocks `text`/`image`; `synthetic_reason` marks context
//! the CLI injected), `reasoning` (`summary[]`, `encrypted_content`),
//! `assistant` (`content`, `tool_calls[{id, name, arguments}]`, `model_id`),
//! `tool_result` (`tool_call_id`, `content`), `backend_tool_call` (a tool the
//! server ran itself, such as web search, with its action inline). Records
//! carry no timestamps; the session's times come from `summary.json`
//! (`created_at`, `updated_at`, `last_active_at`), as do its cwd, title, model
//! and branch.
//!
//! Session id: the session folder's UUID (both files), else `info.id` in the
//! summary. Message ids: `<session>/<id>` for records with an id of their own
//! (reasoning), else the record's content hash within the session.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{Classified, client_home, discover_classified, file_name, parent_dir_name};
use crate::formats::json::percent_decode;
use crate::formats::json::{items_of, json_text, str_field};
use crate::formats::openai::reasoning_parts;
use crate::formats::time::saw_fields;
use crate::model::{Part, PartKind, Role, SessionFacts, joined_text};
use crate::naming::{hint_or_first, is_uuid, record_message};

pub struct Grok;

const HISTORY: &str = "chat_history.jsonl";
const SUMMARY: &str = "summary.json";

impl Adapter for Grok {
    fn name(&self) -> &'static str {
        "grok"
    }

    fn default_root(&self) -> PathBuf {
        client_home("GROK_HOME", ".grok", "sessions")
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| {
            let name = file_name(p);
            name == HISTORY || name == SUMMARY
        };
        discover_classified(root, keep, |path| {
            let layout = if file_name(path) == SUMMARY {
                Layout::Document
            } else {
                Layout::Jsonl
            };
            Classified::named(layout, parent_dir_name(path).filter(|n| is_uuid(n)))
        })
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        hint_or_first(file, first_records, |r| {
            r.get("info").and_then(|i| str_field(i, "id"))
        })
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        if file_name(&ctx.file.path) == SUMMARY {
            return match record {
                Value::Object(_) => Interpretation::facts(summary_facts(record)),
                _ => Interpretation::unknown(),
            };
        }
        let mut facts = SessionFacts {
            project: path_cwd(ctx.file),
            ..SessionFacts::default()
        };
        let Some(kind) = str_field(record, "type") else {
            return Interpretation::unknown();
        };
        let mut model = None;
        let (role, parts) = match kind {
            "system" => (Role::System, content_parts(record.get("content"))),
            "user" => (Role::User, content_parts(record.get("content"))),
            "reasoning" => (Role::Assistant, reasoning_parts(record)),
            "assistant" => {
                let mut parts = content_parts(record.get("content"));
                parts.retain(|p| p.text.as_deref().is_some_and(|t| !t.is_empty()));
                for call in items_of(record, "tool_calls") {
                    parts.push(Part::tool_call(
                        str_field(call, "name"),
                        str_field(call, "id"),
                        call.get("arguments").map(json_text),
                    ));
                }
                model = str_field(record, "model_id").map(str::to_string);
                facts.model.clone_from(&model);
                (Role::Assistant, parts)
            }
            "tool_result" => {
                let text = joined_text(&content_parts(record.get("content")));
                let part =
                    Part::tool_result(None, str_field(record, "tool_call_id"), Some(text), false);
                (Role::Tool, vec![part])
            }
            // The server ran the tool itself; call and outcome sit in one record.
            "backend_tool_call" => {
                let call = record.get("kind");
                let part = Part::tool_call(
                    call.and_then(|k| str_field(k, "tool_type")),
                    call.and_then(|k| str_field(k, "id")),
                    call.and_then(|k| k.get("action")).map(json_text),
                );
                (Role::Assistant, vec![part])
            }
            _ => return Interpretation::unknown_with_facts(facts),
        };
        let id = match str_field(record, "id") {
            Some(own) => format!("{}/{own}", ctx.session_id),
            // Appended file: the offset tells two identical lines apart.
            None => format!("{}/{}-{}", ctx.session_id, ctx.offset, &ctx.sha256[..8]),
        };
        let message = record_message(ctx, id, role, None, model, parts);
        Interpretation::message(facts, message)
    }
}

/// `<encoded cwd>/<uuid>/chat_history.jsonl`: the grandparent folder names the
/// working directory, percent-encoded.
fn path_cwd(file: &SourceFile) -> Option<String> {
    file.session_hint.as_ref()?;
    let encoded = file.path.parent()?.parent()?.file_name()?.to_str()?;
    encoded
        .contains('%')
        .then(|| percent_decode(encoded))
        .filter(|cwd| cwd.starts_with('/') || cwd.contains(":\\") || cwd.contains(":/"))
}

fn content_parts(content: Option<&Value>) -> Vec<Part> {
    match content {
        Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .map(|b| match str_field(b, "type").unwrap_or("unknown") {
                "text" => Part::text(PartKind::Text, str_field(b, "text").unwrap_or_default()),
                "image" | "image_url" => Part::text(PartKind::File, "[image]"),
                other => Part::text(PartKind::Other, format!("[{other}]")),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn summary_facts(record: &Value) -> SessionFacts {
    let mut facts = SessionFacts {
        project: record
            .get("info")
            .and_then(|i| str_field(i, "cwd"))
            .map(str::to_string),
        title: str_field(record, "generated_title")
            .or_else(|| str_field(record, "session_summary"))
            .map(str::to_string),
        model: str_field(record, "current_model_id").map(str::to_string),
        git_branch: str_field(record, "head_branch").map(str::to_string),
        ..SessionFacts::default()
    };
    saw_fields(
        &mut facts,
        record,
        &["created_at", "updated_at", "last_active_at"],
    );
    facts
}

#[cfg(test)]
mod tests {
    use crate::clients::testing::{assert_seen, paired_results};

    use super::*;
    use crate::clients::testing::{assert_discovers, assert_ids_stable, read_junk, role_counts};
    use crate::translate::translate_bytes;

    const SESSION: &str = "019f6851-7ec4-7ef0-97d3-03f3eee38755";

    fn fixture_root() -> PathBuf {
        crate::clients::testing::fixtures("grok")
    }

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(fixture_root().join(name)).expect("fixture readable")
    }

    /// The fixture's bytes as they would sit in a real session folder.
    fn in_session_folder(name: &str) -> SourceFile {
        let rel = format!("%2Ftmp%2Fas-agent-lab%2Fgrok%2Fproject/{SESSION}/{name}");
        let root = Path::new("/home/me/.grok/sessions");
        SourceFile {
            path: root.join(&rel),
            rel_path: rel,
            layout: if name == SUMMARY {
                Layout::Document
            } else {
                Layout::Jsonl
            },
            session_hint: Some(SESSION.to_string()),
            parent_hint: None,
        }
    }

    #[test]
    fn fixtures_are_discovered() {
        let found = assert_discovers(
            &Grok,
            &fixture_root(),
            &[(HISTORY, Layout::Jsonl), (SUMMARY, Layout::Document)],
        );
        // Outside a session folder the summary still names its session.
        let summary = &found.files[1];
        let t = translate_bytes(&Grok, summary, &read(SUMMARY));
        assert_eq!(t.session_id, SESSION);
    }

    #[test]
    fn history_in_its_session_folder() {
        let file = in_session_folder(HISTORY);
        let bytes = read(HISTORY);
        let t = translate_bytes(&Grok, &file, &bytes);
        assert_eq!(t.session_id, SESSION);
        assert_eq!(t.unknown_records, 0);
        assert_eq!(t.messages.len(), 11);
        assert_eq!(
            role_counts(&t, [Role::System, Role::User, Role::Assistant, Role::Tool]),
            [1, 3, 5, 2]
        );
        let facts = &t.facts[0].1;
        assert_eq!(
            facts.project.as_deref(),
            Some("/tmp/as-agent-lab/grok/project")
        );
        assert_eq!(facts.model.as_deref(), Some("grok-4.5"));
        let results = paired_results(&t.messages);
        assert_eq!(results.len(), 2);
        assert!(
            t.messages
                .iter()
                .any(|m| m.id == format!("{SESSION}/rs_00000000-0000-4000-8000-000000000001"))
        );
        assert_ids_stable(&Grok, &file, &bytes, &t);
    }

    #[test]
    fn summary_gives_the_session_facts() {
        let t = translate_bytes(&Grok, &in_session_folder(SUMMARY), &read(SUMMARY));
        assert_eq!(t.session_id, SESSION);
        assert!(t.messages.is_empty());
        assert_eq!(t.unknown_records, 0);
        let facts = &t.facts[0].1;
        assert_eq!(
            facts.project.as_deref(),
            Some("/tmp/as-agent-lab/grok/project")
        );
        assert_eq!(
            facts.title.as_deref(),
            Some("Read hello.py and summarize what it prints")
        );
        assert_eq!(facts.model.as_deref(), Some("grok-4.5"));
        assert_eq!(facts.git_branch.as_deref(), Some("main"));
        assert_seen(
            facts,
            "2026-07-31T10:13:27.574131Z",
            "2026-07-31T10:15:02.118940Z",
        );
    }

    #[test]
    fn truncated_and_garbage_do_not_panic() {
        let file = in_session_folder(HISTORY);
        let bytes = read(HISTORY);
        let whole = translate_bytes(&Grok, &file, &bytes).messages.len();
        for cut in [1, bytes.len() / 2, bytes.len() - 7] {
            let t = translate_bytes(&Grok, &file, &bytes[..cut]);
            assert!(t.messages.len() < whole);
        }
        let summary = in_session_folder(SUMMARY);
        let s = read(SUMMARY);
        translate_bytes(&Grok, &summary, &s[..s.len() / 2]);
        let garbage: [&[u8]; 3] = [
            b"\x00\xff\n{{\n",
            b"[]\n7\n",
            b"{\"type\":\"assistant\",\"tool_calls\":3,\"content\":[5]}\n",
        ];
        read_junk(&Grok, &file, &garbage);
        read_junk(&Grok, &summary, &garbage);
    }
}
