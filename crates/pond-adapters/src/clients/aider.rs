//! Aider: `.aider.chat.history.md`, a Markdown log each project keeps in its
//! own directory and appends to forever.
//!
//! Aider has no central session store, so the files are searched for under
//! project roots: `POND_AIDER_ROOTS` (a path list, like `PATH`), else the
//! home directory, a few levels deep and skipping dependency and build
//! trees; `pond sync aider --path DIR` reads one tree. The file's directory
//! is the session's project.
//!
//! The format is a convention, not a schema (confirmed on three real files):
//! `# aider chat started at YYYY-MM-DD HH:MM:SS` opens a session, user input
//! is on lines starting `#### `, aider's own output (model, repo map, token
//! costs, applied edits, commits) on lines starting `> `, and everything
//! else is the model's reply. pond cuts the text into blocks of one kind and
//! makes each block a message. There are no ids and no per-message times;
//! the header's time is local time without a zone, recorded as if UTC.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::adapter::{Adapter, Discovery, Interpretation, Layout, RecordContext, SourceFile};
use crate::discover::{file_name, parent_dir_lossy, walk_pruning};
use crate::model::{Part, PartKind, Role, SessionFacts};
use crate::naming::record_message;

pub struct Aider;

const FILE_NAME: &str = ".aider.chat.history.md";
const HEADER: &str = "# aider chat started at ";
/// How deep below a root a project directory may sit.
const MAX_DEPTH: usize = 6;
/// Directories that hold other people's code or build output, never a chat log
/// worth the walk.
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "vendor",
    "venv",
    ".venv",
    "__pycache__",
    "Library",
    "AppData",
    "dist",
    "build",
];

/// What a line of the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Header,
    User,
    Aider,
    Reply,
    Blank,
}

fn line_kind(line: &[u8]) -> LineKind {
    if line.starts_with(HEADER.as_bytes()) {
        LineKind::Header
    } else if line.starts_with(b"####") {
        LineKind::User
    } else if line.starts_with(b">") {
        LineKind::Aider
    } else if line.trim_ascii().is_empty() {
        LineKind::Blank
    } else {
        LineKind::Reply
    }
}

