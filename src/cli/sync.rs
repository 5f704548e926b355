//! `pond sync`: take the host lock, check the store, run the pipeline, record
//! the run locally and in the shared store, print it.
//!
//! [`round`] is one complete sync as the agent also runs it.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context as _;
use anyhow::bail;

use super::{Context, SyncArgs, output};
use crate::adapters::{self, Adapter};
use crate::store::probe::{self, Verdict};
use crate::store::{OpenMode, Store, StoreError, StoreLocation};
use crate::sync::lock::{self, Acquired};
use crate::sync::report::{Outcome, SyncReport, write_last_sync};
use crate::sync::{DEFAULT_BATCH_BYTES, SyncOptions};

/// What one sync round needs beyond the shared [`Context`].
pub struct RoundSpec {
    pub adapter: Option<String>,
    pub path: Option<std::path::PathBuf>,
    pub no_wait: bool,
    pub dry_run: bool,
    pub allow_unsafe_store: bool,
    /// Print progress lines on stderr.
    pub progress: bool,
    /// Run store upkeep after the sync when it is due.
    pub upkeep: bool,
}

pub async fn run(ctx: &Context, args: SyncArgs) -> anyhow::Result<ExitCode> {
    if let Some(server) = args.to.clone() {
        return push(ctx, args, server).await;
    }
    let spec = RoundSpec {
        adapter: args.adapter,
        path: args.path,
        no_wait: args.no_wait,
        dry_run: args.dry_run,
        allow_unsafe_store: args.allow_unsafe_store,
        progress: !args.output.json && std::io::stderr().is_terminal(),
        upkeep: args.upkeep,
    };
    let report = round(ctx, &spec).await?;
    if args.output.json {
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

/// Selects adapters; errors only for bad arguments.
pub fn select_adapters(
    adapter: Option<&str>,
    path_given: bool,
) -> anyhow::Result<Vec<Box<dyn Adapter>>> {
    Ok(match adapter {
        Some(name) => match adapters::by_name(name) {
            Some(a) => vec![a],
            None => bail!(
                "unknown adapter `{name}`; known: {}",
                adapters::names().join(", ")
            ),
        },
        None if path_given => {
            bail!("--path needs an ADAPTER, e.g. `pond sync claude-code --path DIR`")
        }
        None => adapters::all(),
    })
}

/// One sync: lock, store check, pipeline, records. Failures of the sync itself
/// are in the returned report; `Err` is reserved for bad arguments and a lock
/// file that cannot be opened at all. Each round is a root span of its own
/// and adds to the sync metrics.
pub async fn round(ctx: &Context, spec: &RoundSpec) -> anyhow::Result<SyncReport> {
    use tracing::Instrument;
    use tracing::field::Empty;
    // Rule 18: each sync is one trace under a root `pond.sync` span holding the
    // report's outcome, error and counts; its metrics follow from the same report.
    let span = tracing::info_span!(
        parent: None,
        "pond.sync",
        host = %ctx.host,
        store = %ctx.location.display,
        adapter = spec.adapter.as_deref().unwrap_or("all"),
        outcome = Empty,
        error = Empty,
        sessions_inserted = Empty,
        messages_inserted = Empty,
        records_inserted = Empty,
        bytes_read = Empty,
        commit_retries = Empty,
        unparsed_records = Empty,
    );
    let report = round_inner(ctx, spec).instrument(span.clone()).await?;
    span.record("outcome", report.outcome.as_str());
    if let Some(e) = &report.error {
        span.record("error", e.as_str());
    }
    span.record("sessions_inserted", report.sessions_inserted);
    span.record("messages_inserted", report.messages_inserted);
    span.record("records_inserted", report.records_inserted);
    span.record("bytes_read", report.bytes_read);
    span.record("commit_retries", report.commit_retries);
    span.record("unparsed_records", report.unparsed_records);
    crate::telemetry::record_sync(&report);
    crate::telemetry::record_usage(&report, &ctx.prices);
    Ok(report)
}

async fn round_inner(ctx: &Context, spec: &RoundSpec) -> anyhow::Result<SyncReport> {
    let selected = select_adapters(spec.adapter.as_deref(), spec.path.is_some())?;
    let names = selected.iter().map(|a| a.name().to_string()).collect();
    let state_dir = crate::paths::state_dir();
    let lock_path = lock::lock_path(&state_dir, &ctx.location.key);
    let mut waited = false;
    let host_lock = match lock::acquire(&lock_path, spec.no_wait, |holder| {
        waited = true;
        let who = holder
            .map(|h| format!("pid {} (since {})", h.pid, h.started_at.format("%H:%M:%S")))
            .unwrap_or_else(|| "another process".to_string());
        eprintln!("pond: waiting for the sync already running on this host: {who}");
    })? {
        Acquired::Locked(l) => l,
        // Rule 7: with `--no-wait` a busy lock ends the run as `skipped`, exit 0.
        Acquired::Busy(holder) => {
            let mut report = SyncReport::new(&ctx.location.display, &ctx.host, names, spec.dry_run);
            report.outcome = Outcome::Skipped;
            let who = holder
                .map(|h| format!("pid {}", h.pid))
                .unwrap_or_else(|| "another process".into());
            report.error = Some(format!(
                "another sync of this store is running on this host ({who})"
            ));
            report.finish(None);
            return Ok(report);
        }
    };

    // Held for the whole run: a push started meanwhile waits for it.
    let no_push = lock::hold_unless_pushing(&state_dir);
    let opts = SyncOptions {
        adapters: selected.into_iter().map(std::sync::Arc::from).collect(),
        path: spec.path.clone(),
        host: ctx.host.clone(),
        dry_run: spec.dry_run,
        state_dir: state_dir.clone(),
        batch_bytes: DEFAULT_BATCH_BYTES,
        embedder: ctx.embedder.clone(),
        origin_root: None,
        redact: ctx.redact_at_ingest,
        // Only a lock the kernel really holds keeps other syncs of this
        // host's files away (rule 7), and only while no push of this host
        // runs (rule 37); otherwise every write is keyed.
        host_locked: host_lock.is_held() && no_push.is_some(),
        host_limit: None,
    };
    let mut report = SyncReport::new(&ctx.location.display, &ctx.host, names, spec.dry_run);
    report.waited_for_lock = waited;
    report.ephemeral_group = ctx.ephemeral_group.clone();
    let show = spec.progress;
    let progress = |line: &str| {
        if show {
            eprintln!("{line}");
        }
    };
    let mut opened = None;
    let result = async {
        let store = open_for_sync(&ctx.location, spec.dry_run, spec.allow_unsafe_store).await?;
        let store = opened.insert(store);
        crate::sync::run(store, &opts, &mut report, &progress).await?;
        anyhow::Ok(())
    }
    .await;
    if let Some(store) = &opened {
        report.commit_retries = store.retries();
        report.commit_conflicts = store.conflicts();
    }
    report.finish(result.err().map(|e| format!("{e:#}")));

    if !spec.dry_run {
        // Rule 16: every run that ran is recorded in the shared store; if that
        // fails, the local record says so in `shared_record_error`.
        report.shared_record_error = match &opened {
            Some(store) => {
                use tracing::Instrument;
                store
                    .record_run(&report.run_row())
                    .instrument(tracing::info_span!("fleet.record"))
                    .await
                    .err()
                    .map(|e| e.to_string())
            }
            None => Some(
                "the store could not be opened, so this run is recorded on this host only".into(),
            ),
        };
        if spec.upkeep
            && matches!(report.outcome, Outcome::Ok | Outcome::Partial)
            && let Some(store) = &opened
        {
            report.upkeep = Some(super::maintain::when_due(ctx, store, &progress).await);
        }
        if let Some(store) = &opened {
            store.finish_writes().await;
        }
        // Rule 8: every run that ran, failed ones included, leaves its last-sync record.
        if let Err(e) = write_last_sync(&state_dir, &ctx.location.key, &report) {
            eprintln!("pond: warning: cannot write the last-sync record: {e}");
        }
    }
    Ok(report)
}

/// Opens the store for a sync. Remote stores are probed first: one without
/// conditional put would lose commits silently, so it is refused unless the
/// user insists. A dry run must not create a store; against one that does not
/// exist yet it compares with an empty in-memory store.
async fn open_for_sync(
    location: &StoreLocation,
    dry_run: bool,
    allow_unsafe: bool,
) -> anyhow::Result<Store> {
    refuse_unsafe_store(location, allow_unsafe).await?;
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

/// Probes a remote store before anything writes to it (rule 13): one
/// without conditional put would silently lose concurrent commits, so it is
/// refused unless the user insists. `pond sync` and `pond serve`'s ingest
/// both write, and both come through here.
pub(super) async fn refuse_unsafe_store(
    location: &StoreLocation,
    allow_unsafe: bool,
) -> anyhow::Result<()> {
    if location.is_remote() && !probe::recently_safe(&crate::paths::state_dir(), location) {
        let probe = probe::probe(location).await;
        probe::remember(&crate::paths::state_dir(), location, &probe);
        let failed = probe
            .checks
            .iter()
            .find(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail));
        // Rule 13: a remote store without conditional put is refused unless
        // `--allow-unsafe-store`; an unusable one fails the sync with the cause.
        match probe.verdict {
            Verdict::Safe => {}
            Verdict::NoConditionalPut if allow_unsafe => {
                tracing::warn!(
                    "{} lacks conditional put; syncing anyway as asked",
                    location.display
                );
            }
            Verdict::NoConditionalPut => bail!(
                "refusing {}: it does not support conditional put, so concurrent syncs would silently lose data \
                 (`pond storage check` explains; --allow-unsafe-store overrides)",
                location.display
            ),
            verdict => bail!(
                "store {} is not usable ({verdict:?}): {}",
                location.display,
                failed.unwrap_or_default()
            ),
        }
    }
    Ok(())
}

pub fn print_human(r: &SyncReport) {
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
    let failed = report
        .runs
        .iter()
        .any(|r| r.get("outcome").and_then(|o| o.as_str()) == Some("failed"));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
