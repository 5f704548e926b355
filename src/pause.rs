//! Stopping points for the tests of races between writers and erasure.
//!
//! A process started with `POND_PAUSE_AT=<step>` and `POND_PAUSE_DIR=<dir>`
//! writes `<dir>/<step>.paused` when it reaches `step`, then waits until
//! `<dir>/<step>.go` exists. A test lands an erasure in that gap, which a
//! real fleet hits by chance. Unset, a stopping point costs one lookup of
//! the environment.

use std::path::PathBuf;
use std::time::Duration;

const STEP_ENV: &str = "POND_PAUSE_AT";
const DIR_ENV: &str = "POND_PAUSE_DIR";

/// Waits here if this process was asked to stop at `step`.
pub fn at(step: &str) {
    if std::env::var(STEP_ENV).ok().as_deref() != Some(step) {
        return;
    }
    let Some(dir) = std::env::var_os(DIR_ENV).map(PathBuf::from) else {
        return;
    };
    if std::fs::write(dir.join(format!("{step}.paused")), b"").is_err() {
        return;
    }
    let go = dir.join(format!("{step}.go"));
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(50));
    }
}
