//! The record shapes several clients share, read in one place apart from
//! the clients: a client that writes Anthropic's content blocks or pi's
//! messages uses the reader here instead of borrowing another client's.

pub(crate) mod anthropic;
pub(crate) mod editor;
pub(crate) mod genai;
pub(crate) mod json;
pub(crate) mod openai;
pub(crate) mod pi;
pub mod sqlite;
pub(crate) mod time;
pub(crate) mod zip;
