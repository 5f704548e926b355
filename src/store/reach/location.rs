//! Turns what a user typed for `--store` into a URI lancedb can open, a display
//! form safe to print, and a short key that names this store's per-host files.
//!
//! Credentials can arrive inside a URL (`s3://KEY:SECRET@bucket`, `?sas=...`);
//! only `display` ever leaves this module for logs, errors and records.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// What lancedb connects to. May hold credentials: never print it.
    uri: String,
    /// The URI with user info and query removed.
    pub display: String,
    /// 16 hex digits naming this store in per-host file names.
    pub key: String,
    /// Set for stores on the local filesystem.
    pub local_dir: Option<PathBuf>,
    /// Object-store options (endpoint, credentials, ...). Never printed.
    options: BTreeMap<String, String>,
}

/// Per-request limits for remote stores unless the user sets their own, so an
/// unreachable endpoint fails in seconds rather than minutes.
const REMOTE_DEFAULTS: &[(&str, &str)] = &[
    // Rule 13: requests time out and retries are bounded, so a dead store fails in seconds.
    ("connect_timeout", "5s"),
    ("timeout", "300s"),
    ("client_max_retries", "3"),
    ("client_retry_timeout", "30"),
];

const REMOTE_SCHEMES: &[&str] = &["s3", "s3+ddb", "gs", "az", "abfs", "abfss", "memory"];

impl StoreLocation {
    pub fn parse(input: &str) -> Result<StoreLocation, StoreError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(StoreError::InvalidLocation {
                input: String::new(),
                reason: "the store location is empty".into(),
            });
        }
        match input.split_once("://") {
            Some(("file", rest)) => Self::local(Path::new(rest), input),
            Some((scheme, _)) if REMOTE_SCHEMES.contains(&scheme) => {
                let url = url::Url::parse(input).map_err(|e| StoreError::InvalidLocation {
                    input: redact_raw(input),
                    reason: e.to_string(),
                })?;
                // Rule 14: only the URL without user info and query is ever shown.
                let mut shown = url.clone();
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                shown.set_query(None);
                shown.set_fragment(None);
                let display = shown.to_string();
                Ok(StoreLocation {
                    key: short_key(display.trim_end_matches('/')),
                    uri: input.to_string(),
                    display,
                    local_dir: None,
                    options: BTreeMap::new(),
                })
            }
            Some((scheme, _)) => Err(StoreError::InvalidLocation {
                input: redact_raw(input),
                reason: format!(
                    "unsupported scheme `{scheme}://` (use a path, file://, s3://, gs://, az:// or memory://)"
                ),
            }),
            None => Self::local(Path::new(input), input),
        }
    }

    fn local(path: &Path, input: &str) -> Result<StoreLocation, StoreError> {
        let absolute = std::path::absolute(path).map_err(|e| StoreError::InvalidLocation {
            input: input.to_string(),
            reason: e.to_string(),
        })?;
        let display = absolute.display().to_string();
        Ok(StoreLocation {
            key: short_key(&display),
            uri: display.clone(),
            display,
            local_dir: Some(absolute),
            options: BTreeMap::new(),
        })
    }

    /// Adds object-store options (from the config file); later ones win.
    pub fn with_options(mut self, options: impl IntoIterator<Item = (String, String)>) -> Self {
        self.options.extend(options);
        self
    }

    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// `s3`, `gs`, `az`, `memory`, or `file` for local stores.
    pub fn scheme(&self) -> &str {
        match self.local_dir {
            Some(_) => "file",
            None => self.uri.split("://").next().unwrap_or_default(),
        }
    }

    /// Whether commits go through a network object store, where conditional
    /// put must be checked rather than assumed.
    pub fn is_remote(&self) -> bool {
        !matches!(self.scheme(), "file" | "memory")
    }

    /// Removes every secret this location knows of from `text` (an error
    /// message from a lower layer): the raw URI, secret-looking options, and
    /// the standard credential variables.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Rule 14: errors from lower layers lose the raw URI, secret options and
        // credential variables before anyone sees them.
        if self.uri != self.display {
            out = out.replace(&self.uri, &self.display);
        }
        let secret_options = self
            .options
            .iter()
            .filter(|(k, _)| is_secret_key(k))
            .map(|(_, v)| v.clone());
        let secret_env = SECRET_VARS.iter().filter_map(|v| std::env::var(v).ok());
        for secret in secret_options.chain(secret_env) {
            // Short values would redact innocent text and are no real secret.
            if secret.len() >= 6 {
                out = out.replace(&secret, "***");
            }
        }
        out
    }

    pub(crate) fn user_options(&self) -> &BTreeMap<String, String> {
        &self.options
    }

    /// What lancedb gets: the user's options over pond's remote defaults.
    /// Lance itself also reads the standard `AWS_*` / `AZURE_*` variables.
    pub(crate) fn storage_options(&self) -> HashMap<String, String> {
        let mut all: HashMap<String, String> = HashMap::new();
        if self.is_remote() {
            for (k, v) in REMOTE_DEFAULTS {
                all.insert(k.to_string(), v.to_string());
            }
        }
        all.extend(self.options.clone());
        all
    }
}

const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
];

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "sas",
        "account_key",
        "access_key",
        "service_account_key",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn short_key(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Best-effort redaction for input that did not even parse as a URL.
fn redact_raw(input: &str) -> String {
    let without_query = input.split('?').next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => without_query.to_string(),
        },
        None => without_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_display() {
        let loc = StoreLocation::parse("s3://AKIA:secret@bucket/prefix?token=abc").unwrap();
        assert_eq!(loc.display, "s3://bucket/prefix");
        assert!(!loc.display.contains("secret"));
    }

    #[test]
    fn errors_are_scrubbed_of_secrets() {
        let loc = StoreLocation::parse("s3://AKIA:hunter22@bucket/p")
            .unwrap()
            .with_options([(
                "aws_secret_access_key".to_string(),
                "s3cr3t-value".to_string(),
            )]);
        let scrubbed = loc.redact("failed at s3://AKIA:hunter22@bucket/p with key s3cr3t-value");
        assert!(
            !scrubbed.contains("hunter22") && !scrubbed.contains("s3cr3t-value"),
            "{scrubbed}"
        );
        assert!(scrubbed.contains("s3://bucket/p"));
    }

    #[test]
    fn plain_paths_become_absolute_local_stores() {
        let loc = StoreLocation::parse("relative/store").unwrap();
        assert!(loc.local_dir.unwrap().is_absolute());
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(StoreLocation::parse("ftp://x/y").is_err());
    }

    #[test]
    fn key_is_stable_and_short() {
        let a = StoreLocation::parse("/tmp/a").unwrap();
        let b = StoreLocation::parse("file:///tmp/a").unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.key.len(), 16);
    }
}
