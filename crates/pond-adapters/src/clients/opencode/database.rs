//! `opencode.db`: one record per session row and per message row (its parts
//! embedded), tagged with the table it came from.

use super::*;
use crate::formats::json::items_of;

pub(super) fn tagged(table: &str, row: Value) -> Value {
    let mut object = Map::new();
    object.insert("table".into(), Value::String(table.to_string()));
    if let Value::Object(columns) = row {
        object.extend(columns);
    }
    Value::Object(object)
}

/// The `data` column holds JSON text; embedding it parsed keeps the record
/// readable. Text that does not parse stays a string.
pub(super) fn parse_data(row: &mut Map<String, Value>) {
    if let Some(Value::String(text)) = row.get("data")
        && let Ok(parsed) = serde_json::from_str::<Value>(text)
    {
        row.insert("data".into(), parsed);
    }
}

pub(super) fn interpret_row(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    match str_field(record, "table") {
        Some("session") => {
            let Some(sid) = str_field(record, "id") else {
                return Interpretation::unknown();
            };
            Interpretation {
                understood: true,
                other_sessions: vec![(sid.to_string(), session_facts(record, SessionShape::Row))],
                ..Interpretation::default()
            }
        }
        Some("message") => {
            let (Some(mid), Some(sid)) = (str_field(record, "id"), str_field(record, "session_id"))
            else {
                return Interpretation::unknown();
            };
            let data = record.get("data").filter(|d| d.is_object());
            let Some(data) = data else {
                return Interpretation::unknown();
            };
            let parts: Vec<Value> = items_of(record, "parts")
                .filter_map(|p| p.get("data").filter(|d| d.is_object()).cloned())
                .collect();
            let (message, facts) = build_message(sid, mid, data, &parts, ctx.offset);
            Interpretation {
                understood: true,
                messages: vec![message],
                other_sessions: vec![(sid.to_string(), facts)],
                revises: true,
                ..Interpretation::default()
            }
        }
        _ => Interpretation::unknown(),
    }
}
