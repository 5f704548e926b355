//! Insert-if-absent by key, done by pond instead of by Lance's merge, for
//! the batches a sync writes every few minutes.
//!
//! Once upkeep has given `id` a B-tree, Lance 14's merge takes its indexed
//! path, and that path has two faults for a fleet. It records no inserted
//! keys in its commit, so two writers that read the table before either
//! inserted a new key both commit it (rule 11). And it reads every column
//! of every fragment the index does not cover yet, so a small sync costs
//! more with every commit since the last upkeep (issue 15's fleet bench).
//!
//! Here the batch's keys are looked up reading the `id` column alone (the
//! B-tree for what it covers, the `id` column of the rest), the absent rows
//! are written as new fragments, and the commit carries a bloom filter of
//! the keys it inserts, as Lance's own merge does on its other path: a
//! commit that lands in between with any of those keys, or with rows whose
//! keys it does not record, makes this one conflict, and the write runs
//! again against the newer version.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use futures::TryStreamExt;
use lance::dataset::transaction::{Operation, Transaction, UpdateMode};
use lance::dataset::write::merge_insert::inserted_rows::{KeyExistenceFilterBuilder, KeyValue};
use lance::dataset::{CommitBuilder, Dataset, InsertBuilder, WriteMode, WriteParams};

use crate::store::{Store, StoreError, TableKind, sql_in};

/// Batches up to this many rows take the keyed path. A larger one (a host's
/// first sync) goes through Lance's merge joining the whole `id` column,
/// which records its keys too, instead of a lookup per 500 keys.
pub(in crate::store) const KEYED_INSERT_MAX_ROWS: usize = 2_000;

/// Keys per lookup: an `IN` list this long still plans in milliseconds.
pub(in crate::store) const KEYS_PER_LOOKUP: usize = 500;

/// Commit races a write retries at once, against the newer version, before
/// leaving the rest to the store's backoff: each lost race means another
/// writer committed, so the next try starts from more of the truth.
const IMMEDIATE_RACES: usize = 8;

impl Store {
    /// Rule 2 and 11: inserts the rows of `batch` (at most
    /// [`KEYED_INSERT_MAX_ROWS`], no `id` twice) whose `id` the table lacks,
    /// in one commit that conflicts with any concurrent insert of the same
    /// keys. Returns how many rows were new.
    pub(in crate::store) async fn insert_absent_by_lookup(
        &self,
        kind: TableKind,
        batch: RecordBatch,
    ) -> Result<u64, StoreError> {
        let what = format!("insert into {}", kind.name());
        let table = self.table_for_attempts(kind).await?;
        let wrapper = table.dataset().ok_or_else(|| StoreError::Lance {
            location: self.location.display.clone(),
            operation: what.clone(),
            message: "keyed inserts need a native Lance table".into(),
        })?;
        let first_attempt = AtomicBool::new(true);
        let attempt = || async {
            // A failed attempt may have lost a race: start from the newest version.
            if !first_attempt.swap(false, Ordering::Relaxed) {
                table.checkout_latest().await?;
            }
            let mut races = 0;
            loop {
                let dataset = wrapper.get().await?;
                match insert_once(dataset, &batch).await {
                    Ok((inserted, Some(committed))) => {
                        wrapper.update(committed);
                        return Ok(inserted);
                    }
                    Ok((inserted, None)) => return Ok(inserted),
                    Err(lance::Error::RetryableCommitConflict { .. })
                        if races + 1 < IMMEDIATE_RACES =>
                    {
                        races += 1;
                        self.conflicts.fetch_add(1, Ordering::Relaxed);
                        table.checkout_latest().await?;
                    }
                    Err(e) => return Err(lancedb::Error::from(e)),
                }
            }
        };
        let inserted = self
            .traced_write(kind, batch.num_rows(), false, &what, attempt)
            .await?;
        Ok(inserted)
    }
}

