//! Cursor's SQLite key/value rows, shared by the IDE's `state.vscdb` and the
//! CLI's `store.db`: loading a row (capped at `MAX_VALUE_BYTES`), and telling
//! which session a row belongs to before a format reads it.

use super::*;

// ---------------------------------------------------------------------------
// Reading databases

/// One key/value row: its key, the value's size, and the value unless it
/// is over [`MAX_VALUE_BYTES`].
pub(super) struct KvRow {
    pub(super) key: String,
    pub(super) size: i64,
    pub(super) value: Option<Vec<u8>>,
}

pub(super) fn kv_query(conn: &Connection, sql: &str) -> Result<Vec<KvRow>, String> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| format!("cannot query `{sql}`: {e}"))?;
    let mut rows = stmt
        .query([])
        .map_err(|e| format!("cannot query `{sql}`: {e}"))?;
    let mut out = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(format!("cannot read a row of `{sql}`: {e}")),
        };
        let key = match row.get_ref(0) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Blob(b)) => match std::str::from_utf8(b) {
                Ok(s) => s.to_string(),
                Err(_) => hex(b),
            },
            Ok(ValueRef::Integer(n)) => n.to_string(),
            _ => continue,
        };
        let size = row.get::<_, Option<i64>>(1).ok().flatten().unwrap_or(0);
        let value = match row.get_ref(2) {
            Ok(ValueRef::Text(t)) | Ok(ValueRef::Blob(t)) => Some(t.to_vec()),
            _ => None,
        };
        out.push(KvRow { key, size, value });
    }
    Ok(out)
}

/// A stored value as JSON: parsed when it is JSON, else its text (or hex
/// when not UTF-8), so nothing is lost.
pub(super) fn value_json(bytes: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => v,
        Err(_) => match std::str::from_utf8(bytes) {
            Ok(s) => json!({ "text": s }),
            Err(_) => json!({ "hex": hex(bytes) }),
        },
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A row of one table: the value, or its size when too large to load.
pub(super) fn kv_object(table: &str, row: &KvRow, value: Option<Value>) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("table".into(), table.into());
    o.insert("key".into(), row.key.clone().into());
    match value {
        Some(v) => {
            o.insert("value".into(), v);
        }
        None => {
            o.insert("omitted_bytes".into(), row.size.into());
        }
    }
    o
}

pub(super) fn size_capped(column: &str) -> String {
    format!("length({column}), CASE WHEN length({column}) <= {MAX_VALUE_BYTES} THEN {column} END")
}

// ---------------------------------------------------------------------------
// Interpreting records

/// The session a record belongs to, when the record says.
pub(super) fn record_session(record: &Value) -> Option<String> {
    let table = str_field(record, "table")?;
    let key = str_field(record, "key").unwrap_or_default();
    let value = record.get("value");
    match table {
        "cursorDiskKV" => key_composer(key).map(str::to_string),
        "meta" => value
            .and_then(|v| str_field(v, "agentId"))
            .map(str::to_string),
        "ItemTable" if key == "composer.composerData" => value
            .and_then(|v| v.get("allComposers"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|c| str_field(c, "composerId")))
            .map(str::to_string),
        "ItemTable" => value
            .and_then(|v| v.get("tabs"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|t| str_field(t, "tabId")))
            .map(str::to_string),
        _ => None,
    }
}

/// `composerData:<c>` and `bubbleId:<c>:<b>` name their composer.
pub(super) fn key_composer(key: &str) -> Option<&str> {
    if let Some(c) = key.strip_prefix("composerData:") {
        return Some(c).filter(|c| !c.is_empty());
    }
    key.strip_prefix("bubbleId:")
        .and_then(|rest| rest.split(':').next())
        .filter(|c| !c.is_empty())
}

/// Collects facts per session: the record's own session's go in `facts`,
/// others in `other_sessions`.
pub(super) struct Out<'a> {
    pub(super) ctx: RecordContext<'a>,
    pub(super) interp: Interpretation,
}

impl<'a> Out<'a> {
    pub(super) fn new(ctx: RecordContext<'a>) -> Self {
        Out {
            ctx,
            interp: Interpretation {
                understood: true,
                revises: ctx.file.layout == Layout::Database,
                ..Interpretation::default()
            },
        }
    }
    pub(super) fn facts(&mut self, session: &str, facts: SessionFacts) {
        if session == self.ctx.session_id {
            self.interp.facts.absorb(facts);
        } else if let Some((_, f)) = self
            .interp
            .other_sessions
            .iter_mut()
            .find(|(s, _)| s == session)
        {
            f.absorb(facts);
        } else {
            self.interp
                .other_sessions
                .push((session.to_string(), facts));
        }
    }
    pub(super) fn saw(&mut self, session: &str, at: Option<DateTime<Utc>>) {
        let mut f = SessionFacts::default();
        f.saw(at);
        self.facts(session, f);
    }
}

pub(super) fn database_record(ctx: RecordContext<'_>, record: &Value) -> Interpretation {
    let table = str_field(record, "table").unwrap_or_default();
    let key = str_field(record, "key").unwrap_or_default();
    if record.get("value").is_none() && record.get("omitted_bytes").is_some() {
        // Too large to load: the size is all there is.
        return Interpretation {
            understood: true,
            ..Interpretation::default()
        };
    }
    let value = record.get("value").unwrap_or(&Value::Null);
    let position = record.get("position").and_then(Value::as_u64);
    match (table, key) {
        ("cursorDiskKV", k) if k.starts_with("composerData:") => {
            let Some(composer) = key_composer(k) else {
                return Interpretation::unknown();
            };
            composer_record(ctx, composer, value, None)
        }
        ("cursorDiskKV", k) if k.starts_with("bubbleId:") => {
            let Some(composer) = key_composer(k) else {
                return Interpretation::unknown();
            };
            let bubble_id = k.rsplit(':').next().unwrap_or_default();
            let mut out = Out::new(ctx);
            if value.is_null() {
                // Cursor leaves `null` bubbles behind (deleted messages).
                return out.interp;
            }
            let seq = match position {
                Some(p) => p * 2,
                None => UNPLACED + ctx.offset,
            };
            match bubble_messages(composer, bubble_id, value, seq) {
                Some((messages, facts)) => {
                    out.facts(composer, facts);
                    out.interp.messages = messages;
                    out.interp
                }
                None => Interpretation::unknown(),
            }
        }
        ("ItemTable", "composer.composerData") => workspace_composers(ctx, record, value),
        ("ItemTable", "workbench.panel.aichat.view.aichat.chatdata") => {
            aichat_tabs(ctx, record, value)
        }
        ("meta", _) => agent_meta(ctx, value),
        ("blobs", _) => agent_blob(ctx, value, position, key),
        _ => Interpretation::unknown(),
    }
}
