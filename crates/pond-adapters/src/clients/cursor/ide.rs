//! The IDE's `state.vscdb`: composers and their bubbles in `cursorDiskKV`,
//! the workspace composer lists and the old chat panel in `ItemTable`.

use super::*;
use crate::formats::editor::uri_path;
use crate::formats::json::items_of;
use crate::formats::time::instant;

/// Composers, each followed by its bubbles in conversation order (then
/// the ones its header list does not name yet); bubbles of composers
/// without a header come last.
pub(super) fn disk_kv_rows(conn: &Connection) -> Result<Vec<Value>, String> {
    let composers = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM cursorDiskKV WHERE key LIKE 'composerData:%' ORDER BY key",
            size_capped("value")
        ),
    )?;
    let bubbles = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM cursorDiskKV WHERE key LIKE 'bubbleId:%' ORDER BY key",
            size_capped("value")
        ),
    )?;
    let mut groups: HashMap<&str, Vec<&KvRow>> = HashMap::new();
    for bubble in &bubbles {
        if let Some(c) = key_composer(&bubble.key) {
            groups.entry(c).or_default().push(bubble);
        }
    }
    let mut out = Vec::new();
    let mut emitted: HashSet<&str> = HashSet::new();
    for row in &composers {
        let composer_id = key_composer(&row.key).unwrap_or_default();
        let value = row.value.as_deref().map(value_json).map(trim_composer);
        let order: HashMap<String, usize> = value
            .as_ref()
            .and_then(|v| v.get("fullConversationHeadersOnly"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| str_field(h, "bubbleId"))
            .enumerate()
            .map(|(i, b)| (format!("bubbleId:{composer_id}:{b}"), i))
            .collect();
        out.push(Value::Object(kv_object("cursorDiskKV", row, value)));
        let mut group = groups.remove(composer_id).unwrap_or_default();
        group.sort_by_key(|b| order.get(&b.key).copied().unwrap_or(usize::MAX));
        for bubble in group {
            emitted.insert(bubble.key.as_str());
            out.push(bubble_row(bubble, order.get(&bubble.key).copied()));
        }
    }
    for bubble in &bubbles {
        if !emitted.contains(bubble.key.as_str()) {
            out.push(bubble_row(bubble, None));
        }
    }
    Ok(out)
}

pub(super) fn bubble_row(row: &KvRow, position: Option<usize>) -> Value {
    let mut o = kv_object("cursorDiskKV", row, row.value.as_deref().map(value_json));
    o.insert("position".into(), position.map_or(Value::Null, Value::from));
    Value::Object(o)
}

/// Drops [`COMPOSER_DROPPED`] fields (and anything named like an
/// encryption key), listing what was dropped.
pub(super) fn trim_composer(value: Value) -> Value {
    let Value::Object(mut o) = value else {
        return value;
    };
    let drop: Vec<String> = o
        .keys()
        .filter(|k| COMPOSER_DROPPED.contains(&k.as_str()) || k.ends_with("EncryptionKey"))
        .cloned()
        .collect();
    for k in &drop {
        o.remove(k);
    }
    if !drop.is_empty() {
        o.insert("dropped".into(), drop.into());
    }
    Value::Object(o)
}

pub(super) fn item_rows(conn: &Connection, db: &Path) -> Result<Vec<Value>, String> {
    let keys = ITEM_KEYS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = kv_query(
        conn,
        &format!(
            "SELECT key, {} FROM ItemTable WHERE key IN ({keys}) ORDER BY key",
            size_capped("value")
        ),
    )?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // The folder this workspace database belongs to, for its composers.
    let workspace = db
        .parent()
        .map(|d| d.join("workspace.json"))
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Ok(rows
        .iter()
        .map(|row| {
            let mut o = kv_object("ItemTable", row, row.value.as_deref().map(value_json));
            if let Some(w) = &workspace {
                o.insert("workspace".into(), w.clone());
            }
            Value::Object(o)
        })
        .collect())
}

