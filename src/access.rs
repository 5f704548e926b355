//! Who may read or write the archive over the network: bearer tokens.
//!
//! A token is shown once, at creation; the config file keeps only its
//! SHA-256, so a leaked config does not leak access. Each token has one
//! scope (read, stats, ingest or admin) and optional limits (a project or host prefix)
//! that narrow every answer given to it. Checking a token hashes it and
//! compares against every stored hash in constant time, so neither timing
//! nor an early exit tells an attacker how close a guess came.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use pond_adapters::digest::sha256_hex;

pub use crate::config::{Limits, Scope, TokenEntry};
use crate::store::starts_with_sql;

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
            Scope::Stats => "stats",
        }
    }
}

/// What a read asks for: the archive's text (transcripts, messages,
/// search), or only its totals (fleet, usage and spend, counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    Texts,
    Totals,
}

impl Reads {
    /// The scopes that may read this, as a refusal names them.
    pub fn needs(self) -> &'static str {
        match self {
            Reads::Texts => "read",
            Reads::Totals => "read or stats",
        }
    }
}

impl Limits {
    pub fn is_unlimited(&self) -> bool {
        self.project_prefix.is_none() && self.host_prefix.is_none()
    }

    /// Whether a session with this project and host is visible.
    pub fn allows(&self, project: Option<&str>, host: &str) -> bool {
        let project_ok = match &self.project_prefix {
            None => true,
            Some(prefix) => project.is_some_and(|p| within_directory(p, prefix)),
        };
        let host_ok = match &self.host_prefix {
            None => true,
            Some(prefix) => host.starts_with(prefix.as_str()),
        };
        project_ok && host_ok
    }

    /// The same rule as a SQL predicate over `project` and `host` columns.
    pub fn to_sql(&self) -> Option<String> {
        let clauses: Vec<String> = [
            self.project_prefix.as_deref().map(directory_sql),
            self.host_prefix
                .as_deref()
                .map(|p| starts_with_sql("host", p)),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!clauses.is_empty()).then(|| clauses.join(" AND "))
    }
}

/// The separators of a directory's own kind. A Windows path (it holds `\`)
/// may use either; elsewhere `\` is part of a name, so `/work/team-a\x` is a
/// sibling of `/work/team-a`, not inside it.
fn separators(dir: &str) -> &'static [char] {
    if dir.contains('\\') {
        &['/', '\\']
    } else {
        &['/']
    }
}

/// `path` is the directory `dir` or lies below it: `/work/team-a` holds
/// `/work/team-a/api` but not `/work/team-ab`, whose name only starts alike.
fn within_directory(path: &str, dir: &str) -> bool {
    let separators = separators(dir);
    let base = dir.trim_end_matches(separators);
    if base.is_empty() {
        // `/` (or nothing): every path starting so.
        return path.starts_with(dir);
    }
    match path.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with(separators),
        None => false,
    }
}

/// [`within_directory`] over the `project` column.
fn directory_sql(dir: &str) -> String {
    let separators = separators(dir);
    let base = dir.trim_end_matches(separators);
    if base.is_empty() {
        return starts_with_sql("project", dir);
    }
    let mut alternatives = vec![format!("project = {}", crate::store::sql_str(base))];
    for separator in separators {
        alternatives.push(starts_with_sql("project", &format!("{base}{separator}")));
    }
    format!("({})", alternatives.join(" OR "))
}

/// What a verified caller may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's name (never the token): what logs may say.
    pub name: String,
    /// `None` for a local caller, who may do anything.
    pub scope: Option<Scope>,
    pub limits: Limits,
    /// It may make share links of the sessions it reads.
    pub may_share: bool,
}

impl Grant {
    /// A caller on this machine with no token (stdio MCP, loopback serve
    /// without tokens configured): sees everything, may ingest.
    pub fn local() -> Grant {
        Grant {
            name: "local".to_string(),
            scope: None,
            limits: Limits::default(),
            may_share: true,
        }
    }

    /// What the token of `entry` may do.
    pub fn of(entry: &TokenEntry) -> Grant {
        Grant {
            name: entry.name.clone(),
            scope: Some(entry.scope),
            limits: entry.limits.clone(),
            may_share: entry.may_share && entry.scope == Scope::Read,
        }
    }

