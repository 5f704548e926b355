//! Arrow schemas of the store's tables and conversions between rows and the
//! canonical model.
//!
//! Column-level zstd (Lance field metadata) keeps raw bytes and texts small on
//! disk without pond compressing each record itself, which would compress far
//! worse: one JSON line shares little with itself but much with its neighbours.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, LargeBinaryArray, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};

use crate::model::{Message, Part, RawRecord, RecordStatus, Role, Session};
use crate::store::StoreError;

pub const RAW: &str = "raw_records";
pub const MESSAGES: &str = "messages";
pub const SESSIONS: &str = "sessions";
pub const META: &str = "pond_meta";

fn compressed(name: &str, data_type: DataType) -> Field {
    Field::new(name, data_type, true).with_metadata(HashMap::from([(
        "lance-encoding:compression".to_string(),
        "zstd".to_string(),
    )]))
}

/// The `id` column of every table: Lance's unenforced primary key. With it,
/// two writers that insert the same new key at once conflict and one retries
/// (finding the row present) instead of both committing a duplicate.
pub(crate) fn key_field() -> Field {
    Field::new("id", DataType::Utf8, false).with_metadata(HashMap::from([(
        "lance-schema:unenforced-primary-key".to_string(),
        "true".to_string(),
    )]))
}

pub(crate) fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("file_id", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("client", DataType::Utf8, false),
        Field::new("root", DataType::Utf8, false),
        Field::new("rel_path", DataType::Utf8, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("generation", DataType::UInt32, false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("length", DataType::UInt64, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("sha256", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        compressed("bytes", DataType::LargeBinary),
        Field::new("ingested_at", utc(), false),
        patch_base_field(),
    ]))
}

/// Set on a record whose `bytes` are a patch against this generation of
/// the same file rather than the bytes themselves (whole documents, see
/// `store::tables::documents`). Last, and nullable, so a store made before it gains
/// it as a column of nulls.
pub(crate) fn patch_base_field() -> Field {
    Field::new(PATCH_BASE, DataType::UInt32, true)
}

pub(crate) const PATCH_BASE: &str = "patch_base";

/// A record's bytes as stored: a patch against `base_generation` of the
/// same file.
#[derive(Debug, Clone)]
pub struct Patch {
    pub base_generation: u32,
    pub bytes: Vec<u8>,
}

/// A raw record as read from the table, its bytes possibly a patch.
#[derive(Debug, Clone)]
pub(crate) struct StoredRaw {
    pub record: RawRecord,
    pub patch_base: Option<u32>,
}

pub fn messages_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("client", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("seq", DataType::UInt64, false),
        Field::new("role", DataType::Utf8, false),
        Field::new("timestamp", utc(), true),
        Field::new("model", DataType::Utf8, true),
        compressed("text", DataType::Utf8),
        Field::new(
            "tool_names",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        compressed("parts", DataType::Utf8),
        Field::new("ingested_at", utc(), false),
    ]))
}

pub fn sessions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(),
        Field::new("client", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("project", DataType::Utf8, true),
        Field::new("git_branch", DataType::Utf8, true),
        Field::new("model", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("parent_id", DataType::Utf8, true),
        Field::new("started_at", utc(), true),
        Field::new("updated_at", utc(), true),
        Field::new("message_count", DataType::UInt64, false),
        Field::new("ingested_at", utc(), false),
    ]))
}

pub fn meta_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

fn micros(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_micros())
}

pub(crate) fn timestamps(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

pub(crate) fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

pub(crate) fn opt_strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

pub(crate) fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, StoreError> {
    RecordBatch::try_new(schema, columns).map_err(|e| StoreError::Schema(e.to_string()))
}

/// The raw records as stored: each record's own bytes, or for a record in
/// `patches` (by id) the patch against an earlier generation.
pub fn raw_batch(
    rows: &[RawRecord],
    patches: &HashMap<String, Patch>,
    now: DateTime<Utc>,
) -> Result<RecordBatch, StoreError> {
    let n = rows.len();
    let patch = |r: &RawRecord| patches.get(&r.id);
    batch(
        raw_schema(),
        vec![
            strings(rows.iter().map(|r| r.id.as_str())),
            strings(rows.iter().map(|r| r.file_id.as_str())),
            strings(rows.iter().map(|r| r.host.as_str())),
            strings(rows.iter().map(|r| r.client.as_str())),
            strings(rows.iter().map(|r| r.root.as_str())),
            strings(rows.iter().map(|r| r.rel_path.as_str())),
            strings(rows.iter().map(|r| r.session_id.as_str())),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.generation),
            )),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.offset))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.length))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.line))),
            strings(rows.iter().map(|r| r.sha256.as_str())),
            strings(rows.iter().map(|r| r.status.as_str())),
            Arc::new(LargeBinaryArray::from_iter_values(rows.iter().map(
                |r| match patch(r) {
                    Some(p) => p.bytes.as_slice(),
                    None => r.bytes.as_slice(),
                },
            ))),
            timestamps(vec![Some(now.timestamp_micros()); n]),
            Arc::new(UInt32Array::from_iter(
                rows.iter().map(|r| patch(r).map(|p| p.base_generation)),
            )),
        ],
    )
}

