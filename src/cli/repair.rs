//! `pond repair`: closes gaps between the raw records and what is derived
//! from them, in a store written before raw records were committed last.

use std::process::ExitCode;

use super::{Context, RepairArgs, output};
use crate::store::{OpenMode, Store};
use crate::sync::repair::{self, RepairOptions};
use crate::sync::scoping;

pub async fn run(ctx: &Context, args: RepairArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let opts = RepairOptions {
        host: ctx.host.clone(),
        dry_run: args.dry_run,
        embedder: ctx.embedder.clone(),
    };
    let quiet = args.output.json;
    let progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    // A repair that writes also scopes keys an older pond wrote (rule 40).
    let report = if args.dry_run {
        repair::run(&store, &opts, &progress).await
    } else {
        scoping::run(&store, &opts, &progress).await
    };
    store.finish_writes().await;
    let report = report?;
    if args.output.json {
        output::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for gap in &report.gaps {
        println!(
            "{} ({}, {}): {} sessions and {} messages missing",
            gap.rel_path,
            gap.client,
            gap.host,
            gap.sessions_missing.len(),
            gap.messages_missing
        );
    }
    for problem in &report.problems {
        println!("not checked: {problem}");
    }
    if let Some(scoping) = &report.scoping
        && scoping.rewritten() + scoping.counts_corrected > 0
    {
        println!(
            "scoped the keys of {} sessions and {} messages by client; {} message counts corrected",
            scoping.sessions, scoping.messages, scoping.counts_corrected
        );
    }
    if report.dry_run {
        println!(
            "checked {} files: {} with gaps ({} sessions, {} messages, {} calls' usage missing); nothing written (--dry-run)",
            report.files_checked,
            report.files_with_gaps,
            report.sessions_missing,
            report.messages_missing,
            report.usage_calls_missing
        );
    } else {
        println!(
            "checked {} files: {} with gaps; restored {} sessions, {} messages, {} search rows, {} calls' usage",
            report.files_checked,
            report.files_with_gaps,
            report.sessions_restored,
            report.messages_restored,
            report.search_rows_restored,
            report.usage_calls_restored
        );
    }
    Ok(ExitCode::SUCCESS)
}
