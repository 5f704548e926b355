//! `pond export --raw`: a session's source files, byte for byte.

use std::process::ExitCode;

use super::{Context, ExportArgs, output};
use crate::store::{OpenMode, Store};

pub async fn run(ctx: &Context, args: ExportArgs) -> anyhow::Result<ExitCode> {
    debug_assert!(args.raw, "clap requires --raw");
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let id = output::resolve_session(&store, &args.session_id).await?;
    let files = crate::export::export_raw(
        &store,
        &id,
        &args.out,
        &ctx.host,
        args.force,
        args.redaction.redact,
    )
    .await?;
    if args.output.json {
        output::print_json(&files)?;
    } else {
        for f in &files {
            println!(
                "{} ({} bytes, {} records)",
                f.path.display(),
                f.bytes,
                f.records
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