impl Adapter for Aider {
    fn name(&self) -> &'static str {
        "aider"
    }

    /// Not unique across machines: the id is built from the project directory's name, the file name and a start time to the second.
    fn session_ids_are_global(&self) -> bool {
        false
    }

    fn default_root(&self) -> PathBuf {
        self.roots()
            .into_iter()
            .next()
            .unwrap_or_else(crate::paths::home_dir)
    }

    fn roots(&self) -> Vec<PathBuf> {
        match std::env::var_os("POND_AIDER_ROOTS").filter(|v| !v.is_empty()) {
            Some(list) => std::env::split_paths(&list).collect(),
            None => vec![crate::paths::home_dir()],
        }
    }

    fn discover(&self, root: &Path) -> Discovery {
        let skip = |dir: &Path| {
            let name = file_name(dir);
            name.starts_with('.') || SKIPPED_DIRS.contains(&name)
        };
        // Copies kept beside the original (`<name>.aider.chat.history.md`,
        // as in archives of several projects) are logs too.
        let keep = |p: &Path| file_name(p).ends_with(FILE_NAME);
        let (found, problems) = walk_pruning(root, MAX_DEPTH, skip, keep);
        let files = found
            .into_iter()
            .map(|(path, rel_path)| SourceFile::new(path, rel_path, Layout::Text))
            .collect();
        Discovery { files, problems }
    }

    fn identify(&self, file: &SourceFile, first_records: &[Value]) -> Option<String> {
        first_records
            .iter()
            .filter_map(Value::as_str)
            .find_map(|block| block.lines().find(|l| l.starts_with(HEADER)))
            .map(|header| session_id(file, header))
    }

    fn interpret(&self, ctx: RecordContext<'_>, record: &Value) -> Interpretation {
        let Some(block) = record.as_str() else {
            return Interpretation::unknown();
        };
        let first = block.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let mut facts = SessionFacts {
            project: ctx.file.path.parent().map(|dir| dir.display().to_string()),
            ..SessionFacts::default()
        };
        match line_kind(first.as_bytes()) {
            LineKind::Header => {
                let started = started_at(first);
                facts.saw(started);
                Interpretation {
                    understood: true,
                    facts,
                    begins_session: Some(session_id(ctx.file, first)),
                    ..Interpretation::default()
                }
            }
            LineKind::User => {
                let text = strip_prefix(block, "####");
                message(ctx, facts, Role::User, text)
            }
            LineKind::Aider => {
                facts.model = block
                    .lines()
                    .find_map(|l| {
                        let l = l.trim_start_matches('>').trim();
                        l.strip_prefix("Model: ")
                            .or_else(|| l.strip_prefix("Main model: "))
                    })
                    .map(|m| m.split(" with ").next().unwrap_or(m).trim().to_string());
                let text = strip_prefix(block, ">");
                message(ctx, facts, Role::System, text)
            }
            LineKind::Reply => message(ctx, facts, Role::Assistant, block.trim().to_string()),
            LineKind::Blank => Interpretation::facts(facts),
        }
    }

    fn cut_text(&self, buf: &[u8], _at_eof: bool) -> Vec<usize> {
        // A block runs until a line of another kind starts one; blank lines
        // belong to the block before them. A last line without its newline
        // is still being written and waits.
        let mut lengths = Vec::new();
        let (mut block_start, mut block_kind) = (0usize, None::<LineKind>);
        let mut at = 0usize;
        while let Some(nl) = memchr::memchr(b'\n', &buf[at..]) {
            let line = &buf[at..at + nl];
            let kind = line_kind(line);
            let starts_block = match (block_kind, kind) {
                (_, LineKind::Blank) => false,
                (None, _) => false,
                (Some(_), LineKind::Header) => true,
                (Some(current), k) => current != k,
            };
            if starts_block && at > block_start {
                lengths.push(at - block_start);
                block_start = at;
            }
            if kind != LineKind::Blank {
                block_kind = Some(kind);
            }
            at += nl + 1;
        }
        if at > block_start {
            lengths.push(at - block_start);
        }
        lengths
    }
}

/// Deterministic per project and header: the name of the log's directory
/// (the project; the same on every host that has it, whatever root it was
/// found under) and the header line (a second-resolution start time).
fn session_id(file: &SourceFile, header: &str) -> String {
    let project = parent_dir_lossy(&file.path);
    let name = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{project}/{name}\n{}", header.trim_end()));
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("aider-{hex}")
}