    pub fn permits(&self, needed: Scope) -> bool {
        self.scope.is_none_or(|s| s == needed)
    }

    /// Whether the caller may read `what`: a read token reads both, a
    /// stats token only totals.
    pub fn may_read(&self, what: Reads) -> bool {
        self.permits(Scope::Read) || (what == Reads::Totals && self.scope == Some(Scope::Stats))
    }

    /// A stats token: what it reads is narrowed to totals wherever a
    /// totals route could still name something below its limits.
    pub fn totals_only(&self) -> bool {
        self.scope == Some(Scope::Stats)
    }
}

const TOKEN_PREFIX: &str = "pond_";

fn hash_token(token: &str) -> String {
    format!("sha256:{}", sha256_hex(token.as_bytes()))
}

/// Finds the token among `entries`, looking at every entry whatever the
/// outcome so the time taken does not depend on which one matched.
pub fn verify(entries: &[TokenEntry], presented: &str) -> Option<Grant> {
    verify_entry(entries, presented).map(Grant::of)
}

/// [`verify`], giving the matching entry itself.
pub fn verify_entry<'a>(entries: &'a [TokenEntry], presented: &str) -> Option<&'a TokenEntry> {
    let presented_hash = hash_token(presented);
    let mut found = None;
    for entry in entries {
        let equal: bool = presented_hash
            .as_bytes()
            .ct_eq(entry.hash.as_bytes())
            .into();
        if equal && found.is_none() {
            found = Some(entry);
        }
    }
    found
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named `{0}` exists already (revoke it first)")]
    Exists(String),
    #[error("no token named `{0}`")]
    Unknown(String),
    #[error("--may-share is for read tokens: a {0} token reads no sessions to share")]
    ShareNeedsRead(&'static str),
    #[error("token names are letters, digits, `-`, `_` and `.`: `{0}`")]
    BadName(String),
    #[error("cannot read random bytes for a token: {0}")]
    Random(getrandom::Error),
    #[error("cannot update {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Makes a token, appends its entry to the config file and returns the
/// token itself: the only time it exists outside the caller's hands.
pub fn create(
    config_path: &Path,
    name: &str,
    scope: Scope,
    limits: Limits,
    may_share: bool,
) -> Result<(String, TokenEntry), TokenError> {
    if may_share && scope != Scope::Read {
        return Err(TokenError::ShareNeedsRead(scope.as_str()));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(TokenError::BadName(name.to_string()));
    }
    let _locked = lock(config_path)?;
    let existing = crate::config::load_tokens(config_path)?;
    if existing.iter().any(|t| t.name == name) {
        return Err(TokenError::Exists(name.to_string()));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(TokenError::Random)?;
    let token = format!(
        "{TOKEN_PREFIX}{}",
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let entry = TokenEntry {
        name: name.to_string(),
        hash: hash_token(&token),
        scope,
        limits,
        created: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        may_share,
    };
    let mut text = match std::fs::read_to_string(config_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(TokenError::Write {
                path: config_path.to_path_buf(),
                source,
            });
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&entry_toml(&entry));
    write_private(config_path, &text)?;
    Ok((token, entry))
}

/// Removes the named token's `[[token]]` block, leaving the rest of the
/// file as it was.
pub fn revoke(config_path: &Path, name: &str) -> Result<TokenEntry, TokenError> {
    let _locked = lock(config_path)?;
    let entries = crate::config::load_tokens(config_path)?;
    let Some(entry) = entries.into_iter().find(|t| t.name == name) else {
        return Err(TokenError::Unknown(name.to_string()));
    };
    let text = std::fs::read_to_string(config_path).map_err(|source| TokenError::Write {
        path: config_path.to_path_buf(),
        source,
    })?;
    let kept = without_token_block(&text, &entry.hash);
    write_private(config_path, &kept)?;
    Ok(entry)
}

/// The TOML block pond writes for a token. Values are quoted as JSON
/// strings, which TOML basic strings accept unchanged.
fn entry_toml(entry: &TokenEntry) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut block = format!(
        "\n[[token]]\nname = {}\nhash = {}\nscope = {}\n",
        q(&entry.name),
        q(&entry.hash),
        q(entry.scope.as_str())
    );
    if let Some(p) = &entry.limits.project_prefix {
        block.push_str(&format!("project_prefix = {}\n", q(p)));
    }
    if entry.may_share {
        block.push_str("may_share = true\n");
    }
    if let Some(h) = &entry.limits.host_prefix {
        block.push_str(&format!("host_prefix = {}\n", q(h)));
    }
    if let Some(c) = &entry.created {
        block.push_str(&format!("created = {}\n", q(c)));
    }
    block
}

/// Drops the `[[token]]` table holding `hash` (hashes are unique and only
/// ever written by pond), from its header to the next table header.
fn without_token_block(text: &str, hash: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "[[token]]" {
            let end = (i + 1..lines.len())
                .find(|&j| is_header(lines[j]))
                .unwrap_or(lines.len());
            let holds = lines[i..end]
                .iter()
                .any(|l| l.contains(hash) && l.trim_start().starts_with("hash"));
            if holds {
                // Also drop the blank line pond wrote before the block.
                if out.ends_with("\n\n") {
                    out.pop();
                }
                i = end;
                continue;
            }
        }
        out.push_str(lines[i]);
        i += 1;
    }
    out
}

/// The file `pond token` locks while it reads, changes and rewrites the
/// config: beside it, and never replaced, so every process locks the same
/// inode (the config itself is replaced by each write).
fn lock_path(config_path: &Path) -> PathBuf {
    let mut name = config_path
        .file_name()
        .map(std::ffi::OsString::from)
        .unwrap_or_else(|| "config".into());
    name.push(".lock");
    config_path.with_file_name(name)
}

/// Holds the token file's lock until dropped (the kernel releases it if the
/// process dies), so two `pond token` runs at once each keep the other's
/// change instead of writing over it.
fn lock(config_path: &Path) -> Result<File, TokenError> {
    let path = lock_path(config_path);
    let err = |source| TokenError::Write {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(err)?;
    match file.lock() {
        Ok(()) => Ok(file),
        // A file system without locks: go on unlocked, as a sync does.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => Ok(file),
        Err(e) => Err(err(e)),
    }
}

/// Writes the config readable by its owner only: it now holds token hashes
/// and may hold store credentials.
fn write_private(path: &Path, text: &str) -> Result<(), TokenError> {
    let err = |source| TokenError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_else(|| "config".as_ref()));
    name.push(format!(".tmp-{}-{}", std::process::id(), fastrand::u64(..)));
    let tmp = path.with_file_name(name);
    let written = create_private(&tmp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

/// A new file only its owner may read, from the moment it exists: made
/// with mode 0600 rather than changed to it afterwards, when another user
/// could already have opened it.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tokens_verify_and_revoked_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "host = \"h\"\n[store]\nurl = \"/tmp/x\"\n").unwrap();
        let limits = Limits {
            project_prefix: Some("/work/team-a".into()),
            host_prefix: None,
        };
        let (read, _) = create(&path, "reader", Scope::Read, limits.clone(), false).unwrap();
        let (ingest, _) = create(&path, "ci", Scope::Ingest, Limits::default(), false).unwrap();
        assert!(read.starts_with(TOKEN_PREFIX) && read.len() == TOKEN_PREFIX.len() + 64);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&read) && !text.contains(&ingest), "{text}");
        let (config, _) = crate::config::load(Some(&path)).unwrap();
        assert_eq!(config.store.url.as_deref(), Some("/tmp/x"));
        let grant = verify(&config.tokens, &read).unwrap();
        assert_eq!((grant.scope, grant.limits), (Some(Scope::Read), limits));
        assert_eq!(
            verify(&config.tokens, &ingest).unwrap().scope,
            Some(Scope::Ingest)
        );
        assert!(verify(&config.tokens, "pond_0000").is_none());
        assert!(matches!(
            create(&path, "ci", Scope::Read, Limits::default(), false),
            Err(TokenError::Exists(_))
        ));

        revoke(&path, "reader").unwrap();
        let (config, _) = crate::config::load(Some(&path)).unwrap();
        assert!(verify(&config.tokens, &read).is_none());
        assert!(verify(&config.tokens, &ingest).is_some());
        assert_eq!(config.host.as_deref(), Some("h"));
        assert!(matches!(
            revoke(&path, "reader"),
            Err(TokenError::Unknown(_))
        ));
    }

    #[test]
    fn limits_match_by_prefix_and_escape_like_wildcards() {
        let l = Limits {
            project_prefix: Some("/w/a_b".into()),
            host_prefix: Some("ci-".into()),
        };
        assert!(l.allows(Some("/w/a_b/x"), "ci-7"));
        assert!(!l.allows(Some("/w/aXb"), "ci-7"));
        assert!(!l.allows(None, "ci-7"));
        assert!(!l.allows(Some("/w/a_b"), "laptop"));
        let sql = l.to_sql().unwrap();
        assert!(sql.contains(r"a\_b/%"), "{sql}");
        assert!(sql.contains("host LIKE 'ci-%'"), "{sql}");
        assert!(Limits::default().to_sql().is_none());
    }

    #[test]
    fn rule36_a_project_prefix_grants_whole_path_segments_only() {
        let limits = |p: &str| Limits {
            project_prefix: Some(p.into()),
            host_prefix: None,
        };
        for prefix in ["/work/team-a", "/work/team-a/"] {
            let l = limits(prefix);
            for inside in ["/work/team-a", "/work/team-a/", "/work/team-a/api/v2"] {
                assert!(l.allows(Some(inside), "h"), "{prefix} {inside}");
            }
            for outside in ["/work/team-ab", "/work/team-a-old/x", "/work/team", "/work"] {
                assert!(!l.allows(Some(outside), "h"), "{prefix} {outside}");
            }
            assert_eq!(
                l.to_sql().as_deref(),
                Some(r"(project = '/work/team-a' OR project LIKE '/work/team-a/%' ESCAPE '\')"),
                "{prefix}"
            );
        }
        // `\` is a name's character on Unix, a separator on Windows.
        assert!(!limits("/work/team-a").allows(Some(r"/work/team-a\x"), "h"));
        let windows = limits(r"E:\AI");
        assert!(windows.allows(Some(r"E:\AI\TestProject-v2"), "h"));
        assert!(windows.allows(Some(r"E:\AI/TestProject-v2"), "h"));
        assert!(!windows.allows(Some(r"E:\AI-old"), "h"));
        assert_eq!(
            windows.to_sql().as_deref(),
            Some(
                r"(project = 'E:\AI' OR project LIKE 'E:\\AI/%' ESCAPE '\' OR project LIKE 'E:\\AI\\%' ESCAPE '\')"
            )
        );
        // The root holds every absolute path.
        assert!(limits("/").allows(Some("/anything"), "h"));
        assert_eq!(
            limits("/").to_sql().as_deref(),
            Some(r"project LIKE '/%' ESCAPE '\'")
        );
    }

    #[cfg(unix)]
    #[test]
    fn rule36_the_token_file_is_owner_only_from_its_creation() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // Seen before anything is written to it or its mode changed.
        let fresh = dir.path().join("fresh");
        let file = create_private(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        drop(file);
        assert!(
            create_private(&fresh).is_err(),
            "an existing file is never reused"
        );

        let config = dir.path().join("config.toml");
        std::fs::write(&config, "host = \"h\"\n").unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        create(&config, "reader", Scope::Read, Limits::default(), false).unwrap();
        assert_eq!(mode(&config), 0o600);
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary copies left behind: {left:?}");
    }

    #[test]
    fn rule36_token_changes_wait_for_the_token_files_lock() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let held = lock(&config).unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let writer = {
            let config = config.clone();
            std::thread::spawn(move || {
                let created = create(&config, "late", Scope::Read, Limits::default(), false);
                let _ = done_tx.send(());
                created
            })
        };
        assert!(
            done_rx
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "a token was written while another holder had the lock"
        );
        drop(held);
        writer.join().unwrap().unwrap();
        assert!(done_rx.recv().is_ok());
        assert_eq!(crate::config::load_tokens(&config).unwrap().len(), 1);
    }

    #[test]
    fn bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        for name in ["", "a b", "x\"y", "n\nm"] {
            assert!(matches!(
                create(&path, name, Scope::Read, Limits::default(), false),
                Err(TokenError::BadName(_))
            ));
        }
    }
}
