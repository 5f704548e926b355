//! Command-line surface: argument types and one handler module per command.
//!
//! `main.rs` only parses these and calls [`dispatch`]; each handler turns the
//! library's results into text or `--json` and an exit code.

mod adapters;
mod export;
mod output;
mod sessions;
mod show;
mod status;
mod sync;

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
    /// Name this host records in synced rows (default: the system host name).
    #[arg(long, global = true, env = "POND_HOST")]
    pub host: Option<String>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
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
    /// Print a session as a readable transcript.
    Show(ShowArgs),
    /// Write a session's source files back, byte for byte.
    Export(ExportArgs),
    /// List the supported clients and where their sessions live here.
    Adapters(AdaptersArgs),
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
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
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
}

impl Context {
    fn from_cli(cli: &Cli) -> anyhow::Result<Context> {
        let location = match &cli.store {
            Some(s) => StoreLocation::parse(s)?,
            None => StoreLocation::parse(&crate::paths::default_store_dir().display().to_string())?,
        };
        let host = match &cli.host {
            Some(h) if !h.trim().is_empty() => h.trim().to_string(),
            _ => hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown-host".to_string()),
        };
        Ok(Context { location, host })
    }
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "pond=info,warn",
        _ => "pond=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("POND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Context::from_cli(&cli)?;
    match cli.command {
        Command::Sync(args) => sync::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Sessions(args) => sessions::run(&ctx, args).await,
        Command::Show(args) => show::run(&ctx, args).await,
        Command::Export(args) => export::run(&ctx, args).await,
        Command::Adapters(args) => adapters::run(args),
    }
}
