//! `pond search`: one query over every client and host, from a cold process.
//!
//! Opens only the search table and loads the embedding model only for the
//! vector arm, because the everyday use is a single command.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{Context, SearchArgs, output};
use crate::search::{self, Filters, Mode};
use crate::store::{Store, TableKind};

pub async fn run(ctx: &Context, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let params = crate::archive::SearchParams {
        query: args.query.join(" "),
        mode: Some(args.mode),
        client: args.client,
        project: args.project,
        host: ctx.host_flag.iter().cloned().collect(),
        role: args.role,
        kind: args.kind,
        tool: args.tool,
        since: args.since,
        until: args.until,
        session: args.session,
        limit: Some(args.limit),
        offset: Some(args.offset),
        per_session: Some(args.per_session),
        literal: Some(args.literal),
    };
    let mut request = params.into_request(Default::default(), chrono::Utc::now())?;
    request.redact = args.redaction.redact;
    // The model loads on a thread of its own while the store opens and the
    // full-text arm runs: loading it is a good share of a cold search.
    let model = std::sync::Arc::new(ctx.embedder.for_one_query());
    let loading = (request.mode != Mode::Fts).then(|| {
        let lazy = model.clone();
        tokio::task::spawn_blocking(move || {
            let _ = lazy.get();
        })
    });
    let embedder = async {
        if let Some(handle) = loading {
            // A panic while loading leaves the model unloaded; `get` reports why.
            let _ = handle.await;
        }
        model.get()
    };
    let store = Store::open_only(&ctx.location, &[TableKind::Search]).await?;
    let mut response = search::search(&store, embedder, &request).await?;
    if args.redaction.redact {
        crate::archive::mask_hits(&mut response);
    }
    if args.output.json {
        output::print_json(&response)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_human(
        &response,
        request.filters != Filters::default(),
        args.offset,
    );
    Ok(ExitCode::SUCCESS)
}

/// The hits as lines a person reads: where each was found and by which arm,
/// its snippet with the matched words marked on a terminal, its session.
fn print_human(response: &search::Response, filtered: bool, offset: usize) {
    for notice in &response.notices {
        eprintln!("pond: {notice}");
    }
    let tty = std::io::stdout().is_terminal();
    let (open, close) = if tty {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    if response.hits.is_empty() {
        println!(
            "no results for “{}” among {} message(s) in scope{}",
            response.query,
            response.in_scope,
            if response.in_scope == 0 && filtered {
                " (the filters exclude everything)"
            } else {
                ""
            }
        );
        return;
    }
    for (i, hit) in response.hits.iter().enumerate() {
        let what = match &hit.tool {
            Some(tool) => format!("{}/{} ({tool})", hit.role, hit.kind),
            None => format!("{}/{}", hit.role, hit.kind),
        };
        println!(
            "{:>2}. {}  {}  {}  {}  {}  score {:.4}, found by {}",
            offset + i + 1,
            output::time(hit.timestamp),
            hit.client,
            hit.project.as_deref().unwrap_or("-"),
            hit.host,
            what,
            hit.score,
            hit.found_by.as_str()
        );
        let snippet = search::snippet::Snippet {
            text: hit.snippet.clone(),
            matches: hit.highlights.clone(),
        };
        println!(
            "    {}",
            snippet.marked(open, close).replace('\n', "\n    ")
        );
        let more = if hit.session_matches > 1 {
            format!("  (+{} more in this session)", hit.session_matches - 1)
        } else {
            String::new()
        };
        println!(
            "    session {}  message {}{more}",
            hit.session_id, hit.message_id
        );
    }
    println!(
        "{} result(s), {} mode{}, {} message(s) in scope",
        response.hits.len(),
        match response.mode {
            Mode::Hybrid => "hybrid",
            Mode::Fts => "full-text",
            Mode::Vector => "vector",
        },
        response
            .embed_model
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default(),
        response.in_scope
    );
}
