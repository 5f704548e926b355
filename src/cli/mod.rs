//! Command-line surface: argument types and one handler module per command.
//!
//! `main.rs` only parses these and calls [`dispatch`]; each handler turns the
//! library's results into text or `--json` and an exit code.

mod adapters;
mod agent;
pub mod config_show;
mod erase;
mod export;
mod maintain;
mod model;
mod output;
mod repair;
mod resume;
mod schedule;
mod search;
mod serve;
mod sessions;
mod show;
mod status;
mod storage;
mod sync;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::store::StoreLocation;

#[derive(Debug, Parser)]
#[command(
    name = "pond",
    version,
    about = "Keep every AI coding-agent session, lossless and searchable."
)]
pub struct Cli {
    /// Store URL or path (default: $XDG_DATA_HOME/pond/store).
    #[arg(long, global = true, env = "POND_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// Name this host records in synced rows (default: the system host name);
    /// with `search`, only hits synced by this host; with `erase`, every
    /// session of that host.
    #[arg(long, global = true, env = "POND_HOST")]
    pub host: Option<String>,
    /// This host is ephemeral (a CI job that runs once): its syncs are
    /// recorded under GROUP (say, the repository or workflow), counted and
    /// shown as the group, and never flagged stale.
    #[arg(long, global = true, env = "POND_EPHEMERAL", value_name = "GROUP")]
    pub ephemeral: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/pond/config.toml, if it exists).
    #[arg(long, global = true, env = "POND_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest new and changed sessions of local clients into the store.
    Sync(SyncArgs),
    /// Show the store, its contents and this host's last sync.
    Status(StatusArgs),
    /// List sessions, most recent first.
    Sessions(SessionsArgs),
    /// Find messages by words, exact tokens or meaning, over every client and host.
    Search(SearchArgs),
    /// Print a session as a readable transcript.
    Show(ShowArgs),
    /// Write a session's source files back, byte for byte.
    Export(ExportArgs),
    /// Write a session as a client's own files, to continue it there.
    Resume(ResumeArgs),
    /// Re-derive sessions and messages missing beside their stored raw records.
    Repair(RepairArgs),
    /// Compact, index and prune the store (one host of the fleet at a time).
    Maintain(MaintainArgs),
    /// Remove sessions from the store for good, and keep every host from
    /// storing them again.
    Erase(EraseArgs),
    /// List the supported clients and where their sessions live here.
    Adapters(AdaptersArgs),
    /// Run sync in a loop (for services, containers and CI sidecars).
    Agent(AgentArgs),
    /// Check that a store can hold a shared archive safely.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Run `pond sync` periodically as this user (systemd, cron or launchd).
    Schedule(ScheduleArgs),
    /// Show the configuration in effect.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The local embedding model behind vector search.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Serve the archive to an agent as MCP tools over stdin/stdout.
    Mcp(McpArgs),
    /// Serve the archive over HTTP: JSON API, MCP at /mcp, remote ingest.
    Serve(ServeArgs),
    /// The fleet's state in the Prometheus text format, from the store:
    /// printed once, or served at /metrics with --listen.
    Metrics(MetricsArgs),
    /// Bearer tokens for `pond serve`.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// Mask secrets (API keys, tokens, private keys, passwords) in answers.
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Beyond loopback, tokens are required.
    #[arg(long, default_value = "127.0.0.1:7474")]
    pub listen: std::net::SocketAddr,
    /// Answer with secrets unmasked (masked by default).
    #[arg(long)]
    pub no_redact: bool,
    /// Where files sent to /v1/ingest are kept (default: under the state directory).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Largest file /v1/ingest accepts, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_upload: usize,
    /// A host name (or NAME:PORT) requests may name besides the listening
    /// address and loopback: the name clients or a proxy use (repeatable).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Serve (and ingest into) a store without conditional put, which
    /// concurrent writers would silently corrupt.
    #[arg(long)]
    pub allow_unsafe_store: bool,
    /// Longest one ingest run may take before it is stopped (what it
    /// committed is kept; sending again finishes it).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub ingest_deadline: std::time::Duration,
    /// A host without a successful sync this long is stale (/metrics
    /// exports it for alert rules).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub stale_after: std::time::Duration,
}

