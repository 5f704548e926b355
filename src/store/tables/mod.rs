//! The tables and what they hold: schemas, the keyed rows of documents,
//! erasures, redactions, usage, fleet records, search rows and the store's
//! own facts, and the SQL filters over them.

pub mod documents;
pub mod erasures;
pub(in crate::store) mod meta;
pub mod redactions;
pub mod runs;
pub mod schema;
pub mod search;
pub(in crate::store) mod sql;
pub mod usage;
