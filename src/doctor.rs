//! `pond doctor`: everything a person would otherwise find out one error at
//! a time, checked at once: the store (reachable, writable, safe for many
//! hosts, its format, its clock against this host's), where the credentials
//! come from, the state and lock directory, the embedding model, which
//! clients have sessions here, the last sync and its schedule, and a
//! server's tokens. Each check says ok, warning or failed, with the next
//! step; the worst decides the exit code.

use std::path::Path;

use chrono::Utc;
use serde::Serialize;

use crate::store::reach::probe::{self, Verdict};
use crate::store::{OpenMode, Store, StoreError, StoreLocation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Failed,
}

/// One thing checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            next: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, next: impl Into<String>) -> Check {
        Check::short_of(name, Status::Warning, detail.into(), next.into())
    }

    fn fail(name: &'static str, detail: impl Into<String>, next: impl Into<String>) -> Check {
        Check::short_of(name, Status::Failed, detail.into(), next.into())
    }

    /// A check that did not pass says what to do next, however badly it fell short.
    fn short_of(name: &'static str, status: Status, detail: String, next: String) -> Check {
        Check {
            name,
            status,
            detail,
            next: Some(next),
        }
    }
}

/// What the checks look at: the command line's and config's choices.
pub struct Subject<'a> {
    pub location: &'a StoreLocation,
    pub state_dir: &'a Path,
    pub config_path: &'a Path,
    pub tokens: usize,
    /// The embedding model's id, or why there is none.
    pub model: Result<String, String>,
    /// Where a schedule or an agent would be installed, and whether it is.
    pub schedule: Option<String>,
}

/// Every check, in the order a person would fix them.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub store: String,
    pub checks: Vec<Check>,
    pub worst: Status,
}

pub async fn diagnose(subject: &Subject<'_>) -> Diagnosis {
    let mut checks = vec![credentials(subject.location)];
    let probed = probe::probe(subject.location).await;
    checks.push(match probed.verdict {
        Verdict::Safe => Check::ok(
            "store",
            "reachable, writable, and safe for many hosts (conditional put works)",
        ),
        Verdict::Unreachable => Check::fail(
            "store",
            first_failure(&probed),
            "check the URL, the endpoint (AWS_ENDPOINT_URL), the network, and that the bucket exists",
        ),
        Verdict::AccessDenied => Check::fail(
            "store",
            first_failure(&probed),
            "check the credentials and that they may read, write, list and delete here",
        ),
        Verdict::NoConditionalPut => Check::fail(
            "store",
            "this store lets two writers create the same object: concurrent syncs would lose commits",
            "use a store with conditional put (S3, GCS, Azure, MinIO, R2); pond sync refuses this one",
        ),
        Verdict::Broken => Check::fail(
            "store",
            first_failure(&probed),
            "run `pond storage check -v` and see which operation misbehaves",
        ),
    });
    if probed.verdict == Verdict::Safe {
        checks.push(format(subject.location).await);
        checks.push(clock(subject.location).await);
    }
    checks.push(state_dir(subject.state_dir, subject.location));
    checks.push(match &subject.model {
        Ok(id) => Check::ok("model", format!("{id} (vector search on)")),
        Err(why) => Check::warn(
            "model",
            format!("no embedding model: {why}"),
            "search works on words alone until the model is installed (the install line brings it; `make models` in a clone)",
        ),
    });
    checks.push(clients());
    checks.push(last_sync(subject));
    checks.push(if subject.tokens > 0 {
        Check::ok(
            "tokens",
            format!("{} in {}", subject.tokens, subject.config_path.display()),
        )
    } else {
        Check::warn(
            "tokens",
            format!("none in {}", subject.config_path.display()),
            "only needed for `pond serve` beyond this machine: `pond token create NAME --scope read`",
        )
    });
    let worst = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    Diagnosis {
        store: subject.location.display.clone(),
        checks,
        worst,
    }
}

fn first_failure(report: &probe::ProbeReport) -> String {
    report.checks.iter().find(|c| !c.ok).map_or_else(
        || "the probe failed".to_string(),
        |c| format!("{}: {}", c.name, c.detail),
    )
}

/// Where the store's credentials come from, by its kind: never their values.
fn credentials(location: &StoreLocation) -> Check {
    let has = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    let option = |key: &str| location.user_options().contains_key(key);
    let scheme = location
        .display
        .split_once("://")
        .map_or("file", |(s, _)| s);
    let from = match scheme {
        "s3" | "s3a" => {
            if has("AWS_ACCESS_KEY_ID") {
                Some("AWS_ACCESS_KEY_ID in the environment".to_string())
            } else if option("aws_access_key_id") {
                Some("[store.options] of the config".to_string())
            } else if has("AWS_PROFILE") {
                Some(format!(
                    "the AWS profile {}",
                    std::env::var("AWS_PROFILE").unwrap_or_default()
                ))
            } else if home_file(".aws/credentials") {
                Some("~/.aws/credentials".to_string())
            } else if has("AWS_WEB_IDENTITY_TOKEN_FILE")
                || has("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            {
                Some("the workload's identity (web identity or container role)".to_string())
            } else {
                None
            }
        }
        "gs" => (has("GOOGLE_APPLICATION_CREDENTIALS") || has("GOOGLE_SERVICE_ACCOUNT"))
            .then(|| "GOOGLE_APPLICATION_CREDENTIALS".to_string())
            .or_else(|| {
                home_file(".config/gcloud/application_default_credentials.json")
                    .then(|| "gcloud's application default credentials".to_string())
            }),
        "az" | "abfs" | "abfss" => [
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_CLIENT_SECRET",
        ]
        .into_iter()
        .find(|v| has(v))
        .map(|v| format!("{v} in the environment"))
        .or_else(|| {
            option("azure_storage_account_key").then(|| "[store.options] of the config".to_string())
        }),
        _ => return Check::ok("credentials", "a local directory needs none"),
    };
    match from {
        Some(from) => Check::ok("credentials", format!("from {from}")),
        None => Check::warn(
            "credentials",
            "none found in the environment, the config or the usual files",
            "set them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY), unless this machine has an instance identity",
        ),
    }
}

