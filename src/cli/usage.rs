//! `pond usage`: the agents' tokens and spend, grouped by period, host,
//! project, client, model or session, as a table or `--json` (the same
//! report `/v1/usage` and the MCP tool give).

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Utc;

use super::{Context, UsageArgs, output};
use crate::spend::{self, UsageAsk, UsageQuery, UsageReport};
use crate::store::{Store, TableKind};

pub async fn run(ctx: &Context, args: UsageArgs) -> anyhow::Result<ExitCode> {
    let ask = UsageAsk {
        by: &args.by,
        since: args.since.as_deref(),
        until: args.until.as_deref(),
        tz: &args.tz,
        hosts: ctx.host_flag.iter().cloned().collect(),
        projects: args.project,
        clients: args.client,
    };
    let query =
        UsageQuery::parse(ask, Default::default(), Utc::now()).map_err(anyhow::Error::msg)?;
    let store = Store::open_only(&ctx.location, &[TableKind::Usage, TableKind::Sessions])
        .await
        .context("open the store")?;
    let report = spend::report(&store, &query, &ctx.prices).await?;
    output::print_report(args.output.json, &report, print_table)?;
    Ok(ExitCode::SUCCESS)
}

fn print_table(report: &UsageReport) {
    if report.rows.is_empty() {
        println!("no usage recorded (sessions stored before pond kept usage: `pond repair`)");
        return;
    }
    let mut header: Vec<String> = report.by.clone();
    header.extend(
        [
            "calls",
            "input",
            "output",
            "cache write",
            "cache read",
            "reasoning",
            "cost",
        ]
        .map(String::from),
    );
    let mut lines = vec![header];
    let numbers = |t: &spend::UsageTotals| {
        vec![
            t.calls.to_string(),
            t.input_tokens.to_string(),
            t.output_tokens.to_string(),
            t.cache_write_tokens.to_string(),
            t.cache_read_tokens.to_string(),
            t.reasoning_tokens.to_string(),
            cost(t),
        ]
    };
    for row in &report.rows {
        let mut line: Vec<String> = report
            .by
            .iter()
            .map(|d| key(row, d).unwrap_or("").to_string())
            .collect();
        line.extend(numbers(&row.totals));
        lines.push(line);
    }
    let mut total = vec![String::new(); report.by.len()];
    total[0] = "total".into();
    total.extend(numbers(&report.totals));
    lines.push(total);
    let keys = report.by.len();
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c < keys {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    if !report.unpriced_models.is_empty() {
        println!(
            "no price for {} (their tokens are counted, their cost is not; add [[prices]] to the config)",
            report.unpriced_models.join(", ")
        );
    }
}

fn cost(t: &spend::UsageTotals) -> String {
    match (t.cost_usd, t.unpriced_calls) {
        (None, _) => "-".into(),
        (Some(c), 0) => format!("${c:.2}"),
        (Some(c), _) => format!("${c:.2}+"),
    }
}

fn key<'a>(row: &'a spend::UsageGroup, dimension: &str) -> Option<&'a str> {
    match dimension {
        "day" => row.day.as_deref(),
        "week" => row.week.as_deref(),
        "month" => row.month.as_deref(),
        "host" => row.host.as_deref(),
        "project" => row.project.as_deref(),
        "client" => row.client.as_deref(),
        "model" => row.model.as_deref(),
        "session" => row.session.as_deref(),
        "user" => row.user.as_deref(),
        _ => None,
    }
}
