//! Reaching a store: its URL, the object store under it, the check that
//! it keeps conditional puts, retries, and opening or creating its tables.

pub mod connect;
pub(in crate::store) mod init;
pub mod lazy;
pub(in crate::store) mod location;
pub mod probe;
pub mod retry;
