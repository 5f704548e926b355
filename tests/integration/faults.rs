//! Rule 13: an unreachable store, refused credentials, or a store without
//! conditional put make a sync fail fast and clearly, and say so in the record.

use std::time::Duration;

use crate::harness::{Pond, count, fixtures, output_within, s3_env_for, services};

/// Generous: a liveness bound so a hang fails the test, not a speed target.
const BOUND: Duration = Duration::from_secs(120);

#[test]
fn rule13_unreachable_endpoint_fails_within_bounds_with_a_clear_message() {
    // Nothing listens on port 9 (discard) on loopback here.
    let pond = Pond::remote("s3://nowhere/archive", s3_env_for("http://127.0.0.1:9"));
    let out = output_within(&mut pond.sync_cmd("codex", &fixtures("codex")), BOUND);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "failed");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("s3://nowhere/archive") && error.contains("Unreachable"),
        "{error}"
    );
    let record = pond.last_sync_record();
    assert_eq!(record["outcome"], "failed");
    assert!(record["shared_record_error"].as_str().is_some(), "{record}");
}

#[test]
fn rule13_wrong_credentials_fail_clearly() {
    let s = services();
    let pond = Pond::remote(
        "az://pond-faults/archive",
        s.azure_env("d3JvbmcgcGFzc3dvcmQ="),
    );
    let out = output_within(&mut pond.sync_cmd("codex", &fixtures("codex")), BOUND);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["error"].as_str().unwrap().contains("AccessDenied"),
        "{report}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("d3JvbmcgcGFzc3dvcmQ="));
    assert_eq!(pond.last_sync_record()["outcome"], "failed");

    let check = output_within(&mut pond.cmd(&["storage", "check", "--json"]), BOUND);
    assert_eq!(
        check.status.code(),
        Some(4),
        "access denied has its own exit status"
    );
}

#[test]
fn rule13_store_without_conditional_put_is_refused() {
    let s = services();
    let mut env = s3_env_for(&s.nocond_s3);
    env.push(("AWS_ACCESS_KEY_ID".into(), "S3RVER".into()));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), "S3RVER".into()));
    let pond = Pond::remote("s3://pond-nocond/archive", env);

    let check = output_within(&mut pond.cmd(&["storage", "check"]), BOUND);
    assert_eq!(
        check.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("UNSAFE"));

    let out = output_within(&mut pond.sync_cmd("codex", &fixtures("codex")), BOUND);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("does not support conditional put"),
        "{report}"
    );
    assert_eq!(count(&report, "records_inserted"), 0);

    // `pond serve` ingests too: refused the same way, unless told.
    let out = output_within(&mut pond.cmd(&["serve", "--listen", "127.0.0.1:0"]), BOUND);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not support conditional put")
            && stderr.contains("--allow-unsafe-store"),
        "{stderr}"
    );
}

#[test]
fn storage_check_passes_on_real_conditional_put_stores() {
    let s = services();
    let s3 = Pond::on_new_s3_archive(&s, "check");
    let out = s3.json(&["storage", "check", "--json"]);
    assert_eq!(out["verdict"], "safe", "{out}");
    let az = Pond::remote("az://pond-check/x", s.azure_env(&s.azurite_key));
    assert_eq!(az.json(&["storage", "check", "--json"])["verdict"], "safe");
    let local = Pond::new();
    assert_eq!(
        local.json(&["storage", "check", "--json"])["verdict"],
        "safe"
    );
}
