//! The writes to a table: keyed inserts (by lookup, or `merge_insert` for
//! large batches), upserts through `merge_insert`, and plain appends of rows
//! known to be new. Each is one Lance commit, retried as a whole on a commit
//! conflict, so a batch is stored whole or not at all; a sync's revisions
//! (`replace_changed`) are two, the new rows and then the changed ones, each
//! keyed, so a run that stops between them is finished by the next. They live apart from the reads because this is where the
//! idempotence and no-lost-commit rules of docs/spec.md are kept.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use arrow_array::{Array, RecordBatch, RecordBatchIterator, UInt32Array};

use crate::store::tables::schema::Columns;
use crate::store::writes::keyed_insert::{KEYED_INSERT_MAX_ROWS, KEYS_PER_LOOKUP};
use crate::store::{Store, StoreError, TableKind, lance_error, reach::retry, sql_in};

impl Store {
    /// Inserts the rows whose `id` is not in the table yet, in one commit,
    /// retried as a whole on conflict. Returns how many were new. The batch
    /// must not repeat an `id`.
    pub async fn insert_absent(
        &self,
        kind: TableKind,
        batch: RecordBatch,
    ) -> Result<u64, StoreError> {
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        // Rule 11: Lance's indexed merge records no inserted keys, so a sync's
        // batches look their keys up and commit them themselves.
        if batch.num_rows() <= KEYED_INSERT_MAX_ROWS {
            return self.insert_absent_by_lookup(kind, batch).await;
        }
        self.merge(kind, batch, None)
            .await
            .map(|(inserted, _)| inserted)
    }

    /// Inserts new rows and replaces existing ones with the same `id`, in one
    /// commit, retried as a whole on conflict. Returns (inserted, updated).
    pub async fn upsert(
        &self,
        kind: TableKind,
        batch: RecordBatch,
    ) -> Result<(u64, u64), StoreError> {
        self.merge(kind, batch, Some(None)).await
    }

    /// Replaces stored rows with the same `id` and inserts nothing: a row
    /// deleted meanwhile (its session erased) stays deleted. Returns the
    /// rows updated.
    pub async fn update_present(
        &self,
        kind: TableKind,
        batch: RecordBatch,
    ) -> Result<u64, StoreError> {
        self.merge_with(kind, batch, Some(None), false)
            .await
            .map(|(_, updated)| updated)
    }

    /// Inserts absent rows and replaces stored ones only where `condition`
    /// (SQL over `target.` and `source.` columns) holds. Returns (inserted,
    /// updated); a row that matched but failed the condition is neither, so
    /// the caller can tell a lost race from a landed write.
    pub async fn upsert_where(
        &self,
        kind: TableKind,
        batch: RecordBatch,
        condition: &str,
    ) -> Result<(u64, u64), StoreError> {
        self.merge(kind, batch, Some(Some(condition.to_string())))
            .await
    }

    /// Inserts absent rows and replaces stored ones whose `column` differs:
    /// a newer copy of a row replaces the old one, the same copy writes nothing.
    ///
    /// A batch a sync writes (at most [`KEYED_INSERT_MAX_ROWS`] rows) first
    /// reads the stored `column` of its keys: the absent rows go in by key,
    /// only the changed ones through a merge, and the rest are not written.
    /// A whole-document client's every rewrite revises all of the
    /// document's messages, nearly all unchanged, and a merge joins by
    /// scanning the whole table: the cost of each such sync grew with the
    /// store (issue 15's fleet bench).
    pub async fn replace_changed(
        &self,
        kind: TableKind,
        batch: RecordBatch,
        column: &str,
    ) -> Result<(u64, u64), StoreError> {
        let changed = format!("target.{column} <> source.{column}");
        if batch.num_rows() == 0 || batch.num_rows() > KEYED_INSERT_MAX_ROWS {
            return self.merge(kind, batch, Some(Some(changed))).await;
        }
        let (absent, differing) = self.split_by_stored(kind, &batch, column).await?;
        let absent_rows = absent.num_rows() as u64;
        let mut inserted = self.insert_absent(kind, absent.clone()).await?;
        let mut updated = 0;
        // Rows another writer stored between the lookup and the insert are
        // compared like the rest, so the outcome is the merge's.
        let to_merge = if inserted < absent_rows {
            arrow_select::concat::concat_batches(&batch.schema(), [&absent, &differing])
                .map_err(|e| StoreError::Schema(e.to_string()))?
        } else {
            differing
        };
        if to_merge.num_rows() > 0 {
            let (more, replaced) = self.merge(kind, to_merge, Some(Some(changed))).await?;
            inserted += more;
            updated = replaced;
        }
        Ok((inserted, updated))
    }

