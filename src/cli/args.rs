//! The argument types of every command, as clap parses them: the surface
//! `pond --help` shows, kept apart from what the commands do with it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pond",
    version,
    long_version = crate::version::LONG,
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
    /// Tokens and spend of the agents' model calls, by day, host, project,
    /// client, model or session.
    Usage(UsageArgs),
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
    /// Check everything at once: store, credentials, format, clock, state,
    /// model, clients, last sync and schedule, tokens; each with its next step.
    Doctor(JsonOutput),
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
    /// A link that shows one session, redacted, to whoever holds it, until
    /// it expires or is revoked (served by `pond serve` at /s/ID).
    Share(ShareArgs),
    /// This binary's version, commit, build date and target.
    Version(VersionArgs),
    /// A completion script for your shell, printed (the installer puts
    /// bash's, zsh's and fish's where those shells look).
    Completions(CompletionsArgs),
    /// The man page (roff), printed: `pond man | man -l -`.
    Man,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ShareArgs {
    #[command(subcommand)]
    pub command: Option<ShareCommand>,
    /// The session to share (an id or a unique prefix).
    pub session_id: Option<String>,
    /// How long the link works: 7d, 12h, ..., or `never`.
    #[arg(long, default_value = "7d", value_name = "AGE")]
    pub expires: String,
    /// Show the session as stored, secrets and all (masked by default).
    #[arg(long)]
    pub no_redact: bool,
    /// Let the link download the session's source files too.
    #[arg(long)]
    pub raw: bool,
    /// The address people reach `pond serve` at, to print the whole link
    /// (without it, the link's path is printed).
    #[arg(long, value_name = "URL", env = "POND_PUBLIC_URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Every share, newest first: session, state, views, last view.
    List {
        /// Only this session's shares.
        #[arg(long)]
        session: Option<String>,
        #[command(flatten)]
        output: JsonOutput,
    },
    /// End a share for every server (its id or its link).
    Revoke {
        id: String,
        #[command(flatten)]
        output: JsonOutput,
    },
}

#[derive(Debug, clap::Args)]
pub struct VersionArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub redaction: Redaction,
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
        /// read: search and read sessions; stats: totals only (fleet, usage,
        /// spend; no text); ingest: send session files; admin: erase.
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
        /// It may make share links (`/s/ID`) of the sessions it reads, from
        /// the session page (read tokens only).
        #[arg(long)]
        may_share: bool,
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
    /// Take time phrases ("yesterday", "last week", "in March") as words to
    /// search, not as the range they name.
    #[arg(long)]
    pub literal: bool,
    #[command(flatten)]
    pub redaction: Redaction,
    #[command(flatten)]
    pub output: JsonOutput,
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
    #[command(flatten)]
    pub output: JsonOutput,
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
    #[command(flatten)]
    pub output: JsonOutput,
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
    #[command(flatten)]
    pub output: JsonOutput,
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
    #[command(flatten)]
    pub output: JsonOutput,
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
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Every host that ever synced to this store, from the shared records.
    #[arg(long)]
    pub all_hosts: bool,
    /// With --all-hosts: a host without a successful sync this recent is stale.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub stale_after: std::time::Duration,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// Group by any of day, week, month, host, project, client, model,
    /// session, user (comma-separate to combine: `day,model`); `user` is
    /// the person each host recorded (`[usage] record_user`), else unknown.
    #[arg(long, default_value = "day")]
    pub by: String,
    /// Not before: a date (in --tz), an RFC 3339 time, or an age (7d, 12h).
    #[arg(long)]
    pub since: Option<String>,
    /// Not after: same forms as --since (a date counts to its end).
    #[arg(long)]
    pub until: Option<String>,
    /// Only sessions whose working directory contains this (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub project: Vec<String>,
    /// Only these clients (repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub client: Vec<String>,
    // `--host NAME` (the global flag) filters by host here, as for search.
    /// The time zone days, weeks and months are counted in (IANA name).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    /// Only sessions of this client.
    #[arg(long)]
    pub client: Option<String>,
    /// At most this many sessions.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Session id (a unique prefix is enough).
    pub session_id: String,
    /// Print tool output in full instead of its first lines.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub redaction: Redaction,
    #[command(flatten)]
    pub output: JsonOutput,
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
    #[command(flatten)]
    pub redaction: Redaction,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// Report the gaps without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("form").required(true).args(["raw", "format"]))]
pub struct ExportArgs {
    /// Session id (a unique prefix is enough).
    pub session_id: String,
    /// Write the original source bytes, as the client wrote them, to continue
    /// the session or keep it (needs --out DIR).
    #[arg(long, requires = "out")]
    pub raw: bool,
    /// Write a document to read instead: Markdown, or one self-contained
    /// HTML file (styles and images inside, no script, no network).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<crate::transcript::Format>,
    /// With --raw, the directory to write into (files land at their path
    /// relative to their sync root); with --format, the file to write
    /// (standard output without it).
    #[arg(long, value_name = "DIR|FILE")]
    pub out: Option<PathBuf>,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub redaction: Redaction,
    #[command(flatten)]
    pub output: JsonOutput,
}

#[derive(Debug, clap::Args)]
pub struct AdaptersArgs {
    #[command(flatten)]
    pub output: JsonOutput,
}

/// `--json`, the same on every command that has it: one JSON document on
/// stdout instead of text, a contract scripts may rely on (rule 22).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct JsonOutput {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--redact`, the same on every command that prints or writes sessions.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Redaction {
    /// Mask secrets (API keys, tokens, private keys, passwords) in what is
    /// printed or written; written files are then no longer byte-exact.
    #[arg(long)]
    pub redact: bool,
}
