//! `pond adapters`: which clients pond reads and whether they are on this host.

use std::process::ExitCode;

use serde::Serialize;

use super::{AdaptersArgs, output};

#[derive(Debug, Serialize)]
struct AdapterLine {
    name: &'static str,
    /// The first root; kept for scripts written against earlier output.
    default_root: String,
    roots: Vec<RootLine>,
    found: bool,
    files: usize,
}

#[derive(Debug, Serialize)]
struct RootLine {
    path: String,
    found: bool,
    files: usize,
}

pub fn run(args: AdaptersArgs) -> anyhow::Result<ExitCode> {
    let lines: Vec<AdapterLine> = crate::registry::all()
        .iter()
        .map(|a| {
            let roots: Vec<RootLine> = a
                .roots()
                .into_iter()
                .map(|root| {
                    let found = root.is_dir();
                    RootLine {
                        files: if found {
                            a.discover(&root).files.len()
                        } else {
                            0
                        },
                        path: root.display().to_string(),
                        found,
                    }
                })
                .collect();
            AdapterLine {
                name: a.name(),
                default_root: roots.first().map(|r| r.path.clone()).unwrap_or_default(),
                found: roots.iter().any(|r| r.found),
                files: roots.iter().map(|r| r.files).sum(),
                roots,
            }
        })
        .collect();
    if args.output.json {
        output::print_json(&lines)?;
    } else {
        for l in &lines {
            if l.roots.is_empty() {
                println!(
                    "{:<18} (never searched: give its files with `pond sync {} --path DIR`)",
                    l.name, l.name
                );
            }
            for (i, root) in l.roots.iter().enumerate() {
                let state = if root.found {
                    format!("found, {} files", root.files)
                } else {
                    "not found".to_string()
                };
                let name = if i == 0 { l.name } else { "" };
                println!("{name:<18} {:<56} {state}", root.path);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
