//! One sync round, as `pond sync`, `pond agent` and the ingest server all
//! run it: take the host's lock, check and open the store, run the
//! pipeline, record the run in the shared store and on this host, send its
//! metrics, and run store upkeep when it is due. The CLI only parses and
//! prints; the server, which holds no host lock and has its store open,
//! joins at [`finish`] and [`observe`], so a sync's walk goes down to the
//! store and comes back one way.

use std::sync::Arc;

use anyhow::bail;

use crate::adapter::Adapter;
use crate::embed;
use crate::registry;
use crate::spend::PriceTable;
use crate::store::reach::probe::{self, Verdict};
use crate::store::{OpenMode, Store, StoreError, StoreLocation};
use crate::sync::lock::{self, Acquired};
use crate::sync::report::{Outcome, SyncReport, write_last_sync};
use crate::sync::{DEFAULT_BATCH_BYTES, SyncOptions};
use crate::upkeep::{self, UpkeepOptions, UpkeepSettings};

/// The host a round runs for, as its configuration resolved it.
pub struct Host<'a> {
    pub location: &'a StoreLocation,
    /// This host's name in the store.
    pub name: &'a str,
    pub embedder: Arc<embed::Lazy>,
    /// `[redact] at_ingest`.
    pub redact_at_ingest: bool,
    /// The group an ephemeral host (a CI job) is counted in.
    pub ephemeral_group: Option<String>,
    pub prices: &'a PriceTable,
    pub upkeep: &'a UpkeepSettings,
    /// The person each sync records for this host (`[usage] record_user`).
    pub user: Option<String>,
}

/// What one round is asked to do.
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

/// Selects adapters; errors only for bad arguments.
pub fn select_adapters(
    adapter: Option<&str>,
    path_given: bool,
) -> anyhow::Result<Vec<Box<dyn Adapter>>> {
    Ok(match adapter {
        Some(name) => match registry::by_name(name) {
            Some(a) => vec![a],
            None => bail!(
                "unknown adapter `{name}`; known: {}",
                registry::names().join(", ")
            ),
        },
        None if path_given => {
            bail!("--path needs an ADAPTER, e.g. `pond sync claude-code --path DIR`")
        }
        None => registry::all(),
    })
}

