//! `pond mcp` and `pond serve`: open the store once and answer questions
//! until stopped.

use std::process::ExitCode;
use std::sync::Arc;

use super::{Context, McpArgs, MetricsArgs, ServeArgs};
use crate::mcp::Shared;
use crate::store::reach::lazy::LazyStore;

/// How stale a long-running server's view of the store may get before a
/// read looks for newer commits: a sync elsewhere shows up within this.
const FRESH_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn mcp(ctx: &Context, args: McpArgs) -> anyhow::Result<ExitCode> {
    // Started by an agent, maybe before any sync: it must come up anyway
    // and answer "nothing synced yet" until a sync makes the store.
    let shared = Arc::new(Shared {
        store: LazyStore::new(ctx.location.clone(), Some(FRESH_WITHIN)),
        embedder: ctx.embedder.clone(),
        prices: ctx.prices.clone(),
        redact: args.redaction.redact,
    });
    crate::mcp::serve_stdio(shared).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn serve(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // The server ingests, so it writes: the same check as `pond sync`.
    crate::round::refuse_unsafe_store(&ctx.location, args.allow_unsafe_store).await?;
    let shared = Arc::new(Shared {
        store: LazyStore::new(ctx.location.clone(), Some(FRESH_WITHIN)),
        embedder: ctx.embedder.clone(),
        prices: ctx.prices.clone(),
        // Rule 33: `pond serve` masks secrets in every answer unless told not to.
        redact: !args.no_redact,
    });
    let spool_dir = args
        .spool
        .unwrap_or_else(|| crate::spool::default_dir(&ctx.location.key));
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
            stale_after: args.stale_after,
            routes: crate::serve::Routes::All,
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `pond metrics`: the fleet's series once on stdout (for a node exporter's
/// textfile directory or a script), or served with `--listen` for teams
/// that run no `pond serve`.
pub async fn metrics(ctx: &Context, args: MetricsArgs) -> anyhow::Result<ExitCode> {
    let Some(listen) = args.listen else {
        let store =
            crate::store::Store::open(&ctx.location, crate::store::OpenMode::Existing).await?;
        let options = crate::prometheus::MetricsOptions {
            stale_after: args.stale_after,
            limits: Default::default(),
            prices: ctx.prices.clone(),
            project_floor: None,
        };
        print!("{}", crate::prometheus::render(&store, &options).await?);
        return Ok(ExitCode::SUCCESS);
    };
    let shared = Arc::new(Shared {
        store: LazyStore::new(ctx.location.clone(), Some(FRESH_WITHIN)),
        embedder: ctx.embedder.clone(),
        prices: ctx.prices.clone(),
        redact: true,
    });
    crate::serve::run(
        shared,
        crate::serve::ServeOptions {
            listen,
            tokens: ctx.tokens.clone(),
            config_path: ctx.config_path.clone(),
            // Nothing is ingested: no spool is ever written.
            spool_dir: crate::paths::state_dir()
                .join("ingest")
                .join(&ctx.location.key),
            max_upload_bytes: 0,
            ingest_deadline: std::time::Duration::ZERO,
            redact_at_ingest: ctx.redact_at_ingest,
            allowed_hosts: Vec::new(),
            stale_after: args.stale_after,
            routes: crate::serve::Routes::MetricsOnly,
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
