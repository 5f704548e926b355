//! Folding stored calls into groups: the loop a report spends its time in.
//! It reads the store's columns in place and keys each call by small
//! numbers (a day number, an interned name), so a million calls cost no
//! string and no date formatting each; names and dates are written once
//! per group at the end.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;

use super::prices::{Price, PriceTable};
use super::totals::{Dimension, UNKNOWN, UsageTotals};

/// The most dimensions a report groups by: each of them once.
const MAX_KEY: usize = Dimension::NAMES.len();

/// A group: one small number per dimension, in the query's order.
pub(super) type Key = [u64; MAX_KEY];

/// A key part for a call without a time.
const NO_TIME: u64 = u64::MAX;

/// Names seen while folding, each stored once and keyed by its number.
#[derive(Default)]
pub(super) struct Names {
    ids: HashMap<String, u64>,
    names: Vec<String>,
}

impl Names {
    pub(super) fn id(&mut self, name: &str) -> u64 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u64;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub(super) fn name(&self, id: u64) -> &str {
        &self.names[id as usize]
    }
}

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// The call's day in `tz`, as days from the common era (UTC by arithmetic,
/// other zones through their rules).
pub(super) fn local_day(micros: i64, tz: Tz) -> Option<NaiveDate> {
    if tz == Tz::UTC {
        let days = micros.div_euclid(DAY_MICROS);
        return NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()? + 719_163);
    }
    Some(
        DateTime::from_timestamp_micros(micros)?
            .with_timezone(&tz)
            .date_naive(),
    )
}

/// The key part of a time dimension for `day`.
pub(super) fn time_part(d: Dimension, day: Option<NaiveDate>) -> u64 {
    let Some(day) = day else {
        return NO_TIME;
    };
    match d {
        Dimension::Week => {
            let w = day.iso_week();
            (w.year() as u64) * 100 + u64::from(w.week())
        }
        Dimension::Month => (day.year() as u64) * 100 + u64::from(day.month()),
        _ => day.num_days_from_ce() as u64,
    }
}

/// A key part written out, as the report shows it.
pub(super) fn render(d: Dimension, part: u64, names: &Names) -> String {
    match d {
        Dimension::Day | Dimension::Week | Dimension::Month if part == NO_TIME => UNKNOWN.into(),
        Dimension::Day => i32::try_from(part)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .map_or(UNKNOWN.into(), |d| d.format("%Y-%m-%d").to_string()),
        Dimension::Week => format!("{}-W{:02}", part / 100, part % 100),
        Dimension::Month => format!("{}-{:02}", part / 100, part % 100),
        _ => names.name(part).to_string(),
    }
}

/// Prices looked up once per model name, then chosen by day per call.
#[derive(Default)]
pub(super) struct PriceCache<'p> {
    by_model: HashMap<String, Vec<&'p Price>>,
}

impl<'p> PriceCache<'p> {
    pub(super) fn price(
        &mut self,
        table: &'p PriceTable,
        model: &str,
        day: NaiveDate,
    ) -> Option<&'p Price> {
        if !self.by_model.contains_key(model) {
            self.by_model
                .insert(model.to_string(), table.prices_of(model));
        }
        self.by_model[model]
            .iter()
            .filter(|p| p.from <= day)
            .max_by_key(|p| p.from)
            .copied()
    }
}

/// The groups of a report being folded.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) groups: HashMap<Key, UsageTotals>,
    pub(super) totals: UsageTotals,
}

impl Tally {
    pub(super) fn add(&mut self, key: Key, tokens: &crate::usage::Tokens, cost: Option<f64>) {
        self.groups.entry(key).or_default().add(tokens, cost);
        self.totals.add(tokens, cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_by_arithmetic_agree_with_the_calendar() {
        for at in [
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-01-01T02:30:00Z",
            "2024-02-29T23:59:59.999999Z",
        ] {
            let t = DateTime::parse_from_rfc3339(at).unwrap();
            assert_eq!(
                local_day(t.timestamp_micros(), Tz::UTC),
                Some(t.date_naive()),
                "{at}"
            );
        }
    }

    #[test]
    fn key_parts_write_out_as_the_report_shows_them() {
        let names = Names::default();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1);
        let part = |d| render(d, time_part(d, day), &names);
        assert_eq!(part(Dimension::Day), "2026-01-01");
        assert_eq!(part(Dimension::Week), "2026-W01");
        assert_eq!(part(Dimension::Month), "2026-01");
        assert_eq!(
            render(Dimension::Day, time_part(Dimension::Day, None), &names),
            "unknown"
        );
    }
}
