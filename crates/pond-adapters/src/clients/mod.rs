//! One module per client: where it keeps sessions and what its records
//! mean. A client reads shared shapes from `formats` and never from
//! another client, so a change to one client's reader cannot break another.

pub mod aider;
pub mod amp;
pub mod antigravity;
pub mod claude_ai_export;
pub mod claude_code;
pub mod claude_web;
pub mod cline;
pub mod codex;
pub mod copilot_cli;
pub mod cursor;
pub mod factory_droid;
pub mod gemini;
pub mod goose;
pub mod grok;
pub mod hermes;
pub mod kimi;
pub mod openclaw;
pub mod opencode;
pub mod pi;
pub mod qwen;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod usage_tests;
