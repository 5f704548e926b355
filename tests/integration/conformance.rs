//! Rules 29–31: every adapter, over every real fixture of its client,
//! through the real binary and store. One table says what each client's
//! files can promise (timestamps, child sessions); the checks are the same
//! for all.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde_json::Value;

use crate::harness::{Pond, assert_resync_adds_nothing, column, count, fixtures, open_store, tree};

pub(crate) struct Client {
    pub adapter: &'static str,
    pub fixtures: &'static str,
    /// Every session's messages carry times in this client's files.
    dated: bool,
    /// The fixtures hold a child session whose parent is also there.
    has_children: bool,
}

/// Fixtures that break pairing themselves, and why: the check is skipped
/// for that client only.
const UNPAIRABLE: &[(&str, &str)] = &[(
    "cursor",
    "agent-sessions-large.jsonl was trimmed by its authors: its tool_use blocks lost their ids, its results still name t1/t2",
)];

pub(crate) const CLIENTS: &[Client] = &[
    Client {
        adapter: "claude-code",
        fixtures: "claude-code",
        dated: true,
        has_children: true,
    },
    Client {
        adapter: "codex",
        fixtures: "codex",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "aider",
        fixtures: "aider",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "claude-ai-export",
        fixtures: "claude-ai-export",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "gemini-cli",
        fixtures: "gemini",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "qwen",
        fixtures: "qwen",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "opencode",
        fixtures: "opencode",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "pi",
        fixtures: "pi",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "copilot-cli",
        fixtures: "copilot-cli",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "kimi",
        fixtures: "kimi",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "factory-droid",
        fixtures: "factory-droid",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "amp",
        fixtures: "amp",
        dated: true,
        has_children: false,
    },
    Client {
        adapter: "cline",
        fixtures: "cline",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "grok",
        fixtures: "grok",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "hermes",
        fixtures: "hermes",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "openclaw",
        fixtures: "openclaw",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "antigravity",
        fixtures: "antigravity",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "cursor",
        fixtures: "cursor",
        dated: false,
        has_children: false,
    },
    Client {
        adapter: "claude-web",
        fixtures: "claude-web",
        dated: true,
        has_children: false,
    },
];

/// The fixture folder of `adapter`: [`CLIENTS`] is the one table that pairs
/// them, so a case list names only the adapter.
fn fixture_dir(adapter: &str) -> &'static str {
    CLIENTS
        .iter()
        .find(|c| c.adapter == adapter)
        .map(|c| c.fixtures)
        .unwrap_or_else(|| panic!("{adapter} is not in CLIENTS"))
}

/// Sources whose records are database rows: exported as JSON lines beside
/// their name, not byte for byte.
fn is_database(rel: &str) -> bool {
    rel.ends_with(".db") || rel.ends_with(".vscdb") || rel.ends_with("conversations.json")
}

fn show(pond: &Pond, session: &str) -> Value {
    pond.json(&["show", session, "--json"])
}

