//! Where a user's files are: the one fact about the machine adapters need.

use std::path::PathBuf;

/// The user's home directory: `HOME`, else (Windows) `USERPROFILE`, else `/`
/// (daemons and some CI runners have neither).
pub fn home_dir() -> PathBuf {
    ["HOME", "USERPROFILE"]
        .iter()
        .find_map(|var| std::env::var_os(var).filter(|h| !h.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}
