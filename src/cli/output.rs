//! Small shared helpers for printing: JSON, times, truncation, session lookup.

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::archive::Choice;
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

/// Resolves a session key, a unique prefix of one, or the client's own id
/// (see [`crate::archive::session_id_clause`]).
pub async fn resolve_session(store: &Store, given: &str) -> anyhow::Result<String> {
    let exact = format!("id = {}", sql_str(given));
    if store.count(TableKind::Sessions, Some(&exact)).await? > 0 {
        return Ok(given.to_string());
    }
    let clause = crate::archive::session_id_clause(given);
    let mut ids = Vec::new();
    for b in store
        .scan(TableKind::Sessions, Some(&clause), Some(&["id"]))
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
    let keys: Vec<&str> = ids.iter().map(String::as_str).collect();
    match crate::archive::choose_session(given, &keys) {
        Choice::One(i) => Ok(ids.swap_remove(i)),
        Choice::None => bail!("no session `{given}` in the store (see `pond sessions`)"),
        Choice::Many => bail!("{}", crate::archive::ambiguous(given, ids)),
    }
}
