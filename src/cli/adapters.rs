//! `pond adapters`: which clients pond reads and whether they are on this host.

use std::process::ExitCode;

use serde::Serialize;

use super::{AdaptersArgs, output};

#[derive(Debug, Serialize)]
struct AdapterLine {
    name: &'static str,
    default_root: String,
    found: bool,
    files: usize,
}

pub fn run(args: AdaptersArgs) -> anyhow::Result<ExitCode> {
    let lines: Vec<AdapterLine> = crate::adapters::all()
        .iter()
        .map(|a| {
            let root = a.default_root();
            let found = root.is_dir();
            let files = if found {
                a.discover(&root).files.len()
            } else {
                0
            };
            AdapterLine {
                name: a.name(),
                default_root: root.display().to_string(),
                found,
                files,
            }
        })
        .collect();
    if args.json {
        output::print_json(&lines)?;
    } else {
        for l in &lines {
            let state = if l.found {
                format!("found, {} files", l.files)
            } else {
                "not found".to_string()
            };
            println!("{:<12} {:<40} {state}", l.name, l.default_root);
        }
    }
    Ok(ExitCode::SUCCESS)
}
