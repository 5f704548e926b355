//! Finding a client's session files: walking a root in a stable order,
//! classifying what is found, and the per-client home directories, so each
//! adapter's `discover` says only which files are its own.

use std::path::{Path, PathBuf};

use crate::adapter::{Discovery, Layout, SourceError, SourceErrorKind, SourceFile};

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

/// [`discover_files`] for the most common client: every `*.jsonl` file
/// under `root` is one appended session log.
pub(crate) fn discover_jsonl(root: &Path, hint: impl Fn(&str) -> Option<String>) -> Discovery {
    discover_files(
        root,
        |p| p.extension().is_some_and(|e| e == "jsonl"),
        Layout::Jsonl,
        hint,
    )
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

/// The name of the directory a file sits in, decoded lossily, or `""`:
/// for ids that must be made even when the name is not UTF-8.
pub(crate) fn parent_dir_lossy(path: &Path) -> String {
    path.parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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

pub(crate) fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A path's last component, or `""` when it has none or it is not UTF-8.
pub(crate) fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_is_empty_without_one() {
        assert_eq!(file_name(Path::new("/a/b/c.jsonl")), "c.jsonl");
        assert_eq!(file_name(Path::new("/")), "");
    }
}
