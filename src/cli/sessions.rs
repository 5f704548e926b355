//! `pond sessions`: list sessions, most recently active first.
//!
//! The same listing the servers give (`list_sessions`), so `--json` here and
//! an agent's answer are one shape.

use std::process::ExitCode;

use super::{Context, SessionsArgs, output};
use crate::archive::{self, ListSessionsParams, View};
use crate::store::{OpenMode, Store};

pub async fn run(ctx: &Context, args: SessionsArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let params = ListSessionsParams {
        client: args.client,
        ..ListSessionsParams::default()
    };
    let lines = archive::list_sessions_page(&store, &View::default(), &params, 0, args.limit)
        .await?
        .sessions;
    if args.output.json {
        output::print_json(&lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        println!("no sessions");
    }
    for s in &lines {
        let label = s.title.as_deref().or(s.project.as_deref()).unwrap_or("");
        println!(
            "{:<38} {:<11} {} {:>5} msgs{}  {}",
            s.id,
            s.client,
            output::time(s.updated_at),
            s.messages,
            if s.redacted { " (redacted)" } else { "" },
            output::clip(label, 60)
        );
    }
    Ok(ExitCode::SUCCESS)
}
