//! End-to-end tests: the real `pond` binary against real client files and a
//! real Lance store on disk. Rule numbers refer to `docs/spec.md`.
//!
//! One test binary with modules, because every test binary links lancedb.

mod agent;
mod architecture;
mod command_checks;
mod conformance;
mod crash;
mod documents;
mod erase;
mod erase_copies;
mod erase_races;
mod errors;
mod faultproxy;
mod harness;
mod prometheus;
mod shared_backlog;
mod shared_store;
mod telemetry;
mod upkeep;
mod usage;
mod web;

mod export_roundtrip;
mod failures;
mod faults;
mod formats;
mod gaps;
mod hostile;
mod ids;
mod incremental;
mod installer;
mod limits;
mod lock;
mod network_faults;
mod overload;
mod read_commands;
mod readable_export;
mod redaction;
mod resume;
mod schedule;
mod search;
mod search_models;
mod serve;
mod sweep_edges;
