//! The writes to a table: keyed inserts and upserts through `merge_insert`,
//! and plain appends of rows known to be new. Each is one Lance commit,
//! retried as a whole on a commit conflict, so a batch is stored whole or
//! not at all. They live apart from the reads because this is where the
//! idempotence and no-lost-commit rules of docs/spec.md are kept.

use std::sync::atomic::Ordering;

use arrow_array::{RecordBatch, RecordBatchIterator};

use super::keyed_insert::KEYED_INSERT_MAX_ROWS;
use super::{Store, StoreError, TableKind, lance_error, retry};

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
    pub async fn replace_changed(
        &self,
        kind: TableKind,
        batch: RecordBatch,
        column: &str,
    ) -> Result<(u64, u64), StoreError> {
        let changed = format!("target.{column} <> source.{column}");
        self.merge(kind, batch, Some(Some(changed))).await
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
        let table = self.table(kind)?;
        let rows = batch.num_rows() as u64;
        let what = format!("append to {}", kind.name());
        let started = std::time::Instant::now();
        let schema = batch.schema();
        let reader: Box<dyn arrow_array::RecordBatchReader + Send> =
            Box::new(RecordBatchIterator::new(vec![Ok(batch.clone())], schema));
        match table.add(reader).execute().await {
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
        let table = self.table(kind)?;
        let what = format!("update {}", kind.name());
        let attempt = || {
            let mut update = table.update().only_if(filter);
            for (column, expr) in columns {
                update = update.column(*column, expr.clone());
            }
            update.execute()
        };
        let result = retry::with_retry(self.retry, &self.retries, &what, attempt)
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        Ok(result.rows_updated)
    }

    /// Deletes the rows `filter` keeps, in one commit retried on conflict
    /// (deleting again what is gone is harmless).
    pub async fn delete_where(&self, kind: TableKind, filter: &str) -> Result<(), StoreError> {
        let table = self.table(kind)?;
        let what = format!("delete from {}", kind.name());
        retry::with_retry(self.retry, &self.retries, &what, || table.delete(filter))
            .await
            .map_err(|e| lance_error(&self.location, &what, e))?;
        Ok(())
    }

    /// Runs one write under the store's retry policy, inside a
    /// `store.write` span, and logs how long it took with its retries.
    pub(super) async fn traced_write<T, F, Fut>(
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
        let result = tracing::Instrument::instrument(
            retry::with_retry(self.retry, &self.retries, what, attempt),
            span,
        )
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
        if batch.num_rows() == 0 {
            return Ok((0, 0));
        }
        let table = self.table(kind)?;
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
                merge.when_not_matched_insert_all();
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
