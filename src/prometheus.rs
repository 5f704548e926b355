//! The fleet's state as Prometheus series, read from the store on every
//! scrape (`GET /metrics` on `pond serve`, and `pond metrics`).
//!
//! Counters a short-lived `pond sync` exports over OTLP cannot tell a host
//! that died from one that is quiet: a collector drops a series that stops
//! updating, so a dead host's last-success gauge vanishes exactly when an
//! alert needs it. These series come from the shared `hosts` and
//! `host_groups` rows instead: a dead host keeps its series with an ageing
//! timestamp, and the run totals are the counts the store keeps, so they
//! only grow whichever process made the runs. A scrape reads those two
//! small tables, two columns of `sessions`, the search table's
//! `embed_model` column (the embedding backlog), the tables' manifests and
//! the upkeep record, never messages or raw records.
//!
//! Every series here is named `pond_fleet_*`, so a query says which source
//! it trusts: `pond_sync_*`, `pond_upkeep_*` and `pond_store_*` are the
//! processes' own OTLP metrics, passed through a collector.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::access::Limits;
use crate::archive::sessions_and_messages_by;
use crate::store::tables::runs::HostRow;
use crate::store::upkeep::TableHealth;
use crate::store::{Store, StoreError};

/// What the exposition covers and how it judges staleness.
#[derive(Debug, Clone)]
pub struct MetricsOptions {
    /// A host without a successful sync this long is stale; exported as
    /// `pond_fleet_stale_after_seconds` so alert rules compare against the
    /// same number `pond status --all-hosts` uses.
    pub stale_after: Duration,
    /// Only hosts (and their sessions) the caller may see; groups and the
    /// store's own series only for an unlimited caller.
    pub limits: Limits,
    /// What the usage series are priced with.
    pub prices: crate::spend::PriceTable,
    /// A stats token's project limit: the costliest-projects series names
    /// its projects as this directory, no path below it (rule 55).
    pub project_floor: Option<String>,
}

/// The Prometheus text format (version 0.0.4) content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family: its help, type and samples.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push((labels, value));
    }

    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
}

