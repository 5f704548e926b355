//! `pond status`: what the store holds and how this host's syncs are going.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, StatusArgs, output};
use chrono::{DateTime, Utc};

use crate::store::tables::runs::HostRow;
use crate::store::{FORMAT_VERSION, OpenMode, Store, StoreError, TableKind};
use crate::sync::lock::{self, Holder};
use crate::sync::report::{SyncReport, read_last_sync};

#[derive(Debug, Serialize)]
struct Status {
    store: String,
    exists: bool,
    host: String,
    format_version: u32,
    sessions: u64,
    messages: u64,
    raw_records: u64,
    disk_bytes: Option<u64>,
    clients: Vec<crate::archive::ClientCount>,
    last_sync: Option<SyncReport>,
    lock_holder: Option<Holder>,
    /// Searchable parts by the model whose vectors they hold, and how many
    /// wait for the embedding backlog.
    search: Option<crate::search::backlog::VectorCensus>,
    /// Each table's shape: what upkeep keeps bounded.
    tables: Vec<crate::store::upkeep::TableHealth>,
    upkeep: Option<UpkeepStatus>,
}

#[derive(Debug, Serialize)]
struct UpkeepStatus {
    last: Option<crate::upkeep::LastUpkeep>,
    /// Who holds the upkeep lease now.
    running: Option<crate::store::upkeep::lease::LeaseRecord>,
    /// Whether it is due by the policy in effect, and why.
    due: Option<String>,
    /// Due for more than twice the interval: no host is doing it.
    overdue: bool,
    /// Write intents in the store (rule 50): sweeps keep every file younger
    /// than the oldest.
    writes_in_flight: crate::store::upkeep::sweep::WritesInFlight,
}

pub async fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<ExitCode> {
    if args.all_hosts {
        return fleet(ctx, &args).await;
    }
    let state_dir = crate::paths::state_dir();
    let mut status = Status {
        store: ctx.location.display.clone(),
        exists: false,
        host: ctx.host.clone(),
        format_version: FORMAT_VERSION,
        sessions: 0,
        messages: 0,
        raw_records: 0,
        disk_bytes: None,
        clients: Vec::new(),
        last_sync: read_last_sync(&state_dir, &ctx.location.key),
        lock_holder: lock::current_holder(&lock::lock_path(&state_dir, &ctx.location.key)),
        search: None,
        tables: Vec::new(),
        upkeep: None,
    };
    match Store::open(&ctx.location, OpenMode::Existing).await {
        Ok(store) => {
            status.exists = true;
            status.raw_records = store.count(TableKind::Raw, None).await? as u64;
            status.disk_bytes = store.disk_usage();
            status.clients = crate::archive::client_counts(&store, None).await?;
            status.sessions = status.clients.iter().map(|c| c.sessions).sum();
            status.messages = status.clients.iter().map(|c| c.messages).sum();
            status.search = Some(crate::search::backlog::census(&store).await?);
            status.tables = store.health().await?;
            status.upkeep = Some(upkeep_status(ctx, &store).await?);
        }
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }

    if args.output.json {
        output::print_json(&status)?;
    } else {
        print_human(&status);
    }
    Ok(ExitCode::SUCCESS)
}

async fn upkeep_status(ctx: &Context, store: &Store) -> Result<UpkeepStatus, StoreError> {
    let (last, running) = crate::upkeep::state(store).await?;
    let due = crate::upkeep::due(store, &ctx.upkeep.policy).await?;
    let overdue = match &last {
        Some(l) => {
            let age = (Utc::now() - l.finished_at).to_std().unwrap_or_default();
            age > 2 * ctx.upkeep.policy.every
        }
        // Never run: overdue once the store has had many commits.
        None => status_versions(store).await? > 2 * ctx.upkeep.policy.after_commits,
    };
    if let Some(l) = &last {
        crate::telemetry::record_upkeep_age(l.finished_at);
    }
    Ok(UpkeepStatus {
        last,
        running,
        due,
        overdue,
        writes_in_flight: store.writes_in_flight().await?,
    })
}

async fn status_versions(store: &Store) -> Result<u64, StoreError> {
    if store.has_table(TableKind::Messages) {
        store.table_version(TableKind::Messages).await
    } else {
        Ok(0)
    }
}

