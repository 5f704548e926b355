//! Cline, and its forks Roo Code and Kilo Code: one folder per task, holding
//! whole-file JSON documents.
//!
//! Where: the editor extension's global storage,
//! `<editor config>/User/globalStorage/<extension id>/tasks/<taskId>/`, with
//! extension ids `saoudrizwan.claude-dev` (Cline), `rooveterinaryinc.roo-cline`
//! (Roo Code) and `kilocode.kilo-code` (Kilo Code), for the editors Code,
//! Cursor, Windsurf and VSCodium (`~/.config/<Editor>` on Linux,
//! `~/Library/Application Support/<Editor>` on macOS, `%APPDATA%\<Editor>` on
//! Windows); the Cline CLI keeps the same task folders in
//! `~/.cline/data/tasks/`. Every combination is a root; Cline in VS Code is
//! the default one.
//!
//! Files per task, all three documents of the same session (the folder name
//! is the session id; all forks report as client `cline`, the extension is
//! visible only in the stored root):
//! - `api_conversation_history.json`: the conversation as sent to the model,
//!   an Anthropic `MessageParam[]` (`role`, `content` string or blocks `text`,
//!   `thinking`, `tool_use`, `tool_result`, `image`). These become the messages.
//!   Recent versions may add `ts` and `modelInfo` to a message; both are read
//!   when present.
//! - `ui_messages.json` (`claude_messages.json` in the oldest builds): the
//!   chat panel's events `[{ts, type: say|ask, say|ask, text, partial}]`. They
//!   repeat the conversation in UI form, so they give the session's times and
//!   its title (the first `say: task`) and are otherwise kept raw.
//! - `task_metadata.json`: files in context and model usage; the last
//!   `model_usage[].model_id` is the session's model.
//!
//! The format is known from the extensions' sources as described by other
//! tools; the fixtures are simplified smoke tests (messages given as
//! `{type|role, text|content, timestamp}`), which are read as well. The
//! project is taken from the `Current Working Directory (…)` /
//! `Current Workspace Directory (…)` line Cline and Roo put in the
//! environment details of user messages, when one is there.
//!
//! Ids: `<taskId>/api-<index>`. The history file is rewritten whole, and
//! context management may rewrite earlier messages, so they are revisable
//! (last copy wins); messages dropped from the file stay stored.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{Classified, discover_classified, file_name, parent_dir_name};
use crate::formats::editor::editor_global_storage;
use crate::formats::json::{items_of, speaker, str_field};
use crate::formats::time::instant;
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

pub struct Cline;

const EXTENSIONS: &[&str] = &[
    "saoudrizwan.claude-dev",
    "rooveterinaryinc.roo-cline",
    "kilocode.kilo-code",
];

const HISTORY: &str = "api_conversation_history.json";
const UI: &[&str] = &["ui_messages.json", "claude_messages.json"];
const METADATA: &str = "task_metadata.json";

impl Adapter for Cline {
    fn name(&self) -> &'static str {
        "cline"
    }

    /// Not unique across machines: task ids are the millisecond the task started.
    fn session_ids_are_global(&self) -> bool {
        false
    }

    fn default_root(&self) -> PathBuf {
        extension_roots()
            .into_iter()
            .next()
            .unwrap_or_else(cli_root)
    }

    fn extra_roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = extension_roots().into_iter().skip(1).collect();
        roots.push(cli_root());
        roots
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| {
            let name = file_name(p);
            name == HISTORY || name == METADATA || UI.contains(&name)
        };
        discover_classified(root, keep, |path| {
            Classified::named(Layout::Document, parent_dir_name(path))
        })
    }

    fn identify(&self, file: &SourceFile, _first_records: &[Value]) -> Option<String> {
        // None of the three files names its task; the folder does.
        file.session_hint.clone()
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let name = file_name(&ctx.file.path);
        match (name, record) {
            (HISTORY, Value::Array(items)) => history(ctx, items),
            (n, Value::Array(items)) if UI.contains(&n) => Interpretation::facts(ui_facts(items)),
            (METADATA, Value::Object(_)) => Interpretation::facts(metadata_facts(record)),
            _ => Interpretation::unknown(),
        }
    }
}

fn extension_roots() -> Vec<PathBuf> {
    editor_global_storage()
        .into_iter()
        .flat_map(|storage| {
            EXTENSIONS
                .iter()
                .map(move |ext| storage.join(ext).join("tasks"))
        })
        .collect()
}

fn cli_root() -> PathBuf {
    crate::paths::home_dir()
        .join(".cline")
        .join("data")
        .join("tasks")
}