    /// Splits `batch` into the rows whose `id` the table lacks and those
    /// whose stored `column` differs from the batch's, reading only `id`
    /// and `column` of the batch's keys.
    async fn split_by_stored(
        &self,
        kind: TableKind,
        batch: &RecordBatch,
        column: &str,
    ) -> Result<(RecordBatch, RecordBatch), StoreError> {
        let columns = Columns::new(batch);
        let (ids, values) = (columns.str("id")?, columns.str(column)?);
        let keys: Vec<&str> = ids.iter().flatten().collect();
        let mut stored: HashMap<String, Option<String>> = HashMap::new();
        for chunk in keys.chunks(KEYS_PER_LOOKUP) {
            let filter = sql_in("id", chunk.iter().copied());
            for b in self
                .scan(kind, Some(&filter), Some(&["id", column]))
                .await?
            {
                let found = Columns::new(&b);
                let (id, value) = (found.str("id")?, found.str(column)?);
                for i in 0..b.num_rows() {
                    let value = value.is_valid(i).then(|| value.value(i).to_string());
                    stored.insert(id.value(i).to_string(), value);
                }
            }
        }
        let (mut absent, mut differing) = (Vec::new(), Vec::new());
        for i in 0..batch.num_rows() {
            let value = values.is_valid(i).then(|| values.value(i));
            match stored.get(ids.value(i)) {
                None => absent.push(i),
                Some(had) if had.as_deref() != value => differing.push(i),
                Some(_) => {}
            }
        }
        let rows = |picked: Vec<usize>| {
            let picked = UInt32Array::from_iter_values(picked.into_iter().map(|i| i as u32));
            arrow_select::take::take_record_batch(batch, &picked)
                .map_err(|e| StoreError::Schema(e.to_string()))
        };
        Ok((rows(absent)?, rows(differing)?))
    }

