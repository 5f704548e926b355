//! Grouping stored calls into a usage report: tokens by kind and cost per
//! group, with the calls no price covers counted and their models named.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::prices::PriceTable;
use super::tally::{Key, Names, PriceCache, Tally, local_day, render, time_part};
use super::totals::UNKNOWN;
pub use super::totals::{Dimension, UsageTotals};
use crate::access::Limits;
use crate::store::tables::usage::CallColumns;
use crate::store::{Store, StoreError, TableKind, sql_in, sql_time};

/// Which calls a report counts, and how it groups them.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    pub by: Vec<Dimension>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub hosts: Vec<String>,
    /// Sessions whose working directory contains one of these.
    pub projects: Vec<String>,
    pub clients: Vec<String>,
    /// Only these sessions' calls (a readable export's totals).
    pub sessions: Vec<String>,
    /// Every call's project reported as this directory (a stats token's
    /// project limit), so no path below it is named.
    pub project_floor: Option<String>,
    /// The zone days, weeks and months are counted in.
    pub tz: Tz,
    /// A token's limits: only sessions it may see are counted.
    pub limits: Limits,
}

impl Default for UsageQuery {
    fn default() -> Self {
        UsageQuery {
            by: vec![Dimension::Day],
            since: None,
            until: None,
            hosts: Vec::new(),
            projects: Vec::new(),
            clients: Vec::new(),
            sessions: Vec::new(),
            project_floor: None,
            tz: Tz::UTC,
            limits: Limits::default(),
        }
    }
}

/// A usage query as a command line or a request gives it, before it is
/// read and checked.
#[derive(Debug, Clone, Default)]
pub struct UsageAsk<'a> {
    /// Comma-separated dimensions; `day` when empty.
    pub by: &'a str,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    /// An IANA zone; UTC when empty.
    pub tz: &'a str,
    pub hosts: Vec<String>,
    pub projects: Vec<String>,
    pub clients: Vec<String>,
}

impl UsageQuery {
    /// Reads `ask` for a caller who may see what `limits` allow; the error
    /// says what was wrong, for a 400 or a command-line message.
    pub fn parse(ask: UsageAsk<'_>, limits: Limits, now: DateTime<Utc>) -> Result<Self, String> {
        let tz = if ask.tz.trim().is_empty() {
            Tz::UTC
        } else {
            parse_tz(ask.tz.trim())?
        };
        let by = if ask.by.trim().is_empty() {
            vec![Dimension::Day]
        } else {
            Dimension::parse_list(ask.by)?
        };
        if by.is_empty() {
            return Err(format!(
                "group by one of {} (comma-separate to combine)",
                Dimension::NAMES.join(", ")
            ));
        }
        let bound =
            |given: Option<&str>, end| given.map(|s| parse_bound(s, tz, end, now)).transpose();
        Ok(UsageQuery {
            by,
            since: bound(ask.since, false)?,
            until: bound(ask.until, true)?,
            hosts: ask.hosts,
            projects: ask.projects,
            clients: ask.clients,
            sessions: Vec::new(),
            project_floor: None,
            tz,
            limits,
        })
    }
}

/// Tokens and cost of one group of calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UsageGroup {
    /// `YYYY-MM-DD` in the report's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    /// ISO week, `YYYY-Www`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub week: Option<String>,
    /// `YYYY-MM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The person the call's host recorded (`--by user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// A usage report: one row per group, in key order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UsageReport {
    /// What the rows are grouped by, in order.
    pub by: Vec<String>,
    /// The zone days, weeks and months are counted in.
    pub timezone: String,
    pub rows: Vec<UsageGroup>,
    pub totals: UsageTotals,
    /// Models of calls no price covers, so their cost is missing.
    pub unpriced_models: Vec<String>,
}

/// An IANA zone name (`UTC`, `Europe/Berlin`).
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse().map_err(|_| {
        format!("unknown time zone `{name}`: use an IANA name such as UTC or Europe/Berlin")
    })
}

/// Reads `--since` / `--until`: a date is a day in `tz` (its start, or for
/// an end bound its last microsecond), anything else as search reads it.
pub fn parse_bound(
    given: &str,
    tz: Tz,
    end: bool,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(given.trim(), "%Y-%m-%d") {
        let day = if end {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        let start = day
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).earliest())
            .ok_or_else(|| format!("`{given}` does not exist in {}", tz.name()))?
            .with_timezone(&Utc);
        return Ok(if end {
            start - chrono::Duration::microseconds(1)
        } else {
            start
        });
    }
    crate::search::filters::parse_time(given, now).map_err(|e| e.to_string())
}

/// Session ids per query: long `IN` lists are cut into chunks.
const SESSIONS_PER_QUERY: usize = 500;

