//! `pond sync`: take the host lock, run the pipeline, record and print the run.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::bail;

use super::{Context, SyncArgs, output};
use crate::adapters;
use crate::store::{OpenMode, Store, StoreError, StoreLocation};
use crate::sync::lock::{self, Acquired};
use crate::sync::report::{Outcome, SyncReport, write_last_sync};
use crate::sync::{DEFAULT_BATCH_BYTES, SyncOptions};

pub async fn run(ctx: &Context, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let selected = match &args.adapter {
        Some(name) => match adapters::by_name(name) {
            Some(a) => vec![a],
            None => bail!(
                "unknown adapter `{name}`; known: {}",
                adapters::names().join(", ")
            ),
        },
        None if args.path.is_some() => {
            bail!("--path needs an ADAPTER, e.g. `pond sync claude-code --path DIR`")
        }
        None => adapters::all(),
    };
    let names = selected.iter().map(|a| a.name().to_string()).collect();
    let state_dir = crate::paths::state_dir();
    let lock_path = lock::lock_path(&state_dir, &ctx.location.key);
    let quiet = args.json;
    let _lock = match lock::acquire(&lock_path, args.no_wait, |holder| {
        let who = holder
            .map(|h| format!("pid {} (since {})", h.pid, h.started_at.format("%H:%M:%S")))
            .unwrap_or_else(|| "another process".to_string());
        eprintln!("pond: waiting for the sync already running on this host: {who}");
    })? {
        Acquired::Locked(l) => l,
        Acquired::Busy(holder) => {
            let mut report = SyncReport::new(&ctx.location.display, &ctx.host, names, args.dry_run);
            report.outcome = Outcome::Skipped;
            let who = holder
                .map(|h| format!("pid {}", h.pid))
                .unwrap_or_else(|| "another process".into());
            report.error = Some(format!(
                "another sync of this store is running here ({who})"
            ));
            report.finish(None);
            if args.json {
                output::print_json(&report)?;
            } else {
                println!("skipped: another sync of this store is running on this host ({who})");
            }
            return Ok(ExitCode::SUCCESS);
        }
    };

    let opts = SyncOptions {
        adapters: selected,
        path: args.path.clone(),
        host: ctx.host.clone(),
        dry_run: args.dry_run,
        state_dir: state_dir.clone(),
        batch_bytes: DEFAULT_BATCH_BYTES,
    };
    let mut report = SyncReport::new(&ctx.location.display, &ctx.host, names, args.dry_run);
    let show_progress = !quiet && std::io::stderr().is_terminal();
    let progress = |line: &str| {
        if show_progress {
            eprintln!("{line}");
        }
    };
    let result = async {
        let store = open_for_sync(&ctx.location, args.dry_run).await?;
        crate::sync::run(&store, &opts, &mut report, &progress).await?;
        anyhow::Ok(())
    }
    .await;
    report.finish(result.err().map(|e| format!("{e:#}")));

    if !args.dry_run
        && let Err(e) = write_last_sync(&state_dir, &ctx.location.key, &report)
    {
        eprintln!("pond: warning: cannot write the last-sync record: {e}");
    }
    if args.json {
        output::print_json(&report)?;
    } else {
        print_human(&report);
    }
    Ok(if report.outcome == Outcome::Failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A dry run must not create a store; against one that does not exist yet it
/// compares with an empty in-memory store, so everything counts as new.
async fn open_for_sync(location: &StoreLocation, dry_run: bool) -> anyhow::Result<Store> {
    if !dry_run {
        return Ok(Store::open(location, OpenMode::Create).await?);
    }
    match Store::open(location, OpenMode::Existing).await {
        Err(StoreError::NotFound(_)) => {
            Ok(Store::open(&StoreLocation::parse("memory://dry-run")?, OpenMode::Create).await?)
        }
        other => Ok(other?),
    }
}

fn print_human(r: &SyncReport) {
    let verb = if r.dry_run {
        "would insert"
    } else {
        "inserted"
    };
    match r.outcome {
        Outcome::Failed => println!(
            "sync FAILED after {:.2}s: {}",
            r.duration_secs,
            r.error.as_deref().unwrap_or("")
        ),
        _ => println!(
            "sync {} in {:.2}s: {} files scanned, {} changed ({} rewritten), {} bytes read",
            match r.outcome {
                Outcome::Partial => "finished with problems",
                _ => "ok",
            },
            r.duration_secs,
            r.files_scanned,
            r.files_changed,
            r.files_rewritten,
            r.bytes_read
        ),
    }
    println!(
        "  {verb}: {} sessions ({} updated), {} messages, {} raw records in {} commits",
        r.sessions_inserted, r.sessions_updated, r.messages_inserted, r.records_inserted, r.commits
    );
    if r.unparsed_records + r.unknown_records > 0 {
        println!(
            "  kept as raw only: {} unparsed (invalid JSON), {} of unknown type",
            r.unparsed_records, r.unknown_records
        );
    }
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