fn home_file(relative: &str) -> bool {
    std::env::var_os("HOME").is_some_and(|home| Path::new(&home).join(relative).is_file())
}

/// Whether this pond reads the store's format.
async fn format(location: &StoreLocation) -> Check {
    match Store::open(location, OpenMode::Existing).await {
        Ok(_) => Check::ok("format", "this pond reads and writes the store's format"),
        Err(StoreError::NewerFormat {
            found, supported, ..
        }) => Check::fail(
            "format",
            format!("the store is format {found}; this pond reads up to {supported}"),
            "upgrade pond on this host (the install line in the README)",
        ),
        Err(StoreError::NotFound(_)) => Check::warn(
            "format",
            "there is no archive here yet",
            "`pond sync` creates it",
        ),
        Err(e) => Check::fail(
            "format",
            e.to_string(),
            "run `pond status -v` to see the whole error",
        ),
    }
}

/// This host's clock against the store's: leases and the fleet's lag are
/// judged by the store's clock.
async fn clock(location: &StoreLocation) -> Check {
    match crate::store::upkeep::lease::clock_offset(location).await {
        Ok(offset) => {
            let secs = offset.num_milliseconds().abs() as f64 / 1000.0;
            let said = format!(
                "this host is {secs:.1} s {} the store",
                if offset.num_milliseconds() >= 0 {
                    "ahead of"
                } else {
                    "behind"
                }
            );
            if secs > 300.0 {
                Check::fail(
                    "clock",
                    said,
                    "set the clock right (`timedatectl set-ntp true`): stores refuse requests this far off",
                )
            } else if secs > 30.0 {
                Check::warn(
                    "clock",
                    said,
                    "set the clock right (`timedatectl set-ntp true`): the fleet's lag and leases read wrong",
                )
            } else {
                Check::ok("clock", said)
            }
        }
        Err(e) => Check::warn(
            "clock",
            format!("could not compare: {e}"),
            "run `pond storage check`",
        ),
    }
}

/// The state directory (cursors, last sync, the lock) is writable, and
/// whether a sync holds the lock now.
fn state_dir(dir: &Path, location: &StoreLocation) -> Check {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Check::fail(
            "state",
            format!("{}: {e}", dir.display()),
            "make it writable, or point XDG_STATE_HOME elsewhere",
        );
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    if let Err(e) = std::fs::write(&probe, b"") {
        return Check::fail(
            "state",
            format!("{} is not writable: {e}", dir.display()),
            "make it writable, or point XDG_STATE_HOME elsewhere",
        );
    }
    let _ = std::fs::remove_file(&probe);
    let lock = crate::sync::lock::lock_path(dir, &location.key);
    match crate::sync::lock::acquire(&lock, true, |_| {}) {
        Ok(crate::sync::lock::Acquired::Busy(holder)) => Check::ok(
            "state",
            format!(
                "{} is writable; a sync is running now ({})",
                dir.display(),
                holder.map_or("another process".to_string(), |h| format!("pid {}", h.pid))
            ),
        ),
        Ok(crate::sync::lock::Acquired::Locked(_)) => Check::ok(
            "state",
            format!("{} is writable; no sync is running", dir.display()),
        ),
        Err(e) => Check::warn(
            "state",
            format!("{}: the sync lock cannot be taken: {e}", dir.display()),
            "syncs run unlocked here; keep one sync at a time by hand",
        ),
    }
}

/// Which clients have sessions on this host, and where.
fn clients() -> Check {
    let mut found = Vec::new();
    for adapter in crate::registry::all() {
        for root in adapter.roots() {
            if root.is_dir() {
                let files = adapter.discover(&root).files.len();
                if files > 0 {
                    found.push(format!(
                        "{} ({files} files in {})",
                        adapter.name(),
                        root.display()
                    ));
                }
            }
        }
    }
    if found.is_empty() {
        Check::warn(
            "clients",
            "no client's sessions where pond looks on this host",
            "`pond adapters` lists where each client keeps them; `pond sync CLIENT --path DIR` reads another place",
        )
    } else {
        Check::ok("clients", found.join("; "))
    }
}

/// The last sync of this host into this store, and what runs the next.
fn last_sync(subject: &Subject<'_>) -> Check {
    let last = crate::sync::report::read_last_sync(subject.state_dir, &subject.location.key);
    let scheduled = subject
        .schedule
        .clone()
        .unwrap_or_else(|| "no schedule or agent installed".to_string());
    match last {
        None => Check::warn(
            "last sync",
            format!("never synced into this store from here; {scheduled}"),
            "run `pond sync`, then `pond schedule install` to keep it current",
        ),
        Some(run) => {
            let age = Utc::now() - run.finished_at;
            let said = format!(
                "{}, {} ago; {scheduled}",
                run.outcome.as_str(),
                humantime::format_duration(std::time::Duration::from_secs(
                    age.num_seconds().max(0) as u64
                ))
            );
            if run.outcome.as_str() == "failed" {
                Check::warn("last sync", said, "run `pond sync` to see what fails now")
            } else {
                Check::ok("last sync", said)
            }
        }
    }
}