/// A composer's header: its facts, sub-composers, and inline messages.
pub(super) fn composer_record(
    ctx: RecordContext<'_>,
    composer: &str,
    value: &Value,
    project: Option<&str>,
) -> Interpretation {
    let mut out = Out::new(ctx);
    if !value.is_object() {
        return Interpretation::unknown();
    }
    let mut facts = SessionFacts {
        title: str_field(value, "name").map(str::to_string),
        model: value
            .get("modelConfig")
            .and_then(|m| str_field(m, "modelName"))
            .filter(|m| *m != "default")
            .map(str::to_string),
        git_branch: str_field(value, "createdOnBranch").map(str::to_string),
        project: project
            .map(str::to_string)
            .or_else(|| workspace_identifier_path(value)),
        ..SessionFacts::default()
    };
    facts.saw(value.get("createdAt").and_then(|v| instant(Some(v))));
    facts.saw(value.get("lastUpdatedAt").and_then(|v| instant(Some(v))));
    out.facts(composer, facts);
    for child in items_of(value, "subComposerIds").filter_map(Value::as_str) {
        out.facts(
            child,
            SessionFacts {
                parent_id: Some(composer.to_string()),
                ..SessionFacts::default()
            },
        );
    }
    // Older versions keep the whole conversation in the header.
    inline_bubbles(
        &mut out,
        composer,
        items_of(value, "conversation"),
        "bubbleId",
    );
    out.interp
}

/// Bubbles held inline by a composer header or a chat tab (older
/// versions), named by `id_key` or else by their position.
fn inline_bubbles<'v>(
    out: &mut Out<'_>,
    session: &str,
    bubbles: impl Iterator<Item = &'v Value>,
    id_key: &str,
) {
    for (i, bubble) in bubbles.enumerate() {
        let id = str_field(bubble, id_key)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{i}"));
        if let Some((messages, facts)) = bubble_messages(session, &id, bubble, i as u64 * 2) {
            out.facts(session, facts);
            out.interp.messages.extend(messages);
        }
    }
}

/// `workspaceIdentifier` as seen described: `{id, uri: {fsPath | path}}`.
pub(super) fn workspace_identifier_path(value: &Value) -> Option<String> {
    let uri = value.get("workspaceIdentifier")?.get("uri")?;
    str_field(uri, "fsPath")
        .or_else(|| str_field(uri, "path"))
        .map(str::to_string)
}

/// One bubble (a stored bubble or an element of an inline conversation):
/// its messages, the tool result as a message of its own, and facts.
/// `None` when its type is unknown.
pub(super) fn bubble_messages(
    composer: &str,
    bubble_id: &str,
    b: &Value,
    seq: u64,
) -> Option<(Vec<Message>, SessionFacts)> {
    let kind = match b.get("type") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => match s.as_str() {
            "user" => Some(1),
            "ai" | "assistant" => Some(2),
            _ => None,
        },
        _ => None,
    }?;
    let role = match kind {
        1 => Role::User,
        2 => Role::Assistant,
        _ => return None,
    };
    let at = b
        .get("createdAt")
        .and_then(|v| instant(Some(v)))
        .or_else(|| b.get("timingInfo").and_then(timing_time));
    let mut facts = SessionFacts::default();
    facts.saw(at);
    facts.model = b
        .get("modelInfo")
        .and_then(|m| str_field(m, "modelName"))
        .filter(|m| *m != "default")
        .map(str::to_string);
    let mut parts = Vec::new();
    match b.get("thinking") {
        Some(Value::String(t)) if !t.is_empty() => parts.push(Part::text(PartKind::Thinking, t)),
        Some(t) => {
            if let Some(text) = str_field(t, "text") {
                parts.push(Part::text(PartKind::Thinking, text));
            }
        }
        None => {}
    }
    let text = str_field(b, "text").or_else(|| str_field(b, "rawText"));
    match text {
        Some(t) if !t.trim().is_empty() => parts.push(Part::text(PartKind::Text, t)),
        _ => {
            // Some assistant bubbles hold only code blocks.
            for block in items_of(b, "codeBlocks") {
                if let Some(code) = str_field(block, "content") {
                    parts.push(Part::text(PartKind::Text, code));
                }
            }
        }
    }
    for _ in items_of(b, "images") {
        parts.push(Part::text(PartKind::File, "[image]"));
    }
    let mut messages = Vec::new();
    let id = format!("{composer}/{bubble_id}");
    let mut result = None;
    if let Some(tool) = b.get("toolFormerData").filter(|t| t.is_object()) {
        let name = str_field(tool, "name")
            .map(str::to_string)
            .or_else(|| tool.get("tool").map(json_text));
        let call_id = str_field(tool, "toolCallId")
            .map(str::to_string)
            .unwrap_or_else(|| bubble_id.to_string());
        let args = tool
            .get("rawArgs")
            .filter(|a| !a.is_null())
            .or_else(|| tool.get("params").filter(|a| !a.is_null()));
        parts.push(Part::tool_call(
            name.as_deref(),
            Some(call_id.as_str()),
            args.map(json_text),
        ));
        if let Some(output) = tool.get("result").filter(|r| !r.is_null()) {
            let failed = |v: &Value| str_field(v, "status") == Some("error");
            result = Some(Message {
                id: format!("{id}/result"),
                session_id: composer.to_string(),
                seq: seq + 1,
                role: Role::Tool,
                timestamp: at,
                model: None,
                parts: vec![Part::tool_result(
                    name.as_deref(),
                    Some(&call_id),
                    Some(json_text(output)),
                    failed(tool) || tool.get("additionalData").is_some_and(failed),
                )],
            });
        }
    }
    if !parts.is_empty() {
        messages.push(Message {
            id,
            session_id: composer.to_string(),
            seq,
            role,
            timestamp: at,
            model: None,
            parts,
        });
    }
    messages.extend(result);
    Some((messages, facts))
}