fn print_human(s: &Status) {
    println!("store:    {}", s.store);
    if !s.exists {
        println!("          (empty: run `pond sync` to fill it)");
    }
    println!("host:     {}", s.host);
    println!(
        "contents: {} sessions, {} messages, {} raw records{}",
        s.sessions,
        s.messages,
        s.raw_records,
        s.disk_bytes
            .map(|b| format!(", {:.1} MiB on disk", b as f64 / 1048576.0))
            .unwrap_or_default()
    );
    for c in &s.clients {
        println!(
            "  {:<18} {:>6} sessions {:>8} messages",
            c.client, c.sessions, c.messages
        );
    }
    match &s.last_sync {
        Some(r) => println!(
            "last sync: {} ({:?}) in {:.2}s: +{} sessions, +{} messages, +{} records{}",
            r.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
            r.outcome,
            r.duration_secs,
            r.sessions_inserted,
            r.messages_inserted,
            r.records_inserted,
            r.error
                .as_ref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default()
        ),
        None => println!("last sync: never from this host"),
    }
    if let Some(h) = &s.lock_holder {
        println!(
            "sync running: pid {} since {}",
            h.pid,
            output::time(Some(h.started_at))
        );
    }
    if let Some(census) = s.search.as_ref().filter(|c| c.parts > 0) {
        print_search(census);
    }
    if !s.tables.is_empty() {
        let (fragments, versions, unindexed) = s.tables.iter().fold((0, 0, 0), |acc, t| {
            (
                acc.0 + t.fragments,
                acc.1 + t.versions,
                acc.2 + t.unindexed_rows,
            )
        });
        println!(
            "tables:   {fragments} fragments, {versions} versions, {unindexed} rows awaiting indexes"
        );
    }
    if let Some(u) = &s.upkeep {
        print_upkeep(u);
    }
}

/// The searchable parts by model, the backlog and the fleet's drain rate.
fn print_search(census: &crate::search::backlog::VectorCensus) {
    let models: Vec<String> = census
        .by_model
        .iter()
        .map(|m| format!("{} by {}", m.parts, m.model))
        .collect();
    println!(
        "search:   {} parts; vectors: {}{}",
        census.parts,
        if models.is_empty() {
            "none".to_string()
        } else {
            models.join(", ")
        },
        if census.without_vectors > 0 {
            format!(
                "; {} waiting (`pond model reembed`, or `pond agent`)",
                census.without_vectors
            )
        } else {
            String::new()
        }
    );
    let rate = census.fleet_rate(chrono::Utc::now());
    if rate > 0.0 {
        let hosts: Vec<String> = census
            .drains
            .iter()
            .map(|d| format!("{} {:.1}/s", d.host, d.parts_per_sec()))
            .collect();
        println!(
            "backlog:  drained at {rate:.1} parts/s over the last day ({})",
            hosts.join(", ")
        );
    }
}

/// The last upkeep, whether it runs or is due, and writes in flight.
fn print_upkeep(u: &UpkeepStatus) {
    match &u.last {
        Some(l) => println!(
            "upkeep:   last {} by {} ({}, {:.1}s){}",
            l.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
            l.host,
            l.outcome,
            l.duration_secs,
            if u.overdue { "; OVERDUE" } else { "" }
        ),
        None => println!(
            "upkeep:   never run{}",
            if u.overdue { "; OVERDUE" } else { "" }
        ),
    }
    if let Some(r) = &u.running {
        println!(
            "          running on {} since {}",
            r.holder,
            output::time(Some(r.taken_at))
        );
    }
    if let Some(why) = &u.due {
        println!("          due: {why} (`pond maintain`, or any `pond agent`)");
    }
    if let Some(oldest) = u.writes_in_flight.oldest {
        println!(
            "          {} write(s) in flight, the oldest since {} (files younger than it are not swept)",
            u.writes_in_flight.count,
            output::time(Some(oldest))
        );
    }
}

#[derive(Debug, Serialize)]
struct HostStatus {
    #[serde(flatten)]
    row: HostRow,
    /// Seconds since the last successful sync (since the first run if none).
    lag_secs: i64,
    stale: bool,
}

/// A group of ephemeral hosts (CI jobs): one line however many jobs ran,
/// never stale (a job that ran once is not a host that died).
#[derive(Debug, Serialize)]
struct GroupStatus {
    group: String,
    pond_version: String,
    last_run: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
    outcome: String,
    error: Option<String>,
    /// Syncs in the group: one per ephemeral host.
    runs: u64,
    failures: u64,
    consecutive_failures: u64,
}

