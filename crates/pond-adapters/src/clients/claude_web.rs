//! Claude Code on the web: sessions run on claude.ai and fetched as JSON
//! (`{"loglines": [...]}`, for example by simonw's claude-code-transcripts),
//! each logline a record in Claude Code's own line format.
//!
//! Nothing is on disk unless a user saved it, so the adapter is never
//! searched on its own: `pond sync claude-web --path DIR` reads the `*.json`
//! files under DIR that hold `loglines`. Each file is one session, named by
//! the file (the lines carry no session id), rewritten whole when fetched
//! again; the lines are translated by the Claude Code adapter, so the two
//! agree on every record type. Known from one real file
//! (`tests/fixtures/claude-web/`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::claude_code::ClaudeCode;
use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::digest::sha256_hex;
use crate::discover::{Classified, discover_classified};

pub struct ClaudeWeb;

impl Adapter for ClaudeWeb {
    fn name(&self) -> &'static str {
        "claude-web"
    }

    /// Where such files are usually saved; shown by `pond adapters`, never
    /// searched without `--path`.
    fn default_root(&self) -> PathBuf {
        crate::paths::home_dir().join("Downloads")
    }

    fn roots(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    fn discover(&self, root: &Path) -> Discovery {
        let keep = |p: &Path| p.extension().is_some_and(|e| e == "json");
        discover_classified(root, keep, |path| {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            Classified::named(
                Layout::Document,
                Some(format!("claude-web-{}", stem.unwrap_or_default())),
            )
        })
    }

    fn identify(&self, file: &SourceFile, _first_records: &[Value]) -> Option<String> {
        file.session_hint.clone()
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let Some(lines) = record.get("loglines").and_then(Value::as_array) else {
            return Interpretation::unknown();
        };
        // Each line is read as a line of a Claude Code file would be, with a
        // key of its own: position and content, so a re-fetched file that
        // grew keeps the ids of the lines it already had.
        let as_lines = SourceFile {
            layout: Layout::Jsonl,
            ..ctx.file.clone()
        };
        let mut out = Interpretation {
            understood: true,
            revises: true,
            ..Interpretation::default()
        };
        for (i, line) in lines.iter().enumerate() {
            let key = sha256_hex(format!("{i}\n{line}").as_bytes());
            let line_ctx = RecordContext {
                file: &as_lines,
                session_id: ctx.session_id,
                offset: i as u64,
                sha256: &key,
            };
            let meaning = ClaudeCode.interpret(line_ctx, line);
            out.facts.absorb(meaning.facts);
            out.messages.extend(meaning.messages);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::testing::message_ids;
    use crate::model::{PartKind, Role};
    use crate::translate::translate_bytes;

    fn fixture() -> PathBuf {
        crate::clients::testing::fixtures("claude-web")
    }

    #[test]
    fn loglines_become_one_session_with_paired_tools() {
        let found = ClaudeWeb.discover(&fixture());
        assert_eq!(found.files.len(), 1);
        let file = &found.files[0];
        let t = translate_bytes(
            &ClaudeWeb,
            file,
            &std::fs::read(&file.path).expect("fixture"),
        );
        assert_eq!(t.session_id, "claude-web-simonw-sample_session");
        assert_eq!(t.unknown_records, 0);
        assert!(t.messages.len() > 10, "{}", t.messages.len());
        assert!(t.messages.iter().any(|m| m.role == Role::User));
        assert!(t.messages.iter().all(|m| m.timestamp.is_some()));
        let parts = || t.messages.iter().flat_map(|m| &m.parts);
        let calls: std::collections::HashSet<&str> = parts()
            .filter(|p| p.kind == PartKind::ToolCall)
            .filter_map(|p| p.tool_call_id.as_deref())
            .collect();
        assert!(!calls.is_empty());
        for p in parts().filter(|p| p.kind == PartKind::ToolResult) {
            assert!(calls.contains(p.tool_call_id.as_deref().unwrap_or("")));
        }
    }

    #[test]
    fn a_refetched_file_with_one_more_line_adds_one_message() {
        let path = fixture().join("simonw-sample_session.json");
        let mut doc: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("json");
        let file = &ClaudeWeb.discover(&fixture()).files[0];
        let whole = translate_bytes(&ClaudeWeb, file, &serde_json::to_vec(&doc).expect("json"));
        if let Some(lines) = doc.get_mut("loglines").and_then(Value::as_array_mut) {
            lines.pop();
        }
        let shorter = translate_bytes(&ClaudeWeb, file, &serde_json::to_vec(&doc).expect("json"));
        let (a, b) = (message_ids(&shorter), message_ids(&whole));
        assert_eq!(b.len(), a.len() + 1);
        assert_eq!(&b[..a.len()], &a[..]);
        assert_eq!(
            translate_bytes(&ClaudeWeb, file, b"{\"loglines\": [")
                .records
                .len(),
            1
        );
    }
}
