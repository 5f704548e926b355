//! The `pond` binary: parse arguments, run the command, map errors to an exit code.

use std::process::ExitCode;

use clap::Parser;
use pond::cli::{Cli, dispatch};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pond: {e:#}");
            ExitCode::FAILURE
        }
    }
}
