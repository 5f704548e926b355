//! `pond sessions`: list sessions, most recently active first.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, SessionsArgs, output};
use crate::model::Session;
use crate::store::{OpenMode, Store, TableKind, schema, sql_str};

#[derive(Debug, Serialize)]
struct SessionLine {
    id: String,
    client: String,
    project: Option<String>,
    title: Option<String>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
    messages: u64,
    model: Option<String>,
    git_branch: Option<String>,
    parent_id: Option<String>,
    host: String,
}

impl From<Session> for SessionLine {
    fn from(s: Session) -> Self {
        SessionLine {
            id: s.id,
            client: s.client,
            project: s.project,
            title: s.title,
            started_at: s.started_at,
            updated_at: s.updated_at,
            messages: s.message_count,
            model: s.model,
            git_branch: s.git_branch,
            parent_id: s.parent_id,
            host: s.host,
        }
    }
}

pub async fn run(ctx: &Context, args: SessionsArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let filter = args
        .client
        .as_deref()
        .map(|c| format!("client = {}", sql_str(c)));
    let mut sessions = Vec::new();
    for b in store
        .scan(TableKind::Sessions, filter.as_deref(), None)
        .await?
    {
        sessions.extend(schema::sessions_from_batch(&b)?);
    }
    sessions.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    sessions.truncate(args.limit);
    let lines: Vec<SessionLine> = sessions.into_iter().map(SessionLine::from).collect();
    if args.json {
        output::print_json(&lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        println!("no sessions");
    }
    for s in &lines {
        let label = s.title.as_deref().or(s.project.as_deref()).unwrap_or("");
        println!(
            "{:<38} {:<11} {} {:>5} msgs  {}",
            s.id,
            s.client,
            output::time(s.updated_at),
            s.messages,
            output::clip(label, 60)
        );
    }
    Ok(ExitCode::SUCCESS)
}
