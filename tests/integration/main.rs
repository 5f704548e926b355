//! End-to-end tests: the real `pond` binary against real client files and a
//! real Lance store on disk. Rule numbers refer to `docs/spec.md`.
//!
//! One test binary with modules, because every test binary links lancedb.

mod architecture;
mod harness;

mod export_roundtrip;
mod failures;
mod formats;
mod incremental;
mod lock;
mod read_commands;
