//! pond keeps every AI coding-agent session a team runs, lossless and
//! searchable, in a Lance store the team owns.
//!
//! Layers, each ignorant of the ones above it (checked by
//! `rule10_no_two_modules_import_each_other_even_through_others`):
//!
//! 1. [`paths`], [`version`] and [`escape`]; and from the `pond-adapters`
//!    crate, [`model`] (canonical types), [`adapter`] (what a client's reader
//!    is), [`registry`] (the clients, by name), [`formats`] (shapes several
//!    clients share) and [`digest`].
//! 2. [`config`] (the file's schema), [`redact`] (over the model), and
//!    [`store`] (model ↔ Lance tables; it knows no client).
//! 3. [`access`] (tokens and what they see, over config and store) and
//!    [`embed`] (local vectors for the store's rows).
//! 4. [`search`] (full-text, vectors, fusion), then [`sync`] (adapters into
//!    the store) and [`upkeep`] (the store's upkeep, which `pond maintain` runs).
//! 5. What people and agents call: [`round`] (one sync round, as the CLI,
//!    the agent and the ingest server run it), [`archive`] (reads within a
//!    token's limits), [`export`], [`transcript`] (a session as a document
//!    to read), [`share`] (links to one session), [`resume`], [`push`], [`erase`],
//!    [`prometheus`], [`doctor`], [`spend`], [`telemetry`], [`mcp`] and [`serve`].
//! 6. [`cli`], which only parses and dispatches to the layers below.

// The agent loop's async state machine nests deeper than rustc's default
// query depth allows when laid out; the lib, not only the binary, needs room.
#![recursion_limit = "256"]

pub use pond_adapters::{adapter, digest, formats, model, registry, usage};

pub mod access;
pub mod archive;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod embed;
pub mod erase;
pub mod escape;
pub mod export;
pub mod mcp;
pub mod paths;
pub mod pause;
pub mod prometheus;
pub mod push;
pub mod redact;
pub mod resume;
pub mod round;
pub mod search;
pub mod serve;
pub mod share;
pub mod spend;
pub mod spool;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod transcript;
pub mod upkeep;
pub mod version;