fn check_client(c: &Client) {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures(c.fixtures));
    let name = c.adapter;

    // Ingests, and the files' records are all understood or kept.
    let first = pond.sync(name, &src);
    assert_eq!(first["outcome"], "ok", "{name}: {first}");
    assert_eq!(first["errors"], serde_json::json!([]), "{name}: {first}");
    assert_eq!(count(&first, "unparsed_records"), 0, "{name}: {first}");
    assert!(count(&first, "sessions_inserted") > 0, "{name}: {first}");
    assert!(count(&first, "messages_inserted") > 0, "{name}: {first}");

    // Rule 2 for every client: a re-sync inserts and commits nothing.
    assert_resync_adds_nothing(&pond, name, &src, &[]);

    // Rule 1 for every text format: the export is the source, byte for byte.
    let out = pond.root.join("out");
    let sessions = pond.session_ids();
    for id in &sessions {
        pond.ok(&[
            "export",
            id,
            "--raw",
            "--force",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let (source, exported) = (tree(&src), tree(&out));
    for (rel, bytes) in &exported {
        match rel.strip_suffix(".jsonl").filter(|r| is_database(r)) {
            Some(db) => {
                assert!(source.contains_key(db), "{name}: {rel} has no source");
                assert!(!bytes.is_empty());
            }
            None => assert!(
                source.get(rel) == Some(bytes),
                "{name}: {rel} exported differs from its source"
            ),
        }
    }
    assert_eq!(
        exported.len() as u64,
        count(&first, "files_scanned"),
        "{name}: every file read is exported"
    );

    // The canonical view.
    let mut with_times = 0;
    let mut parents = BTreeSet::new();
    for id in &sessions {
        let t = show(&pond, id);
        let messages = t["messages"].as_array().expect("messages");
        if let Some(parent) = t["session"]["parent_id"].as_str() {
            parents.insert(parent.to_string());
        }
        let mut calls = HashSet::new();
        let mut results = Vec::new();
        for m in messages {
            let role = m["role"].as_str().expect("role");
            assert!(
                ["user", "assistant", "system", "tool", "developer"].contains(&role),
                "{name}: role {role}"
            );
            with_times += usize::from(m["timestamp"].is_string());
            for p in m["parts"].as_array().expect("parts") {
                let call = p["tool_call_id"].as_str();
                match (p["kind"].as_str(), call) {
                    (Some("tool_call"), Some(id)) => {
                        calls.insert(id.to_string());
                    }
                    (Some("tool_result"), Some(id)) => results.push(id.to_string()),
                    _ => {}
                }
            }
        }
        if !UNPAIRABLE.iter().any(|(client, _)| *client == name) {
            for r in &results {
                assert!(calls.contains(r), "{name}: result {r} in {id} has no call");
            }
        }
    }
    let total: u64 = sessions
        .iter()
        .map(|id| {
            show(&pond, id)["messages"]
                .as_array()
                .map_or(0, |m| m.len() as u64)
        })
        .sum();
    assert_eq!(total, count(&first, "messages_inserted"), "{name}");
    if c.dated {
        assert!(with_times > 0, "{name}: no message has a time");
    }
    if c.has_children {
        let known: BTreeSet<String> = sessions.iter().cloned().collect();
        assert!(
            parents.iter().any(|p| known.contains(p)),
            "{name}: no child session linked to a parent present: {parents:?}"
        );
    }
}

#[test]
fn rule29_every_adapter_conforms_on_every_fixture_of_its_client() {
    let mut failures = BTreeMap::new();
    for c in CLIENTS {
        if let Err(e) = std::panic::catch_unwind(|| check_client(c)) {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.insert(c.adapter, message);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn rule29_every_registered_adapter_with_real_files_is_in_the_suite() {
    let listed = Pond::new().json(&["adapters", "--json"]);
    let names: BTreeSet<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    let covered: BTreeSet<&str> = CLIENTS.iter().map(|c| c.adapter).collect();
    // goose: no real file exists to test against (its unit tests use
    // synthetic input, and docs/adapters/goose.md says so).
    let untested: Vec<&&str> = names
        .iter()
        .filter(|n| !covered.contains(**n) && **n != "goose")
        .collect();
    assert!(
        untested.is_empty(),
        "adapters without conformance: {untested:?}"
    );
}

/// Lines of an append-style fixture, split at a line boundary near the middle.
fn halves(bytes: &[u8]) -> (&[u8], &[u8]) {
    let middle = bytes.len() / 2;
    let cut = bytes[middle..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| middle + i + 1);
    bytes.split_at(cut)
}

fn message_ids(pond: &Pond) -> BTreeSet<String> {
    let (rt, store) = open_store(&pond.store_url, vec![]);
    column(&rt, &store, pond::store::TableKind::Messages, "id")
        .into_iter()
        .collect()
}

/// Message ids without their session prefix: a file whose records name no
/// session gets one derived from where it was synced from, which differs
/// between two test stores.
fn local_ids(pond: &Pond) -> BTreeSet<String> {
    message_ids(pond)
        .into_iter()
        .map(|id| {
            id.split_once('/')
                .map_or(id.clone(), |(_, rest)| rest.to_string())
        })
        .collect()
}

#[test]
fn rule30_appending_to_a_file_inserts_exactly_the_new_records() {
    // One append-style file per client format (JSON lines or text).
    let cases = [
        (
            "claude-code",
            "sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl",
        ),
        ("codex", "rtchess-rollout-019aad50.jsonl"),
        ("pi", "large-session.jsonl"),
        ("gemini-cli", "agent-sessions-jsonl_v040.jsonl"),
        ("copilot-cli", "agent-sessions-small.jsonl"),
        ("aider", "pocketflow-text2sql-gui.aider.chat.history.md"),
        ("grok", "chat_history.jsonl"),
        ("openclaw", "small.jsonl"),
        ("antigravity", "cli_small.jsonl"),
        ("factory-droid", "session_store_small.jsonl"),
        ("qwen", "019f0000-0000-7000-8000-000000000001.jsonl"),
        ("kimi", "small.jsonl"),
        ("cursor", "agent-sessions-large.jsonl"),
    ];
    for (adapter, file) in cases {
        let whole = std::fs::read(fixtures(fixture_dir(adapter)).join(file)).expect("fixture");
        let (head, tail) = halves(&whole);
        assert!(!tail.is_empty(), "{file} too short to split");

        let direct = Pond::new();
        let d = direct.root.join("src");
        std::fs::create_dir_all(d.join(Path::new(file).parent().unwrap())).unwrap();
        std::fs::write(d.join(file), &whole).unwrap();
        direct.sync(adapter, &d);

        let grown = Pond::new();
        let g = grown.root.join("src");
        std::fs::create_dir_all(g.join(Path::new(file).parent().unwrap())).unwrap();
        std::fs::write(g.join(file), head).unwrap();
        let first = grown.sync(adapter, &g);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(g.join(file))
            .unwrap();
        std::io::Write::write_all(&mut f, tail).unwrap();
        drop(f);
        let second = grown.sync(adapter, &g);
        assert_eq!(count(&second, "files_rewritten"), 0, "{adapter}: {second}");
        assert!(
            count(&second, "bytes_read") <= tail.len() as u64,
            "{adapter}: re-read old bytes"
        );

        let (all, parts) = (local_ids(&direct), local_ids(&grown));
        assert_eq!(
            parts, all,
            "{adapter}: grown file differs from a direct sync"
        );
        assert_eq!(
            count(&first, "messages_inserted") + count(&second, "messages_inserted"),
            all.len() as u64,
            "{adapter}: {first} {second}"
        );
    }
}

/// A rewrite-style file without its last message, by JSON pointer to the
/// array that holds the messages.
fn without_last(bytes: &[u8], pointer: &str) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(bytes).expect("json");
    let list = doc
        .pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no array at {pointer}"));
    list.pop();
    serde_json::to_vec_pretty(&doc).expect("json")
}

#[test]
fn rule31_rewriting_a_file_with_one_more_message_inserts_exactly_one() {
    let cases = [
        (
            "gemini-cli",
            "m-gemini/session-2025-12-30T22-54-d2230b34.json",
            "/messages",
        ),
        ("amp", "threads/thread-001.json", "/messages"),
        ("cline", "tasks/task1/api_conversation_history.json", ""),
        ("hermes", "small.json", "/messages"),
        ("claude-ai-export", "conversations.json", "/0/chat_messages"),
        ("claude-web", "simonw-sample_session.json", "/loglines"),
    ];
    for (adapter, file, pointer) in cases {
        let pond = Pond::new();
        let src = pond.copy_to_src(&fixtures(fixture_dir(adapter)));
        let whole = std::fs::read(src.join(file)).unwrap();
        std::fs::write(src.join(file), without_last(&whole, pointer)).unwrap();
        let before = pond.sync(adapter, &src);
        assert_eq!(before["outcome"], "ok", "{adapter}: {before}");
        let ids_before = message_ids(&pond);

        std::fs::write(src.join(file), &whole).unwrap();
        let after = pond.sync(adapter, &src);
        assert_eq!(count(&after, "messages_inserted"), 1, "{adapter}: {after}");
        let ids_after = message_ids(&pond);
        assert!(
            ids_before.is_subset(&ids_after),
            "{adapter}: old ids changed"
        );
        assert_eq!(ids_after.len(), ids_before.len() + 1, "{adapter}");
    }
}
