//! `pond erase`: resolves the selection, shows what would go, asks, and
//! prints what went.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::{Context, EraseArgs, output};
use crate::erase::{self, EraseOptions, EraseReport, Selection};
use crate::store::{OpenMode, Store};

pub async fn run(ctx: &Context, args: EraseArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let result = run_on(ctx, args, &store).await;
    store.finish_writes().await;
    result
}

async fn run_on(ctx: &Context, args: EraseArgs, store: &Store) -> anyhow::Result<ExitCode> {
    let opts = EraseOptions {
        // `--host` selects sessions here; the record names the host erasing.
        host: if ctx.host_flag.is_some() {
            system_host()
        } else {
            ctx.host.clone()
        },
        user: user_name(),
        now: args.now,
        lease_ttl: ctx.upkeep.lease_ttl,
    };
    if args.log {
        return print_log(store, args.output.json).await;
    }
    if args.forget_tombstone {
        return forget(store, &args, &opts).await;
    }
    let selection = selection(ctx, &args, store).await?;
    let plan = erase::plan(store, &selection).await?;
    if args.dry_run || plan.sessions.is_empty() {
        let report = erase::preview(&selection, plan);
        if args.output.json {
            output::print_json(&report)?;
        } else {
            print_plan(&report);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes && !confirmed(&selection, &plan)? {
        eprintln!("nothing erased");
        return Ok(ExitCode::from(1));
    }
    let quiet = args.output.json;
    let progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let mut report = erase::execute(store, &selection, plan, &opts, &progress).await?;
    if report.outcome == "erased" {
        report.spool = Some(purge_spool(store).await?);
    }
    if args.output.json {
        output::print_json(&report)?;
    } else {
        print_done(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// What the arguments select: the sessions named (resolved by id prefix),
/// and the filters.
async fn selection(ctx: &Context, args: &EraseArgs, store: &Store) -> anyhow::Result<Selection> {
    let mut sessions = Vec::new();
    for given in &args.sessions {
        sessions.push(erase::resolve_session(store, given).await?);
    }
    Ok(Selection {
        sessions,
        project: args.project.clone(),
        host: ctx.host_flag.clone(),
        client: args.client.clone(),
        before: args
            .before
            .as_deref()
            .map(|b| crate::search::filters::parse_time(b, chrono::Utc::now()))
            .transpose()?,
        without_children: args.without_children,
    })
}

/// Whether the person at the terminal confirms the plan; off a terminal
/// nothing is erased without `--yes`.
fn confirmed(selection: &Selection, plan: &erase::ErasePlan) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "pond erase removes {} sessions for good; pass --yes to confirm when not on a terminal (see --dry-run)",
            plan.sessions.len()
        );
    }
    print_plan(&erase::preview(selection, plan.clone()));
    confirm(plan.sessions.len())
}

/// Rule 44: a `pond serve` on this machine keeps copies of pushed files
/// outside the store; they go now (a running server would also notice the
/// tombstones within seconds).
async fn purge_spool(store: &Store) -> anyhow::Result<crate::spool::SpoolPurge> {
    let erased = store.erased_sessions().await?;
    let spool = crate::spool::default_dir(&store.location().key);
    let key = store.location().key.clone();
    Ok(tokio::task::spawn_blocking(move || crate::spool::purge(&spool, &key, &erased)).await?)
}

async fn forget(store: &Store, args: &EraseArgs, opts: &EraseOptions) -> anyhow::Result<ExitCode> {
    if args.sessions.is_empty() {
        bail!("--forget-tombstone needs the ids of the erased sessions (see `pond erase --log`)");
    }
    let erased = store.erased_sessions().await?;
    let mut ids = Vec::new();
    for given in &args.sessions {
        let keys: Vec<&str> = erased.iter().map(String::as_str).collect();
        let matching: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| k.starts_with(given.as_str()) || k.contains(&format!(":{given}")))
            .collect();
        match crate::archive::choose_session(given, &matching) {
            crate::archive::Choice::One(i) => ids.push(matching[i].to_string()),
            crate::archive::Choice::None => {
                bail!("no erased session `{given}` (see `pond erase --log`)")
            }
            crate::archive::Choice::Many => bail!(
                "{}",
                crate::archive::ambiguous(given, matching.iter().map(|s| s.to_string()).collect())
            ),
        }
    }
    if !args.yes && std::io::stdin().is_terminal() {
        eprintln!(
            "lifting the tombstones of {} sessions lets every host store them again",
            ids.len()
        );
        if !confirm(ids.len())? {
            eprintln!("nothing changed");
            return Ok(ExitCode::from(1));
        }
    } else if !args.yes {
        bail!("pass --yes to confirm when not on a terminal");
    }
    let record = erase::forget(store, ids, opts).await?;
    if args.output.json {
        output::print_json(&record)?;
    } else {
        for id in &record.session_ids {
            println!("tombstone lifted: {id}");
        }
        println!("hosts that still have these sessions store them again at their next sync");
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_log(store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let log = store.erasure_log().await?;
    if json {
        output::print_json(&log)?;
        return Ok(ExitCode::SUCCESS);
    }
    if log.is_empty() {
        println!("nothing was ever erased from this store");
    }
    for e in &log {
        println!(
            "{}  {:<6}  {} sessions, {} rows  by {}@{}  ({})",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            match e.kind {
                crate::store::tables::erasures::ErasureKind::Erase => "erase",
                crate::store::tables::erasures::ErasureKind::Forget => "forget",
            },
            e.session_ids.len(),
            e.rows.total(),
            e.user,
            e.host,
            e.selection
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn confirm(sessions: usize) -> anyhow::Result<bool> {
    eprint!("erase these {sessions} sessions for good? type `yes`: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("read the confirmation")?;
    Ok(answer.trim() == "yes")
}

fn print_plan(report: &EraseReport) {
    let plan = &report.plan;
    if plan.sessions.is_empty() {
        println!("no session matches {}", report.selection);
        return;
    }
    println!("sessions ({}):", plan.sessions.len());
    for s in &plan.sessions {
        let child = if s.parent_id.is_some() {
            "  (child)"
        } else {
            ""
        };
        println!(
            "  {}  {}  {}  {}{child}",
            s.id,
            s.host,
            s.project.as_deref().unwrap_or("-"),
            output::clip(s.title.as_deref().unwrap_or(""), 50)
        );
    }
    let r = &plan.rows;
    println!(
        "rows: {} messages, {} raw records, {} search rows, {} sessions, {} redaction marks",
        r.messages, r.raw_records, r.search_rows, r.sessions, r.redactions
    );
    println!("source files ({}):", plan.files.len());
    for f in &plan.files {
        println!("  {} {} {}/{}", f.host, f.client, f.root, f.rel_path);
    }
    if !plan.copies_in.is_empty() {
        println!(
            "copies of these messages are also held by ({}), which must be erased with them:",
            plan.copies_in.len()
        );
        for id in &plan.copies_in {
            println!("  {id}");
        }
    }
    if report.outcome == "dry-run" {
        println!("nothing erased (--dry-run)");
    }
}

fn print_done(report: &EraseReport) {
    let d = &report.deleted;
    println!(
        "erased {} sessions: {} messages, {} raw records, {} search rows deleted",
        report.plan.sessions.len(),
        d.messages,
        d.raw_records,
        d.search_rows
    );
    if let Some(spool) = report.spool.as_ref().filter(|s| !s.is_empty()) {
        println!(
            "removed {} pushed file(s) from this machine's `pond serve` spool",
            spool.files_removed + spool.mirrors_removed
        );
    }
    match &report.purge {
        None => println!(
            "hosts that still have the files will not store them again; the bytes leave the store's files at the next upkeep past the retention (or run `pond erase --now`)"
        ),
        Some(p) if p.outcome == "busy" => println!(
            "upkeep is running on {}: it finishes the erasure",
            p.holder.as_deref().unwrap_or("another host")
        ),
        Some(p) => {
            let rewritten: u64 = p.tables.iter().map(|t| t.compacted.fragments_removed).sum();
            let pruned: u64 = p.tables.iter().map(|t| t.pruned.bytes_removed).sum();
            println!(
                "bytes removed ({}): {rewritten} fragments rewritten, {:.1} MB of old versions pruned, in {:.1}s",
                p.outcome,
                pruned as f64 / 1e6,
                p.duration_secs
            );
        }
    }
}

fn system_host() -> String {
    hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn user_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
