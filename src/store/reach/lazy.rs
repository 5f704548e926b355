//! A store a long-running server opens once it exists.
//!
//! `pond mcp` is configured into an agent once and started by it, often
//! before the first `pond sync`: exiting then shows a failed server until
//! someone restarts the agent. So servers start without a store, answer
//! that nothing is synced yet (reads see an empty archive), and open the
//! store on the first request after a sync made it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::store::{ALL_TABLES, OpenMode, Store, StoreError, StoreLocation};

/// How often a server without a store looks for one: a remote look is a
/// few requests, not worth making on every call.
const LOOK_EVERY: Duration = Duration::from_secs(1);

pub struct LazyStore {
    location: StoreLocation,
    fresh_within: Option<Duration>,
    opened: OnceLock<Store>,
    /// The store opened for writing when the one reads opened lacks tables
    /// (its creation was cut short): every later read and write uses it.
    complete: OnceLock<Store>,
    /// An empty in-memory store that reads answer from before the first sync.
    empty: OnceLock<Store>,
    /// When the store was last looked for. Held across a look, so requests
    /// arriving while one opens the store wait for it rather than answer
    /// from the empty store as if nothing were synced.
    last_look: tokio::sync::Mutex<Option<Instant>>,
}

impl LazyStore {
    /// `fresh_within`: how stale reads may be (see [`Store::open_long_lived`]).
    pub fn new(location: StoreLocation, fresh_within: Option<Duration>) -> LazyStore {
        LazyStore {
            location,
            fresh_within,
            opened: OnceLock::new(),
            complete: OnceLock::new(),
            empty: OnceLock::new(),
            last_look: tokio::sync::Mutex::new(None),
        }
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The store once a sync has made it; `None` before.
    pub async fn get(&self) -> Result<Option<&Store>, StoreError> {
        if let Some(store) = self.complete.get().or(self.opened.get()) {
            return Ok(Some(store));
        }
        let mut last = self.last_look.lock().await;
        // Opened by the look this one waited for.
        if let Some(store) = self.complete.get().or(self.opened.get()) {
            return Ok(Some(store));
        }
        if last.is_some_and(|t| t.elapsed() < LOOK_EVERY) {
            return Ok(None);
        }
        *last = Some(Instant::now());
        match Store::open_with(
            &self.location,
            OpenMode::Existing,
            &ALL_TABLES,
            self.fresh_within,
        )
        .await
        {
            Ok(store) => Ok(Some(self.keep(store))),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The store for reading: an empty one until a sync has made it.
    pub async fn or_empty(&self) -> Result<&Store, StoreError> {
        if let Some(store) = self.get().await? {
            return Ok(store);
        }
        if let Some(empty) = self.empty.get() {
            return Ok(empty);
        }
        let empty = Store::open(
            &StoreLocation::parse("memory://pond-empty")?,
            OpenMode::Create,
        )
        .await?;
        Ok(self.empty.get_or_init(|| empty))
    }

    /// The store for writing, created if it does not exist yet.
    pub async fn for_writing(&self) -> Result<&Store, StoreError> {
        if let Some(store) = self.complete.get() {
            return Ok(store);
        }
        // Rule 12: a read may have opened a store whose creation was cut
        // short (an ingest stopped at its deadline); writing finishes it.
        let opened = self.opened.get();
        if let Some(store) = opened
            && ALL_TABLES.iter().all(|&kind| store.has_table(kind))
        {
            return Ok(store);
        }
        let store = Store::open_with(
            &self.location,
            OpenMode::Create,
            &ALL_TABLES,
            self.fresh_within,
        )
        .await?;
        Ok(match opened {
            Some(_) => self.complete.get_or_init(|| store),
            None => self.keep(store),
        })
    }

    /// Keeps the first store opened; one opened at the same moment by
    /// another request is dropped.
    fn keep(&self, store: Store) -> &Store {
        self.opened.get_or_init(|| store)
    }
}
