//! The exit codes every command keeps to, so a script or a timer can tell a
//! success from a partial sync, a mistake in the call, or a sync that found
//! another running (docs/operations.md, "Exit codes").

use std::process::ExitCode;

use crate::sync::report::Outcome;

/// Done, all of it.
pub const SUCCESS: u8 = 0;
/// Not done: the error says why.
pub const FAILURE: u8 = 1;
/// The call itself was wrong (an unknown flag, a bad value): nothing ran.
pub const USAGE: u8 = 2;
/// Done, but some files, records or sessions failed and were left out;
/// the report lists them, and the next run tries them again.
pub const PARTIAL: u8 = 3;
/// `--no-wait` found another sync of the same store running on this host:
/// sysexits' EX_TEMPFAIL, "try again later" (a timer's next tick will).
pub const BUSY: u8 = 75;

/// A sync's outcome as its exit code.
pub fn of_sync(outcome: Outcome) -> ExitCode {
    ExitCode::from(match outcome {
        Outcome::Ok => SUCCESS,
        Outcome::Partial => PARTIAL,
        Outcome::Failed => FAILURE,
        Outcome::Skipped => BUSY,
    })
}
