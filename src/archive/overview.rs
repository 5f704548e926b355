//! What the archive holds and how the fleet that fills it is doing, within
//! a token's limits: sessions and messages per client, each host's last
//! sync, and the runs over time (per hour or day, by outcome, with the
//! hosts that ran), so a fleet that is thinning out or failing shows before
//! any one host looks stale on its own.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ArchiveError, ArchiveStatus, ClientCount, HostSync, View, within};
use crate::store::{Store, StoreError, TableKind, starts_with_sql, tables::schema};

/// Which runs `GET /v1/runs` counts, and into what buckets.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunsParams {
    /// How many days back, today included (1 to 90; default 14).
    #[serde(default)]
    pub days: Option<usize>,
    /// `day` (default) or `hour`, in UTC.
    #[serde(default)]
    pub bucket: Option<String>,
}

/// The runs that finished within one bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct RunBucket {
    /// When the bucket starts (UTC).
    pub start: DateTime<Utc>,
    pub ok: u64,
    pub partial: u64,
    pub failed: u64,
    /// Runs that found another sync holding the lock.
    pub skipped: u64,
    /// Distinct hosts with a run in the bucket.
    pub hosts: u64,
}

/// Runs over time, oldest bucket first, empty buckets included.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunTimeline {
    /// `day` or `hour`.
    pub bucket: String,
    pub buckets: Vec<RunBucket>,
}

/// Counts the fleet's runs of the last `days` days that the caller's view
/// may see, into buckets that end with the one holding `now`.
pub async fn run_timeline(
    store: &Store,
    view: &View,
    params: RunsParams,
    now: DateTime<Utc>,
) -> Result<RunTimeline, ArchiveError> {
    let days = within("days", params.days, 1..=90)?.unwrap_or(14);
    let (bucket, width) = match params.bucket.as_deref().unwrap_or("day") {
        "day" => ("day", Duration::days(1)),
        "hour" => ("hour", Duration::hours(1)),
        other => {
            return Err(ArchiveError::BadRequest(format!(
                "`bucket` must be `day` or `hour`, not `{other}`"
            )));
        }
    };
    let count = (Duration::days(days as i64).num_seconds() / width.num_seconds()) as usize;
    let current = now.duration_trunc(width).unwrap_or(now);
    let since = current - width * (count as i32 - 1);
    let host_filter = view
        .limits
        .host_prefix
        .as_deref()
        .map(|p| starts_with_sql("host", p));
    let points = store.runs_since(since, host_filter.as_deref()).await?;

    let mut buckets: Vec<RunBucket> = (0..count)
        .map(|k| RunBucket {
            start: since + width * k as i32,
            ..RunBucket::default()
        })
        .collect();
    let mut hosts: Vec<HashSet<&str>> = vec![HashSet::new(); count];
    for p in &points {
        let k = ((p.finished_at - since).num_seconds() / width.num_seconds()) as usize;
        let Some(b) = buckets.get_mut(k) else {
            continue;
        };
        match p.outcome.as_str() {
            "ok" => b.ok += 1,
            "partial" => b.partial += 1,
            "skipped" => b.skipped += 1,
            _ => b.failed += 1,
        }
        hosts[k].insert(&p.host);
    }
    for (b, h) in buckets.iter_mut().zip(&hosts) {
        b.hosts = h.len() as u64;
    }
    Ok(RunTimeline {
        bucket: bucket.into(),
        buckets,
    })
}

/// Sessions and messages per client among the sessions `filter` keeps.
pub async fn client_counts(
    store: &Store,
    filter: Option<&str>,
) -> Result<Vec<ClientCount>, StoreError> {
    Ok(sessions_and_messages_by(store, "client", filter)
        .await?
        .into_iter()
        .map(|(client, (sessions, messages))| ClientCount {
            client,
            sessions,
            messages,
        })
        .collect())
}

/// Sessions and messages per value of `column` among the sessions `filter`
/// keeps, from two columns of the sessions table (one row per session, not
/// per message): the one count behind the status's clients and the
/// metrics' hosts.
pub async fn sessions_and_messages_by(
    store: &Store,
    column: &str,
    filter: Option<&str>,
) -> Result<BTreeMap<String, (u64, u64)>, StoreError> {
    let mut per_value: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for b in store
        .scan(
            TableKind::Sessions,
            filter,
            Some(&[column, "message_count"]),
        )
        .await?
    {
        let c = schema::Columns::new(&b);
        let (values, counts) = (c.str(column)?, c.u64("message_count")?);
        for i in 0..b.num_rows() {
            let e = per_value.entry(values.value(i).to_string()).or_default();
            e.0 += 1;
            e.1 += counts.value(i);
        }
    }
    Ok(per_value)
}

/// What the archive holds, within the caller's view.
pub async fn status(store: &Store, view: &View) -> Result<ArchiveStatus, ArchiveError> {
    let clients = client_counts(store, view.limits.to_sql().as_deref()).await?;
    let hosts = store
        .hosts()
        .await?
        .into_iter()
        .filter(|h| {
            view.limits
                .host_prefix
                .as_deref()
                .is_none_or(|p| h.host.starts_with(p))
        })
        .map(|h| HostSync::new(h, |e| view.host_error(e)))
        .collect();
    Ok(ArchiveStatus {
        store: store.location().display.clone(),
        sessions: clients.iter().map(|c| c.sessions).sum(),
        messages: clients.iter().map(|c| c.messages).sum(),
        clients,
        hosts,
        embed_models: store.embed_models(),
        stale_after_secs: None,
        store_health: Vec::new(),
        search: None,
    })
}
