//! `pond doctor`: the checks of [`crate::doctor`], printed a line each, with
//! an exit code by the worst (0 all ok, 3 warnings, 1 something failed).

use std::process::ExitCode;

use super::{Context, JsonOutput, exit, output};
use crate::doctor::{self, Status, Subject};

pub async fn run(ctx: &Context, args: JsonOutput) -> anyhow::Result<ExitCode> {
    let state_dir = crate::paths::state_dir();
    let subject = Subject {
        location: &ctx.location,
        state_dir: &state_dir,
        config_path: &ctx.config_path,
        tokens: ctx.tokens.len(),
        model: ctx
            .embedder
            .get()
            .map(|m| m.model_id().to_string())
            .map_err(|why| why.to_string()),
        schedule: super::schedule::installed(),
    };
    let diagnosis = doctor::diagnose(&subject).await;
    if args.json {
        output::print_json(&diagnosis)?;
    } else {
        println!("pond doctor: {}", diagnosis.store);
        for c in &diagnosis.checks {
            let mark = match c.status {
                Status::Ok => "ok     ",
                Status::Warning => "warning",
                Status::Failed => "FAILED ",
            };
            println!("  {mark}  {:<12} {}", c.name, c.detail);
            if let Some(next) = &c.next {
                println!("           {:<12} next: {next}", "");
            }
        }
    }
    Ok(ExitCode::from(match diagnosis.worst {
        Status::Ok => exit::SUCCESS,
        Status::Warning => exit::PARTIAL,
        Status::Failed => exit::FAILURE,
    }))
}
