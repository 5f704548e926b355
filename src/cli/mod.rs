//! Command-line surface: argument types and one handler module per command.
//!
//! `main.rs` only parses these and calls [`dispatch`]; each handler turns the
//! library's results into text or `--json` and an exit code.

mod adapters;
mod agent;
mod args;
pub mod config_show;
mod context;
mod doctor;
mod erase;
mod exit;
pub mod explain;
mod export;
mod maintain;
mod model;
mod output;
mod repair;
mod resume;
mod schedule;
mod search;
mod self_describe;
mod serve;
mod sessions;
mod share;
mod show;
mod status;
mod storage;
mod sync;
mod token;
mod usage;

use std::process::ExitCode;

pub use args::*;
pub use context::Context;

/// Runs the command and says what became of it: its exit code, and on
/// failure an explanation a person can act on ([`explain`]).
pub async fn dispatch(cli: Cli) -> ExitCode {
    let verbose = cli.verbose > 0;
    let json = matches!(cli.log_format, crate::telemetry::LogFormat::Json);
    let (result, store) = run(cli).await;
    match result {
        Ok(code) => code,
        Err(error) => {
            let place = store.map(|store| explain::Place { store });
            explain::report(&error, place.as_ref(), verbose, json)
        }
    }
}

/// Runs the command with logging and telemetry set up, and flushes
/// telemetry before returning, whatever the outcome; gives the store it
/// looked at, for the explanation of a failure.
async fn run(cli: Cli) -> (anyhow::Result<ExitCode>, Option<String>) {
    // What the binary says of itself needs no store, config or telemetry.
    match &cli.command {
        Command::Version(args) => return (self_describe::version(args), None),
        Command::Completions(args) => return (self_describe::completions(args), None),
        Command::Man => return (self_describe::man(), None),
        _ => {}
    }
    let ctx = match Context::from_cli(&cli) {
        Ok(ctx) => ctx,
        Err(e) => return (Err(e), None),
    };
    let verbosity = if cli.quiet {
        -1
    } else {
        cli.verbose.min(2) as i8
    };
    // Rule 18: the resource names this host and the store without credentials.
    let telemetry = crate::telemetry::init(
        verbosity,
        cli.log_format,
        &ctx.telemetry,
        &[
            opentelemetry::KeyValue::new("host.name", ctx.host.clone()),
            opentelemetry::KeyValue::new("pond.store", ctx.location.display.clone()),
        ],
    );
    // A push talks to a server, not the store: no store hints for it.
    let pushing = matches!(&cli.command, Command::Sync(args) if args.to.is_some());
    let result = run_command(&ctx, cli.command).await;
    telemetry.shutdown();
    (result, (!pushing).then(|| ctx.location.display.clone()))
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
        Command::Usage(args) => usage::run(ctx, args).instrument(span("usage")).await,
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
        Command::Share(args) => share::run(ctx, args).instrument(span("share")).await,
        Command::Doctor(args) => doctor::run(ctx, args).instrument(span("doctor")).await,
        Command::Version(args) => self_describe::version(&args),
        Command::Completions(args) => self_describe::completions(&args),
        Command::Man => self_describe::man(),
        Command::Config(ConfigCommand::Show { json }) => config_show::run(ctx, json),
        Command::Schedule(args) => schedule::run(ctx, args).instrument(span("schedule")).await,
        Command::Storage(StorageCommand::Check(args)) => {
            storage::check(ctx, args)
                .instrument(span("storage check"))
                .await
        }
    }
}