/// A label value as the text format needs it: backslash, quote and newline
/// escaped (host and group names come from users).
fn escape_label(value: &str) -> String {
    crate::escape::escaped(value, crate::escape::PROMETHEUS_LABEL)
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// A table of families: (name, type, help) each.
type FamilyRows<const N: usize> = [(&'static str, &'static str, &'static str); N];

/// The families a host row gives, in the order they are written.
const HOST_ROW_FAMILIES: FamilyRows<6> = [
    (
        "pond_fleet_host_last_run_timestamp_seconds",
        "gauge",
        "When the host's latest sync finished (Unix seconds).",
    ),
    (
        "pond_fleet_host_last_success_timestamp_seconds",
        "gauge",
        "When the host's latest successful sync finished (Unix seconds; 0: never).",
    ),
    (
        "pond_fleet_host_consecutive_failures",
        "gauge",
        "Failed syncs of the host since its last success.",
    ),
    (
        "pond_fleet_host_runs_total",
        "counter",
        "Syncs the host recorded in the store, by outcome.",
    ),
    (
        "pond_fleet_host_last_run_commit_retries",
        "gauge",
        "Commits the host's latest sync had to retry after losing a race.",
    ),
    (
        "pond_fleet_host_last_run_duration_seconds",
        "gauge",
        "How long the host's latest sync took.",
    ),
];

/// The same families for a group row, in the same order.
const GROUP_ROW_FAMILIES: FamilyRows<6> = [
    (
        "pond_fleet_group_last_run_timestamp_seconds",
        "gauge",
        "When the latest sync of any ephemeral host of the group finished (Unix seconds).",
    ),
    (
        "pond_fleet_group_last_success_timestamp_seconds",
        "gauge",
        "When the group's latest successful sync finished (Unix seconds; 0: never).",
    ),
    (
        "pond_fleet_group_consecutive_failures",
        "gauge",
        "Failed syncs in the group since its last success.",
    ),
    (
        "pond_fleet_group_runs_total",
        "counter",
        "Syncs of the group's ephemeral hosts (one per CI job), by outcome.",
    ),
    (
        "pond_fleet_group_last_run_commit_retries",
        "gauge",
        "Commits the group's latest sync had to retry.",
    ),
    (
        "pond_fleet_group_last_run_duration_seconds",
        "gauge",
        "How long the group's latest sync took.",
    ),
];

/// Empty families from a table, so each function declares its families as
/// rows rather than one constructor call each.
fn families<const N: usize>(rows: FamilyRows<N>) -> [Family; N] {
    rows.map(|(name, kind, help)| Family::new(name, kind, help))
}

/// Writes families in order (an empty one writes nothing).
fn write_all(families: &[Family], out: &mut String) {
    for f in families {
        f.write(out);
    }
}

/// The families a host row and a group row share, under their own prefix
/// and label: [`HOST_ROW_FAMILIES`] or [`GROUP_ROW_FAMILIES`].
struct RowFamilies {
    label: &'static str,
    families: [Family; 6],
}

impl RowFamilies {
    fn new(label: &'static str, rows: FamilyRows<6>) -> RowFamilies {
        RowFamilies {
            label,
            families: families(rows),
        }
    }

    fn add(&mut self, row: &HostRow) {
        let who = || vec![(self.label, row.host.clone())];
        let [
            last_run,
            last_success,
            consecutive_failures,
            runs,
            retries,
            duration,
        ] = &mut self.families;
        last_run.add(who(), seconds(row.last_run));
        last_success.add(who(), row.last_success.map_or(0.0, seconds));
        consecutive_failures.add(who(), row.consecutive_failures as f64);
        let mut succeeded = who();
        succeeded.push(("outcome", "succeeded".into()));
        runs.add(succeeded, row.runs.saturating_sub(row.failures) as f64);
        let mut failed = who();
        failed.push(("outcome", "failed".into()));
        runs.add(failed, row.failures as f64);
        retries.add(who(), row.commit_retries as f64);
        duration.add(who(), row.duration_secs);
    }

    fn write(&self, out: &mut String) {
        write_all(&self.families, out);
    }
}

/// The exposition: every family with its samples, in the text format.
pub async fn render(store: &Store, options: &MetricsOptions) -> Result<String, StoreError> {
    let started = Instant::now();
    let limits = &options.limits;
    let visible = |host: &str| {
        limits
            .host_prefix
            .as_deref()
            .is_none_or(|p| host.starts_with(p))
    };
    let mut out = String::new();

    let [mut stale_after, mut took] = families([
        (
            "pond_fleet_stale_after_seconds",
            "gauge",
            "A host without a successful sync this long is stale (what `pond status --all-hosts` uses).",
        ),
        (
            "pond_fleet_scrape_duration_seconds",
            "gauge",
            "How long computing this exposition from the store took.",
        ),
    ]);
    stale_after.add(Vec::new(), options.stale_after.as_secs_f64());
    stale_after.write(&mut out);

    // Rule 45: series come from the stored host rows, so a host that stops keeps
    // its series, and a limited token sees only its own hosts.
    let host_rows = store.hosts().await?;
    host_families(&host_rows, &visible, &mut out);
    let scrape = Scrape {
        store,
        options,
        known: host_rows.iter().map(|r| r.host.as_str()).collect(),
    };
    stored_families(&scrape, &mut out).await?;
    usage_families(&scrape, &mut out).await?;

    // Groups and the store's shape say nothing about sessions, but they are
    // the whole fleet's: only for a caller who may see all of it.
    if limits.is_unlimited() {
        let mut groups = RowFamilies::new("group", GROUP_ROW_FAMILIES);
        for row in store.host_groups().await? {
            groups.add(&row);
        }
        groups.write(&mut out);
        store_families(store, &mut out).await?;
    }

    took.add(Vec::new(), started.elapsed().as_secs_f64());
    took.write(&mut out);
    Ok(out)
}

/// Each host's state from its stored row, and its pond version.
fn host_families(host_rows: &[HostRow], visible: &dyn Fn(&str) -> bool, out: &mut String) {
    let mut hosts = RowFamilies::new("host", HOST_ROW_FAMILIES);
    let mut info = Family::new(
        "pond_fleet_host_info",
        "gauge",
        "One series per host that ever recorded a sync, with its pond version.",
    );
    for row in host_rows.iter().filter(|r| visible(&r.host)) {
        hosts.add(row);
        info.add(
            vec![
                ("host", row.host.clone()),
                ("pond_version", row.pond_version.clone()),
            ],
            1.0,
        );
    }
    info.write(out);
    hosts.write(out);
}

/// What the families of what hosts stored and spent read: the store, the
/// caller's options, and the hosts with a row of their own (any other host
/// is ephemeral, a CI job, and is summed with the rest, rule 46).
struct Scrape<'a> {
    store: &'a Store,
    options: &'a MetricsOptions,
    known: HashSet<&'a str>,
}

/// What each host stored. Rule 46: what ephemeral hosts (each CI job its
/// own host name) stored is one summed series, not one per job.
async fn stored_families(scrape: &Scrape<'_>, out: &mut String) -> Result<(), StoreError> {
    let [mut sessions, mut messages, mut stored_by_jobs] = families([
        (
            "pond_fleet_host_sessions",
            "gauge",
            "Sessions in the store that the host synced.",
        ),
        (
            "pond_fleet_host_messages",
            "gauge",
            "Messages in the store that the host synced.",
        ),
        (
            "pond_fleet_ephemeral_stored",
            "gauge",
            "Sessions and messages in the store that ephemeral hosts (CI jobs) synced.",
        ),
    ]);
    let (mut ephemeral_sessions, mut ephemeral_messages) = (0u64, 0u64);
    let host_filter = scrape.options.limits.to_sql();
    let stored = sessions_and_messages_by(scrape.store, "host", host_filter.as_deref()).await?;
    for (host, (s, m)) in stored {
        if scrape.known.contains(host.as_str()) {
            sessions.add(vec![("host", host.clone())], s as f64);
            messages.add(vec![("host", host)], m as f64);
        } else {
            ephemeral_sessions += s;
            ephemeral_messages += m;
        }
    }
    stored_by_jobs.add(vec![("kind", "sessions".into())], ephemeral_sessions as f64);
    stored_by_jobs.add(vec![("kind", "messages".into())], ephemeral_messages as f64);
    write_all(&[sessions, messages, stored_by_jobs], out);
    Ok(())
}

/// Projects with a series of their own in `pond_fleet_usage_project_cost_usd`:
/// the costliest, so a fleet of many checkouts stays a bounded exposition.
const TOP_PROJECTS: usize = 20;

/// What the usage series call the hosts of ephemeral groups (CI jobs),
/// summed as one, so ten thousand jobs are not ten thousand series (rule 46).
const EPHEMERAL_HOSTS: &str = "(ephemeral)";

/// The calls the caller may see, all time, as `pond usage` counts and
/// prices them (rules 47 and 48): tokens by kind and cost per host, client
/// and model, and the cost of the costliest projects. Totals that only
/// grow (but for an erasure), so `increase(...[1d])` is a day's spend.
async fn usage_families(scrape: &Scrape<'_>, out: &mut String) -> Result<(), StoreError> {
    use crate::spend::{Dimension, UsageQuery};
    let (store, options) = (scrape.store, scrape.options);
    let query = UsageQuery {
        by: vec![Dimension::Host, Dimension::Client, Dimension::Model],
        limits: options.limits.clone(),
        project_floor: options.project_floor.clone(),
        ..UsageQuery::default()
    };
    let report = crate::spend::report(store, &query, &options.prices).await?;
    let [mut tokens, mut cost, mut unpriced] = families([
        (
            "pond_fleet_usage_tokens",
            "gauge",
            "Tokens of the model calls stored, each call once, by host, client, model and kind.",
        ),
        (
            "pond_fleet_usage_cost_usd",
            "gauge",
            "What the model calls stored cost in US dollars, by host, client and model (priced calls only).",
        ),
        (
            "pond_fleet_usage_unpriced_calls",
            "gauge",
            "Model calls stored whose model has no price, by host, client and model.",
        ),
    ]);
    let folded = fold_ephemeral(report.rows, &scrape.known);
    for ((host, client, model), t) in &folded {
        let labels = vec![
            ("host", host.clone()),
            ("client", client.clone()),
            ("model", model.clone()),
        ];
        for (kind, n) in crate::spend::token_kinds(&t.tokens()) {
            let mut with_kind = labels.clone();
            with_kind.push(("kind", kind.to_string()));
            tokens.add(with_kind, n as f64);
        }
        cost.add(labels.clone(), t.cost_usd.unwrap_or(0.0));
        unpriced.add(labels, t.unpriced_calls as f64);
    }
    write_all(&[tokens, cost, unpriced], out);

    project_family(store, options, query, out).await
}

/// Totals by host, client and model. Rule 46: ephemeral hosts' calls fold
/// into one host label.
fn fold_ephemeral(
    rows: Vec<crate::spend::UsageGroup>,
    hosts: &HashSet<&str>,
) -> BTreeMap<(String, String, String), crate::spend::UsageTotals> {
    let mut folded: BTreeMap<(String, String, String), crate::spend::UsageTotals> = BTreeMap::new();
    for row in rows {
        let host = row.host.unwrap_or_default();
        let host = if hosts.contains(host.as_str()) {
            host
        } else {
            EPHEMERAL_HOSTS.to_string()
        };
        let sum = folded
            .entry((
                host,
                row.client.unwrap_or_default(),
                row.model.unwrap_or_default(),
            ))
            .or_default();
        sum.merge(&row.totals);
    }
    folded
}

/// The costliest projects' spend.
async fn project_family(
    store: &Store,
    options: &MetricsOptions,
    query: crate::spend::UsageQuery,
    out: &mut String,
) -> Result<(), StoreError> {
    let by_project = crate::spend::UsageQuery {
        by: vec![crate::spend::Dimension::Project],
        ..query
    };
    let mut projects = crate::spend::report(store, &by_project, &options.prices)
        .await?
        .rows;
    projects.sort_by(|a, b| {
        let c = |r: &crate::spend::UsageGroup| r.totals.cost_usd.unwrap_or(0.0);
        c(b).total_cmp(&c(a))
    });
    let mut top = Family::new(
        "pond_fleet_usage_project_cost_usd",
        "gauge",
        "What the model calls of the costliest projects (working directories) cost in US dollars.",
    );
    for row in projects.into_iter().take(TOP_PROJECTS) {
        top.add(
            vec![("project", row.project.unwrap_or_default())],
            row.totals.cost_usd.unwrap_or(0.0),
        );
    }
    top.write(out);
    Ok(())
}

/// The per-table gauges, in the order of [`table_figures`].
const TABLE_FAMILIES: FamilyRows<5> = [
    ("pond_fleet_store_rows", "gauge", "Rows in each table."),
    (
        "pond_fleet_store_fragments",
        "gauge",
        "Data fragments in each table (upkeep compacts them).",
    ),
    (
        "pond_fleet_store_versions",
        "gauge",
        "Versions (manifests) each table keeps (upkeep prunes them).",
    ),
    (
        "pond_fleet_store_unindexed_rows",
        "gauge",
        "Rows each table's indexes do not cover yet (upkeep folds them in).",
    ),
    (
        "pond_fleet_store_bytes",
        "gauge",
        "Bytes of data each table's current version references.",
    ),
];

/// What a table's [`TABLE_FAMILIES`] series show, in their order.
fn table_figures(t: &TableHealth) -> [u64; 5] {
    [t.rows, t.fragments, t.versions, t.unindexed_rows, t.bytes]
}

/// Each table's shape and the last store upkeep: what upkeep keeps bounded.
async fn store_families(store: &Store, out: &mut String) -> Result<(), StoreError> {
    let mut tables = families(TABLE_FAMILIES);
    for t in store.health().await? {
        for (family, n) in tables.iter_mut().zip(table_figures(&t)) {
            family.add(vec![("table", t.table.clone())], n as f64);
        }
    }
    write_all(&tables, out);
    search_families(store, out).await?;
    upkeep_families(store, out).await
}

/// The search census: parts embedded per model, the backlog, and each
/// host's last drain of it.
async fn search_families(store: &Store, out: &mut String) -> Result<(), StoreError> {
    let census = crate::search::backlog::census(store).await?;
    let [mut embedded, mut waiting, mut drain_rate, mut drained_at] = families([
        (
            "pond_fleet_store_search_parts_embedded",
            "gauge",
            "Searchable parts holding each embedding model's vectors.",
        ),
        (
            "pond_fleet_store_search_parts_waiting",
            "gauge",
            "Searchable parts no model has embedded yet: the embedding backlog (its fall is the drain rate).",
        ),
        (
            "pond_fleet_backlog_drain_parts_per_second",
            "gauge",
            "Parts per second each host embedded in its last drain of the backlog.",
        ),
        (
            "pond_fleet_backlog_last_drain_timestamp_seconds",
            "gauge",
            "When each host's last drain of the backlog ended (Unix seconds).",
        ),
    ]);
    for m in &census.by_model {
        embedded.add(vec![("model", m.model.clone())], m.parts as f64);
    }
    waiting.add(Vec::new(), census.without_vectors as f64);
    for d in &census.drains {
        let host = || vec![("host", d.host.clone()), ("model", d.model.clone())];
        drain_rate.add(host(), d.parts_per_sec());
        drained_at.add(host(), d.finished_at.timestamp() as f64);
    }
    write_all(&[embedded, waiting, drain_rate, drained_at], out);
    Ok(())
}

/// The latest store upkeep: when, by which host, how it ended.
async fn upkeep_families(store: &Store, out: &mut String) -> Result<(), StoreError> {
    let (last, _) = crate::upkeep::state(store).await?;
    let [mut upkeep, mut upkeep_info] = families([
        (
            "pond_fleet_upkeep_last_run_timestamp_seconds",
            "gauge",
            "When the latest store upkeep finished (Unix seconds).",
        ),
        (
            "pond_fleet_upkeep_last_run_info",
            "gauge",
            "The latest store upkeep: which host ran it and how it ended.",
        ),
    ]);
    if let Some(l) = last {
        upkeep.add(Vec::new(), seconds(l.finished_at));
        upkeep_info.add(
            vec![("host", l.host.clone()), ("outcome", l.outcome.clone())],
            1.0,
        );
    }
    write_all(&[upkeep, upkeep_info], out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_numbers_plain() {
        let mut f = Family::new("pond_x", "gauge", "x");
        f.add(vec![("host", "a\"b\\c\nd".into())], 3.0);
        f.add(vec![], 1.5);
        let mut out = String::new();
        f.write(&mut out);
        assert_eq!(
            out,
            "# HELP pond_x x\n# TYPE pond_x gauge\npond_x{host=\"a\\\"b\\\\c\\nd\"} 3\npond_x 1.5\n"
        );
    }
}