/// One try against `dataset`'s version: look the keys up, write the absent
/// rows, commit them with their keys. Returns the rows inserted and the
/// version committed (none when every key was present).
async fn insert_once(
    dataset: Arc<Dataset>,
    batch: &RecordBatch,
) -> lance::Result<(u64, Option<Dataset>)> {
    let ids = key_column(batch)?;
    let started = std::time::Instant::now();
    let present = present_keys(&dataset, ids).await?;
    let lookup_secs = started.elapsed().as_secs_f64();
    let absent = BooleanArray::from(
        (0..ids.len())
            .map(|i| !present.contains(ids.value(i)))
            .collect::<Vec<bool>>(),
    );
    let rows = arrow_select::filter::filter_record_batch(batch, &absent)?;
    if rows.num_rows() == 0 {
        return Ok((0, None));
    }

    let key_field = dataset
        .schema()
        .field("id")
        .ok_or_else(|| lance::Error::invalid_input("the table has no `id` column"))?
        .id;
    let mut keys = KeyExistenceFilterBuilder::new(vec![key_field]);
    for id in key_column(&rows)?.iter().flatten() {
        keys.insert(KeyValue::String(id.to_string()))?;
    }

    let params = WriteParams {
        mode: WriteMode::Append,
        ..Default::default()
    };
    let written = InsertBuilder::new(dataset.clone())
        .with_params(&params)
        .execute_uncommitted(vec![rows.clone()])
        .await?;
    let write_secs = started.elapsed().as_secs_f64() - lookup_secs;
    let Operation::Append { fragments } = written.operation else {
        return Err(lance::Error::internal(
            "an append wrote something other than new fragments",
        ));
    };
    // The shape of Lance's own insert-only merge, keys included: rows added,
    // none moved or changed.
    let insert = Operation::Update {
        removed_fragment_ids: Vec::new(),
        updated_fragments: Vec::new(),
        new_fragments: fragments,
        fields_modified: Vec::new(),
        compacted_sstables: Vec::new(),
        fields_for_preserving_frag_bitmap: dataset
            .schema()
            .fields_pre_order()
            .map(|f| f.id as u32)
            .collect(),
        update_mode: Some(UpdateMode::RewriteRows),
        inserted_rows_filter: Some(keys.build()),
        updated_fragment_offsets: None,
    };
    let transaction = Transaction::new(dataset.manifest().version, insert, None);
    let committed = CommitBuilder::new(dataset).execute(transaction).await?;
    // Where a keyed insert's time goes, for benches/sync_timeline.sh: the
    // lookup grows with the fragments no B-tree covers, the commit with the
    // manifest.
    tracing::debug!(
        lookup_secs,
        write_secs,
        commit_secs = started.elapsed().as_secs_f64() - lookup_secs - write_secs,
        "keyed insert"
    );
    Ok((rows.num_rows() as u64, Some(committed)))
}

fn key_column(batch: &RecordBatch) -> lance::Result<&StringArray> {
    let column = batch
        .column_by_name("id")
        .ok_or_else(|| lance::Error::invalid_input("a keyed batch needs an `id` column"))?;
    let ids = column
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| lance::Error::invalid_input("`id` must be a string column"))?;
    if ids.null_count() > 0 {
        return Err(lance::Error::invalid_input("a keyed batch has a null `id`"));
    }
    Ok(ids)
}

/// Which of `ids` the version holds, reading only the `id` column: the
/// scalar index answers for the fragments it covers, the rest are scanned.
async fn present_keys(dataset: &Dataset, ids: &StringArray) -> lance::Result<HashSet<String>> {
    let mut present = HashSet::new();
    let all: Vec<&str> = ids.iter().flatten().collect();
    for chunk in all.chunks(KEYS_PER_LOOKUP) {
        let mut scan = dataset.scan();
        scan.project(&["id"])?;
        scan.filter(&sql_in("id", chunk.iter().copied()))?;
        let batches: Vec<RecordBatch> = scan.try_into_stream().await?.try_collect().await?;
        for b in &batches {
            present.extend(key_column(b)?.iter().flatten().map(str::to_string));
        }
    }
    Ok(present)
}
