//! Where VS Code-family editors keep extension data, and the `file://`
//! URIs they write: Cline, Roo, Kilo and Amp's older builds live there.

use std::path::PathBuf;

use crate::discover::env_dir;
use crate::formats::json::percent_decode;

/// The path a `file://` URI names (`file:///home/me/x` → `/home/me/x`,
/// `file:///c%3A/x` → `c:/x`); a URI of another scheme (a remote folder)
/// stays whole.
pub(crate) fn uri_path(uri: &str) -> String {
    let Some(rest) = uri.strip_prefix("file://") else {
        return uri.to_string();
    };
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let path = percent_decode(rest);
    // Windows URIs put a slash before the drive letter.
    let b = path.as_bytes();
    if b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
        return path[1..].to_string();
    }
    path
}

/// `<config>/<Editor>/User/globalStorage` for the VS Code family on this OS:
/// where editor extensions (Cline, Roo, Kilo, Amp's older builds) keep data.
pub(crate) fn editor_global_storage() -> Vec<PathBuf> {
    let home = crate::paths::home_dir();
    let base = if cfg!(target_os = "windows") {
        env_dir("APPDATA").unwrap_or_else(|| home.join("AppData").join("Roaming"))
    } else if cfg!(target_os = "macos") {
        home.join("Library").join("Application Support")
    } else {
        env_dir("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"))
    };
    ["Code", "Cursor", "Windsurf", "VSCodium"]
        .iter()
        .map(|editor| base.join(editor).join("User").join("globalStorage"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_paths_and_other_schemes_stay_whole() {
        assert_eq!(uri_path("file:///home/me/x"), "/home/me/x");
        assert_eq!(uri_path("file:///c%3A/Users/me"), "c:/Users/me");
        assert_eq!(uri_path("file://localhost/srv/p"), "/srv/p");
        assert_eq!(
            uri_path("vscode-remote://ssh-remote+box/home/p"),
            "vscode-remote://ssh-remote+box/home/p"
        );
    }
}
