//! `pond storage check`: the probe's verdict, readable and scriptable.

use std::process::ExitCode;

use super::{Context, StorageCheckArgs, output};
use crate::store::StoreLocation;
use crate::store::reach::probe::{self, Verdict};

pub async fn check(ctx: &Context, args: StorageCheckArgs) -> anyhow::Result<ExitCode> {
    let location = match &args.url {
        Some(url) => StoreLocation::parse(url)?.with_options(ctx.location.user_options().clone()),
        None => ctx.location.clone(),
    };
    let report = probe::probe(&location).await;
    if args.output.json {
        output::print_json(&report)?;
    } else {
        println!("store: {}", report.store);
        for c in &report.checks {
            println!(
                "  {:<16} {}  {}",
                c.name,
                if c.ok { "ok  " } else { "FAIL" },
                c.detail
            );
        }
        println!(
            "verdict: {}",
            match report.verdict {
                Verdict::Safe => "safe for a shared archive",
                Verdict::Unreachable =>
                    "UNREACHABLE: check the URL, endpoint, network and that the bucket exists",
                Verdict::AccessDenied => "ACCESS DENIED: check the credentials",
                Verdict::NoConditionalPut =>
                    "UNSAFE: no conditional put; concurrent syncs would silently lose data. pond sync refuses it",
                Verdict::Broken => "BROKEN: basic operations misbehave (see the failed checks)",
            }
        );
    }
    Ok(ExitCode::from(report.verdict.exit_code()))
}
