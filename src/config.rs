//! The optional config file, `$XDG_CONFIG_HOME/pond/config.toml`.
//!
//! Everything in it can also come from flags or environment variables (a CI
//! runner needs no file); the file exists for settings too long for a flag,
//! such as object-store options. Unknown keys are errors, so a typo is not
//! silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    /// Host name to record, below `--host` and `POND_HOST`.
    pub host: Option<String>,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub search: SearchConfig,
    #[serde(default)]
    pub redact: RedactConfig,
    #[serde(default)]
    pub upkeep: UpkeepConfig,
    #[serde(default)]
    pub usage: UsageConfig,
    /// Bearer tokens for `pond serve`, hashed (`pond token create`).
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenEntry>,
    /// Prices that come before the shipped table (docs/operations.md).
    #[serde(default)]
    pub prices: Vec<PriceEntry>,
}

/// One model's prices from one date on, in US dollars per million tokens
/// (`[[prices]]`; `pond usage` reads them before its shipped table).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// A model name, or the start of one: `claude-sonnet-4-5` prices
    /// `claude-sonnet-4-5-20250929`. The longest match wins.
    pub model: String,
    /// The first day (UTC) the price holds.
    pub from: NaiveDate,
    pub input: f64,
    pub output: f64,
    /// Cache writes of five minutes (and of unknown lifetime).
    #[serde(default)]
    pub cache_write: f64,
    /// Cache writes of an hour; the five-minute price where not given.
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    #[serde(default)]
    pub cache_read: f64,
    /// Reasoning tokens; the output price where not given.
    #[serde(default)]
    pub reasoning: Option<f64>,
    /// Where the price comes from.
    #[serde(default)]
    pub source: String,
}

/// Usage reports (`[usage]`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageConfig {
    /// Each sync records who runs this host, so `pond usage --by user` can
    /// group spend by person (off unless set: a team decides).
    #[serde(default)]
    pub record_user: bool,
    /// The person to record instead of the OS user (a CI job's git author).
    pub user: Option<String>,
}

/// Store upkeep (docs/operations.md); `POND_UPKEEP_*` win over these.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpkeepConfig {
    /// Versions superseded less than this long are kept (default `1d`).
    pub retain: Option<String>,
    /// Upkeep is due this long after the last run (default `1h`)...
    pub every: Option<String>,
    /// ...or once the messages table has this many new versions (default 100).
    pub after_commits: Option<u64>,
}

/// Secret masking; see docs/redaction.md.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Mask secrets before they are stored: the raw bytes too, so the stored
    /// session is no longer byte-exact (it is marked as redacted).
    #[serde(default)]
    pub at_ingest: bool,
}

/// Search settings; `POND_EMBED_MODEL` wins over these.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Directory of the static embedding model, `transformer[:DIR]` for the
    /// opt-in transformer, or `off` for full-text only (default:
    /// `$XDG_CACHE_HOME/pond/models/pond-static-minilm-256`).
    pub model: Option<String>,
}

/// OTLP export settings; the standard `OTEL_*` variables win over these.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Collector base URL, e.g. `http://collector:4318` (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub endpoint: Option<String>,
    /// `http/protobuf` (default) or `grpc` (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub protocol: Option<String>,
    /// `service.name` (`OTEL_SERVICE_NAME`), default `pond`.
    pub service_name: Option<String>,
    /// Set `false` to turn export off (`OTEL_SDK_DISABLED=true`).
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Store URL or path, below `--store` and `POND_STORE`.
    pub url: Option<String>,
    /// Object-store options passed to Lance (`aws_endpoint`, `allow_http`,
    /// `azure_storage_account_name`, ...). May hold secrets: never printed.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

pub fn default_path() -> PathBuf {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        _ => crate::paths::home_dir().join(".config"),
    };
    base.join("pond").join("config.toml")
}

/// Loads `explicit` (which must exist) or the default file (which may not).
/// Returns the config and the file it came from, if any.
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
    let path = explicit.map(Path::to_path_buf).unwrap_or_else(default_path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok((Config::default(), None));
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.clone(),
        // The line is what a person looks for first in an editor.
        message: match e.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or(&text);
                let line = before.matches('\n').count() + 1;
                format!("line {line}: {}", e.message())
            }
            None => e.message().to_string(),
        },
    })?;
    Ok((config, Some(path)))
}

// The token entries' schema lives here with the rest of the file's; what a
// token grants, and checking one, belongs to the access module.

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Search, list and read sessions.
    Read,
    /// Send session files for ingest (`POST /v1/ingest`); reads nothing.
    Ingest,
    /// Erase sessions (`POST /v1/erase`); reads nothing. Give it to few.
    Admin,
    /// Totals only: the fleet's hosts and runs, usage and spend, counts of
    /// sessions and messages; never a transcript, a message, a snippet, a
    /// search or a raw byte (a team lead's view).
    Stats,
}

/// What a caller may see: sessions whose project lies in `project_prefix`
/// (that directory or one below it) and whose host name starts with
/// `host_prefix`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_prefix: Option<String>,
}

/// A token as the config file keeps it (`[[token]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    /// `sha256:<hex>` of the token.
    pub hash: String,
    pub scope: Scope,
    #[serde(flatten)]
    pub limits: Limits,
    /// RFC 3339 time of creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// It may make share links of the sessions it reads (read scope only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_share: bool,
}

/// The tokens of a config file that may not exist yet.
pub fn load_tokens(path: &Path) -> Result<Vec<TokenEntry>, ConfigError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    Ok(load(Some(path))?.0.tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_options_parse() {
        let c: Config = toml::from_str(
            "host = \"ci-7\"\n[store]\nurl = \"s3://b/p\"\n[store.options]\naws_endpoint = \"http://127.0.0.1:9000\"\n[telemetry]\nendpoint = \"http://c:4318\"\n",
        )
        .unwrap();
        assert_eq!(c.telemetry.endpoint.as_deref(), Some("http://c:4318"));
        assert_eq!(c.store.url.as_deref(), Some("s3://b/p"));
        assert_eq!(c.store.options["aws_endpoint"], "http://127.0.0.1:9000");
        assert_eq!(c.host.as_deref(), Some("ci-7"));
    }

    #[test]
    fn typos_are_errors() {
        assert!(toml::from_str::<Config>("[store]\nulr = \"x\"\n").is_err());
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn rule19_the_shipped_example_parses_with_every_key_set() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/pond.example.toml"
        ))
        .unwrap();
        // Uncomment every `#key = value` line: the documented keys must all be real.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest.to_string(),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config: super::Config = toml::from_str(&uncommented).expect("example parses");
        assert!(
            config.store.url.is_some()
                && config.telemetry.endpoint.is_some()
                && config.host.is_some()
                && config.search.model.is_some()
        );
    }
}
