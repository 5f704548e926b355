//! claude.ai data exports: the `.zip` a user downloads from the account's
//! privacy settings, or the `conversations.json` inside it.
//!
//! claude.ai keeps chats on Anthropic's servers, so there is nothing on disk
//! to discover: the adapter only reads what `pond sync claude-ai-export
//! --path DIR` is given. The file is an array of conversations (`uuid`,
//! `name`, `created_at`, `updated_at`, `chat_messages[]` with `uuid`,
//! `sender` human/assistant, `text`, `content[]` blocks, `attachments[]`,
//! `files[]`). That shape is known from descriptions of the export, not
//! from a real file here: the tests use a synthetic export, and unknown
//! fields and block types are kept raw. Each conversation is one session and
//! one record, stored with its exact bytes from the file; a later export
//! of the same account stores only the conversations that changed.

use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::adapter::{
    Adapter, Discovery, Interpretation, Layout, RecordContext, SourceError, SourceErrorKind,
    SourceFile,
};
use crate::discover::walk;
use crate::formats::json::{items_of, json_text, str_field};
use crate::formats::time::{saw_fields, timestamp_field};
use crate::model::{Message, Part, PartKind, Role, SessionFacts};

pub struct ClaudeAiExport;

const MEMBER: &str = "conversations.json";

impl Adapter for ClaudeAiExport {
    fn name(&self) -> &'static str {
        "claude-ai-export"
    }

    /// Exports live wherever the user saved them; this is only where
    /// `pond adapters` says to look.
    fn default_root(&self) -> PathBuf {
        crate::paths::home_dir().join("Downloads")
    }

    /// Never searched on its own: a Downloads folder holds many zips that
    /// are not exports.
    fn roots(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    fn discover(&self, root: &Path) -> Discovery {
        let (found, problems) = walk(root, |p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            name == MEMBER || name.to_ascii_lowercase().ends_with(".zip")
        });
        let files = found
            .into_iter()
            .map(|(path, rel_path)| SourceFile::new(path, rel_path, Layout::Database))
            .collect();
        Discovery { files, problems }
    }

    fn read_records(&self, file: &SourceFile) -> Result<Vec<Vec<u8>>, SourceError> {
        let is_zip = file
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let malformed = SourceError::at(&file.path, SourceErrorKind::Malformed);
        let read = std::fs::read(&file.path).map_err(|e| {
            SourceError::new(
                &file.path,
                SourceErrorKind::Unreadable,
                format!("cannot read: {e}"),
            )
        })?;
        let bytes = if is_zip {
            crate::formats::zip::member(&read, MEMBER).map_err(&malformed)?
        } else {
            read
        };
        conversations(&bytes).map_err(malformed)
    }

    fn identify(&self, _file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_records
            .iter()
            .find_map(|c| str_field(c, "uuid"))
            .map(session_id)
    }

    fn interpret(&self, _ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let (Some(uuid), Some(chat)) = (
            str_field(record, "uuid"),
            record.get("chat_messages").and_then(Value::as_array),
        ) else {
            return Interpretation::unknown();
        };
        let session = session_id(uuid);
        let mut facts = SessionFacts {
            title: str_field(record, "name").map(str::to_string),
            ..SessionFacts::default()
        };
        saw_fields(&mut facts, record, &["created_at", "updated_at"]);
        let messages = chat
            .iter()
            .enumerate()
            .filter_map(|(i, m)| message(&session, i, m))
            .collect();
        Interpretation {
            understood: true,
            facts,
            messages,
            begins_session: Some(session),
            // A later export carries the same messages, possibly edited.
            revises: true,
            ..Interpretation::default()
        }
    }
}

/// Conversation uuids are global; the prefix says where the session came from.
fn session_id(uuid: &str) -> String {
    format!("claude-ai-{uuid}")
}

/// The exact bytes of each element of the top-level array.
fn conversations(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let items: Vec<&RawValue> = serde_json::from_slice(bytes)
        .map_err(|e| format!("{MEMBER} is not a JSON array of conversations: {e}"))?;
    Ok(items
        .into_iter()
        .map(|c| c.get().as_bytes().to_vec())
        .collect())
}

fn message(session: &str, index: usize, m: &Value) -> Option<Message> {
    let role = match str_field(m, "sender")? {
        "human" | "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => Role::System,
    };
    let mut parts: Vec<Part> = m
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| blocks.iter().filter_map(block).collect())
        .unwrap_or_default();
    if parts.is_empty()
        && let Some(text) = str_field(m, "text")
    {
        parts.push(Part::text(PartKind::Text, text));
    }
    for a in items_of(m, "attachments") {
        if let Some(name) = str_field(a, "file_name") {
            parts.push(Part::text(PartKind::File, name));
        }
        if let Some(content) = str_field(a, "extracted_content") {
            parts.push(Part::text(PartKind::Other, content));
        }
    }
    for f in items_of(m, "files") {
        if let Some(name) = str_field(f, "file_name") {
            parts.push(Part::text(PartKind::File, name));
        }
    }
    Some(Message {
        id: str_field(m, "uuid")
            .map(|u| format!("{session}/{u}"))
            .unwrap_or_else(|| format!("{session}/{index}")),
        session_id: session.to_string(),
        seq: index as u64,
        role,
        timestamp: timestamp_field(m, "created_at"),
        model: None,
        parts,
    })
}

