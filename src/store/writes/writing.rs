//! How a handle writes: each write attempt under a ticket on its write
//! intent (rule 50, checked by `commit_guard` before the commit lands), and
//! a write retried as a whole, on the newest version when upkeep pruned the
//! one it read. Kept apart from the handle's opening and reading in
//! `store/mod.rs`.

use lancedb::Table;

use crate::store::{
    Store, StoreError, TableKind, names_missing_file, reach::retry, writes::intents,
};

/// A table with a write attempt in flight (see [`Store::table_to_write`]).
pub(in crate::store) struct Writing<'a> {
    table: &'a Table,
    _ticket: intents::WriteTicket,
}

impl std::ops::Deref for Writing<'_> {
    type Target = Table;

    fn deref(&self) -> &Table {
        self.table
    }
}

impl Store {
    /// A table for one write attempt: the handle's write intent is in the
    /// store first (rule 50), so no sweep takes the files the write is
    /// about to put, and the attempt's commit lands only while that intent
    /// stands (`commit_guard`).
    pub(in crate::store) async fn table_to_write(
        &self,
        kind: TableKind,
    ) -> Result<Writing<'_>, StoreError> {
        let ticket = self.intents.ticket(&self.location).await?;
        Ok(Writing {
            table: self.table(kind)?,
            _ticket: ticket,
        })
    }

    /// A table for a write whose attempts run through [`Self::attempts`],
    /// each under its own ticket: a retry after a commit refused for a lost
    /// intent then writes under a fresh one.
    pub(in crate::store) async fn table_for_attempts(
        &self,
        kind: TableKind,
    ) -> Result<&Table, StoreError> {
        self.intents.hold(&self.location).await?;
        self.table(kind)
    }

    /// Runs a write's attempts under the retry policy, each attempt under a
    /// write ticket of its own. A write that finds a file of the version it
    /// read gone (upkeep pruned that version while the write waited, as
    /// `erase --now` does at once) runs again from the newest version.
    pub(in crate::store) async fn attempts<T, F, Fut>(
        &self,
        kind: TableKind,
        what: &str,
        mut attempt: F,
    ) -> lancedb::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = lancedb::Result<T>>,
    {
        match self.attempts_on_this_version(what, &mut attempt).await {
            Err(e) if is_missing_file(&e) => {
                tracing::debug!(table = kind.name(), error = %e, "{what}: its version was pruned; writing on the newest");
                self.table(kind)
                    .map_err(|e| lancedb::Error::Runtime {
                        message: e.to_string(),
                    })?
                    .checkout_latest()
                    .await?;
                self.attempts_on_this_version(what, &mut attempt).await
            }
            other => other,
        }
    }

    async fn attempts_on_this_version<T, F, Fut>(
        &self,
        what: &str,
        attempt: &mut F,
    ) -> lancedb::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = lancedb::Result<T>>,
    {
        retry::with_retry(self.retry, &self.retries, what, || {
            let write = attempt();
            async move {
                let _ticket = self.intents.ticket(&self.location).await.map_err(|e| {
                    lancedb::Error::Runtime {
                        message: e.to_string(),
                    }
                })?;
                write.await
            }
        })
        .await
    }
}

/// Whether a write failed on a file its version named that is gone.
fn is_missing_file(e: &lancedb::Error) -> bool {
    !matches!(e, lancedb::Error::TableNotFound { .. }) && names_missing_file(&e.to_string())
}
