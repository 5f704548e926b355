//! status, sessions, show, adapters, and clear errors for bad input.

use crate::harness::{Pond, copy_dir, count, fixtures};

fn synced() -> Pond {
    let pond = Pond::new();
    pond.sync("codex", &fixtures("codex"));
    pond.sync("claude-code", &fixtures("claude-code"));
    pond
}

#[test]
fn sessions_json_lists_required_fields_and_filters_by_client() {
    let pond = synced();
    let all = pond.json(&["sessions", "--limit", "1000", "--json"]);
    let all = all.as_array().unwrap();
    assert!(all.len() >= 15, "{}", all.len());
    for s in all {
        for key in ["id", "client", "project", "started_at", "messages"] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    let codex = pond.json(&["sessions", "--client", "codex", "--json"]);
    let codex = codex.as_array().unwrap();
    assert!(!codex.is_empty());
    assert!(codex.iter().all(|s| s["client"] == "codex"));
    let rtchess = codex
        .iter()
        .find(|s| s["id"] == "codex:019aad50-a7e6-7422-b7a8-0b384290624f")
        .expect("rtchess session");
    assert_eq!(rtchess["project"], "/Users/pinouchon/code/rtchess");
    assert!(count(rtchess, "messages") > 100);

    let limited = pond.json(&["sessions", "--limit", "2", "--json"]);
    assert_eq!(limited.as_array().unwrap().len(), 2);
}

#[test]
fn show_prints_user_assistant_and_tool_turns_in_order() {
    let pond = synced();
    let text = pond.ok(&["show", "019aad50-a7e6-7422-b7a8-0b384290624f"]);
    assert!(text.contains("── user"));
    assert!(text.contains("── assistant"));
    assert!(
        text.contains("→ shell") || text.contains("→ apply_patch"),
        "tool calls are shown"
    );
    assert!(text.contains("I want to make a chess variant"));

    // A unique prefix is enough; --json keeps source order.
    let json = pond.json(&["show", "019aad50", "--json"]);
    let seqs: Vec<u64> = json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(json["session"]["client"], "codex");
}

#[test]
fn show_claude_code_session_has_tool_calls_and_results() {
    let pond = synced();
    let json = pond.json(&["show", "fe5e1c67-53e7-4862-81ae-d0e013e3270b", "--json"]);
    let kinds: Vec<&str> = json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| {
            m["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["kind"].as_str().unwrap())
        })
        .collect();
    assert!(
        kinds.contains(&"tool_call") && kinds.contains(&"tool_result") && kinds.contains(&"text")
    );
    assert_eq!(json["session"]["project"], "/path/to/Demo");
}

#[test]
fn status_counts_per_client() {
    let pond = synced();
    let status = pond.json(&["status", "--json"]);
    let clients = status["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 2);
    assert!(count(&status, "raw_records") > 0);
    assert!(count(&status, "messages") > 0);
    assert!(status["store"].as_str().unwrap().ends_with("/store"));
}

#[test]
fn status_on_an_empty_store_is_not_an_error() {
    let pond = Pond::new();
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["exists"], false);
    assert!(status["last_sync"].is_null());
}

#[test]
fn adapters_reports_default_roots_under_home() {
    let pond = Pond::new();
    let home = pond.root.join("home");
    copy_dir(&fixtures("codex"), &home.join(".codex/sessions"));
    let list = pond.json(&["adapters", "--json"]);
    let list = list.as_array().unwrap();
    let codex = list.iter().find(|a| a["name"] == "codex").unwrap();
    assert_eq!(codex["found"], true);
    assert_eq!(
        codex["default_root"],
        home.join(".codex/sessions").to_str().unwrap()
    );
    let claude = list.iter().find(|a| a["name"] == "claude-code").unwrap();
    assert_eq!(claude["found"], false);

    // With no ADAPTER, sync reads every client's default root.
    let report = pond.json(&["sync", "--json"]);
    assert_eq!(count(&report, "files_scanned"), 5, "{report}");
}

#[test]
fn bad_input_gets_clear_errors_not_panics() {
    let pond = synced();
    let cases: [(&[&str], &str); 5] = [
        (&["sync", "nope"], "unknown adapter `nope`"),
        (&["sync", "--path", "/tmp"], "--path needs an ADAPTER"),
        (&["show", "no-such-session"], "no session `no-such-session`"),
        (
            &["export", "no-such-session", "--raw", "--out", "/tmp/x"],
            "no session",
        ),
        (&["--store", "ftp://host/x", "status"], "unsupported scheme"),
    ];
    for (args, expected) in cases {
        let out = pond.output(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn dry_run_writes_nothing() {
    let pond = Pond::new();
    let report = pond.json(&[
        "sync",
        "codex",
        "--path",
        fixtures("codex").to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    assert!(count(&report, "records_inserted") > 0);
    assert!(!pond.store.exists(), "a dry run must not create the store");
    let status = pond.json(&["status", "--json"]);
    assert!(status["last_sync"].is_null());
}

#[test]
fn export_refuses_to_overwrite_without_force() {
    let pond = synced();
    let out = pond.root.join("out");
    let out = out.to_str().unwrap();
    let id = "019aad50-a7e6-7422-b7a8-0b384290624f";
    pond.ok(&["export", id, "--raw", "--out", out]);
    let again = pond.output(&["export", id, "--raw", "--out", out]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    pond.ok(&["export", id, "--raw", "--out", out, "--force"]);
}