impl From<HostRow> for GroupStatus {
    fn from(row: HostRow) -> GroupStatus {
        GroupStatus {
            group: row.host,
            pond_version: row.pond_version,
            last_run: row.last_run,
            last_success: row.last_success,
            outcome: row.outcome,
            error: row.error,
            runs: row.runs,
            failures: row.failures,
            consecutive_failures: row.consecutive_failures,
        }
    }
}

#[derive(Debug, Serialize)]
struct FleetTotals {
    hosts: usize,
    stale: usize,
    failing: usize,
    runs: u64,
    /// Groups of ephemeral hosts, and the syncs their hosts made.
    groups: usize,
    ephemeral_runs: u64,
    sessions: u64,
    messages: u64,
}

#[derive(Debug, Serialize)]
struct Fleet {
    store: String,
    generated_at: DateTime<Utc>,
    stale_after_secs: u64,
    hosts: Vec<HostStatus>,
    groups: Vec<GroupStatus>,
    totals: FleetTotals,
}

/// `status --all-hosts`: reads the one-row-per-host table, never the run history.
async fn fleet(ctx: &Context, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let now = Utc::now();
    let stale_after = chrono::Duration::from_std(args.stale_after).unwrap_or(chrono::Duration::MAX);
    // Rule 16: the fleet view reads one row per host, never the run history.
    let hosts: Vec<HostStatus> = store
        .hosts()
        .await?
        .into_iter()
        .map(|row| {
            let since = row.last_success.unwrap_or(row.last_run);
            let lag = now - since;
            HostStatus {
                stale: row.last_success.is_none() || lag > stale_after,
                lag_secs: lag.num_seconds(),
                row,
            }
        })
        .collect();
    // Rule 46: each ephemeral group is one line, and is never judged stale.
    let groups: Vec<GroupStatus> = store
        .host_groups()
        .await?
        .into_iter()
        .map(GroupStatus::from)
        .collect();
    let totals = FleetTotals {
        hosts: hosts.len(),
        stale: hosts.iter().filter(|h| h.stale).count(),
        failing: hosts.iter().filter(|h| h.row.outcome == "failed").count(),
        runs: hosts.iter().map(|h| h.row.runs).sum(),
        groups: groups.len(),
        ephemeral_runs: groups.iter().map(|g| g.runs).sum(),
        sessions: store.count(TableKind::Sessions, None).await? as u64,
        messages: store.count(TableKind::Messages, None).await? as u64,
    };
    let fleet = Fleet {
        store: ctx.location.display.clone(),
        generated_at: now,
        stale_after_secs: args.stale_after.as_secs(),
        hosts,
        groups,
        totals,
    };
    if args.output.json {
        output::print_json(&fleet)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_fleet(&fleet);
    Ok(ExitCode::SUCCESS)
}

/// The fleet as a table: a line per host, one per ephemeral group, totals.
fn print_fleet(fleet: &Fleet) {
    println!("store: {}", fleet.store);
    println!(
        "{:<24} {:<17} {:<17} {:<8} {:>8} {:>6}  error",
        "host", "last run", "last success", "outcome", "lag", "runs"
    );
    for h in &fleet.hosts {
        println!(
            "{:<24} {:<17} {:<17} {:<8} {:>8} {:>6}  {}{}",
            output::clip(&h.row.host, 24),
            output::time(Some(h.row.last_run)),
            output::time(h.row.last_success),
            h.row.outcome,
            humanize_secs(h.lag_secs),
            h.row.runs,
            if h.stale { "STALE " } else { "" },
            output::clip(h.row.error.as_deref().unwrap_or(""), 60)
        );
    }
    if !fleet.groups.is_empty() {
        println!(
            "\n{:<24} {:<17} {:<17} {:<8} {:>8} {:>6}  error",
            "ephemeral group", "last run", "last success", "outcome", "failed", "runs"
        );
        for g in &fleet.groups {
            println!(
                "{:<24} {:<17} {:<17} {:<8} {:>8} {:>6}  {}",
                output::clip(&g.group, 24),
                output::time(Some(g.last_run)),
                output::time(g.last_success),
                g.outcome,
                g.failures,
                g.runs,
                output::clip(g.error.as_deref().unwrap_or(""), 60)
            );
        }
    }
    let t = &fleet.totals;
    println!(
        "{} hosts ({} stale, {} failing), {} runs; {} ephemeral groups, {} runs; archive: {} sessions, {} messages",
        t.hosts, t.stale, t.failing, t.runs, t.groups, t.ephemeral_runs, t.sessions, t.messages
    );
}

fn humanize_secs(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}
