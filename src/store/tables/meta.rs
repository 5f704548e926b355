//! The store's own small facts in `pond_meta`: its format version (and the
//! refusal of a store from a newer pond), the embedding models its vectors
//! came from, and the one-time migrations already done.

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lancedb::Table;
use lancedb::query::ExecutableQuery;

use crate::store::tables::schema;
use crate::store::*;

impl Store {
    /// The embedding models whose vectors the store holds.
    pub fn embed_models(&self) -> Vec<String> {
        self.embed_models
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Records that the store holds vectors of `model` (once per model).
    pub async fn note_embed_model(&self, model: &str) -> Result<(), StoreError> {
        if self.embed_models().iter().any(|m| m == model) {
            return Ok(());
        }
        self.note_meta(EMBED_MODEL_KEY, model).await?;
        if let Ok(mut models) = self.embed_models.lock() {
            models.push(model.to_string());
        }
        Ok(())
    }

    /// Whether the messages stored before the search table existed still
    /// need their search rows.
    pub fn needs_search_backfill(&self) -> bool {
        !self.search_backfilled.load(Ordering::Relaxed)
    }

    pub async fn mark_search_backfilled(&self) -> Result<(), StoreError> {
        self.note_meta(SEARCH_BACKFILLED_KEY, "true").await?;
        self.search_backfilled.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the store still holds keys written before ids were scoped
    /// by client (format 1).
    pub fn needs_id_scoping(&self) -> bool {
        !self.ids_scoped.load(Ordering::Relaxed)
    }

    /// Records the store's format as this binary's, so older binaries
    /// refuse it from their next open on.
    pub async fn stamp_current_format(&self) -> Result<(), StoreError> {
        self.note_meta(FORMAT_KEY, &FORMAT_VERSION.to_string())
            .await
    }

    pub async fn mark_ids_scoped(&self) -> Result<(), StoreError> {
        self.note_meta(IDS_SCOPED_KEY, "true").await?;
        self.ids_scoped.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// `pond_meta`, to write to (rule 50: the write intent first).
    pub(in crate::store) async fn meta_table(&self) -> Result<Table, StoreError> {
        self.intents.hold(&self.location).await?;
        self.db
            .open_table(schema::META)
            .execute()
            .await
            .map_err(|e| lance_error(&self.location, "open pond_meta", e))
    }

    /// Appends one (key, value) row to `pond_meta`.
    pub(in crate::store) async fn note_meta(
        &self,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let meta = self.meta_table().await?;
        let _writing = self.intents.ticket(&self.location).await?;
        meta.add(meta_batch(key, value)?)
            .execute()
            .await
            .map_err(|e| lance_error(&self.location, &format!("record {key} in pond_meta"), e))?;
        Ok(())
    }

    /// Forgets a model once no row holds its vectors, so searches stop
    /// filtering on the row's model.
    pub async fn forget_embed_model(&self, model: &str) -> Result<(), StoreError> {
        let meta = self.meta_table().await?;
        let _writing = self.intents.ticket(&self.location).await?;
        meta.delete(&format!(
            "key = {} AND value = {}",
            sql_str(EMBED_MODEL_KEY),
            sql_str(model)
        ))
        .await
        .map_err(|e| lance_error(&self.location, "forget embedding model", e))?;
        if let Ok(mut models) = self.embed_models.lock() {
            models.retain(|m| m != model);
        }
        Ok(())
    }

    /// Refuses a store written by a newer pond.
    pub(in crate::store) async fn check_format(&self) -> Result<(), StoreError> {
        let meta = match self.db.open_table(schema::META).execute().await {
            Ok(t) => t,
            Err(lancedb::Error::TableNotFound { .. }) => {
                return Err(StoreError::NotFound(self.location.display.clone()));
            }
            Err(e) => return Err(lance_error(&self.location, "open pond_meta", e)),
        };
        let entries = read_meta(&meta)
            .await
            .map_err(|e| lance_error(&self.location, "read pond_meta", e))?;
        let found = entries
            .iter()
            .filter(|(k, _)| k == FORMAT_KEY)
            .filter_map(|(_, v)| v.parse::<u32>().ok())
            .max();
        self.search_backfilled.store(
            entries.iter().any(|(k, _)| k == SEARCH_BACKFILLED_KEY),
            Ordering::Relaxed,
        );
        self.ids_scoped.store(
            entries.iter().any(|(k, _)| k == IDS_SCOPED_KEY),
            Ordering::Relaxed,
        );
        if let Ok(mut models) = self.embed_models.lock() {
            *models = entries
                .into_iter()
                .filter(|(k, _)| k == EMBED_MODEL_KEY)
                .map(|(_, v)| v)
                .collect();
            models.sort();
            models.dedup();
        }
        self.format_found
            .store(found.unwrap_or(0), Ordering::Relaxed);
        // Rule 9: a store stamped with a newer format than this binary's is refused.
        match found {
            Some(found) if found > FORMAT_VERSION => Err(StoreError::NewerFormat {
                location: self.location.display.clone(),
                found,
                supported: FORMAT_VERSION,
            }),
            _ => Ok(()),
        }
    }
}

pub(in crate::store) fn meta_batch(key: &str, value: &str) -> Result<RecordBatch, StoreError> {
    RecordBatch::try_new(
        schema::meta_schema(),
        vec![
            std::sync::Arc::new(arrow_array::StringArray::from(vec![key])),
            std::sync::Arc::new(arrow_array::StringArray::from(vec![value])),
        ],
    )
    .map_err(|e| StoreError::Schema(e.to_string()))
}

/// Every (key, value) of `pond_meta`: a handful of rows, read once per open.
pub(in crate::store) async fn read_meta(meta: &Table) -> lancedb::Result<Vec<(String, String)>> {
    let batches: Vec<RecordBatch> = meta.query().execute().await?.try_collect().await?;
    let mut entries = Vec::new();
    for b in &batches {
        let c = schema::Columns::new(b);
        let (Ok(keys), Ok(values)) = (c.str("key"), c.str("value")) else {
            continue;
        };
        for (k, v) in keys.iter().zip(values.iter()) {
            if let (Some(k), Some(v)) = (k, v) {
                entries.push((k.to_string(), v.to_string()));
            }
        }
    }
    Ok(entries)
}

/// Stamps the store as written by exactly `version`, dropping any newer
/// stamp: for tests of a store an older pond still writes to.
pub async fn restamp_format_version(
    location: &StoreLocation,
    version: u32,
) -> Result<(), StoreError> {
    let store = Store::open(location, OpenMode::Existing).await?;
    let meta = store.meta_table().await?;
    meta.delete(&format!("key = {}", sql_str(FORMAT_KEY)))
        .await
        .map_err(|e| lance_error(location, "restamp format version", e))?;
    add_format_stamp(&meta, location, version, "restamp format version").await
}

/// Records `version` as the store's format. Used by upgrades, and by tests
/// that need a store from the future.
pub async fn stamp_format_version(
    location: &StoreLocation,
    version: u32,
) -> Result<(), StoreError> {
    let store = Store::open(location, OpenMode::Create).await?;
    add_format_stamp(
        &store.meta_table().await?,
        location,
        version,
        "stamp format version",
    )
    .await
}

/// The one place a format stamp's row is written, for stamping and
/// restamping alike.
async fn add_format_stamp(
    meta: &Table,
    location: &StoreLocation,
    version: u32,
    action: &str,
) -> Result<(), StoreError> {
    meta.add(meta_batch(FORMAT_KEY, &version.to_string())?)
        .execute()
        .await
        .map_err(|e| lance_error(location, action, e))?;
    Ok(())
}
