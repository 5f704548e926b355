//! Rule 40: store keys are scoped by client (and by host for clients whose
//! ids are not unique across machines), stores keyed before that are
//! upgraded in place, and the ids people already hold keep resolving.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{Pond, copy_fixture, count, fixtures, open_store};

const SHARED_ID: &str = "1af7fc5e-8455-4414-9ccd-011d40f70b2a";

/// A Claude Code session and a Codex rollout (both real files) whose ids
/// are the same, each under its own root.
fn two_clients_one_id(dir: &Path) -> (PathBuf, PathBuf) {
    let claude = dir.join("claude");
    let codex = dir.join("codex");
    copy_fixture(
        "claude-code",
        &format!("sample-project/{SHARED_ID}.jsonl"),
        &claude,
    );
    let rollout = std::fs::read_to_string(fixtures("codex").join("agent-sessions-small.jsonl"))
        .expect("codex fixture")
        .replace("019fc8be-3658-7ca3-9e29-000000000000", SHARED_ID);
    let codex_file = codex.join(format!(
        "2025/10/30/rollout-2025-10-30T11-00-00-{SHARED_ID}.jsonl"
    ));
    std::fs::create_dir_all(codex_file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&codex_file, rollout).expect("write");
    (claude, codex)
}

fn sessions(pond: &Pond, client: &str) -> Vec<Value> {
    pond.json(&["sessions", "--client", client, "--json"])
        .as_array()
        .expect("array")
        .clone()
}

fn exported_equals(pond: &Pond, id: &str, source: &Path, rel: &str) {
    let out = pond
        .root
        .join(format!("export-{}", id.replace([':', '@'], "_")));
    pond.ok(&["export", id, "--raw", "--out", out.to_str().expect("utf-8")]);
    let exported = std::fs::read(out.join(rel)).expect("exported file");
    let original = std::fs::read(source.join(rel)).expect("source file");
    assert!(exported == original, "{id}: export differs from {rel}");
}

#[test]
fn rule40_two_clients_sharing_a_source_id_stay_two_sessions() {
    let pond = Pond::new();
    let (claude, codex) = two_clients_one_id(&pond.root.join("src"));
    pond.sync("claude-code", &claude);
    pond.sync("codex", &codex);

    let codex_sessions = sessions(&pond, "codex");
    let claude_sessions = sessions(&pond, "claude-code");
    assert_eq!(codex_sessions.len(), 1, "{codex_sessions:?}");
    assert_eq!(claude_sessions.len(), 1, "{claude_sessions:?}");
    assert_eq!(codex_sessions[0]["id"], format!("codex:{SHARED_ID}"));
    assert_eq!(claude_sessions[0]["id"], format!("claude-code:{SHARED_ID}"));
    assert_eq!(count(&codex_sessions[0], "messages"), 27);
    assert_eq!(count(&claude_sessions[0], "messages"), 29);

    exported_equals(
        &pond,
        &format!("codex:{SHARED_ID}"),
        &codex,
        &format!("2025/10/30/rollout-2025-10-30T11-00-00-{SHARED_ID}.jsonl"),
    );
    exported_equals(
        &pond,
        &format!("claude-code:{SHARED_ID}"),
        &claude,
        &format!("sample-project/{SHARED_ID}.jsonl"),
    );

    // The client's own id is shared, so it names both and says which.
    let out = pond.output(&["show", SHARED_ID]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("codex:{SHARED_ID}"))
            && err.contains(&format!("claude-code:{SHARED_ID}")),
        "{err}"
    );
    pond.ok(&["show", &format!("codex:{SHARED_ID}")]);
}

#[test]
fn rule40_a_client_whose_ids_are_local_keeps_each_hosts_sessions_apart() {
    let pond = Pond::new();
    let src = pond.root.join("cline");
    crate::harness::copy_dir(&fixtures("cline"), &src);
    let sync_as = |host: &str, client: &str, dir: &Path| {
        pond.sync_as(host, client, dir);
    };
    sync_as("laptop", "cline", &src);
    sync_as("ci-runner", "cline", &src);
    let ids: Vec<String> = sessions(&pond, "cline")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"cline@laptop:task1".to_string()), "{ids:?}");
    assert!(
        ids.contains(&"cline@ci-runner:task1".to_string()),
        "{ids:?}"
    );

    // Claude Code ids are UUIDs: the same session from two hosts is one.
    let claude = pond.root.join("claude");
    crate::harness::copy_dir(&fixtures("claude-code").join("sample-project"), &claude);
    sync_as("laptop", "claude-code", &claude);
    sync_as("ci-runner", "claude-code", &claude);
    assert_eq!(sessions(&pond, "claude-code").len(), 2);
}

