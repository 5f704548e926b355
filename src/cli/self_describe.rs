//! `pond version`, `pond completions` and `pond man`: what the binary says
//! of itself. They need no store or config, so they answer on a machine
//! where nothing is set up yet, which is where an installer runs them.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;

use super::{Cli, CompletionsArgs, VersionArgs};

pub(super) fn version(args: &VersionArgs) -> anyhow::Result<ExitCode> {
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::version::build_info())?
        );
    } else {
        println!("pond {}", crate::version::LONG);
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "pond", &mut out);
    out.flush().context("write the completion script")?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn man() -> anyhow::Result<ExitCode> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = std::io::stdout().lock();
    page.render(&mut out).context("write the man page")?;
    out.flush().context("write the man page")?;
    Ok(ExitCode::SUCCESS)
}
