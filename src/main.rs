//! The `pond` binary: parse arguments and run the command, which says how
//! it ended (its exit code, and on failure what to do: `cli::explain`).

// The dispatch future nests every command's futures, Lance's commit among
// them; its layout needs more than the default 128 levels.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;
use pond::cli::{Cli, dispatch};

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    // SAFETY: no thread exists yet (the runtime is built below).
    unsafe {
        pond::store::compute_on_every_core();
        pond::embed::keep_onnx_runtime_offline();
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pond: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli))
}

/// Rust starts programs with SIGPIPE ignored, which turns `pond search … |
/// head` into a panic on the next write. A command-line tool should end
/// quietly like every other Unix filter, so the default action comes back.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; it only
    // resets one signal's disposition to the system default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
