//! Small readers every adapter needs, one copy each: walking a root, the
//! fields of a JSON record, epoch-millisecond times, `%XX` escapes, the
//! text of a tool result, and reasoning blocks that may be encrypted.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Discovery, Layout, RecordContext, SourceError, SourceErrorKind, SourceFile};
use crate::model::{Message, Part, PartKind, Role};

/// Walks `root` for regular files accepted by `keep`, in a stable order.
pub(crate) fn walk(
    root: &Path,
    keep: impl Fn(&Path) -> bool,
) -> (Vec<(PathBuf, String)>, Vec<SourceError>) {
    walk_pruning(root, usize::MAX, |_| false, keep)
}

/// [`walk`], to at most `max_depth` levels below `root` and not into the
/// directories (below `root`) that `skip_dir` accepts: clients that
/// live in home or project folders must not walk build trees. Unreadable
/// corners are reported as problems, never fatal.
pub(crate) fn walk_pruning(
    root: &Path,
    max_depth: usize,
    skip_dir: impl Fn(&Path) -> bool,
    keep: impl Fn(&Path) -> bool,
) -> (Vec<(PathBuf, String)>, Vec<SourceError>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .max_depth(max_depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_type().is_dir() || !skip_dir(e.path()));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() && keep(e.path()) => {
                files.push((e.path().to_path_buf(), rel_path(root, e.path())));
            }
            Ok(_) => {}
            Err(e) => problems.push(SourceError::new(
                e.path().unwrap_or(root),
                SourceErrorKind::Unreadable,
                e.to_string(),
            )),
        }
    }
    (files, problems)
}

/// `path` below `root`, `/`-separated on every OS.
pub(crate) fn rel_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The usual discovery: the files under `root` that `keep` accepts, all of
/// one layout, each with the session id its file stem names (when `hint`
/// finds one in it) and no parent.
pub(crate) fn discover_files(
    root: &Path,
    keep: impl Fn(&Path) -> bool,
    layout: Layout,
    hint: impl Fn(&str) -> Option<String>,
) -> Discovery {
    discover_classified(root, keep, |path| {
        Classified::named(
            layout,
            Some(file_stem(path))
                .filter(|s| !s.is_empty())
                .and_then(&hint),
        )
    })
}

/// What discovery knows of one file from its path alone.
pub(crate) struct Classified {
    pub layout: Layout,
    pub session_hint: Option<String>,
    pub parent_hint: Option<String>,
}

impl Classified {
    /// A file of `layout` whose name may carry its session id.
    pub(crate) fn named(layout: Layout, session_hint: Option<String>) -> Classified {
        Classified {
            layout,
            session_hint,
            parent_hint: None,
        }
    }
}

/// Discovery where each file `keep` accepts is classified by its path:
/// its layout, and the session (and parent) its place names.
pub(crate) fn discover_classified(
    root: &Path,
    keep: impl Fn(&Path) -> bool,
    classify: impl Fn(&Path) -> Classified,
) -> Discovery {
    let (found, problems) = walk(root, keep);
    let files = found
        .into_iter()
        .map(|(path, rel_path)| {
            let Classified {
                layout,
                session_hint,
                parent_hint,
            } = classify(&path);
            SourceFile {
                path,
                rel_path,
                layout,
                session_hint,
                parent_hint,
            }
        })
        .collect();
    Discovery { files, problems }
}

/// The name of the directory a file sits in, where clients that keep one
/// folder per session name the session.
pub(crate) fn parent_dir_name(path: &Path) -> Option<String> {
    path.parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// A file's stem, or `""`.
pub(crate) fn file_stem(path: &Path) -> &str {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
}

/// `$var` when set, else `~/<dot_dir>`; then `sub` below it: where most
/// clients keep their sessions.
pub(crate) fn client_home(var: &str, dot_dir: &str, sub: &str) -> PathBuf {
    env_dir(var)
        .unwrap_or_else(|| crate::paths::home_dir().join(dot_dir))
        .join(sub)
}

/// The session id the file's name carries, else the first one `field`
/// finds in the file's first records.
pub(crate) fn hint_or_first<'a>(
    file: &SourceFile,
    first_records: &'a [Value],
    field: impl Fn(&'a Value) -> Option<&'a str>,
) -> Option<String> {
    file.session_hint
        .clone()
        .or_else(|| first_records.iter().find_map(field).map(str::to_string))
}

/// The first session id `field` finds in the first records, else the one
/// the file's name carries.
pub(crate) fn first_or_hint<'a>(
    file: &SourceFile,
    first_records: &'a [Value],
    field: impl Fn(&'a Value) -> Option<&'a str>,
) -> Option<String> {
    first_records
        .iter()
        .find_map(field)
        .map(str::to_string)
        .or_else(|| file.session_hint.clone())
}

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The elements of the array at `key`: none when the key is missing or
/// holds anything else, which clients' older records often do.
pub(crate) fn items_of<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

pub(crate) fn timestamp_field(v: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    str_field(v, key).and_then(crate::model::parse_timestamp)
}

/// The calls of a message in OpenAI's chat shape,
/// `tool_calls: [{id, function: {name, arguments}}]`, as parts.
pub(crate) fn openai_tool_calls(message: &Value) -> impl Iterator<Item = Part> + '_ {
    items_of(message, "tool_calls").map(|call| {
        let function = call.get("function");
        Part::tool_call(
            function.and_then(|f| str_field(f, "name")),
            str_field(call, "id"),
            function.and_then(|f| f.get("arguments")).map(json_text),
        )
    })
}

