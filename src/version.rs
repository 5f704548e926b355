//! What this binary is: its version, the commit it was built from, when and
//! for which target (`build.rs` records them). People paste `pond --version`
//! into bug reports and the installer compares it when it upgrades, so one
//! place says it the same way everywhere.

use serde::Serialize;

/// `pond --version`: `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-07, x86_64-unknown-linux-gnu)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("POND_BUILD_COMMIT"),
    ", built ",
    env!("POND_BUILD_DATE"),
    ", ",
    env!("POND_BUILD_TARGET"),
    ")"
);

/// The same facts for scripts (`pond version --json`).
#[derive(Debug, Clone, Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: &'static str,
    /// The build's date (UTC): the commit's, or `SOURCE_DATE_EPOCH`'s.
    pub built: &'static str,
    pub target: &'static str,
    /// The store format this binary writes (a newer one it refuses).
    pub store_format: u32,
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("POND_BUILD_COMMIT"),
        built: env!("POND_BUILD_DATE"),
        target: env!("POND_BUILD_TARGET"),
        store_format: crate::store::FORMAT_VERSION,
    }
}
