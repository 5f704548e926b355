//! pond keeps every AI coding-agent session a team runs, lossless and
//! searchable, in a Lance store the team owns.
//!
//! Layers, each ignorant of the ones above it: [`model`] (canonical types),
//! [`adapters`] (client formats → model), [`store`] (model ↔ Lance tables),
//! [`sync`] (the pipeline joining them), [`embed`] and [`search`] (finding
//! things again), [`export`], and [`cli`].

pub use pond_adapters::{adapters, digest, model};

pub mod access;
pub mod archive;
pub mod cli;
pub mod config;
pub mod embed;
pub mod erase;
pub mod export;
pub mod fleet_metrics;
pub mod maintain;
pub mod mcp;
pub mod paths;
pub mod push;
pub mod redact;
pub mod resume;
pub mod search;
pub mod serve;
pub mod store;
pub mod sync;
pub mod telemetry;
