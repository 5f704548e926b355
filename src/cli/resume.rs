//! `pond resume`: write a stored session as a client's native files.

use std::process::ExitCode;

use super::{Context, ResumeArgs, output};
use crate::store::{OpenMode, Store};

pub async fn run(ctx: &Context, args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let id = output::resolve_session(&store, &args.session_id).await?;
    let done = crate::resume::resume(
        &store,
        &id,
        &args.to,
        args.out.as_deref(),
        &ctx.host,
        args.redaction.redact,
    )
    .await?;
    if args.output.json {
        output::print_json(&done)?;
    } else {
        let how = if done.byte_exact {
            "its own bytes"
        } else if id.starts_with(&format!("{}:", done.client))
            || id.starts_with(&format!("{}@", done.client))
        {
            "its own bytes, secrets masked"
        } else {
            "converted"
        };
        println!(
            "session {id} written for {} as {} ({how}):",
            done.client, done.session_id
        );
        for f in &done.files {
            println!("  {}", f.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
