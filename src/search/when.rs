//! Time phrases in a query, read as the range a person meant: "the flaky
//! test from last week", "what did we decide in March".
//!
//! People remember when as often as what. Searching "last week" as words
//! finds sessions that say "last week"; narrowing to the week finds the one
//! they remember. The phrase read and the range it became are shown with the
//! results, so a wrong reading is seen, and `--literal` searches the words.
//! Days follow the asker's time zone: yesterday is their yesterday.

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

/// `now` in this machine's time zone, where "yesterday" is judged.
pub fn local(now: DateTime<Utc>) -> DateTime<FixedOffset> {
    now.with_timezone(&chrono::Local).fixed_offset()
}

/// A time phrase found in a query and the range it stands for.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TimePhrase {
    /// The words as typed.
    pub phrase: String,
    pub since: DateTime<Utc>,
    /// Inclusive, like `--until`.
    pub until: DateTime<Utc>,
}

impl TimePhrase {
    /// "read “last week” as 2026-11-30 to 2026-12-06", in the asker's zone.
    pub fn describe(&self, zone: FixedOffset) -> String {
        let day = |t: DateTime<Utc>| t.with_timezone(&zone).format("%Y-%m-%d").to_string();
        let (from, to) = (day(self.since), day(self.until));
        let range = if from == to {
            from
        } else {
            format!("{from} to {to}")
        };
        format!(
            "read “{}” as {range}; search with --literal to take it as words",
            self.phrase
        )
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A word of the query: lower-cased, trailing punctuation off, with where
/// it sits in the query.
struct Word {
    text: String,
    start: usize,
    end: usize,
}

fn words(query: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut at = 0;
    for raw in query.split_inclusive(char::is_whitespace) {
        let trimmed = raw.trim_end();
        if trimmed.is_empty() {
            at += raw.len();
            continue;
        }
        let text = trimmed
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        out.push(Word {
            text,
            start: at,
            end: at + trimmed.len(),
        });
        at += raw.len();
    }
    out
}

/// The first time phrase in `query` and the query without it, or `None`
/// when there is none or nothing would be left to search for.
pub fn read(query: &str, now: DateTime<FixedOffset>) -> Option<(String, TimePhrase)> {
    let words = words(query);
    for i in 0..words.len() {
        let Some((len, since, until)) = phrase_at(&words[i..], now) else {
            continue;
        };
        let (start, end) = (words[i].start, words[i + len - 1].end);
        let rest = format!("{} {}", &query[..start], &query[end..]);
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        if !rest.chars().any(char::is_alphanumeric) {
            return None;
        }
        let phrase = TimePhrase {
            phrase: query[start..end].to_string(),
            since: since.with_timezone(&Utc),
            until: until.with_timezone(&Utc),
        };
        return Some((rest, phrase));
    }
    None
}

type Range = (usize, DateTime<FixedOffset>, DateTime<FixedOffset>);

/// The phrase starting at `w[0]`: how many words it takes and its range.
fn phrase_at(w: &[Word], now: DateTime<FixedOffset>) -> Option<Range> {
    let zone = *now.offset();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0)?.and_local_timezone(zone).single();
    let today = now.date_naive();
    // A range of whole days, `from` to the day before `to`.
    let days = |len: usize, from: NaiveDate, to: NaiveDate| -> Option<Range> {
        Some((
            len,
            midnight(from)?,
            midnight(to)? - TimeDelta::milliseconds(1),
        ))
    };
    let text = |i: usize| w.get(i).map(|x| x.text.as_str());
    let count = |i: usize| {
        text(i)
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|n| *n > 0)
    };
    let week_start = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let month_start = today.with_day(1)?;
    let year_start = today.with_ordinal(1)?;
    match (text(0)?, text(1)) {
        ("today", _) => Some((1, midnight(today)?, now)),
        ("yesterday", _) => days(1, today - Days::new(1), today),
        ("this", Some("week")) => Some((2, midnight(week_start)?, now)),
        ("this", Some("month")) => Some((2, midnight(month_start)?, now)),
        ("this", Some("year")) => Some((2, midnight(year_start)?, now)),
        ("last" | "previous", Some("week")) => days(2, week_start - Days::new(7), week_start),
        ("last" | "previous", Some("month")) => days(2, month_start - Months::new(1), month_start),
        ("last" | "previous", Some("year")) => {
            days(2, year_start.with_year(year_start.year() - 1)?, year_start)
        }
        // "the past week" is the last seven days, "last 3 days" likewise.
        ("past", Some(unit)) if count(1).is_none() => {
            Some((2, midnight(back(today, 1, unit)?)?, now))
        }
        ("last" | "past", Some(_)) => {
            let from = back(today, count(1)?, text(2)?)?;
            Some((3, midnight(from)?, now))
        }
        (_, Some(unit)) if count(0).is_some() && text(2) == Some("ago") => {
            let day = back(today, count(0)?, unit)?;
            days(3, day, day + Days::new(1))
        }
        ("in" | "during", Some(name)) => {
            if let Some(month) = MONTHS.iter().position(|m| *m == name) {
                let month = month as u32 + 1;
                let (len, year) = match count(2).filter(|y| (2000..=2100).contains(y)) {
                    Some(year) => (3, year as i32),
                    // The latest such month that has begun.
                    None if month <= today.month() => (2, today.year()),
                    None => (2, today.year() - 1),
                };
                let first = NaiveDate::from_ymd_opt(year, month, 1)?;
                return days(len, first, first + Months::new(1));
            }
            let year = count(1).filter(|y| (2000..=today.year() as u32).contains(y))? as i32;
            let first = NaiveDate::from_ymd_opt(year, 1, 1)?;
            days(2, first, first.with_year(year + 1)?)
        }
        _ => None,
    }
}