#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// Serve /metrics (and /healthz) on this address instead of printing
    /// once; the token rules of `pond serve` apply (read scope).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// A host without a successful sync this long is stale.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub stale_after: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; it is printed once and only its hash is kept.
    Create {
        /// A name to list, revoke and log it by.
        name: String,
        /// read: search and read sessions; ingest: send session files.
        #[arg(long, value_enum)]
        scope: crate::access::Scope,
        /// Only sessions whose project (working directory) is this directory
        /// or lies below it.
        #[arg(long, value_name = "PREFIX")]
        project_prefix: Option<String>,
        /// Only sessions of hosts whose name starts with this (for ingest:
        /// only such hosts may be sent for).
        #[arg(long, value_name = "PREFIX")]
        host_prefix: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The tokens in the config file (names, scopes, limits; never hashes).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a token; a running server refuses it from its next request.
    Revoke {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Make the static embedding model from a sentence-transformer (once per
    /// machine; a few minutes).
    Distill {
        /// Teacher model directory: model.onnx and its tokenizer files
        /// (default: $XDG_CACHE_HOME/pond/models/sources/minilm).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        /// ONNX Runtime shared library (default: the one scripts/fetch-models.sh fetched).
        #[arg(long, value_name = "FILE")]
        onnxruntime: Option<PathBuf>,
        /// Where to write the model (default: the directory search and sync load).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Threads for the teacher.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long)]
        json: bool,
    },
    /// Give every search row a vector from the model in use: rows synced
    /// without a model, or by a different one. Resumable; never needed for
    /// full-text search.
    Reembed {
        /// Rows embedded and committed at a time.
        #[arg(long, default_value_t = 4096)]
        batch: usize,
        #[arg(long)]
        json: bool,
    },
    /// Which model search and sync use, or why there is none.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Words, an exact token (an id, an error, a path), or a question.
    #[arg(required = true, num_args = 1..)]
    pub query: Vec<String>,
    /// hybrid (BM25 and vectors, fused), fts (BM25 only) or vector.
    #[arg(long, value_enum, default_value = "hybrid")]
    pub mode: crate::search::Mode,
    /// Only these clients (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub client: Vec<String>,
    /// Only sessions whose working directory contains this.
    #[arg(long)]
    pub project: Option<String>,
    // `--host NAME` (the global flag) filters by host here: given on the
    // command line, it names the host to search, not this one.
    /// Only messages of these roles: user, assistant, system, tool, developer.
    #[arg(long, value_delimiter = ',')]
    pub role: Vec<String>,
    /// Only these parts: text, thinking, tool-call, tool-result, file, other.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Only calls to (and results of) these tools, e.g. Bash.
    #[arg(long, value_delimiter = ',')]
    pub tool: Vec<String>,
    /// Not before: a date (2026-11-01), an RFC 3339 time, or an age (7d, 12h).
    #[arg(long)]
    pub since: Option<String>,
    /// Not after: same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this session (an id or a prefix).
    #[arg(long)]
    pub session: Option<String>,
    /// Sessions per page.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Sessions to skip (for the next page).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Hits shown per session, each from a different message.
    #[arg(long, default_value_t = 1)]
    pub per_session: usize,
    /// Mask secrets (API keys, tokens, private keys, passwords) in snippets.
    #[arg(long)]
    pub redact: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every resolved setting and where it came from (flag, env, file,
    /// default), secrets masked.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: ScheduleAction,
    /// How often (install only).
    #[arg(long, global = true, default_value = "5m", value_parser = humantime::parse_duration)]
    pub every: std::time::Duration,
    /// Which scheduler (default: launchd on macOS, systemd where it runs, else cron).
    #[arg(long, global = true, value_enum)]
    pub method: Option<ScheduleMethod>,
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ScheduleAction {
    /// Write (and, where the scheduler runs, enable) the periodic sync.
    Install,
    /// Remove it.
    Remove,
    /// Whether it is installed, and when this host last synced.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleMethod {
    Systemd,
    Cron,
    Launchd,
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Probe write, read, list, delete and conditional put. Exit status: 0 safe,
    /// 3 unreachable, 4 access denied, 5 no conditional put, 6 broken.
    Check(StorageCheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct StorageCheckArgs {
    /// Store URL or path (default: the configured store).
    pub url: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Only this client (see `pond adapters`).
    pub adapter: Option<String>,
    /// Read this directory instead of the client's default location (needs ADAPTER).
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Time between syncs.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub every: std::time::Duration,
    /// Random extra delay per round, so a fleet does not commit in lockstep.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub jitter: std::time::Duration,
    /// Sync even into a store without conditional put (data can be lost).
    #[arg(long)]
    pub allow_unsafe_store: bool,
    /// One JSON object per round on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Only this client (see `pond adapters`).
    pub adapter: Option<String>,
    /// Read this directory instead of the client's default location (needs ADAPTER).
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Exit at once (status 0) if another sync of this store runs on this host.
    #[arg(long)]
    pub no_wait: bool,
    /// Read and parse everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Sync even into a store without conditional put (data can be lost).
    #[arg(long)]
    pub allow_unsafe_store: bool,
    /// Send the files to a `pond serve` at this URL, which ingests them,
    /// instead of writing to the store (for hosts that cannot reach it).
    #[arg(long, value_name = "URL", conflicts_with_all = ["dry_run", "allow_unsafe_store"])]
    pub to: Option<url::Url>,
    /// Bearer token (ingest scope) for --to.
    #[arg(long, env = "POND_TOKEN", hide_env_values = true, requires = "to")]
    pub token: Option<String>,
    /// After the sync, run store upkeep if it is due and no other host is
    /// running it (what `pond agent` and scheduled syncs do).
    #[arg(long, conflicts_with_all = ["dry_run", "to"])]
    pub upkeep: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct MaintainArgs {
    /// Report each table's shape without taking the lease or writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep versions superseded less than this long (readers may still
    /// hold them).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retain: Option<std::time::Duration>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    /// Session ids (a unique prefix is enough). Or select with --project,
    /// --client, --before, and the global --host.
    pub sessions: Vec<String>,
    /// Every session of this project (its working directory, as `pond
    /// sessions` shows it).
    #[arg(long)]
    pub project: Option<String>,
    /// Every session of this client.
    #[arg(long)]
    pub client: Option<String>,
    /// Every session last active before this: a date (2026-11-01), an RFC
    /// 3339 time, or an age (90d).
    #[arg(long)]
    pub before: Option<String>,
    /// Leave the selected sessions' child sessions (subagents) in place.
    #[arg(long)]
    pub without_children: bool,
    /// List exactly what would go (sessions, row counts, files), change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Make the bytes go now rather than at the next upkeep: rewrite the
    /// fragments that held the rows and prune every older version, under
    /// the upkeep lease.
    #[arg(long, conflicts_with = "dry_run")]
    pub now: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Lift the tombstones of these erased sessions (a mistake): hosts may
    /// store them again. Recorded like an erasure.
    #[arg(long, conflicts_with_all = ["now", "dry_run", "project", "client", "before"])]
    pub forget_tombstone: bool,
    /// List every recorded erasure and forgetting instead.
    #[arg(long, conflicts_with_all = ["now", "dry_run", "forget_tombstone"])]
    pub log: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Every host that ever synced to this store, from the shared records.
    #[arg(long)]
    pub all_hosts: bool,
    /// With --all-hosts: a host without a successful sync this recent is stale.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub stale_after: std::time::Duration,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    /// Only sessions of this client.
    #[arg(long)]
    pub client: Option<String>,
    /// At most this many sessions.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Session id (a unique prefix is enough).
    pub session_id: String,
    /// Print tool output in full instead of its first lines.
    #[arg(long)]
    pub full: bool,
    /// Mask secrets (API keys, tokens, private keys, passwords) in the text.
    #[arg(long)]
    pub redact: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// Session id (a unique prefix is enough).
    pub session_id: String,
    /// The client to continue in: the session's own (byte-exact) or, by
    /// conversion, claude-code or codex.
    #[arg(long, value_name = "CLIENT")]
    pub to: String,
    /// Write under this directory instead of the client's session root.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Mask secrets (API keys, tokens, private keys, passwords) in what is
    /// written; the files are then no longer byte-exact.
    #[arg(long)]
    pub redact: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// Report the gaps without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Session id (a unique prefix is enough).
    pub session_id: String,
    /// Write the original source bytes (the only export format so far).
    #[arg(long, required = true)]
    pub raw: bool,
    /// Directory to write into; files land at their path relative to their sync root.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Mask secrets (API keys, tokens, private keys, passwords) in the
    /// bytes written; the files are then no longer byte-exact.
    #[arg(long)]
    pub redact: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct AdaptersArgs {
    #[arg(long)]
    pub json: bool,
}

/// Settings every command shares.
pub struct Context {
    pub location: StoreLocation,
    pub host: String,
    /// `--host` as typed on the command line (not from the environment or
    /// the config file): `pond search` reads it as a filter.
    pub host_flag: Option<String>,
    /// `--ephemeral GROUP`: the group this ephemeral host's runs count under.
    pub ephemeral_group: Option<String>,
    pub telemetry: crate::config::TelemetryConfig,
    /// Each resolved setting with where it came from, for `pond config show`.
    pub provenance: Vec<config_show::Setting>,
    /// The embedding model, loaded only if a command needs it.
    pub embedder: std::sync::Arc<crate::embed::Lazy>,
    /// The config file in effect, or where `pond token create` makes one.
    pub config_path: PathBuf,
    /// Hashed bearer tokens `pond serve` accepts.
    pub tokens: Vec<crate::access::TokenEntry>,
    /// `[redact] at_ingest`: mask secrets before storing them.
    pub redact_at_ingest: bool,
    /// `[upkeep]`: when store upkeep is due, and what it keeps.
    pub upkeep: UpkeepSettings,
}

#[derive(Debug, Clone)]
pub struct UpkeepSettings {
    pub retain: std::time::Duration,
    /// How long the lease holds between renewals (`POND_UPKEEP_LEASE_TTL`,
    /// for operators and tests; default 15 minutes).
    pub lease_ttl: std::time::Duration,
    pub policy: crate::maintain::UpkeepPolicy,
}

impl UpkeepSettings {
    fn resolve(file: &crate::config::UpkeepConfig) -> anyhow::Result<UpkeepSettings> {
        let duration = |var: &str, configured: &Option<String>, default| match std::env::var(var)
            .ok()
            .or_else(|| configured.clone())
        {
            None => Ok(default),
            Some(text) => humantime::parse_duration(&text).map_err(|e| {
                anyhow::anyhow!("`{text}` ({var} or [upkeep]) is not a duration: {e}")
            }),
        };
        let defaults = crate::maintain::UpkeepPolicy::default();
        let after_commits = match std::env::var("POND_UPKEEP_AFTER_COMMITS") {
            Ok(text) => text.parse().map_err(|_| {
                anyhow::anyhow!("POND_UPKEEP_AFTER_COMMITS=`{text}` is not a number")
            })?,
            Err(_) => file.after_commits.unwrap_or(defaults.after_commits),
        };
        Ok(UpkeepSettings {
            retain: duration(
                "POND_UPKEEP_RETAIN",
                &file.retain,
                crate::maintain::DEFAULT_RETAIN,
            )?,
            lease_ttl: duration("POND_UPKEEP_LEASE_TTL", &None, crate::maintain::LEASE_TTL)?,
            policy: crate::maintain::UpkeepPolicy {
                every: duration("POND_UPKEEP_EVERY", &file.every, defaults.every)?,
                after_commits,
            },
        })
    }
}

impl Context {
    /// Flags and environment first, then the config file, then defaults.
    fn from_cli(cli: &Cli) -> anyhow::Result<Context> {
        use config_show::{Setting, Source};
        let (config, config_file) = crate::config::load(cli.config.as_deref())?;
        let from_flag_or_env = |value: &Option<String>, var: &str| match value {
            Some(v) if std::env::var(var).ok().as_deref() == Some(v.as_str()) => {
                Some((v.clone(), Source::Env))
            }
            Some(v) => Some((v.clone(), Source::Flag)),
            None => None,
        };
        let (url, url_source) = from_flag_or_env(&cli.store, "POND_STORE")
            .or_else(|| config.store.url.clone().map(|u| (u, Source::File)))
            .unwrap_or_else(|| {
                (
                    crate::paths::default_store_dir().display().to_string(),
                    Source::Default,
                )
            });
        let location = StoreLocation::parse(&url)?.with_options(config.store.options.clone());
        let (host, host_source) = from_flag_or_env(&cli.host, "POND_HOST")
            .filter(|(h, _)| !h.trim().is_empty())
            .or_else(|| {
                config
                    .host
                    .clone()
                    .filter(|h| !h.trim().is_empty())
                    .map(|h| (h, Source::File))
            })
            .map(|(h, s)| (h.trim().to_string(), s))
            .unwrap_or_else(|| {
                let h = hostname::get()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| "unknown-host".to_string());
                (h, Source::Default)
            });
        let ephemeral_group = cli
            .ephemeral
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string);
        let mut provenance = vec![
            Setting::new(
                "config_file",
                config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| {
                        format!("{} (absent)", crate::config::default_path().display())
                    }),
                if cli.config.is_some() {
                    Source::Flag
                } else {
                    Source::Default
                },
            ),
            Setting::new("store", location.display.clone(), url_source),
            Setting::new("host", host.clone(), host_source),
            Setting::new(
                "ephemeral",
                ephemeral_group.clone().unwrap_or_else(|| "no".into()),
                match from_flag_or_env(&cli.ephemeral, "POND_EPHEMERAL") {
                    Some((_, source)) => source,
                    None => Source::Default,
                },
            ),
            Setting::new(
                "state_dir",
                crate::paths::state_dir().display().to_string(),
                if std::env::var_os("XDG_STATE_HOME").is_some() {
                    Source::Env
                } else {
                    Source::Default
                },
            ),
        ];
        for (key, value) in &config.store.options {
            provenance.push(Setting::new(
                &format!("store.options.{key}"),
                config_show::mask(key, value),
                Source::File,
            ));
        }
        provenance.extend(config_show::telemetry_settings(&config.telemetry));
        provenance.push(Setting::new(
            "redact.at_ingest",
            config.redact.at_ingest.to_string(),
            if config.redact.at_ingest {
                Source::File
            } else {
                Source::Default
            },
        ));
        provenance.push(Setting::new(
            "tokens",
            format!("{} (names: see `pond token list`)", config.tokens.len()),
            if config.tokens.is_empty() {
                Source::Default
            } else {
                Source::File
            },
        ));
        let upkeep = UpkeepSettings::resolve(&config.upkeep)?;
        provenance.push(Setting::new(
            "upkeep",
            format!(
                "retain {}, due every {} or after {} commits",
                humantime::format_duration(upkeep.retain),
                humantime::format_duration(upkeep.policy.every),
                upkeep.policy.after_commits
            ),
            Source::Default,
        ));
        let model = crate::embed::ModelChoice::resolve(config.search.model.as_deref());
        provenance.push(Setting::new(
            "search.model",
            model.describe(),
            if std::env::var_os("POND_EMBED_MODEL").is_some() {
                Source::Env
            } else if config.search.model.is_some() {
                Source::File
            } else {
                Source::Default
            },
        ));
        Ok(Context {
            location,
            host_flag: matches!(host_source, Source::Flag).then(|| host.clone()),
            ephemeral_group,
            host,
            telemetry: config.telemetry,
            provenance,
            embedder: std::sync::Arc::new(crate::embed::Lazy::new(model)),
            config_path: config_file
                .or_else(|| cli.config.clone())
                .unwrap_or_else(crate::config::default_path),
            tokens: config.tokens,
            redact_at_ingest: config.redact.at_ingest,
            upkeep,
        })
    }
}

/// Runs the command with logging and telemetry set up, and flushes
/// telemetry before returning, whatever the outcome.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Context::from_cli(&cli)?;
    let verbosity = if cli.quiet {
        -1
    } else {
        cli.verbose.min(2) as i8
    };
    let telemetry = crate::telemetry::init(
        verbosity,
        cli.log_format,
        &ctx.telemetry,
        &[
            opentelemetry::KeyValue::new("host.name", ctx.host.clone()),
            opentelemetry::KeyValue::new("pond.store", ctx.location.display.clone()),
        ],
    );
    let result = run_command(&ctx, cli.command).await;
    telemetry.shutdown();
    result
}

async fn run_command(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    use tracing::Instrument;
    // Sync and agent rounds make their own root span per run.
    let span = |name: &'static str| tracing::info_span!("pond", command = name, host = %ctx.host, store = %ctx.location.display);
    match command {
        Command::Sync(args) => sync::run(ctx, args).await,
        Command::Agent(args) => agent::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).instrument(span("status")).await,
        Command::Sessions(args) => sessions::run(ctx, args).instrument(span("sessions")).await,
        Command::Show(args) => show::run(ctx, args).instrument(span("show")).await,
        Command::Search(args) => search::run(ctx, args).instrument(span("search")).await,
        Command::Model(command) => model::run(ctx, command).instrument(span("model")).await,
        Command::Export(args) => export::run(ctx, args).instrument(span("export")).await,
        Command::Repair(args) => repair::run(ctx, args).instrument(span("repair")).await,
        Command::Maintain(args) => maintain::run(ctx, args).instrument(span("maintain")).await,
        Command::Erase(args) => erase::run(ctx, args).instrument(span("erase")).await,
        Command::Resume(args) => resume::run(ctx, args).instrument(span("resume")).await,
        Command::Adapters(args) => span("adapters").in_scope(|| adapters::run(args)),
        Command::Mcp(args) => serve::mcp(ctx, args).instrument(span("mcp")).await,
        Command::Serve(args) => serve::serve(ctx, args).await,
        Command::Metrics(args) => serve::metrics(ctx, args).await,
        Command::Token(command) => span("token").in_scope(|| token::run(ctx, command)),
        Command::Config(ConfigCommand::Show { json }) => config_show::run(ctx, json),
        Command::Schedule(args) => schedule::run(ctx, args).instrument(span("schedule")).await,
        Command::Storage(StorageCommand::Check(args)) => {
            storage::check(ctx, args)
                .instrument(span("storage check"))
                .await
        }
    }
}
