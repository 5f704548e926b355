//! `pond export`: a session's source files byte for byte (`--raw`), or a
//! document a person reads (`--format md|html`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;

use super::explain::UsageError;
use super::{Context, ExportArgs, output};
use crate::store::{OpenMode, Store};
use crate::transcript::{self, Format};

pub async fn run(ctx: &Context, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let id = output::resolve_session(&store, &args.session_id).await?;
    match (args.format, &args.out) {
        (Some(format), out) => readable(ctx, &store, &id, format, out.as_deref(), &args).await,
        // clap requires --out with --raw.
        (None, Some(dir)) => raw(ctx, &store, &id, dir, &args).await,
        (None, None) => Err(UsageError("--raw needs --out DIR".into()).into()),
    }
}

async fn raw(
    ctx: &Context,
    store: &Store,
    id: &str,
    dir: &Path,
    args: &ExportArgs,
) -> anyhow::Result<ExitCode> {
    let files =
        crate::export::export_raw(store, id, dir, &ctx.host, args.force, args.redaction.redact)
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

/// What `--json` says of a written document.
#[derive(Serialize)]
struct Written {
    session_id: String,
    format: &'static str,
    path: PathBuf,
    bytes: usize,
    messages: usize,
    images: usize,
    redacted: bool,
}

async fn readable(
    ctx: &Context,
    store: &Store,
    id: &str,
    format: Format,
    out: Option<&Path>,
    args: &ExportArgs,
) -> anyhow::Result<ExitCode> {
    if out.is_none() && args.output.json {
        return Err(UsageError(
            "--json describes the file written: give --out FILE, or drop --json to print the document".into(),
        )
        .into());
    }
    if let Some(path) = out
        && path.exists()
        && !args.force
    {
        anyhow::bail!(
            "{} already exists: pass --force to replace it",
            path.display()
        );
    }
    let with_images = format == Format::Html;
    let doc =
        transcript::gather(store, id, args.redaction.redact, with_images, &ctx.prices).await?;
    let text = match format {
        Format::Md => transcript::markdown(&doc),
        Format::Html => transcript::html(&doc),
    };
    let Some(path) = out else {
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let written = Written {
        session_id: doc.session.id.clone(),
        format: format.name(),
        path: path.to_path_buf(),
        bytes: text.len(),
        messages: doc.messages.len(),
        images: doc.images.values().map(Vec::len).sum(),
        redacted: doc.redacted,
    };
    if args.output.json {
        output::print_json(&written)?;
    } else {
        println!(
            "{} ({} bytes, {} messages, {} images)",
            path.display(),
            written.bytes,
            written.messages,
            written.images
        );
    }
    Ok(ExitCode::SUCCESS)
}