/// The day `n` units before `today`.
fn back(today: NaiveDate, n: u32, unit: &str) -> Option<NaiveDate> {
    match unit.trim_end_matches('s') {
        "day" => today.checked_sub_days(Days::new(u64::from(n))),
        "week" => today.checked_sub_days(Days::new(7 * u64::from(n))),
        "month" => today.checked_sub_months(Months::new(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-12-07, 15:30 at UTC+1.
    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-07T15:30:00+01:00").unwrap()
    }

    fn range(query: &str) -> Option<(String, String, String)> {
        let zone = *now().offset();
        read(query, now()).map(|(rest, p)| {
            let at = |t: DateTime<Utc>| t.with_timezone(&zone).format("%m-%d %H:%M").to_string();
            (rest, at(p.since), at(p.until))
        })
    }

    #[test]
    fn everyday_phrases_become_ranges_in_the_askers_zone() {
        // (query, what is left to search, first and last minute of the range)
        for (query, rest, since, until) in [
            (
                "the flaky test yesterday?",
                "the flaky test",
                "12-06 00:00",
                "12-06 23:59",
            ),
            (
                "deploy fix from last week",
                "deploy fix from",
                "11-30 00:00",
                "12-06 23:59",
            ),
            ("this week lint", "lint", "12-07 00:00", "12-07 15:30"),
            (
                "what did we decide in March",
                "what did we decide",
                "03-01 00:00",
                "03-31 23:59",
            ),
            (
                "why did the build break in December 2025",
                "why did the build break",
                "12-01 00:00",
                "12-31 23:59",
            ),
            (
                "migrations last 3 days",
                "migrations",
                "12-04 00:00",
                "12-07 15:30",
            ),
            (
                "rate limit 2 weeks ago",
                "rate limit",
                "11-23 00:00",
                "11-23 23:59",
            ),
            (
                "the outage last month",
                "the outage",
                "11-01 00:00",
                "11-30 23:59",
            ),
        ] {
            let expected = (rest.to_string(), since.to_string(), until.to_string());
            assert_eq!(range(query), Some(expected), "{query}");
        }
    }

    #[test]
    fn a_month_not_yet_begun_this_year_means_last_years() {
        let march = DateTime::parse_from_rfc3339("2026-03-10T09:00:00Z").unwrap();
        let since = |q: &str| read(q, march).map(|(_, p)| p.since.to_rfc3339());
        for (query, expected) in [
            ("notes in June", "2025-06-01T00:00:00+00:00"),
            ("notes in March", "2026-03-01T00:00:00+00:00"),
            ("notes in 2025", "2025-01-01T00:00:00+00:00"),
            ("notes the past week", "2026-03-03T00:00:00+00:00"),
        ] {
            assert_eq!(since(query).as_deref(), Some(expected), "{query}");
        }
    }

    #[test]
    fn no_phrase_or_nothing_else_to_search_leaves_the_query_alone() {
        assert_eq!(read("ENOENT in src/main.rs", now()), None);
        assert_eq!(read("may the retry loop spin", now()), None);
        assert_eq!(read("in 1999 terms", now()), None);
        assert_eq!(read("yesterday", now()), None);
        assert_eq!(read("last week?", now()), None);
    }

    #[test]
    fn the_description_names_the_phrase_and_its_days() {
        let (_, p) = read("deploy last week", now()).unwrap();
        assert_eq!(
            p.describe(*now().offset()),
            "read “last week” as 2026-11-30 to 2026-12-06; search with --literal to take it as words"
        );
    }
}
