//! The fleet's runs over time, within a token's host limit: per hour or day,
//! how many runs ended ok, partial, failed or skipped and how many hosts ran.
//! A fleet that is thinning out or failing shows here before any one host
//! looks stale on its own.

use std::collections::HashSet;

use chrono::{DateTime, Duration, DurationRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ArchiveError, View, within};
use crate::store::{Store, starts_with_sql};

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