fn started_at(header: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let when = header.strip_prefix(HEADER)?.trim();
    chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// The block's lines without their marker, and aider's two-space Markdown
/// line breaks.
fn strip_prefix(block: &str, marker: &str) -> String {
    block
        .lines()
        .map(|l| {
            let l = l.strip_prefix(marker).unwrap_or(l);
            let l = l.strip_prefix(' ').unwrap_or(l);
            l.trim_end()
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn message(
    ctx: RecordContext<'_>,
    facts: SessionFacts,
    role: Role,
    text: String,
) -> Interpretation {
    if text.is_empty() {
        return Interpretation::facts(facts);
    }
    // Offsets are stable in an append-only file; the hash tells apart two
    // copies of a file that were edited by hand.
    let message = record_message(
        ctx,
        format!("{}/{}-{}", ctx.session_id, ctx.offset, &ctx.sha256[..8]),
        role,
        None,
        facts.model.clone(),
        vec![Part::text(PartKind::Text, text)],
    );
    Interpretation::message(facts, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::testing::message_ids;
    use crate::translate::translate_bytes;

    fn fixtures() -> PathBuf {
        crate::clients::testing::fixtures("aider")
    }

    fn read_all() -> Vec<(SourceFile, crate::translate::Translation)> {
        let found = Aider.discover(&fixtures());
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        found
            .files
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(&f.path).expect("fixture");
                let t = translate_bytes(&Aider, &f, &bytes);
                (f, t)
            })
            .collect()
    }

    #[test]
    fn every_header_starts_a_session_and_blocks_keep_their_roles() {
        let all = read_all();
        assert_eq!(all.len(), 3);
        for (file, t) in &all {
            let text = std::fs::read_to_string(&file.path).expect("fixture");
            let headers = text.lines().filter(|l| l.starts_with(HEADER)).count();
            let sessions: std::collections::HashSet<&str> =
                t.records.iter().map(|r| r.session_id.as_str()).collect();
            assert_eq!(sessions.len(), headers, "{}", file.rel_path);
            assert!(t.messages.iter().any(|m| m.role == Role::User));
            assert!(t.messages.iter().all(|m| !m.plain_text().is_empty()));
            assert_eq!(t.unparsed_records + t.unknown_records, 0);
        }
        // One real log (zen-mcp-server) has only interrupted starts.
        let replies = |name: &str| {
            all.iter()
                .find(|(f, _)| f.rel_path.starts_with(name))
                .map(|(_, t)| {
                    t.messages
                        .iter()
                        .filter(|m| m.role == Role::Assistant)
                        .count()
                })
        };
        assert_eq!(replies("zen-mcp"), Some(0));
        assert!(replies("metadata").is_some_and(|n| n > 5));
        assert!(replies("pocketflow").is_some_and(|n| n > 5));
    }

    #[test]
    fn cutting_covers_every_byte_and_user_lines_lose_their_marker() {
        let path = fixtures().join("metadata-aider.aider.chat.history.md");
        let bytes = std::fs::read(&path).expect("fixture");
        let lengths = Aider.cut_text(&bytes, true);
        assert_eq!(lengths.iter().sum::<usize>(), bytes.len());
        let file = &Aider.discover(&fixtures()).files[0];
        let t = translate_bytes(&Aider, file, &std::fs::read(&file.path).expect("fixture"));
        let first_user = t
            .messages
            .iter()
            .find(|m| m.role == Role::User)
            .expect("a user message");
        assert!(
            first_user
                .plain_text()
                .starts_with("Please create an .aidar.json")
        );
        let facts = &t
            .facts
            .iter()
            .find(|(id, _)| *id == t.current_session)
            .expect("facts")
            .1;
        assert_eq!(
            facts.model.as_deref(),
            Some("openrouter/openai/gpt-4o-mini")
        );
        assert!(facts.first_seen.is_some());
    }

    #[test]
    fn a_growing_file_adds_only_its_new_blocks_and_a_partial_line_waits() {
        let path = fixtures().join("zen-mcp-server.aider.chat.history.md");
        let bytes = std::fs::read(&path).expect("fixture");
        let cut = bytes.len() / 2;
        let head = &bytes[..cut];
        let covered: usize = Aider.cut_text(head, true).iter().sum();
        assert!(covered <= cut);
        assert_eq!(head.get(..covered).and_then(|h| h.last()), Some(&b'\n'));
        let garbage = [
            0xffu8, 0xfe, b'\n', b'#', b'#', b'#', b'#', b' ', 0x80, b'\n',
        ];
        let file = SourceFile::new(path.clone(), "x/.aider.chat.history.md", Layout::Text);
        let t = translate_bytes(&Aider, &file, &garbage);
        assert_eq!(t.records.len(), 2);
    }

    #[test]
    fn ids_are_stable_across_reads() {
        let a = read_all();
        let b = read_all();
        for ((_, x), (_, y)) in a.iter().zip(&b) {
            assert_eq!(message_ids(x), message_ids(y));
        }
    }
}