/// Message content that is a string or a list of blocks (Anthropic's and
/// OpenAI's shapes, and the clients built on them), as parts.
pub(crate) fn blocks_or_text(content: Option<&Value>, block: impl Fn(&Value) -> Part) -> Vec<Part> {
    match content {
        Some(Value::String(s)) => vec![Part::text(PartKind::Text, s.clone())],
        Some(Value::Array(blocks)) => blocks.iter().map(block).collect(),
        _ => Vec::new(),
    }
}

/// Who speaks in a message: Anthropic's API, and the clients modelled on
/// it, send tool output as a user message, which is the tools speaking.
pub(crate) fn speaker(role: Role, parts: &[Part]) -> Role {
    let only_results = !parts.is_empty() && parts.iter().all(|p| p.kind == PartKind::ToolResult);
    if role == Role::User && only_results {
        Role::Tool
    } else {
        role
    }
}

/// Compact JSON for tool inputs and structured outputs, so they stay searchable.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Whether `s` looks like a UUID (8-4-4-4-12 hex).
pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A message of the record `ctx` points at: in its session, placed by the
/// record's offset.
pub(crate) fn record_message(
    ctx: RecordContext<'_>,
    id: String,
    role: Role,
    timestamp: Option<DateTime<Utc>>,
    model: Option<String>,
    parts: Vec<Part>,
) -> Message {
    Message {
        id,
        session_id: ctx.session_id.to_string(),
        seq: ctx.offset,
        role,
        timestamp,
        model,
        parts,
    }
}

/// The id of a message whose record carries none: its session and a hash of
/// the record's bytes, the same on every host.
pub(crate) fn sha_id(ctx: RecordContext<'_>) -> String {
    format!("{}/sha-{}", ctx.session_id, &ctx.sha256[..16])
}

/// A path's last component, or `""` when it has none or it is not UTF-8.
pub(crate) fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

/// Epoch milliseconds, as an integer or a float (JavaScript clients write
/// `Date.now()` values either way, and a fraction of a millisecond is
/// dropped rather than the whole time).
pub(crate) fn epoch_millis(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let v = v?;
    let ms = v
        .as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))?;
    DateTime::from_timestamp_millis(ms)
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], escaped) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A tool result's content as text: a string as it is, a list of blocks
/// as their texts (other blocks by their type), anything else as JSON.
pub(crate) fn tool_result_text(content: &Value) -> String {
    match content {
        Value::Array(items) => items
            .iter()
            .map(|item| match str_field(item, "type") {
                Some("text") => str_field(item, "text").unwrap_or_default().to_string(),
                Some(other) => format!("[{other}]"),
                None => json_text(item),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => json_text(other),
    }
}

/// An OpenAI-style `reasoning` item: its summaries as thoughts, or one
/// placeholder when only `encrypted_content` was kept, so the turn still
/// shows that the model reasoned.
pub(crate) fn reasoning_parts(item: &Value) -> Vec<Part> {
    let summaries: Vec<Part> = items_of(item, "summary")
        .filter_map(|s| str_field(s, "text"))
        .map(|t| Part::text(PartKind::Thinking, t))
        .collect();
    if summaries.is_empty() {
        vec![Part::text(PartKind::Thinking, "[encrypted reasoning]")]
    } else {
        summaries
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn file_name_is_empty_without_one() {
        assert_eq!(file_name(Path::new("/a/b/c.jsonl")), "c.jsonl");
        assert_eq!(file_name(Path::new("/")), "");
    }

    #[test]
    fn epoch_millis_reads_integers_and_floats() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123);
        assert_eq!(epoch_millis(Some(&json!(1_700_000_000_123_i64))), at);
        assert_eq!(epoch_millis(Some(&json!(1_700_000_000_123.9_f64))), at);
        assert_eq!(epoch_millis(Some(&json!("1700000000123"))), None);
        assert_eq!(epoch_millis(None), None);
    }

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode("/home/me/my%20repo"), "/home/me/my repo");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
    }

    #[test]
    fn tool_result_text_joins_blocks() {
        assert_eq!(tool_result_text(&json!("done")), "done");
        let blocks = json!([{"type": "text", "text": "a"}, {"type": "image"}, {"x": 1}]);
        assert_eq!(tool_result_text(&blocks), "a\n[image]\n{\"x\":1}");
        assert_eq!(tool_result_text(&json!({"ok": true})), "{\"ok\":true}");
    }

    #[test]
    fn reasoning_without_summary_is_marked_encrypted() {
        let parts = reasoning_parts(&json!({"summary": [{"text": "plan"}]}));
        assert_eq!(parts, vec![Part::text(PartKind::Thinking, "plan")]);
        let parts = reasoning_parts(&json!({"encrypted_content": "gAAA"}));
        assert_eq!(parts[0].text.as_deref(), Some("[encrypted reasoning]"));
    }

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid("0195a2b0-1c2d-4e5f-8a9b-0c1d2e3f4a5b"));
        assert!(!is_uuid("session-1"));
    }
}