/// The report `query` asks for, priced by `prices`.
pub async fn report(
    store: &Store,
    query: &UsageQuery,
    prices: &PriceTable,
) -> Result<UsageReport, StoreError> {
    let batches = store.usage_batches(call_filter(query).as_deref()).await?;
    // Each call's project comes from its session's row: read only when a
    // grouping, a filter or the token's limits ask for projects.
    let projects = if asks_for_projects(query) {
        session_projects(store, &batches).await?
    } else {
        HashMap::new()
    };
    let people = people_if_asked(store, query).await?;
    let unlimited = query.limits.is_unlimited();
    let mut names = Names::default();
    let mut price_cache = PriceCache::default();
    let mut tally = Tally::default();
    let mut unpriced = BTreeSet::new();
    for b in &batches {
        let calls = CallColumns::new(b)?;
        for i in 0..calls.len() {
            let project = projects.get(calls.session(i)).and_then(Option::as_deref);
            let host = calls.host(i);
            if (!unlimited && !query.limits.allows(project, host))
                || !wanted_project(query, project)
            {
                continue;
            }
            let tokens = calls.tokens(i);
            let model = calls.model(i);
            let at = calls.at_micros(i);
            // Rule 48: the price of the call's day (UTC); the client's own
            // figure where it has one.
            let utc_day = at.and_then(|us| local_day(us, Tz::UTC));
            let cost = calls.client_cost_usd(i).or_else(|| {
                let day = utc_day.unwrap_or(NaiveDate::MAX);
                price_cache
                    .price(prices, model?, day)
                    .map(|p| p.cost(&tokens))
            });
            let named = model.unwrap_or(UNKNOWN);
            if cost.is_none() && !tokens.is_zero() && !unpriced.contains(named) {
                unpriced.insert(named.to_string());
            }
            // A call with no tokens costs nothing whether priced or not.
            let cost = cost.or(tokens.is_zero().then_some(0.0));
            let day = if query.tz == Tz::UTC {
                utc_day
            } else {
                at.and_then(|us| local_day(us, query.tz))
            };
            let call = CallPlace {
                host,
                project,
                client: calls.client(i),
                model: named,
                session: calls.session(i),
                day,
            };
            let key = group_key(query, &call, &people, &mut names);
            tally.add(key, &tokens, cost);
        }
    }
    let rows = grouped_rows(tally.groups, query, &names);
    Ok(UsageReport {
        by: query
            .by
            .iter()
            .map(|d| Dimension::NAMES[*d as usize].to_string())
            .collect(),
        timezone: query.tz.name().to_string(),
        rows,
        totals: tally.totals,
        unpriced_models: unpriced.into_iter().collect(),
    })
}

/// Each host's person, read only when the report groups by person.
async fn people_if_asked(
    store: &Store,
    query: &UsageQuery,
) -> Result<HashMap<String, String>, StoreError> {
    if query.by.contains(&Dimension::User) {
        super::people::by_host(store).await
    } else {
        Ok(HashMap::new())
    }
}

/// What one call is grouped by.
struct CallPlace<'a> {
    host: &'a str,
    project: Option<&'a str>,
    client: &'a str,
    model: &'a str,
    session: &'a str,
    /// Its day in the report's zone.
    day: Option<NaiveDate>,
}

/// The group a call falls in: its part of each dimension asked for.
fn group_key(
    query: &UsageQuery,
    call: &CallPlace<'_>,
    people: &HashMap<String, String>,
    names: &mut Names,
) -> Key {
    let mut key: Key = Default::default();
    for (part, d) in key.iter_mut().zip(&query.by) {
        *part = match d {
            Dimension::Day | Dimension::Week | Dimension::Month => time_part(*d, call.day),
            Dimension::Host => names.id(call.host),
            // A stats token's floor names its limit, not what lies below.
            Dimension::Project => {
                let shown = query.project_floor.as_deref().or(call.project);
                names.id(shown.unwrap_or(UNKNOWN))
            }
            Dimension::Client => names.id(call.client),
            Dimension::Model => names.id(call.model),
            Dimension::Session => names.id(call.session),
            Dimension::User => names.id(people.get(call.host).map_or(UNKNOWN, String::as_str)),
        };
    }
    key
}

fn asks_for_projects(query: &UsageQuery) -> bool {
    query.by.contains(&Dimension::Project)
        || !query.projects.is_empty()
        || query.limits.project_prefix.is_some()
}

