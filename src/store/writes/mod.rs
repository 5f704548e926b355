//! How a write lands: keyed inserts that never store twice, each attempt
//! under an intent a sweep can see, and the guard that lands no commit
//! after its intent is gone.

pub(in crate::store) mod commit_guard;
pub(in crate::store) mod intents;
pub(in crate::store) mod keyed_insert;
pub(in crate::store) mod write;
pub(in crate::store) mod writing;