fn block(b: &Value) -> Option<Part> {
    Some(match str_field(b, "type")? {
        "text" => Part::text(PartKind::Text, str_field(b, "text")?),
        "thinking" => Part::text(PartKind::Thinking, str_field(b, "thinking")?),
        "tool_use" => Part::tool_call(
            str_field(b, "name"),
            str_field(b, "id"),
            b.get("input").map(json_text),
        ),
        "tool_result" => Part::tool_result(
            str_field(b, "name"),
            str_field(b, "tool_use_id"),
            b.get("content").map(result_text),
            b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        ),
        _ => return None,
    })
}

/// Tool results hold a string or a list of text blocks.
fn result_text(content: &Value) -> String {
    match content.as_array() {
        Some(blocks) => blocks
            .iter()
            .filter_map(|b| str_field(b, "text"))
            .collect::<Vec<_>>()
            .join("\n"),
        None => json_text(content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::testing::message_ids;
    use crate::translate::{Translation, translate};

    fn fixture() -> PathBuf {
        crate::clients::testing::fixtures("claude-ai-export")
    }

    fn read(file: &SourceFile) -> Translation {
        let records = ClaudeAiExport.read_records(file).expect("records");
        let mut buf = Vec::new();
        let mut segments = Vec::new();
        for r in &records {
            buf.extend_from_slice(r);
            buf.push(b'\n');
        }
        let mut at = 0;
        for r in &records {
            segments.push(crate::records::Segment {
                offset: at as u64,
                line: 1,
                bytes: &buf[at..at + r.len() + 1],
            });
            at += r.len() + 1;
        }
        translate(&ClaudeAiExport, file, &segments, None, || "fallback".into())
    }

    #[test]
    fn each_conversation_is_a_session_with_paired_tools() {
        let found = ClaudeAiExport.discover(&fixture());
        assert_eq!(found.files.len(), 1);
        let t = read(&found.files[0]);
        let sessions: std::collections::BTreeSet<&str> =
            t.messages.iter().map(|m| m.session_id.as_str()).collect();
        assert_eq!(sessions.len(), 2);
        assert_eq!(t.messages.len(), 5);
        assert_eq!(t.unknown_records, 0);
        let calls = crate::clients::testing::tool_ids(&t.messages, PartKind::ToolCall);
        let results = crate::clients::testing::tool_ids(&t.messages, PartKind::ToolResult);
        assert_eq!(calls, results);
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        assert!(
            t.facts
                .iter()
                .any(|(_, f)| f.title.as_deref() == Some("Parsing a CSV in Rust"))
        );
        assert!(
            t.messages
                .iter()
                .flat_map(|m| &m.parts)
                .any(|p| p.kind == PartKind::File)
        );
    }

    #[test]
    fn records_are_the_exact_bytes_of_each_conversation() {
        let path = fixture().join(MEMBER);
        let bytes = std::fs::read(&path).expect("fixture");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        for record in conversations(&bytes).expect("array") {
            let record = String::from_utf8(record).expect("utf-8");
            assert!(text.contains(&record));
        }
    }

    #[test]
    fn the_zip_and_the_json_give_the_same_messages() {
        let dir = std::env::temp_dir().join(format!("pond-claude-ai-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let json = std::fs::read(fixture().join(MEMBER)).expect("fixture");
        let mut zip = crate::formats::zip::archive(&format!("export/{MEMBER}"), &json, true);
        let zip_path = dir.join("data-2026-01-02.zip");
        std::fs::write(&zip_path, &zip).expect("write");
        let file = |path: PathBuf| SourceFile::new(path, "x", Layout::Database);
        let from_zip = read(&file(zip_path.clone()));
        let from_json = read(&file(fixture().join(MEMBER)));
        assert_eq!(message_ids(&from_zip), message_ids(&from_json));
        zip.truncate(zip.len() / 2);
        std::fs::write(&zip_path, &zip).expect("write");
        assert!(ClaudeAiExport.read_records(&file(zip_path)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hostile_json_is_refused_or_kept_raw() {
        assert!(conversations(b"{\"not\":\"an array\"}").is_err());
        assert!(conversations(&[0xff, 0xfe]).is_err());
        let deep = format!("[{}{}]", "[".repeat(10_000), "]".repeat(10_000));
        // Kept as one record, which the pipeline then fails to parse (serde's
        // depth limit), reporting it instead of overflowing the stack.
        let kept = conversations(deep.as_bytes()).expect("an array of one");
        assert_eq!(kept.len(), 1);
        assert!(matches!(
            crate::records::parse(&kept[0]),
            crate::records::Parsed::Invalid { .. }
        ));
        let odd = conversations(br#"[{"uuid":"u"}, 3, "x"]"#).expect("array");
        assert_eq!(odd.len(), 3);
    }
}