/// A message with the session-level columns denormalised onto it, so search
/// can filter by client and host without a join.
pub struct MessageRow<'a> {
    pub message: &'a Message,
    pub client: &'a str,
    pub host: &'a str,
}

pub fn messages_batch(
    rows: &[MessageRow<'_>],
    now: DateTime<Utc>,
) -> Result<RecordBatch, StoreError> {
    let mut tools = ListBuilder::new(StringBuilder::new());
    let mut parts_json = Vec::with_capacity(rows.len());
    let mut texts = Vec::with_capacity(rows.len());
    for row in rows {
        for name in row.message.tool_names() {
            tools.values().append_value(name);
        }
        tools.append(true);
        parts_json.push(
            serde_json::to_string(&row.message.parts)
                .map_err(|e| StoreError::Schema(e.to_string()))?,
        );
        texts.push(row.message.plain_text());
    }
    batch(
        messages_schema(),
        vec![
            strings(rows.iter().map(|r| r.message.id.as_str())),
            strings(rows.iter().map(|r| r.message.session_id.as_str())),
            strings(rows.iter().map(|r| r.client)),
            strings(rows.iter().map(|r| r.host)),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.message.seq),
            )),
            strings(rows.iter().map(|r| r.message.role.as_str())),
            timestamps(rows.iter().map(|r| micros(r.message.timestamp)).collect()),
            opt_strings(rows.iter().map(|r| r.message.model.as_deref())),
            strings(texts.iter().map(String::as_str)),
            Arc::new(tools.finish()),
            strings(parts_json.iter().map(String::as_str)),
            timestamps(vec![Some(now.timestamp_micros()); rows.len()]),
        ],
    )
}

pub fn sessions_batch(rows: &[Session], now: DateTime<Utc>) -> Result<RecordBatch, StoreError> {
    batch(
        sessions_schema(),
        vec![
            strings(rows.iter().map(|s| s.id.as_str())),
            strings(rows.iter().map(|s| s.client.as_str())),
            strings(rows.iter().map(|s| s.host.as_str())),
            opt_strings(rows.iter().map(|s| s.project.as_deref())),
            opt_strings(rows.iter().map(|s| s.git_branch.as_deref())),
            opt_strings(rows.iter().map(|s| s.model.as_deref())),
            opt_strings(rows.iter().map(|s| s.title.as_deref())),
            opt_strings(rows.iter().map(|s| s.parent_id.as_deref())),
            timestamps(rows.iter().map(|s| micros(s.started_at)).collect()),
            timestamps(rows.iter().map(|s| micros(s.updated_at)).collect()),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|s| s.message_count),
            )),
            timestamps(vec![Some(now.timestamp_micros()); rows.len()]),
        ],
    )
}

/// Typed access to a batch read back from the store, failing with the column's
/// name when the store's schema is not what this binary expects.
pub struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    pub fn new(batch: &'a RecordBatch) -> Self {
        Columns { batch }
    }

    fn get<T: 'static>(&self, name: &str) -> Result<&'a T, StoreError> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| {
                StoreError::Schema(format!(
                    "column `{name}` is missing or has an unexpected type"
                ))
            })
    }

    pub fn str(&self, name: &str) -> Result<&'a StringArray, StoreError> {
        self.get(name)
    }
    pub fn u64(&self, name: &str) -> Result<&'a UInt64Array, StoreError> {
        self.get(name)
    }
    pub fn u32(&self, name: &str) -> Result<&'a UInt32Array, StoreError> {
        self.get(name)
    }
    pub fn time(&self, name: &str) -> Result<&'a TimestampMicrosecondArray, StoreError> {
        self.get(name)
    }
    pub fn binary(&self, name: &str) -> Result<&'a LargeBinaryArray, StoreError> {
        self.get(name)
    }
    pub fn list(&self, name: &str) -> Result<&'a ListArray, StoreError> {
        self.get(name)
    }
}