/// Wall-clock times in `timingInfo` (epoch ms; `clientStartTime` is not).
pub(super) fn timing_time(t: &Value) -> Option<DateTime<Utc>> {
    ["clientRpcSendTime", "clientSettleTime", "clientEndTime"]
        .iter()
        .filter_map(|k| t.get(*k).and_then(Value::as_f64))
        .find(|ms| *ms > 1e12)
        .and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
}

/// The folder a workspace database belongs to, from `workspace.json`.
pub(super) fn workspace_folder(record: &Value) -> Option<String> {
    let w = record.get("workspace")?;
    let uri = str_field(w, "folder").or_else(|| str_field(w, "workspace"))?;
    Some(uri_path(uri))
}

/// A workspace's composer list: each listed composer's folder, title and
/// times, and the messages of heads that still carry them inline.
pub(super) fn workspace_composers(
    ctx: RecordContext<'_>,
    record: &Value,
    value: &Value,
) -> Interpretation {
    let keys = ("allComposers", "composerId");
    each_listed(ctx, record, value, keys, |out, composer, head, project| {
        let inner = composer_record(ctx, composer, head, project);
        out.interp.messages.extend(inner.messages);
        out.facts(ctx.session_id, inner.facts);
        for (s, f) in inner.other_sessions {
            out.facts(&s, f);
        }
    })
}

/// The old chat panel: one session per tab.
pub(super) fn aichat_tabs(ctx: RecordContext<'_>, record: &Value, value: &Value) -> Interpretation {
    let keys = ("tabs", "tabId");
    each_listed(ctx, record, value, keys, |out, tab_id, tab, project| {
        out.facts(
            tab_id,
            SessionFacts {
                title: str_field(tab, "chatTitle").map(str::to_string),
                project: project.map(str::to_string),
                ..SessionFacts::default()
            },
        );
        out.saw(
            tab_id,
            tab.get("lastSendTime").and_then(|v| instant(Some(v))),
        );
        inline_bubbles(out, tab_id, items_of(tab, "bubbles"), "id");
    })
}

/// A workspace record listing sessions under `list`: each entry that names
/// its id under `id_key` is read by `read`, with the workspace's folder.
fn each_listed<'a>(
    ctx: RecordContext<'a>,
    record: &Value,
    value: &Value,
    (list, id_key): (&str, &str),
    mut read: impl FnMut(&mut Out<'a>, &str, &Value, Option<&str>),
) -> Interpretation {
    let Some(entries) = value.get(list).and_then(Value::as_array) else {
        return Interpretation::unknown();
    };
    let project = workspace_folder(record);
    let mut out = Out::new(ctx);
    for entry in entries {
        if let Some(id) = str_field(entry, id_key) {
            read(&mut out, id, entry, project.as_deref());
        }
    }
    out.interp
}