fn history(ctx: RecordContext<'_>, items: &[Value]) -> Interpretation {
    let mut facts = SessionFacts::default();
    let mut messages = Vec::new();
    for (index, m) in items.iter().enumerate() {
        if !m.is_object() {
            continue;
        }
        let parts: Vec<Part> = match m.get("content") {
            Some(Value::Array(blocks)) => blocks
                .iter()
                .map(crate::formats::anthropic::block_part)
                .collect(),
            Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
            _ => str_field(m, "text")
                .map(|t| vec![Part::text(PartKind::Text, t)])
                .unwrap_or_default(),
        };
        let role = str_field(m, "role")
            .or_else(|| str_field(m, "type"))
            .and_then(Role::parse)
            .unwrap_or(Role::User);
        if role == Role::User && facts.project.is_none() {
            facts.project = parts
                .iter()
                .filter(|p| p.kind == PartKind::Text)
                .find_map(|p| p.text.as_deref().and_then(working_directory));
        }
        let role = speaker(role, &parts);
        let timestamp = instant(m.get("ts")).or_else(|| instant(m.get("timestamp")));
        facts.saw(timestamp);
        let model = m
            .get("modelInfo")
            .and_then(|i| str_field(i, "modelId"))
            .map(str::to_string);
        if model.is_some() {
            facts.model.clone_from(&model);
        }
        messages.push(Message {
            id: format!("{}/api-{index}", ctx.session_id),
            session_id: ctx.session_id.to_string(),
            seq: ctx.offset + index as u64,
            role,
            timestamp,
            model,
            parts,
        });
    }
    Interpretation::revised(facts, messages)
}

/// The directory in `# Current Working Directory (/path) Files` (Cline) or
/// `# Current Workspace Directory (/path) Files` (Roo, Kilo).
fn working_directory(text: &str) -> Option<String> {
    [
        "Current Working Directory (",
        "Current Workspace Directory (",
    ]
    .iter()
    .find_map(|marker| {
        let start = text.find(marker)? + marker.len();
        let line = text[start..].lines().next()?;
        // The path may itself hold parentheses: the line's last one closes it.
        let end = line.rfind(')')?;
        Some(line[..end].trim().to_string()).filter(|p| !p.is_empty())
    })
}

fn ui_facts(items: &[Value]) -> SessionFacts {
    let mut facts = SessionFacts::default();
    for item in items {
        facts.saw(instant(item.get("ts")).or_else(|| instant(item.get("timestamp"))));
        if facts.title.is_none() && str_field(item, "say") == Some("task") {
            facts.title = str_field(item, "text").map(title_line);
        }
    }
    facts
}

fn metadata_facts(record: &Value) -> SessionFacts {
    let mut facts = SessionFacts {
        title: str_field(record, "title").map(title_line),
        ..SessionFacts::default()
    };
    for usage in items_of(record, "model_usage") {
        facts.saw(instant(usage.get("ts")));
        if let Some(model) = str_field(usage, "model_id") {
            facts.model = Some(model.to_string());
        }
    }
    facts
}