pub fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

pub fn opt_time(a: &TimestampMicrosecondArray, i: usize) -> Option<DateTime<Utc>> {
    if a.is_null(i) {
        return None;
    }
    DateTime::from_timestamp_micros(a.value(i))
}

pub fn sessions_from_batch(b: &RecordBatch) -> Result<Vec<Session>, StoreError> {
    let c = Columns::new(b);
    let (id, client, host) = (c.str("id")?, c.str("client")?, c.str("host")?);
    let (project, branch, model) = (c.str("project")?, c.str("git_branch")?, c.str("model")?);
    let (title, parent) = (c.str("title")?, c.str("parent_id")?);
    let (started, updated) = (c.time("started_at")?, c.time("updated_at")?);
    let count = c.u64("message_count")?;
    Ok((0..b.num_rows())
        .map(|i| Session {
            id: id.value(i).to_string(),
            client: client.value(i).to_string(),
            host: host.value(i).to_string(),
            project: opt_str(project, i),
            git_branch: opt_str(branch, i),
            model: opt_str(model, i),
            title: opt_str(title, i),
            parent_id: opt_str(parent, i),
            started_at: opt_time(started, i),
            updated_at: opt_time(updated, i),
            message_count: count.value(i),
        })
        .collect())
}

pub fn messages_from_batch(b: &RecordBatch) -> Result<Vec<Message>, StoreError> {
    let c = Columns::new(b);
    let (id, session, seq, role) = (
        c.str("id")?,
        c.str("session_id")?,
        c.u64("seq")?,
        c.str("role")?,
    );
    let (ts, model, parts) = (c.time("timestamp")?, c.str("model")?, c.str("parts")?);
    (0..b.num_rows())
        .map(|i| {
            let parts: Vec<Part> = serde_json::from_str(parts.value(i))
                .map_err(|e| StoreError::Schema(format!("message {}: parts: {e}", id.value(i))))?;
            Ok(Message {
                id: id.value(i).to_string(),
                session_id: session.value(i).to_string(),
                seq: seq.value(i),
                role: Role::parse(role.value(i)).unwrap_or(Role::System),
                timestamp: opt_time(ts, i),
                model: opt_str(model, i),
                parts,
            })
        })
        .collect()
}

/// The records of a batch as stored: a patched record's `bytes` are still
/// its patch (resolve them with `Store::raw_records`).
pub(crate) fn stored_raw_from_batch(b: &RecordBatch) -> Result<Vec<StoredRaw>, StoreError> {
    let c = Columns::new(b);
    let (id, file_id, host, client) = (
        c.str("id")?,
        c.str("file_id")?,
        c.str("host")?,
        c.str("client")?,
    );
    let (root, rel, session) = (c.str("root")?, c.str("rel_path")?, c.str("session_id")?);
    let (generation, offset, line) = (c.u32("generation")?, c.u64("offset")?, c.u64("line")?);
    let length = c.u64("length")?;
    let (sha, status, bytes) = (c.str("sha256")?, c.str("status")?, c.binary("bytes")?);
    // Absent from a store no binary with patches has written to yet.
    let patch_base = c.u32(PATCH_BASE).ok();
    Ok((0..b.num_rows())
        .map(|i| StoredRaw {
            patch_base: patch_base.filter(|p| p.is_valid(i)).map(|p| p.value(i)),
            record: RawRecord {
                id: id.value(i).to_string(),
                file_id: file_id.value(i).to_string(),
                host: host.value(i).to_string(),
                client: client.value(i).to_string(),
                root: root.value(i).to_string(),
                rel_path: rel.value(i).to_string(),
                session_id: session.value(i).to_string(),
                generation: generation.value(i),
                offset: offset.value(i),
                length: length.value(i),
                line: line.value(i),
                sha256: sha.value(i).to_string(),
                status: match status.value(i) {
                    "parsed" => RecordStatus::Parsed,
                    "unknown" => RecordStatus::Unknown,
                    "blank" => RecordStatus::Blank,
                    _ => RecordStatus::Unparsed,
                },
                bytes: bytes.value(i).to_vec(),
            },
        })
        .collect())
}
