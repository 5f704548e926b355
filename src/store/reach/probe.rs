//! `pond storage check`: does this store do what safe concurrent commits need?
//!
//! Lance's optimistic concurrency rests on one primitive: a put that fails if
//! the object already exists. A store that ignores it (seen here: an S3
//! emulator without `If-None-Match` lost 58 of 120 rows to two writers) loses
//! data without any error. The probe writes, reads, lists and deletes a scratch
//! object, and tries to create it twice, so this is known before any sync.

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;

use crate::store::StoreLocation;
use crate::store::reach::connect;

/// How long a "safe" verdict is trusted before a sync probes the store again.
/// A store does not lose conditional put from one sync to the next, and the
/// probe costs five requests on every no-op sync otherwise.
pub const VERDICT_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

fn verdict_path(state_dir: &std::path::Path, location: &StoreLocation) -> std::path::PathBuf {
    state_dir.join(format!("storage-check-{}.json", location.key))
}

/// Whether this host found the store safe within [`VERDICT_TTL`].
pub fn recently_safe(state_dir: &std::path::Path, location: &StoreLocation) -> bool {
    #[derive(serde::Deserialize)]
    struct Saved {
        verdict: Verdict,
        checked_at: chrono::DateTime<chrono::Utc>,
    }
    std::fs::read(verdict_path(state_dir, location))
        .ok()
        .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
        .is_some_and(|s| {
            s.verdict == Verdict::Safe && chrono::Utc::now() - s.checked_at < VERDICT_TTL
        })
}

/// Keeps a safe verdict for [`recently_safe`]; forgets any other.
pub fn remember(state_dir: &std::path::Path, location: &StoreLocation, report: &ProbeReport) {
    let path = verdict_path(state_dir, location);
    if report.verdict != Verdict::Safe {
        let _ = std::fs::remove_file(path);
        return;
    }
    let saved = serde_json::json!({ "verdict": report.verdict, "checked_at": chrono::Utc::now() });
    if let Err(e) = crate::paths::write_atomic(&path, saved.to_string().as_bytes()) {
        tracing::warn!("cannot remember the storage check: {e}");
    }
}

/// The probe's conclusion; each has its own exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Everything works, conditional put included.
    Safe,
    /// Could not reach the store (network, DNS, missing bucket).
    Unreachable,
    /// Reached, but the credentials were refused.
    AccessDenied,
    /// Basic operations work but a second create of the same object
    /// succeeded: concurrent writers would overwrite each other's commits.
    NoConditionalPut,
    /// Some other operation misbehaved (read-back mismatch, list, delete).
    Broken,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Safe => 0,
            Verdict::Unreachable => 3,
            Verdict::AccessDenied => 4,
            Verdict::NoConditionalPut => 5,
            Verdict::Broken => 6,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub store: String,
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

/// Runs the probe. Never fails: every problem is a verdict.
pub async fn probe(location: &StoreLocation) -> ProbeReport {
    let mut report = probe_unredacted(location).await;
    for check in &mut report.checks {
        check.detail = location.redact(&check.detail);
    }
    report
}

async fn probe_unredacted(location: &StoreLocation) -> ProbeReport {
    let mut report = ProbeReport {
        store: location.display.clone(),
        verdict: Verdict::Safe,
        checks: Vec::new(),
    };
    let (store, prefix) = match connect::object_store(location) {
        Ok(v) => v,
        Err(e) => {
            report.checks.push(Check {
                name: "configure",
                ok: false,
                detail: e,
            });
            report.verdict = Verdict::Broken;
            return report;
        }
    };
    let path = prefix
        .clone()
        .join("_pond_probe")
        .join(format!("{:016x}", fastrand::u64(..)));
    let body = format!("pond storage probe {}", chrono::Utc::now().to_rfc3339());

    let write = store
        .put(&path, PutPayload::from(body.clone().into_bytes()))
        .await;
    if !record(
        &mut report,
        "write",
        write.as_ref().map(|_| "wrote a scratch object".to_string()),
    ) {
        report.verdict = classify(write.err());
        return report;
    }

    let read_ok = check_read(&mut report, store.as_ref(), &path, &body).await;
    let list_ok = check_list(&mut report, store.as_ref(), &prefix, &path).await;
    let conditional_ok = check_conditional_put(&mut report, store.as_ref(), &path).await;
    let deleted = store.delete(&path).await;
    let delete_ok = deleted.is_ok();
    record(
        &mut report,
        "delete",
        deleted.as_ref().map(|_| "deleted it".to_string()),
    );

    report.verdict = if !conditional_ok {
        Verdict::NoConditionalPut
    } else if !(read_ok && list_ok && delete_ok) {
        Verdict::Broken
    } else {
        Verdict::Safe
    };
    report
}

