//! `pond show`: a session as a transcript a person can read.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, ShowArgs, output};
use crate::model::{Message, PartKind, Session};
use crate::store::{OpenMode, Store};

#[derive(Debug, Serialize)]
struct Transcript {
    session: Session,
    /// Stored with secrets masked (`[redact] at_ingest`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
    messages: Vec<Message>,
}

/// Lines of tool output shown without `--full`.
const TOOL_PREVIEW_LINES: usize = 8;

pub async fn run(ctx: &Context, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let id = output::resolve_session(&store, &args.session_id).await?;
    let view = crate::archive::View {
        redact: args.redaction.redact,
        ..Default::default()
    };
    let (session, messages) = crate::archive::transcript(&store, &view, &id).await?;
    let redacted = store.redacted_sessions([id.as_str()]).await?.contains(&id);
    if args.output.json {
        output::print_json(&Transcript {
            session,
            redacted,
            messages,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    print_header(&session, redacted);
    for m in &messages {
        print_message(m, args.full);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_header(session: &Session, redacted: bool) {
    println!("session {} ({})", session.id, session.client);
    if let Some(t) = &session.title {
        println!("title:   {t}");
    }
    if let Some(p) = &session.project {
        println!(
            "project: {p}{}",
            session
                .git_branch
                .as_ref()
                .map(|b| format!(" @ {b}"))
                .unwrap_or_default()
        );
    }
    if let Some(parent) = &session.parent_id {
        println!("parent:  {parent}");
    }
    if redacted {
        println!("note:    stored with secrets masked ([redact] at_ingest)");
    }
    println!(
        "time:    {} → {}, {} messages\n",
        output::time(session.started_at),
        output::time(session.updated_at),
        session.message_count
    );
}

fn print_message(m: &Message, full: bool) {
    println!("── {} · {}", m.role.as_str(), output::time(m.timestamp));
    for part in &m.parts {
        let text = part.text.as_deref().unwrap_or("");
        match part.kind {
            PartKind::Text => println!("{text}"),
            PartKind::Thinking => println!("(thinking) {}", output::clip(text, 400)),
            PartKind::ToolCall => println!(
                "→ {} {}",
                part.tool_name.as_deref().unwrap_or("tool"),
                output::clip(text, 400)
            ),
            PartKind::ToolResult => {
                let marker = if part.is_error { "← error" } else { "←" };
                let lines: Vec<&str> = text.lines().collect();
                if full || lines.len() <= TOOL_PREVIEW_LINES {
                    println!("{marker} {text}");
                } else {
                    println!("{marker} {}", lines[..TOOL_PREVIEW_LINES].join("\n  "));
                    println!(
                        "  … {} more lines (--full)",
                        lines.len() - TOOL_PREVIEW_LINES
                    );
                }
            }
            PartKind::File | PartKind::Other => println!("{text}"),
        }
    }
    println!();
}
