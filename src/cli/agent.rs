//! `pond agent`: sync in a loop until told to stop.
//!
//! Built for services, containers and CI sidecars: a failed round is logged and
//! retried later (with growing pauses), never fatal; SIGTERM or SIGINT stops it
//! within seconds. A round cut short loses nothing: rows are keyed and cursors
//! advance only after their commit, so the next sync resumes where it stopped.

use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::watch;

use super::sync::print_human;
use super::{AgentArgs, Context};
use crate::round::{self, RoundSpec};
use crate::search::backlog;
use crate::store::{OpenMode, Store};
use crate::sync::lock;
use crate::sync::report::Outcome;

/// How long a round in flight may finish after a stop signal before it is abandoned.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest pause after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

pub async fn run(ctx: &Context, args: AgentArgs) -> anyhow::Result<ExitCode> {
    // Validate arguments once, so a typo fails now rather than every round.
    round::select_adapters(args.adapter.as_deref(), args.path.is_some())?;
    let stop = stop_signal()?;
    let host = ctx.round_host();
    let spec = RoundSpec {
        adapter: args.adapter.clone(),
        path: args.path.clone(),
        // A round never queues behind a manual sync; it skips and tries next time.
        no_wait: true,
        dry_run: false,
        allow_unsafe_store: args.allow_unsafe_store,
        progress: false,
        // A long-lived agent is where upkeep belongs: it runs when due.
        upkeep: true,
    };
    eprintln!(
        "pond agent: syncing {} every {} (+ up to {} jitter) as host {}",
        ctx.location.display,
        humantime::format_duration(args.every),
        humantime::format_duration(args.jitter),
        ctx.host
    );
    let mut failures: u32 = 0;
    let mut first = true;
    let mut backlog_time = Duration::ZERO;
    loop {
        let pause = if first {
            jitter(args.jitter)
        } else {
            // Time given to the backlog is part of the pause, not added to it.
            (backoff(args.every, failures) + jitter(args.jitter)).saturating_sub(backlog_time)
        };
        first = false;
        if wait_or_stop(pause, &stop).await {
            break;
        }

        let mut this_round = std::pin::pin!(round::run(&host, &spec));
        let mut stop_rx = stop.clone();
        // Rule 15: on SIGTERM or SIGINT the round in flight gets STOP_GRACE to
        // finish and is otherwise abandoned; a failed round never ends the loop.
        let finished = tokio::select! {
            r = &mut this_round => Some(r),
            _ = stop_rx.wait_for(|s| *s) => {
                eprintln!("pond agent: stopping; letting the round in flight finish (up to {}s)", STOP_GRACE.as_secs());
                match tokio::time::timeout(STOP_GRACE, &mut this_round).await {
                    Ok(r) => { report_round(r, &args, &mut failures)?; }
                    Err(_) => eprintln!("pond agent: abandoned the round in flight; the next sync resumes it"),
                }
                None
            }
        };
        match finished {
            Some(r) => report_round(r, &args, &mut failures)?,
            None => break,
        }
        let started = std::time::Instant::now();
        if failures == 0 {
            embed_backlog(ctx, args.every, &stop).await;
        }
        backlog_time = started.elapsed();
        if *stop.borrow() {
            break;
        }
    }
    eprintln!("pond agent: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Rows of a model too slow to embed while syncing (the transformer).
const BACKLOG_BATCH: usize = 64;

/// Gives the backlog the time until the next round when the model in use
/// leaves its rows to it. It takes the host's sync lock, so it never runs
/// beside a sync of the same store, and stops between batches when the next
/// round is due or a stop is asked for; what it did is kept.
async fn embed_backlog(ctx: &Context, budget: Duration, stop: &watch::Receiver<bool>) {
    let embedder = match ctx.embedder.get() {
        Ok(e) if !e.inline() => e,
        _ => return,
    };
    let lock_path = lock::lock_path(&crate::paths::state_dir(), &ctx.location.key);
    // Rule 28: the backlog embeds under the host's sync lock, never beside a sync.
    let _lock = match lock::acquire(&lock_path, true, |_| {}) {
        Ok(lock::Acquired::Locked(l)) => l,
        _ => return,
    };
    let store = match Store::open(&ctx.location, OpenMode::Existing).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pond agent: embedding backlog skipped: {e}");
            return;
        }
    };
    let deadline = std::time::Instant::now() + budget;
    let keep_going = || std::time::Instant::now() < deadline && !*stop.borrow();
    let drained = backlog::drain(
        &store,
        embedder,
        backlog::Drain {
            holder: &ctx.host,
            batch: BACKLOG_BATCH,
            progress: &|_| {},
            keep_going: &keep_going,
        },
    )
    .await;
    store.finish_writes().await;
    match drained {
        Ok(r) if r.rows > 0 => eprintln!(
            "pond agent: embedded {} backlog rows with {} in {:.0}s",
            r.rows, r.model, r.secs
        ),
        Ok(_) => {}
        Err(e) => eprintln!("pond agent: embedding backlog stopped: {e}"),
    }
}

fn report_round(
    result: anyhow::Result<crate::sync::report::SyncReport>,
    args: &AgentArgs,
    failures: &mut u32,
) -> anyhow::Result<()> {
    match result {
        Ok(report) => {
            if report.outcome == Outcome::Failed {
                *failures += 1;
            } else if report.outcome != Outcome::Skipped {
                *failures = 0;
            }
            if args.output.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_human(&report);
            }
        }
        Err(e) => {
            *failures += 1;
            eprintln!("pond agent: round failed: {e:#}");
        }
    }
    if *failures > 0 {
        eprintln!(
            "pond agent: {} failed round(s) in a row; next try in about {}",
            failures,
            humantime::format_duration(backoff(args.every, *failures))
        );
    }
    Ok(())
}

/// The pause before the next round: `every`, doubled per consecutive failure
/// (up to 16x), capped at an hour but never below `every`.
fn backoff(every: Duration, failures: u32) -> Duration {
    // Rule 15: the pause doubles per consecutive failure, up to 16×, at most an hour.
    let factor = 1u32 << failures.min(4);
    every.saturating_mul(factor).min(MAX_BACKOFF.max(every))
}

fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_millis(fastrand::u64(0..=max.as_millis() as u64))
}

/// Sleeps for `pause`; returns true if a stop signal came first.
async fn wait_or_stop(pause: Duration, stop: &watch::Receiver<bool>) -> bool {
    let mut waiter = stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(pause) => *stop.borrow(),
        _ = waiter.wait_for(|s| *s) => true,
    }
}

/// A flag that turns true on SIGTERM or SIGINT.
fn stop_signal() -> anyhow::Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        let every = Duration::from_secs(300);
        assert_eq!(backoff(every, 0), every);
        assert_eq!(backoff(every, 1), every * 2);
        assert_eq!(backoff(every, 10), Duration::from_secs(3600));
        let long = Duration::from_secs(7200);
        assert_eq!(
            backoff(long, 3),
            long,
            "never below the configured interval"
        );
    }
}
