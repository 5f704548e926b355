//! `pond sync`: one round ([`crate::round`]) as the flags ask, printed; or,
//! with `--to`, a push of this host's files to a server.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{Context, SyncArgs, output};
use crate::round::{self, select_adapters};
use crate::sync::report::{Outcome, SyncReport};

pub async fn run(ctx: &Context, args: SyncArgs) -> anyhow::Result<ExitCode> {
    if let Some(server) = args.to.clone() {
        return push(ctx, args, server).await;
    }
    let spec = round::RoundSpec {
        adapter: args.adapter,
        path: args.path,
        no_wait: args.no_wait,
        dry_run: args.dry_run,
        allow_unsafe_store: args.allow_unsafe_store,
        progress: !args.output.json && std::io::stderr().is_terminal(),
        upkeep: args.upkeep,
    };
    let report = round::run(&ctx.round_host(), &spec).await?;
    if args.output.json {
        output::print_json(&report)?;
    } else {
        print_human(&report);
    }
    Ok(super::exit::of_sync(report.outcome))
}

pub fn print_human(r: &SyncReport) {
    let verb = if r.dry_run {
        "would insert"
    } else {
        "inserted"
    };
    match r.outcome {
        Outcome::Failed => {
            // The same plain words and next step as any failed command.
            let place = super::explain::Place {
                store: r.store.clone(),
            };
            let failure = anyhow::anyhow!(r.error.clone().unwrap_or_default());
            let explained = super::explain::explain(&failure, Some(&place));
            println!(
                "sync FAILED after {:.2}s: {}",
                r.duration_secs, explained.problem
            );
            if let Some(next) = explained.next {
                println!("  next: {next}");
            }
        }
        Outcome::Skipped => {
            println!(
                "skipped: {}",
                r.error.as_deref().unwrap_or("another sync is running")
            );
            return;
        }
        _ => println!(
            "sync {} in {:.2}s: {} files scanned, {} changed ({} rewritten), {} bytes read",
            if r.outcome == Outcome::Partial {
                "finished with problems"
            } else {
                "ok"
            },
            r.duration_secs,
            r.files_scanned,
            r.files_changed,
            r.files_rewritten,
            r.bytes_read
        ),
    }
    println!(
        "  {verb}: {} sessions ({} updated), {} messages, {} raw records in {} commits ({} retried)",
        r.sessions_inserted,
        r.sessions_updated,
        r.messages_inserted,
        r.records_inserted,
        r.commits,
        r.commit_retries
    );
    if r.search_rows_inserted > 0 {
        print_search_rows(r);
    }
    if let Some(e) = &r.index_error {
        println!("  warning: search indexes not updated (results stay complete, slower): {e}");
    }
    if r.unparsed_records + r.unknown_records > 0 {
        println!(
            "  kept as raw only: {} unparsed (invalid JSON), {} of unknown type",
            r.unparsed_records, r.unknown_records
        );
    }
    if let Some(e) = &r.shared_record_error {
        println!("  warning: run not recorded in the shared store: {e}");
    }
    print_problems(r);
}

/// The search parts the sync indexed, and where their vectors come from.
fn print_search_rows(r: &SyncReport) {
    let vectors = match (&r.embed_model, &r.embed_backlog_model) {
        (Some(model), _) => format!(
            "{} with vectors ({model}, {:.1}s)",
            r.vectors_inserted, r.embed_secs
        ),
        (None, Some(model)) => format!(
            "vectors of {model} follow from the backlog (`pond model reembed`, or `pond agent` between rounds)"
        ),
        (None, None) => "no vectors yet (no embedding model: see `pond model status`; `pond model reembed` adds them later)".to_string(),
    };
    println!(
        "  search: {} parts indexed, {vectors}",
        r.search_rows_inserted
    );
}

/// The first problems with single files or records, and how many more.
fn print_problems(r: &SyncReport) {
    const SHOWN: usize = 20;
    for p in r.errors.iter().take(SHOWN) {
        match p.line {
            Some(line) => println!("  problem: {}:{line}: {}", p.file, p.message),
            None => println!("  problem: {}: {}", p.file, p.message),
        }
    }
    if r.errors.len() > SHOWN {
        println!(
            "  … and {} more problems (see --json)",
            r.errors.len() - SHOWN
        );
    }
}

/// `pond sync --to URL`: the files go to a server, which ingests them.
async fn push(ctx: &Context, args: SyncArgs, server: url::Url) -> anyhow::Result<ExitCode> {
    // The server records a pushed run under the sending host; saying nothing
    // would quietly make each CI job a host of its own.
    if let Some(group) = &ctx.ephemeral_group {
        anyhow::bail!(
            "--ephemeral {group} cannot be carried by --to yet: the server would record each job as a host of its own; sync into the store directly (POND_STORE) from ephemeral hosts"
        );
    }
    // Rule 37: while this push runs, this host's direct syncs key every
    // write, so the server's keyed insert and a sync's append never both
    // store one file's records; a direct sync running now is waited for.
    let _pushing = crate::sync::lock::hold_for_push(&crate::paths::state_dir())
        .context("cannot take this host's push lock")?;
    let opts = crate::push::PushOptions {
        server,
        token: args.token,
        host: ctx.host.clone(),
        adapters: select_adapters(args.adapter.as_deref(), args.path.is_some())?,
        path: args.path,
        state_dir: crate::paths::state_dir(),
    };
    let show = !args.output.json && std::io::stderr().is_terminal();
    let report = crate::push::push(&opts, &|line| {
        if show {
            eprintln!("{line}");
        }
    })
    .await?;
    if args.output.json {
        output::print_json(&report)?;
    } else {
        println!(
            "pushed to {}: {} files scanned, {} sent ({} bytes); server inserted {} sessions, {} messages",
            report.server,
            report.files_scanned,
            report.files_sent,
            report.bytes_sent,
            report.sessions_inserted,
            report.messages_inserted
        );
        for p in &report.problems {
            eprintln!("pond: {p}");
        }
    }
    // The worst of the server's runs, by the same contract as a local sync.
    let outcome_of = |name| {
        report
            .runs
            .iter()
            .any(|r| r.get("outcome").and_then(|o| o.as_str()) == Some(name))
    };
    Ok(super::exit::of_sync(if outcome_of("failed") {
        Outcome::Failed
    } else if outcome_of("partial") || !report.problems.is_empty() {
        Outcome::Partial
    } else {
        Outcome::Ok
    }))
}
