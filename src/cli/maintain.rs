//! `pond maintain`, and the upkeep step of `pond sync --upkeep` and
//! `pond agent`.

use std::process::ExitCode;

use super::{Context, MaintainArgs, output};
use crate::store::{OpenMode, Store};
use crate::upkeep::{UpkeepOptions, UpkeepReport};

pub async fn run(ctx: &Context, args: MaintainArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let opts = UpkeepOptions {
        host: ctx.host.clone(),
        retain: args.retain.unwrap_or(ctx.upkeep.retain),
        dry_run: args.dry_run,
        lease_ttl: ctx.upkeep.lease_ttl,
        prune_share: 1,
    };
    let quiet = args.output.json;
    let progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let report = crate::round::upkeep_recorded(&store, &opts, &progress).await;
    store.finish_writes().await;
    let report = report?;
    output::print_report(args.output.json, &report, print_human)?;
    Ok(ExitCode::SUCCESS)
}

fn print_human(report: &UpkeepReport) {
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "table", "fragments", "after", "versions", "after", "unindexed", "pruned MB"
    );
    for t in &report.tables {
        let after = t.after.as_ref();
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9.1}",
            t.table,
            t.before.fragments,
            after.map_or("-".into(), |a| a.fragments.to_string()),
            t.before.versions,
            after.map_or("-".into(), |a| a.versions.to_string()),
            after.map_or(t.before.unindexed_rows, |a| a.unindexed_rows),
            t.pruned.bytes_removed as f64 / 1e6
        );
    }
    match report.outcome.as_str() {
        "busy" => {
            if let Some(h) = &report.holder {
                println!(
                    "upkeep is running on {} (lease until {}); nothing done here",
                    h.holder,
                    h.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
        "dry-run" => println!("nothing written (--dry-run)"),
        outcome => println!(
            "upkeep {outcome} in {:.1}s (versions superseded more than {} ago pruned; {} old run records trimmed)",
            report.duration_secs,
            humantime::format_duration(std::time::Duration::from_secs(report.retain_secs)),
            report.runs_trimmed
        ),
    }
    for left in &report.left {
        println!("left: {left}");
    }
}