/// The tally's groups as rows, each dimension shown as a person reads it,
/// in order of what is shown.
fn grouped_rows(
    groups: HashMap<Key, UsageTotals>,
    query: &UsageQuery,
    names: &Names,
) -> Vec<UsageGroup> {
    let mut rows: Vec<(Vec<String>, UsageTotals)> = groups
        .into_iter()
        .map(|(key, totals)| {
            let shown = query
                .by
                .iter()
                .zip(key)
                .map(|(d, part)| render(*d, part, names))
                .collect();
            (shown, totals)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter()
        .map(|(shown, totals)| {
            let mut row = UsageGroup {
                totals,
                ..UsageGroup::default()
            };
            for (d, value) in query.by.iter().zip(shown) {
                *slot(&mut row, *d) = Some(value);
            }
            row
        })
        .collect()
}

fn slot(row: &mut UsageGroup, d: Dimension) -> &mut Option<String> {
    match d {
        Dimension::Day => &mut row.day,
        Dimension::Week => &mut row.week,
        Dimension::Month => &mut row.month,
        Dimension::Host => &mut row.host,
        Dimension::Project => &mut row.project,
        Dimension::Client => &mut row.client,
        Dimension::Model => &mut row.model,
        Dimension::Session => &mut row.session,
        Dimension::User => &mut row.user,
    }
}

/// The part of the query the usage table's own columns answer.
fn call_filter(query: &UsageQuery) -> Option<String> {
    let mut clauses = Vec::new();
    if !query.hosts.is_empty() {
        clauses.push(sql_in("host", query.hosts.iter().map(String::as_str)));
    }
    if !query.clients.is_empty() {
        clauses.push(sql_in("client", query.clients.iter().map(String::as_str)));
    }
    if !query.sessions.is_empty() {
        clauses.push(sql_in(
            "session_id",
            query.sessions.iter().map(String::as_str),
        ));
    }
    if let Some(prefix) = &query.limits.host_prefix {
        clauses.push(crate::store::starts_with_sql("host", prefix));
    }
    if let Some(t) = query.since {
        clauses.push(format!("timestamp >= {}", sql_time(t)));
    }
    if let Some(t) = query.until {
        clauses.push(format!("timestamp <= {}", sql_time(t)));
    }
    (!clauses.is_empty()).then(|| clauses.join(" AND "))
}

fn wanted_project(query: &UsageQuery, project: Option<&str>) -> bool {
    query.projects.is_empty()
        || project.is_some_and(|p| query.projects.iter().any(|want| p.contains(want.as_str())))
}

/// Beyond this many sessions, the calls' projects are read from the whole
/// (narrow) sessions table at once instead of by id.
const SESSIONS_BY_ID: usize = 2_000;

/// Each call's session's working directory, from the sessions table.
async fn session_projects(
    store: &Store,
    batches: &[arrow_array::RecordBatch],
) -> Result<HashMap<String, Option<String>>, StoreError> {
    let mut ids: HashSet<&str> = HashSet::new();
    for b in batches {
        let calls = CallColumns::new(b)?;
        ids.extend((0..calls.len()).map(|i| calls.session(i)));
    }
    let mut projects = HashMap::new();
    let mut read = |b: &arrow_array::RecordBatch| -> Result<(), StoreError> {
        let c = crate::store::tables::schema::Columns::new(b);
        let (id, project) = (c.str("id")?, c.str("project")?);
        for i in 0..b.num_rows() {
            projects.insert(
                id.value(i).to_string(),
                crate::store::tables::schema::opt_str(project, i),
            );
        }
        Ok(())
    };
    if ids.len() > SESSIONS_BY_ID {
        for b in store
            .scan(TableKind::Sessions, None, Some(&["id", "project"]))
            .await?
        {
            read(&b)?;
        }
    } else {
        let ids: Vec<&str> = ids.into_iter().collect();
        for chunk in ids.chunks(SESSIONS_PER_QUERY) {
            let filter = sql_in("id", chunk.iter().copied());
            for b in store
                .scan(TableKind::Sessions, Some(&filter), Some(&["id", "project"]))
                .await?
            {
                read(&b)?;
            }
        }
    }
    Ok(projects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_parse_once_each_in_order_and_refuse_the_unknown() {
        assert_eq!(
            Dimension::parse_list("day, model,day").unwrap(),
            [Dimension::Day, Dimension::Model]
        );
        let err = Dimension::parse_list("day,colour").unwrap_err();
        assert!(err.contains("colour") && err.contains("week"), "{err}");
    }

    #[test]
    fn days_weeks_and_months_are_counted_in_the_zone_asked_for() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T02:30:00Z")
            .unwrap()
            .timestamp_micros();
        let names = Names::default();
        let show = |d: Dimension, tz: Tz| render(d, time_part(d, local_day(at, tz)), &names);
        assert_eq!(show(Dimension::Day, Tz::UTC), "2026-01-01");
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        assert_eq!(show(Dimension::Day, la), "2025-12-31");
        assert_eq!(show(Dimension::Month, la), "2025-12");
        assert_eq!(show(Dimension::Week, Tz::UTC), "2026-W01");
    }
}