    /// Appends rows the caller knows are absent, without comparing keys.
    ///
    /// Only the first attempt appends. An append is not idempotent: when an
    /// attempt fails after its commit landed (the reply was lost, a timeout
    /// fired late), appending again would store the batch twice. So every
    /// later attempt is a keyed insert, which finds whatever did land and
    /// adds only the rest (rule 2).
    pub async fn append_new(&self, kind: TableKind, batch: RecordBatch) -> Result<u64, StoreError> {
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        let rows = batch.num_rows() as u64;
        let what = format!("append to {}", kind.name());
        let started = std::time::Instant::now();
        let schema = batch.schema();
        let reader: Box<dyn arrow_array::RecordBatchReader + Send> =
            Box::new(RecordBatchIterator::new(vec![Ok(batch.clone())], schema));
        // The attempt's ticket ends with it, so the keyed retries below
        // write under a fresh intent if this one was lost.
        let appended = self.table_to_write(kind).await?.add(reader).execute().await;
        match appended {
            Ok(_) => {
                tracing::debug!(secs = started.elapsed().as_secs_f64(), rows, "{what}");
                Ok(rows)
            }
            // Rule 2: only the first attempt appends; a retry is a keyed insert,
            // since the failed attempt may have landed.
            Err(e) if retry::is_retryable(&e) => {
                self.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "{what} failed; inserting by key instead");
                self.insert_absent(kind, batch).await
            }
            Err(e) => Err(lance_error(&self.location, &what, e)),
        }
    }

    /// Sets `columns` (each to an SQL expression over the row) on every row
    /// `filter` keeps, in one commit retried as a whole on conflict. Only
    /// for rewrites that are harmless to repeat: the filter must exclude
    /// rows already rewritten, so a retry after a lost reply changes
    /// nothing twice. Returns how many rows changed.
    pub async fn update_where(
        &self,
        kind: TableKind,
        filter: &str,
        columns: &[(&str, String)],
    ) -> Result<u64, StoreError> {
        let table = self.table_for_attempts(kind).await?;
        let what = format!("update {}", kind.name());
        let attempt = || {
            let mut update = table.update().only_if(filter);
            for (column, expr) in columns {
                update = update.column(*column, expr.clone());
            }
            update.execute()
        };
        let result = self
            .attempts(kind, &what, attempt)
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        Ok(result.rows_updated)
    }

    /// Deletes the rows `filter` keeps, in one commit retried on conflict
    /// (deleting again what is gone is harmless).
    pub async fn delete_where(&self, kind: TableKind, filter: &str) -> Result<(), StoreError> {
        let table = self.table_for_attempts(kind).await?;
        let what = format!("delete from {}", kind.name());
        self.attempts(kind, &what, || table.delete(filter))
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        Ok(())
    }

    /// Runs one write under the store's retry policy, inside a
    /// `store.write` span, and logs how long it took with its retries.
    pub(in crate::store) async fn traced_write<T, F, Fut>(
        &self,
        kind: TableKind,
        rows: usize,
        update: bool,
        what: &str,
        attempt: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = lancedb::Result<T>>,
    {
        let span = tracing::info_span!("store.write", table = kind.name(), update, rows);
        let started = std::time::Instant::now();
        let result = tracing::Instrument::instrument(self.attempts(kind, what, attempt), span)
            .await
            .map_err(|e| lance_error(&self.location, what, e))?;
        tracing::debug!(secs = started.elapsed().as_secs_f64(), rows, "{what}");
        Ok(result)
    }

    /// `update`: `None` inserts only; `Some(condition)` also updates matched
    /// rows (those meeting the SQL condition, when one is given).
    async fn merge(
        &self,
        kind: TableKind,
        batch: RecordBatch,
        update: Option<Option<String>>,
    ) -> Result<(u64, u64), StoreError> {
        self.merge_with(kind, batch, update, true).await
    }

    /// One keyed merge: `update` says whether (and when) a matched row is
    /// replaced, `insert` whether an absent one goes in.
    async fn merge_with(
        &self,
        kind: TableKind,
        batch: RecordBatch,
        update: Option<Option<String>>,
        insert: bool,
    ) -> Result<(u64, u64), StoreError> {
        if batch.num_rows() == 0 {
            return Ok((0, 0));
        }
        let table = self.table_for_attempts(kind).await?;
        let what = format!(
            "{} into {}",
            if update.is_some() { "upsert" } else { "insert" },
            kind.name()
        );
        let attempt = || {
            let batch = batch.clone();
            let update = update.clone();
            async move {
                let schema = batch.schema();
                let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
                // Rule 2: every keyed write joins on `id`: rows already stored are
                // never inserted twice, however often the write is repeated.
                let mut merge = table.merge_insert(&["id"]);
                if let Some(condition) = update {
                    merge.when_matched_update_all(condition);
                }
                // Lance 14's indexed join records no inserted keys, so two
                // writers inserting one new key would both commit it (rule
                // 11), and it rejects an update ("primary key ... must not
                // be nullable") once `id` has a B-tree: every merge joins by
                // scan, reading the `id` column, and records its keys.
                merge.use_index(false);
                if insert {
                    merge.when_not_matched_insert_all();
                }
                merge.execute(Box::new(reader)).await
            }
        };
        let result = self
            .traced_write(kind, batch.num_rows(), update.is_some(), &what, attempt)
            .await?;
        self.conflicts.fetch_add(
            u64::from(result.num_attempts.saturating_sub(1)),
            Ordering::Relaxed,
        );
        Ok((result.num_inserted_rows, result.num_updated_rows))
    }
}
