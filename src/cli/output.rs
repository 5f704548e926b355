//! Small shared helpers for printing: JSON, times, truncation, session lookup.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::Store;

pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A command's report as `--json` asks, or as `human` writes it for a
/// person: the one switch every command's output goes through.
pub fn print_report<T: Serialize>(
    json: bool,
    report: &T,
    human: impl FnOnce(&T),
) -> anyhow::Result<()> {
    if json {
        print_json(report)
    } else {
        human(report);
        Ok(())
    }
}

pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".to_string())
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Resolves a session key, a unique prefix of one, or the client's own id
/// (see [`crate::archive::resolve_session_key`]).
pub async fn resolve_session(store: &Store, given: &str) -> anyhow::Result<String> {
    Ok(crate::archive::resolve_session_key(store, given).await?)
}