/// Unpacks the format-1 store (see `scripts/make-format1-store.sh`) where
/// it was written, so its roots and cursors match the files beside it.
fn format1_store() -> Pond {
    let root = PathBuf::from("/tmp/pond-format1");
    let _ = std::fs::remove_dir_all(&root);
    let status = Command::new("tar")
        .args(["-C", "/tmp", "-xzf"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stores/format1.tar.gz"))
        .status()
        .expect("tar runs");
    assert!(status.success());
    Pond::at(&root)
}

fn table_rows(pond: &Pond, kind: pond::store::TableKind) -> usize {
    let (runtime, store) = open_store(&pond.store_url, vec![]);
    runtime.block_on(store.count(kind, None)).expect("count")
}

#[test]
fn rule40_a_store_keyed_before_scoping_is_upgraded_in_place() {
    use pond::store::TableKind;
    let pond = format1_store();
    // Format 1 merged the two clients' sessions: one claude-code session
    // holding both files' messages, none for Codex.
    let before: Vec<(TableKind, usize)> = [TableKind::Raw, TableKind::Messages, TableKind::Search]
        .into_iter()
        .map(|k| (k, table_rows(&pond, k)))
        .collect();
    let claude = pond.root.join("src/claude");
    let codex = pond.root.join("src/codex");

    let report = pond.sync("claude-code", &claude);
    assert_eq!(report["outcome"], "ok", "{report}");
    // The host's cursors (bare ids) still match its files: nothing re-read.
    assert_eq!(count(&report, "records_inserted"), 0, "{report}");
    assert_eq!(count(&report, "messages_inserted"), 0, "{report}");
    let report = pond.sync("codex", &codex);
    assert_eq!(count(&report, "records_inserted"), 0, "{report}");

    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["format_version"], pond::store::FORMAT_VERSION);
    for (kind, rows) in before {
        assert_eq!(
            table_rows(&pond, kind),
            rows,
            "{} rows changed",
            kind.name()
        );
    }

    let codex_sessions = sessions(&pond, "codex");
    assert_eq!(codex_sessions.len(), 1, "{codex_sessions:?}");
    assert_eq!(codex_sessions[0]["id"], format!("codex:{SHARED_ID}"));
    assert_eq!(count(&codex_sessions[0], "messages"), 27);
    let claude_sessions = sessions(&pond, "claude-code");
    let merged = claude_sessions
        .iter()
        .find(|s| s["id"] == format!("claude-code:{SHARED_ID}"))
        .expect("the Claude Code session");
    assert_eq!(count(merged, "messages"), 29);
    let subagent = claude_sessions
        .iter()
        .find(|s| s["id"] == "claude-code:agent-a0ad4f44468bdf20d")
        .expect("the subagent");
    assert_eq!(
        subagent["parent_id"],
        "claude-code:0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f"
    );

    exported_equals(
        &pond,
        &format!("codex:{SHARED_ID}"),
        &codex,
        &format!("2025/10/30/rollout-2025-10-30T11-00-00-{SHARED_ID}.jsonl"),
    );
    // Ids held from before the upgrade still resolve.
    pond.ok(&["show", "agent-a0ad4f44468bdf20d"]);
    pond.ok(&["show", "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f"]);

    // A second pass (what `pond repair` runs) finds nothing left to do.
    let repaired = pond.json(&["repair", "--json"]);
    let scoping = &repaired["scoping"];
    for key in [
        "sessions",
        "messages",
        "raw_records",
        "search_rows",
        "counts_corrected",
    ] {
        assert_eq!(count(scoping, key), 0, "{repaired}");
    }
    assert_eq!(pond.session_ids().len(), 4);
}
