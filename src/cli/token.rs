//! `pond token`: the bearer tokens `pond serve` accepts, kept hashed in the
//! config file.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, TokenCommand, output};
use crate::access::{self, Limits};

#[derive(Serialize)]
struct Created<'a> {
    name: &'a str,
    token: &'a str,
    scope: access::Scope,
    #[serde(flatten)]
    limits: &'a Limits,
    config: String,
}

pub fn run(ctx: &Context, command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create {
            name,
            scope,
            project_prefix,
            host_prefix,
            may_share,
            json,
        } => {
            let limits = Limits {
                project_prefix,
                host_prefix,
            };
            let (token, entry) = access::create(&ctx.config_path, &name, scope, limits, may_share)?;
            let config = ctx.config_path.display().to_string();
            if json {
                output::print_json(&Created {
                    name: &entry.name,
                    token: &token,
                    scope: entry.scope,
                    limits: &entry.limits,
                    config,
                })?;
            } else {
                eprintln!(
                    "pond: token `{name}` ({}) saved, hashed, in {config}; it is shown only now:",
                    entry.scope.as_str()
                );
                println!("{token}");
            }
        }
        TokenCommand::List { json } => list(ctx, json)?,
        TokenCommand::Revoke { name, json } => {
            let entry = access::revoke(&ctx.config_path, &name)?;
            if json {
                output::print_json(&serde_json::json!({"revoked": entry.name}))?;
            } else {
                println!(
                    "revoked `{}`; a running `pond serve` refuses it from its next request",
                    entry.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `pond token list`: names, scopes, when made and limits, never hashes.
fn list(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let tokens = crate::config::load_tokens(&ctx.config_path)?;
    if json {
        // Hashes are not secrets, but they are of no use to a reader either.
        let listed: Vec<serde_json::Value> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "scope": t.scope,
                    "project_prefix": t.limits.project_prefix,
                    "host_prefix": t.limits.host_prefix,
                    "created": t.created,
                    "may_share": t.may_share,
                })
            })
            .collect();
        output::print_json(&listed)?;
    } else if tokens.is_empty() {
        println!("no tokens in {}", ctx.config_path.display());
    } else {
        for t in &tokens {
            let mut limits = Vec::new();
            if let Some(p) = &t.limits.project_prefix {
                // A directory and what lies below it, not a string prefix.
                limits.push(format!("projects in {p}"));
            }
            if let Some(h) = &t.limits.host_prefix {
                limits.push(format!("host {h}*"));
            }
            let shares = if t.may_share { " (may share)" } else { "" };
            println!(
                "{:<24} {:<7} {:<21} {}{shares}",
                t.name,
                t.scope.as_str(),
                t.created.as_deref().unwrap_or("-"),
                if limits.is_empty() {
                    "everything".to_string()
                } else {
                    limits.join(", ")
                }
            );
        }
    }
    Ok(())
}
