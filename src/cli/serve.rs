//! `pond mcp` and `pond serve`: open the store once and answer questions
//! until stopped.

use std::process::ExitCode;
use std::sync::Arc;

use super::{Context, McpArgs, ServeArgs};
use crate::mcp::Shared;
use crate::store::lazy::LazyStore;

/// How stale a long-running server's view of the store may get before a
/// read looks for newer commits: a sync elsewhere shows up within this.
const FRESH_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn mcp(ctx: &Context, args: McpArgs) -> anyhow::Result<ExitCode> {
    // Started by an agent, maybe before any sync: it must come up anyway
    // and answer "nothing synced yet" until a sync makes the store.
    let shared = Arc::new(Shared {
        store: LazyStore::new(ctx.location.clone(), Some(FRESH_WITHIN)),
        embedder: ctx.embedder.clone(),
        redact: args.redact,
    });
    crate::mcp::serve_stdio(shared).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn serve(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // The server ingests, so it writes: the same check as `pond sync`.
    super::sync::refuse_unsafe_store(&ctx.location, args.allow_unsafe_store).await?;
    let shared = Arc::new(Shared {
        store: LazyStore::new(ctx.location.clone(), Some(FRESH_WITHIN)),
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
            ingest_deadline: args.ingest_deadline,
            redact_at_ingest: ctx.redact_at_ingest,
            allowed_hosts: args.allow_host,
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
