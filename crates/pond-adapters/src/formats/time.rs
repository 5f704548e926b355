//! The one reader of the times clients write. They write them every way:
//! RFC 3339 text, SQLite's `CURRENT_TIMESTAMP` text, and epoch seconds or
//! milliseconds as integers, floats or digit strings. One threshold tells
//! seconds from milliseconds for every client, so two clients that write
//! the same instant are read as the same instant.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::formats::json::str_field;
use crate::model::SessionFacts;

/// Below this an epoch number is seconds, above it milliseconds: 10^11
/// seconds is the year 5138, 10^11 milliseconds is March 1973, before any
/// client wrote a session.
const SECONDS_BELOW: f64 = 1e11;

/// The instant `v` names, or `None` when it names none. A number of zero
/// or less is a placeholder, not 1970.
pub(crate) fn instant(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::Number(n) => epoch(n.as_f64()?),
        Value::String(s) => text(s),
        _ => None,
    }
}

/// The instant at `key` of a record.
pub(crate) fn timestamp_field(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    str_field(v, key).and_then(text)
}

/// Counts the instants a record keeps under `keys` into the session's
/// first and last seen: documents that note their start and last update.
pub(crate) fn saw_fields(facts: &mut SessionFacts, record: &Value, keys: &[&str]) {
    for key in keys {
        facts.saw(timestamp_field(record, key));
    }
}

fn text(s: &str) -> Option<DateTime<Utc>> {
    if let Some(at) = crate::model::parse_timestamp(s) {
        return Some(at);
    }
    if let Ok(n) = s.parse::<f64>() {
        return epoch(n);
    }
    // SQLite's CURRENT_TIMESTAMP is UTC without a zone.
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

fn epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let millis = if n < SECONDS_BELOW { n * 1000.0 } else { n };
    DateTime::from_timestamp_millis(millis as i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(ms: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(ms)
    }

    #[test]
    fn epoch_numbers_are_seconds_or_milliseconds_by_one_threshold() {
        assert_eq!(
            instant(Some(&json!(1_700_000_000_123_i64))),
            at(1_700_000_000_123)
        );
        // A fraction of a millisecond is dropped, not the whole time.
        assert_eq!(
            instant(Some(&json!(1_700_000_000_123.9_f64))),
            at(1_700_000_000_123)
        );
        assert_eq!(instant(Some(&json!(1_700_000_000))), at(1_700_000_000_000));
        assert_eq!(
            instant(Some(&json!(1_700_000_000.5))),
            at(1_700_000_000_500)
        );
        assert_eq!(
            instant(Some(&json!("1700000000123"))),
            at(1_700_000_000_123)
        );
    }

    #[test]
    fn text_is_rfc3339_or_sqlite() {
        assert_eq!(
            instant(Some(&json!("2026-01-01T00:00:00Z"))),
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .ok()
                .map(|t| t.to_utc())
        );
        assert_eq!(
            instant(Some(&json!("2025-10-15 09:30:00"))),
            DateTime::parse_from_rfc3339("2025-10-15T09:30:00Z")
                .ok()
                .map(|t| t.to_utc())
        );
    }

    #[test]
    fn placeholders_and_other_values_are_no_time() {
        for v in [
            json!(0),
            json!(-5),
            json!(null),
            json!(true),
            json!("soon"),
            json!([1]),
        ] {
            assert_eq!(instant(Some(&v)), None, "{v}");
        }
        assert_eq!(instant(None), None);
    }
}