/// Reads the scratch object back; passes when its bytes are unchanged.
async fn check_read(
    report: &mut ProbeReport,
    store: &dyn ObjectStore,
    path: &ObjectPath,
    body: &str,
) -> bool {
    let read = async {
        let bytes = store.get(path).await?.bytes().await?;
        Ok::<_, object_store::Error>(bytes == body.as_bytes())
    }
    .await;
    record_finding(
        report,
        "read",
        &read,
        ["read it back unchanged", "read back different bytes"],
    )
}

/// Lists the probe folder; passes when the scratch object is in it.
async fn check_list(
    report: &mut ProbeReport,
    store: &dyn ObjectStore,
    prefix: &ObjectPath,
    path: &ObjectPath,
) -> bool {
    let listed = store
        .list(Some(&prefix.clone().join("_pond_probe")))
        .try_collect::<Vec<_>>()
        .await
        .map(|objects| objects.iter().any(|o| &o.location == path));
    record_finding(
        report,
        "list",
        &listed,
        ["listed it", "the listing does not show it"],
    )
}

/// Creates the scratch object a second time; passes when that is refused.
async fn check_conditional_put(
    report: &mut ProbeReport,
    store: &dyn ObjectStore,
    path: &ObjectPath,
) -> bool {
    // Rule 13: a store whose second create of one object succeeds has no
    // conditional put, and would silently lose commits.
    let create_again = store
        .put_opts(
            path,
            PutPayload::from_static(b"second writer"),
            PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            },
        )
        .await;
    let ok = matches!(create_again, Err(object_store::Error::AlreadyExists { .. }));
    report.checks.push(Check {
        name: "conditional_put",
        ok,
        detail: match &create_again {
            Err(object_store::Error::AlreadyExists { .. }) => {
                "a second create of the same object was refused, as it must be".to_string()
            }
            Ok(_) => "a second create of the same object SUCCEEDED: concurrent commits would overwrite each other".to_string(),
            Err(e) => format!("conditional create is not supported: {e}"),
        },
    });
    ok
}

/// Appends a check whose step ran and then found what it looked for or
/// not (`said`: what each finding reads as); only finding it passes.
fn record_finding(
    report: &mut ProbeReport,
    name: &'static str,
    found: &Result<bool, object_store::Error>,
    said: [&str; 2],
) -> bool {
    let (ok, detail) = match found {
        Ok(true) => (true, said[0].to_string()),
        Ok(false) => (false, said[1].to_string()),
        Err(e) => (false, e.to_string()),
    };
    report.checks.push(Check { name, ok, detail });
    ok
}

/// Appends a check; returns whether it passed.
fn record(
    report: &mut ProbeReport,
    name: &'static str,
    result: Result<String, &object_store::Error>,
) -> bool {
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(e) => (false, e.to_string()),
    };
    report.checks.push(Check { name, ok, detail });
    ok
}

fn classify(e: Option<object_store::Error>) -> Verdict {
    match e {
        Some(
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. },
        ) => Verdict::AccessDenied,
        Some(object_store::Error::NotFound { .. }) | None => Verdict::Unreachable,
        Some(other) => {
            // Access errors sometimes arrive as generic ones with the status inside.
            let text = other.to_string();
            // Whole phrases: a bare "403" also matches timings like "299.603403ms".
            const REFUSALS: &[&str] = &[
                "403 Forbidden",
                "401 Unauthorized",
                "AccessDenied",
                "AuthorizationFailure",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
            ];
            if REFUSALS.iter().any(|r| text.contains(r)) {
                Verdict::AccessDenied
            } else {
                Verdict::Unreachable
            }
        }
    }
}
