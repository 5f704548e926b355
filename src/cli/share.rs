//! `pond share`: make, list and revoke links that show one session.

use std::process::ExitCode;

use serde::Serialize;

use super::explain::UsageError;
use super::{Context, ShareArgs, ShareCommand, output};
use crate::share::{self, ShareAsk};
use crate::store::{OpenMode, Store};

pub async fn run(ctx: &Context, args: ShareArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    match args.command {
        Some(ShareCommand::List { session, output }) => list(&store, session, output.json).await,
        Some(ShareCommand::Revoke { id, output }) => {
            let ended = share::revoke(&store, &id).await?;
            if output.json {
                output::print_json(&ended)?;
            } else {
                println!(
                    "revoked the share of {}; every server answers its link with 410 from now on",
                    ended.session_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        None => create(ctx, &store, args).await,
    }
}

/// What `pond share SESSION --json` prints.
#[derive(Serialize)]
struct Made {
    #[serde(flatten)]
    share: share::Share,
    /// The whole link with `--server`, else its path.
    link: String,
}

async fn create(ctx: &Context, store: &Store, args: ShareArgs) -> anyhow::Result<ExitCode> {
    let Some(given) = args.session_id.as_deref() else {
        return Err(UsageError(
            "name the session to share: `pond share SESSION` (or `pond share list`)".into(),
        )
        .into());
    };
    let session_id = output::resolve_session(store, given).await?;
    let lasts = match args.expires.trim() {
        "never" => None,
        age => Some(humantime::parse_duration(age).map_err(|e| {
            UsageError(format!("--expires {age}: {e} (say 7d, 12h, 30m, or never)"))
        })?),
    };
    let made = share::create(
        store,
        ShareAsk {
            session_id,
            lasts,
            redact: !args.no_redact,
            raw: args.raw,
            created_by: format!("cli@{}", ctx.host),
        },
    )
    .await?;
    let path = format!("/s/{}", made.id);
    let link = match &args.server {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path,
    };
    if args.output.json {
        output::print_json(&Made { share: made, link })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{link}");
    let until = made.expires_at.map_or("never expires".to_string(), |t| {
        format!("works until {}", t.format("%Y-%m-%d %H:%M UTC"))
    });
    eprintln!(
        "pond: anyone holding this link sees session {} ({}), {until}; `pond share revoke` ends it{}",
        made.session_id,
        if made.redact {
            "secrets masked"
        } else {
            "NOT redacted"
        },
        if args.server.is_none() {
            " (put your `pond serve` address in front, or pass --server URL)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(store: &Store, session: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let session = match session {
        Some(given) => Some(output::resolve_session(store, &given).await?),
        None => None,
    };
    let lines = share::list(store, session.as_deref()).await?;
    if json {
        output::print_json(&lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        println!("no shares");
        return Ok(ExitCode::SUCCESS);
    }
    for l in &lines {
        let s = &l.share;
        let until = s
            .expires_at
            .map_or("never".to_string(), |t| output::time(Some(t)));
        let last = output::time(l.last_view);
        println!(
            "{}  {}  {:<7}  until {until}  {} views (last {last})  {}",
            s.id,
            s.session_id,
            l.state,
            l.views,
            if s.redact { "redacted" } else { "unredacted" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