/// One sync: lock, store check, pipeline, records. Failures of the sync itself
/// are in the returned report; `Err` is reserved for bad arguments and a lock
/// file that cannot be opened at all. Each round is a root span of its own
/// and adds to the sync metrics.
pub async fn run(host: &Host<'_>, spec: &RoundSpec) -> anyhow::Result<SyncReport> {
    use tracing::Instrument;
    use tracing::field::Empty;
    // Rule 18: each sync is one trace under a root `pond.sync` span holding the
    // report's outcome, error and counts; its metrics follow from the same report.
    let span = tracing::info_span!(
        parent: None,
        "pond.sync",
        host = %host.name,
        store = %host.location.display,
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
    let report = round_inner(host, spec).instrument(span.clone()).await?;
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
    observe(&report, host.prices);
    Ok(report)
}

async fn round_inner(host: &Host<'_>, spec: &RoundSpec) -> anyhow::Result<SyncReport> {
    let selected = select_adapters(spec.adapter.as_deref(), spec.path.is_some())?;
    let names = selected.iter().map(|a| a.name().to_string()).collect();
    let state_dir = crate::paths::state_dir();
    let (host_lock, waited) = match take_host_lock(host, spec, &state_dir)? {
        Ok(taken) => taken,
        // Rule 7: with `--no-wait` a busy lock ends the run as `skipped`, exit 0.
        Err(who) => {
            let mut report =
                SyncReport::new(&host.location.display, host.name, names, spec.dry_run);
            report.outcome = Outcome::Skipped;
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
        host: host.name.to_string(),
        dry_run: spec.dry_run,
        state_dir: state_dir.clone(),
        batch_bytes: DEFAULT_BATCH_BYTES,
        embedder: host.embedder.clone(),
        origin_root: None,
        redact: host.redact_at_ingest,
        // Only a lock the kernel really holds keeps other syncs of this
        // host's files away (rule 7), and only while no push of this host
        // runs (rule 37); otherwise every write is keyed.
        host_locked: host_lock.is_held() && no_push.is_some(),
        host_limit: None,
    };
    let mut report = SyncReport::new(&host.location.display, host.name, names, spec.dry_run);
    report.waited_for_lock = waited;
    report.ephemeral_group = host.ephemeral_group.clone();
    let show = spec.progress;
    let progress = |line: &str| {
        if show {
            eprintln!("{line}");
        }
    };
    let mut opened = None;
    let result = async {
        let store = open_for_sync(host.location, spec.dry_run, spec.allow_unsafe_store).await?;
        let store = opened.insert(store);
        crate::sync::run(store, &opts, &mut report, &progress).await?;
        anyhow::Ok(())
    }
    .await;
    let result = result.map_err(|e| format!("{e:#}"));
    finish(opened.as_ref(), &mut report, result, !spec.dry_run).await;
    if !spec.dry_run {
        if spec.upkeep
            && matches!(report.outcome, Outcome::Ok | Outcome::Partial)
            && let Some(store) = &opened
        {
            report.upkeep = Some(upkeep_when_due(host, store, &progress).await);
        }
        if let Some(store) = &opened {
            if let Some(user) = &host.user
                && matches!(report.outcome, Outcome::Ok | Outcome::Partial)
            {
                crate::spend::people::record(store, host.name, user).await;
            }
            store.finish_writes().await;
        }
        // Rule 8: every run that ran, failed ones included, leaves its last-sync record.
        if let Err(e) = write_last_sync(&state_dir, &host.location.key, &report) {
            eprintln!("pond: warning: cannot write the last-sync record: {e}");
        }
    }
    Ok(report)
}

/// The host's single-flight lock and whether the round waited for it, or
/// (with `--no-wait`) who holds it.
fn take_host_lock(
    host: &Host<'_>,
    spec: &RoundSpec,
    state_dir: &std::path::Path,
) -> anyhow::Result<Result<(lock::SyncLock, bool), String>> {
    let lock_path = lock::lock_path(state_dir, &host.location.key);
    let mut waited = false;
    let acquired = lock::acquire(&lock_path, spec.no_wait, |holder| {
        waited = true;
        let who = holder
            .map(|h| format!("pid {} (since {})", h.pid, h.started_at.format("%H:%M:%S")))
            .unwrap_or_else(|| "another process".to_string());
        eprintln!("pond: waiting for the sync already running on this host: {who}");
    })?;
    Ok(match acquired {
        Acquired::Locked(l) => Ok((l, waited)),
        Acquired::Busy(holder) => Err(holder
            .map(|h| format!("pid {}", h.pid))
            .unwrap_or_else(|| "another process".into())),
    })
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
pub async fn refuse_unsafe_store(
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

/// Ends a run that had its chance at the store: its commit counts and
/// outcome, and (unless it only compared) its record in the shared store;
/// if that fails, or the store never opened, `shared_record_error` says so.
pub async fn finish(
    store: Option<&Store>,
    report: &mut SyncReport,
    result: Result<(), String>,
    recorded: bool,
) {
    if let Some(store) = store {
        report.commit_retries = store.retries();
        report.commit_conflicts = store.conflicts();
    }
    report.finish(result.err());
    if !recorded {
        return;
    }
    // Rule 16: every run that ran is recorded in the shared store; if that
    // fails, the local record says so in `shared_record_error`.
    report.shared_record_error = match store {
        Some(store) => {
            use tracing::Instrument;
            store
                .record_run(&report.run_row())
                .instrument(tracing::info_span!("fleet.record"))
                .await
                .err()
                .map(|e| e.to_string())
        }
        None => {
            Some("the store could not be opened, so this run is recorded on this host only".into())
        }
    };
}

/// A finished run's metrics: the sync's counts and the usage it stored.
pub fn observe(report: &SyncReport, prices: &PriceTable) {
    crate::telemetry::record_sync(report);
    crate::telemetry::record_usage(report, prices);
}

/// Runs upkeep when it is due, after a sync. Never an error: the sync's
/// own outcome stands, and a failed upkeep is retried when next due.
pub async fn upkeep_when_due(host: &Host<'_>, store: &Store, progress: &dyn Fn(&str)) -> String {
    let reason = match upkeep::due(store, &host.upkeep.policy).await {
        Ok(Some(reason)) => reason,
        Ok(None) => return "not due".into(),
        Err(e) => return format!("check failed: {e}"),
    };
    progress(&format!("store upkeep is due ({reason})"));
    let opts = UpkeepOptions {
        host: host.name.to_string(),
        retain: host.upkeep.retain,
        dry_run: false,
        lease_ttl: host.upkeep.lease_ttl,
        prune_share: upkeep::BATCHED_PRUNE_SHARE,
    };
    match upkeep_recorded(store, &opts, progress).await {
        Ok(r) if r.outcome == "busy" => format!(
            "busy: {} holds the lease",
            r.holder.map(|h| h.holder).unwrap_or_default()
        ),
        Ok(r) => format!("{} in {:.1} s ({reason})", r.outcome, r.duration_secs),
        Err(e) => {
            tracing::warn!(error = %e, "store upkeep failed");
            format!("failed: {e}")
        }
    }
}

/// One upkeep run, sent to telemetry when it did (or tried) the work: a
/// host that found the lease busy, or a dry run, changed nothing.
pub async fn upkeep_recorded(
    store: &Store,
    opts: &UpkeepOptions,
    progress: &dyn Fn(&str),
) -> Result<upkeep::UpkeepReport, upkeep::UpkeepError> {
    let report = upkeep::run(store, opts, progress).await?;
    if !matches!(report.outcome.as_str(), "busy" | "dry-run") {
        crate::telemetry::record_upkeep(&report);
    }
    Ok(report)
}
