//! Small shared helpers for printing: JSON, times, truncation, session lookup.

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Store, TableKind, schema, sql_str};

pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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

/// Resolves a session id or a unique prefix of one.
pub async fn resolve_session(store: &Store, given: &str) -> anyhow::Result<String> {
    let exact = format!("id = {}", sql_str(given));
    if store.count(TableKind::Sessions, Some(&exact)).await? > 0 {
        return Ok(given.to_string());
    }
    let escaped = given
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let prefix = format!("id LIKE {}", sql_str(&format!("{escaped}%")));
    let mut ids = Vec::new();
    for b in store
        .scan(TableKind::Sessions, Some(&prefix), Some(&["id"]))
        .await?
    {
        ids.extend(
            schema::Columns::new(&b)
                .str("id")?
                .iter()
                .flatten()
                .map(str::to_string),
        );
    }
    match ids.len() {
        1 => Ok(ids.remove(0)),
        0 => bail!("no session `{given}` in the store (see `pond sessions`)"),
        n => bail!("`{given}` matches {n} sessions; give more of the id"),
    }
}
