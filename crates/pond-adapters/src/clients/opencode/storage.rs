//! The storage tree: which file is what, and the sibling files a message's
//! content is spread over.

use super::*;

pub(super) fn is_database_name(name: &str) -> bool {
    name == "opencode.db" || (name.starts_with("opencode-") && name.ends_with(".db"))
}

pub(super) fn skipped_dir(path: &Path) -> bool {
    // Inside session/message/part every directory is an id, whatever its name.
    let parent = path.parent().map(file_name).unwrap_or_default();
    SKIP_DIRS.contains(&file_name(path)) && !matches!(parent, "session" | "message" | "part")
}

pub(super) fn storage_kind(path: &Path) -> Option<StorageKind> {
    match file_name(path.parent()?.parent()?) {
        "session" => Some(StorageKind::Session),
        "message" => Some(StorageKind::Message),
        "part" => Some(StorageKind::Part),
        _ => None,
    }
}

/// `<storage>/<kind>/<dir>/<file>.json` → `<storage>`.
pub(super) fn storage_root(path: &Path) -> Option<PathBuf> {
    Some(path.parent()?.parent()?.parent()?.to_path_buf())
}

pub(super) fn part_message_id(path: &Path, part: &Value) -> Option<String> {
    str_field(part, "messageID")
        .filter(|id| is_plain_id(id))
        .map(str::to_string)
        .or_else(|| dir_name(path))
}

/// Ids read from a file become path components when its siblings are looked
/// up; anything but a plain name (a `/`, `..`, a drive) could lead the
/// lookup out of the storage tree, so such ids are never used as paths.
pub(super) fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Every part file of a message that parses, in file-name order. A file
/// being rewritten at this instant may not parse; its own change brings the
/// message back on the next sync.
pub(super) fn read_parts(storage: &Path, mid: &str) -> Vec<Value> {
    if !is_plain_id(mid) {
        return Vec::new();
    }
    let dir = storage.join("part").join(mid);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| file_name(p).ends_with(".json"))
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| read_json(p)).collect()
}

/// The message file of `mid`: `message/<sid>/<mid>.json` when the session is
/// known, else that name in any session directory, else (trees whose file
/// names are not ids) the file whose `id` is `mid`, looking at a bounded
/// number of files.
pub(super) fn find_message(
    storage: &Path,
    sid: Option<&str>,
    mid: &str,
) -> Option<(PathBuf, Value)> {
    if !is_plain_id(mid) || sid.is_some_and(|s| !is_plain_id(s)) {
        return None;
    }
    let messages = storage.join("message");
    let name = format!("{mid}.json");
    let dirs: Vec<PathBuf> = match sid {
        Some(sid) => vec![messages.join(sid)],
        None => {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(&messages)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            dirs.sort();
            dirs
        }
    };
    for dir in &dirs {
        let path = dir.join(&name);
        if let Some(v) = read_json(&path) {
            return Some((path, v));
        }
    }
    let mut scanned = 0;
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            scanned += 1;
            if scanned > MAX_MESSAGE_SCAN {
                return None;
            }
            if let Some(v) = read_json(&path)
                && str_field(&v, "id") == Some(mid)
            {
                return Some((path, v));
            }
        }
    }
    None
}

pub(super) fn read_json(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

pub(super) fn dir_name(p: &Path) -> Option<String> {
    p.parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .map(str::to_string)
}

pub(super) fn stem(p: &Path) -> Option<String> {
    p.file_stem().and_then(|n| n.to_str()).map(str::to_string)
}
