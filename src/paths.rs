//! Where pond keeps its per-host files, following the XDG base-directory rules.
//!
//! Kept separate so every command and test resolves the same locations from the
//! same environment variables.

use std::path::{Component, Path, PathBuf};

/// `$XDG_STATE_HOME/pond`, default `~/.local/state/pond`: locks, cursors and
/// last-sync records that belong to this host only.
pub fn state_dir() -> PathBuf {
    xdg_dir("XDG_STATE_HOME", ".local/state").join("pond")
}

/// `$XDG_DATA_HOME/pond/store`, default `~/.local/share/pond/store`: the store
/// used when no `--store` is given.
pub fn default_store_dir() -> PathBuf {
    xdg_dir("XDG_DATA_HOME", ".local/share")
        .join("pond")
        .join("store")
}

pub use pond_adapters::paths::home_dir;

fn xdg_dir(var: &str, fallback_under_home: &str) -> PathBuf {
    match std::env::var_os(var) {
        // The spec says relative values are invalid and must be ignored.
        Some(v) if PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home_dir().join(fallback_under_home),
    }
}

/// Writes `bytes` to `path` atomically, making its directories: a reader
/// sees the old file or the new one, never a torn write, even if the
/// process dies mid-way.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// `a/b/c.jsonl` and nothing that could leave the directory it is joined
/// to: no `..`, no absolute or drive paths, no `\\`, no empty or `.`
/// components. The one check for relative paths that come from outside
/// (an ingest upload's names, a stored record's path on export).
pub fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        let as_path = Path::new(part);
        match as_path.components().collect::<Vec<_>>().as_slice() {
            [Component::Normal(c)] if *c == std::ffi::OsStr::new(part) => out.push(part),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        assert_eq!(
            safe_relative("-home-u-p/abc.jsonl"),
            Some(PathBuf::from("-home-u-p/abc.jsonl"))
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "C:\\x",
            "a\0b",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }
}
