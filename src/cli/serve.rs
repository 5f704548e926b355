//! `pond mcp` and `pond serve`: open the store once and answer questions
//! until stopped.

use std::process::ExitCode;
use std::sync::Arc;

use super::{Context, McpArgs, ServeArgs};
use crate::mcp::Shared;
use crate::store::{OpenMode, Store};

/// How stale a long-running server's view of the store may get before a
/// read looks for newer commits: a sync elsewhere shows up within this.
const FRESH_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn mcp(ctx: &Context, args: McpArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let shared = Arc::new(Shared {
        store,
        embedder: ctx.embedder.clone(),
        redact: args.redact,
    });
    crate::mcp::serve_stdio(shared).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn serve(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_long_lived(&ctx.location, FRESH_WITHIN).await?;
    let shared = Arc::new(Shared {
        store,
        embedder: ctx.embedder.clone(),
        redact: !args.no_redact,
    });
    let spool_dir = args.spool.unwrap_or_else(|| {
        crate::paths::state_dir()
            .join("ingest")
            .join(&ctx.location.key)
    });
    crate::serve::run(
        shared,
        crate::serve::ServeOptions {
            listen: args.listen,
            tokens: ctx.tokens.clone(),
            config_path: ctx.config_path.clone(),
            spool_dir,
            max_upload_bytes: args.max_upload,
            redact_at_ingest: ctx.redact_at_ingest,
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
