//! The `cursor-agent` CLI's `store.db`: its meta rows, and the
//! content-addressed blob tree (with its own protobuf varint reader) whose
//! JSON leaves are the messages.

use super::*;
use crate::formats::time::instant;

/// `store.db`: the meta rows, then the message blobs in the order the
/// latest tree reaches them, then message blobs it no longer reaches.
pub(super) fn agent_store_rows(conn: &Connection) -> Result<Vec<Value>, String> {
    let meta = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM meta ORDER BY key",
            size_capped("value")
        ),
    )?;
    let blobs = kv_query(
        conn,
        &format!("SELECT id, {} FROM blobs ORDER BY id", size_capped("data")),
    )?;
    let mut out = Vec::new();
    let mut root = None;
    for row in &meta {
        let value = row.value.as_deref().map(|bytes| {
            // Cursor writes the meta value as hex of JSON.
            let text = String::from_utf8_lossy(bytes);
            match unhex(&text) {
                Some(decoded) => value_json(&decoded),
                None => value_json(bytes),
            }
        });
        if let Some(r) = value
            .as_ref()
            .and_then(|v| str_field(v, "latestRootBlobId"))
        {
            root = Some(r.to_string());
        }
        out.push(Value::Object(kv_object("meta", row, value)));
    }
    let by_id: HashMap<&str, &KvRow> = blobs.iter().map(|b| (b.key.as_str(), b)).collect();
    let order = root.map(|r| tree_order(&r, &by_id)).unwrap_or_default();
    let mut placed = HashSet::new();
    for (position, id) in order.iter().enumerate() {
        if let Some(blob) = by_id.get(id.as_str()) {
            placed.insert(id.clone());
            out.push(blob_row(blob, Some(position)));
        }
    }
    for blob in &blobs {
        if !placed.contains(&blob.key) && is_json_blob(blob) {
            out.push(blob_row(blob, None));
        }
    }
    Ok(out)
}

pub(super) fn is_json_blob(blob: &KvRow) -> bool {
    blob.value
        .as_deref()
        .is_some_and(|b| b.trim_ascii_start().first() == Some(&b'{'))
        // Too large to load: kept as a size-only row all the same.
        || blob.value.is_none()
}

pub(super) fn blob_row(row: &KvRow, position: Option<usize>) -> Value {
    let mut o = kv_object("blobs", row, row.value.as_deref().map(value_json));
    o.insert("position".into(), position.map_or(Value::Null, Value::from));
    Value::Object(o)
}

/// The JSON blobs under `root`, depth first, children in stored order.
pub(super) fn tree_order(root: &str, blobs: &HashMap<&str, &KvRow>) -> Vec<String> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(data) = blobs.get(id.as_str()).and_then(|b| b.value.as_deref()) else {
            continue;
        };
        if data.trim_ascii_start().first() == Some(&b'{') {
            order.push(id);
            continue;
        }
        let children = tree_children(data);
        stack.extend(children.into_iter().rev());
    }
    order
}

/// Child blob ids of a tree node: its protobuf field-1 entries of 32 bytes.
/// Other fields are skipped; a malformed node yields what parsed.
pub(super) fn tree_children(data: &[u8]) -> Vec<String> {
    fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *data.get(*at)?;
            *at += 1;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let Some(tag) = varint(data, &mut at) else {
            break;
        };
        let skip = match tag & 7 {
            0 => varint(data, &mut at).map(|_| 0),
            1 => Some(8),
            5 => Some(4),
            2 => varint(data, &mut at).and_then(|n| usize::try_from(n).ok()),
            _ => None,
        };
        let Some(len) = skip else { break };
        let Some(bytes) = at.checked_add(len).and_then(|end| data.get(at..end)) else {
            break;
        };
        if tag == (1 << 3 | 2) && len == 32 {
            out.push(hex(bytes));
        }
        at += len;
    }
    out
}

/// `store.db` meta: `{agentId, name, createdAt, lastUsedModel, mode,
/// latestRootBlobId, subagentInfo?}`.
pub(super) fn agent_meta(ctx: RecordContext<'_>, value: &Value) -> Interpretation {
    if !value.is_object() {
        return Interpretation::unknown();
    }
    let mut out = Out::new(ctx);
    let mut facts = SessionFacts {
        title: str_field(value, "name").map(str::to_string),
        model: str_field(value, "lastUsedModel")
            .filter(|m| *m != "default")
            .map(str::to_string),
        parent_id: value
            .get("subagentInfo")
            .and_then(|s| str_field(s, "parentAgentId"))
            .map(str::to_string),
        ..SessionFacts::default()
    };
    facts.saw(value.get("createdAt").and_then(|v| instant(Some(v))));
    let session = str_field(value, "agentId")
        .unwrap_or(ctx.session_id)
        .to_string();
    out.facts(&session, facts);
    out.interp
}

/// A message blob of `store.db`. Assistant blobs all carry `id: "1"`, so
/// the blob's content hash names the message.
pub(super) fn agent_blob(
    ctx: RecordContext<'_>,
    value: &Value,
    position: Option<u64>,
    blob_id: &str,
) -> Interpretation {
    let seq = match position {
        Some(p) => p,
        None => UNPLACED + ctx.offset,
    };
    let id = format!("{}/{blob_id}", ctx.session_id);
    let mut out = Out::new(ctx);
    match content_message(ctx, value, value.get("content"), id, seq) {
        Some(message) => {
            if matches!(message.role, Role::User | Role::System) {
                out.interp.facts.project = workspace_path(&message);
            }
            out.interp.messages.push(message);
            out.interp
        }
        None => Interpretation::unknown(),
    }
}
