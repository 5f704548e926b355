//! The client-facing half of pond: the canonical model, one adapter per
//! client format, and the pure translation of a file's bytes into records
//! and messages.
//!
//! It is its own crate so that what reads untrusted files can be built,
//! tested and fuzzed without the store (Lance, DataFusion, object stores),
//! and so that "adapters never touch the store" is a fact the compiler
//! checks rather than a convention.

// Rule 10: this crate has no store dependency, so adapters cannot reach the store.
pub mod adapter;
pub mod clients;
pub mod digest;
pub mod discover;
pub mod formats;
pub mod fuzzing;
pub mod images;
pub mod model;
pub mod naming;
pub mod paths;
pub mod records;
pub mod registry;
pub mod translate;
pub mod usage;
