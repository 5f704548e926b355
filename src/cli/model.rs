//! `pond model`: make the static embedding model and report which one is in
//! use.

use std::process::ExitCode;

use super::{Context, ModelCommand, output};
use crate::embed::{self, TransformerFiles, distill};
use crate::search::backlog;
use crate::store::{OpenMode, Store};

pub async fn run(ctx: &Context, command: ModelCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelCommand::Distill {
            from,
            onnxruntime,
            out,
            threads,
            json,
        } => {
            let teacher = TransformerFiles {
                model_dir: from.unwrap_or_else(embed::default_teacher_dir),
                onnxruntime: onnxruntime.unwrap_or_else(embed::default_onnxruntime),
            };
            for needed in [
                teacher.model_dir.join("model.onnx"),
                teacher.onnxruntime.clone(),
            ] {
                if !needed.exists() {
                    anyhow::bail!(
                        "{} is missing; run scripts/fetch-models.sh (or `make models`) to fetch the teacher model and ONNX Runtime",
                        needed.display()
                    );
                }
            }
            let out = out.unwrap_or_else(embed::default_static_dir);
            let show = !json;
            let report = distill::distill(&teacher, &out, threads, &|done, total| {
                if show && (done % 4096 < 256 || done == total) {
                    eprintln!("pond: embedded {done}/{total} vocabulary tokens");
                }
            })?;
            if json {
                output::print_json(&report)?;
            } else {
                println!(
                    "wrote {} ({} tokens × {} dimensions, {:.1}% of variance kept) in {:.0}s",
                    report.out_dir.display(),
                    report.vocabulary,
                    report.dimensions,
                    report.explained_variance * 100.0,
                    report.total_secs
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Reembed { batch, json } => reembed(ctx, batch, json).await,
        ModelCommand::Status { json } => {
            let loaded = ctx.embedder.get();
            let status = ModelStatus {
                model_id: loaded.as_ref().ok().map(|e| e.model_id().to_string()),
                dimensions: loaded.as_ref().ok().map(|e| e.dimensions()),
                unavailable: loaded.as_ref().err().map(|why| why.to_string()),
            };
            if json {
                output::print_json(&status)?;
            } else {
                match (&status.model_id, &status.unavailable) {
                    (Some(id), _) => println!(
                        "embedding model: {id} ({} dimensions)",
                        status.dimensions.unwrap_or(0)
                    ),
                    (None, Some(why)) => println!("no embedding model: {why}"),
                    (None, None) => println!("no embedding model"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(serde::Serialize)]
struct ModelStatus {
    model_id: Option<String>,
    dimensions: Option<usize>,
    unavailable: Option<String>,
}

/// `pond model reembed`: works through the embedding backlog.
async fn reembed(ctx: &Context, batch: usize, json: bool) -> anyhow::Result<ExitCode> {
    let embedder = ctx
        .embedder
        .get()
        .map_err(|why| anyhow::anyhow!("no embedding model to re-embed with: {why}"))?;
    let store = Store::open(&ctx.location, OpenMode::Existing).await?;
    let show = !json;
    let progress = |rows| {
        if show {
            eprintln!("pond: {rows} rows embedded");
        }
    };
    let report = backlog::drain(
        &store,
        embedder,
        backlog::Drain {
            holder: &ctx.host,
            batch,
            progress: &progress,
            keep_going: &|| true,
        },
    )
    .await;
    store.finish_writes().await;
    let report = report?;
    output::print_report(json, &report, print_reembed)?;
    Ok(ExitCode::SUCCESS)
}

/// What a drain of the backlog did, for a person.
fn print_reembed(report: &backlog::BacklogReport) {
    println!(
        "{} rows given vectors of {} ({} had nothing to embed) in {:.1}s",
        report.rows,
        report.model,
        report.rows - report.with_vectors,
        report.secs
    );
    for m in &report.forgotten_models {
        println!("no vectors of {m} remain; it is no longer searched");
    }
    for busy in &report.busy_shards {
        println!(
            "shard {} of the backlog is being embedded by {}",
            busy.shard, busy.holder
        );
    }
    for lost in &report.lost_shards {
        println!("shard {lost}: this host's claim lapsed; another host carries on");
    }
}