/// The first line of a task's prompt, which is what the task list shows.
fn title_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use crate::clients::testing::paired_results;

    use serde_json::json;

    use super::*;
    use crate::clients::testing::{
        assert_discovers, assert_ids_stable, message_ids, read_junk, roles,
    };
    use crate::translate::translate_bytes;

    fn fixture_root() -> PathBuf {
        crate::clients::testing::fixtures("cline")
    }

    fn task_file(task: &str, name: &str) -> SourceFile {
        SourceFile::new(
            PathBuf::from(format!("{task}/{name}")),
            format!("{task}/{name}"),
            Layout::Document,
        )
        .with_session(task.to_string())
    }

    fn history_doc(extra: bool) -> Vec<u8> {
        let mut items = vec![
            json!({"role": "user", "content": [
                {"type": "text", "text": "<task>\nadd a test\n</task>"},
                {"type": "text", "text": "<environment_details>\n# Current Working Directory (/home/me/proj (v2)) Files\nsrc/\n</environment_details>"}]}),
            json!({"role": "assistant", "modelInfo": {"modelId": "claude-sonnet-4-5", "providerId": "anthropic"},
                   "content": [{"type": "thinking", "thinking": "read it"},
                               {"type": "text", "text": "Reading."},
                               {"type": "tool_use", "id": "toolu_01", "name": "read_file",
                                "input": {"path": "src/lib.rs"}}]}),
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01",
                 "content": [{"type": "text", "text": "fn main() {}"}]}]}),
            json!({"role": "assistant", "content": "Done."}),
        ];
        if extra {
            items.push(json!({"role": "user", "content": "thanks"}));
        }
        serde_json::to_vec(&items).expect("serializes")
    }

    #[test]
    fn fixture_task_is_one_session() {
        let found = assert_discovers(
            &Cline,
            &fixture_root(),
            &[
                (
                    "tasks/task1/api_conversation_history.json",
                    Layout::Document,
                ),
                ("tasks/task1/task_metadata.json", Layout::Document),
                ("tasks/task1/ui_messages.json", Layout::Document),
            ],
        );
        let mut messages = Vec::new();
        let mut facts = SessionFacts::default();
        for file in &found.files {
            let bytes = std::fs::read(&file.path).expect("fixture readable");
            let t = translate_bytes(&Cline, file, &bytes);
            assert_eq!(t.session_id, "task1");
            assert_eq!(t.unknown_records, 0, "{}", file.rel_path);
            assert_ids_stable(&Cline, file, &bytes, &t);
            for (_, f) in t.facts {
                facts.absorb(f);
            }
            messages.extend(t.messages);
        }
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].role, Role::Assistant);
        assert_eq!(messages[0].plain_text(), "API reply");
        assert_eq!(
            messages[0].timestamp,
            chrono::DateTime::from_timestamp_millis(1_700_000_002_000)
        );
        assert_eq!(facts.title.as_deref(), Some("Cline fixture task"));
        assert_eq!(
            facts.first_seen,
            chrono::DateTime::from_timestamp_millis(1_700_000_000_000)
        );
        assert_eq!(
            facts.last_seen,
            chrono::DateTime::from_timestamp_millis(1_700_000_002_000)
        );
    }

    #[test]
    fn real_shape_history() {
        let file = task_file("1712345678901", HISTORY);
        let t = translate_bytes(&Cline, &file, &history_doc(false));
        assert_eq!(t.session_id, "1712345678901");
        assert_eq!(
            roles(&t),
            [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
        );
        let facts = &t.facts[0].1;
        assert_eq!(facts.project.as_deref(), Some("/home/me/proj (v2)"));
        assert_eq!(facts.model.as_deref(), Some("claude-sonnet-4-5"));
        let results = paired_results(&t.messages);
        assert_eq!(results.len(), 1);
        for r in results {
            assert_eq!(r.text.as_deref(), Some("fn main() {}"));
        }
    }

    #[test]
    fn real_shape_ui_and_metadata() {
        let ui = json!([
            {"ts": 1712345678901u64, "type": "say", "say": "task", "text": "add a test\nmore detail"},
            {"ts": 1712345679000u64, "type": "say", "say": "api_req_started", "text": "{\"tokensIn\":10}"},
            {"ts": 1712345690000u64, "type": "ask", "ask": "completion_result", "text": "", "partial": false}
        ]);
        let t = translate_bytes(
            &Cline,
            &task_file("1712345678901", "ui_messages.json"),
            &serde_json::to_vec(&ui).expect("serializes"),
        );
        assert!(t.messages.is_empty());
        assert_eq!(t.unknown_records, 0);
        let facts = &t.facts[0].1;
        assert_eq!(facts.title.as_deref(), Some("add a test"));
        assert_eq!(
            facts.last_seen,
            chrono::DateTime::from_timestamp_millis(1_712_345_690_000)
        );
        let meta = json!({"files_in_context": [], "model_usage": [
            {"ts": 1712345679000u64, "model_id": "m-1", "model_provider_id": "p", "mode": "act"},
            {"ts": 1712345680000u64, "model_id": "m-2", "model_provider_id": "p", "mode": "act"}]});
        let t = translate_bytes(
            &Cline,
            &task_file("1712345678901", METADATA),
            &serde_json::to_vec(&meta).expect("serializes"),
        );
        assert_eq!(t.facts[0].1.model.as_deref(), Some("m-2"));
    }

    #[test]
    fn rewrite_with_one_more_message_adds_one_id() {
        let file = task_file("t", HISTORY);
        let before = message_ids(&translate_bytes(&Cline, &file, &history_doc(false)));
        let after = message_ids(&translate_bytes(&Cline, &file, &history_doc(true)));
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after[..before.len()], before[..]);
    }

    #[test]
    fn truncated_and_garbage_do_not_panic() {
        let bytes = history_doc(false);
        for name in [HISTORY, "ui_messages.json", METADATA] {
            let file = task_file("t", name);
            for cut in [1, bytes.len() / 2, bytes.len() - 1] {
                let t = translate_bytes(&Cline, &file, &bytes[..cut]);
                assert!(t.messages.is_empty());
            }
            read_junk(
                &Cline,
                &file,
                &[&b"\x00\xff["[..], b"{}", b"7", b"[1,{\"content\":5},null]"],
            );
        }
        // A history entry of the wrong type is skipped, the others kept.
        let t = translate_bytes(
            &Cline,
            &task_file("t", HISTORY),
            br#"[1,{"role":"user","content":[{"type":7},{}]}]"#,
        );
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].id, "t/api-1");
    }

    #[test]
    fn roots_cover_every_extension_and_the_cli() {
        let roots = Cline.roots();
        assert_eq!(roots.len(), 4 * EXTENSIONS.len() + 1);
        assert!(roots.iter().any(|r| r.ends_with(".cline/data/tasks")));
        assert!(
            roots
                .iter()
                .any(|r| r.ends_with("kilocode.kilo-code/tasks"))
        );
    }
}
