//! Rule 32: hostile input is reported and skipped, never fatal to the rest.
//! Every adapter's fixtures, with some files truncated mid-record, some
//! given invalid UTF-8, some replaced by JSON nested beyond any parser's
//! depth, and a directory where a file is expected; plus a 50 MB line and a
//! locked and a corrupt SQLite database.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::conformance::CLIENTS;
use crate::harness::{Pond, column, fixtures, open_store, tree};

fn no_panic(what: &str, out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{what}: killed or crashed: {:?} {stderr}",
        out.status
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: no JSON report ({e}): {stderr}"));
    // Rule 57: the exit code says what the report says.
    let expected = match report["outcome"].as_str() {
        Some("ok") => 0,
        Some("partial") => 3,
        _ => 1,
    };
    assert_eq!(out.status.code(), Some(expected), "{what}: {report}");
    report
}

/// Message ids without their session prefix (see conformance.rs).
fn local_ids(pond: &Pond) -> BTreeSet<String> {
    let (rt, store) = open_store(&pond.store_url, vec![]);
    column(&rt, &store, pond::store::TableKind::Messages, "id")
        .into_iter()
        .map(|id| {
            id.split_once('/')
                .map_or(id.clone(), |(_, rest)| rest.to_string())
        })
        .collect()
}

fn sync_output(pond: &Pond, adapter: &str, dir: &Path) -> Output {
    pond.output(&["sync", adapter, "--path", dir.to_str().unwrap(), "--json"])
}

#[test]
fn rule32_damaged_files_are_reported_and_the_others_still_ingested() {
    for c in CLIENTS {
        let files: Vec<String> = tree(&fixtures(c.fixtures)).into_keys().collect();
        // The first files (in path order) are damaged, one way each.
        let damaged: Vec<&String> = files.iter().take(3).collect();

        let hostile = Pond::new();
        let src = hostile.copy_to_src(&fixtures(c.fixtures));
        for (i, rel) in damaged.iter().enumerate() {
            let path = src.join(rel);
            let bytes = std::fs::read(&path).unwrap();
            let broken = match i {
                0 => bytes[..bytes.len() * 3 / 5].to_vec(),
                1 => {
                    let mut b = bytes.clone();
                    let middle = b.len() / 2;
                    b.splice(middle..middle, [0xff, 0xfe, 0x80, 0xc3]);
                    b
                }
                _ => format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            };
            std::fs::write(&path, broken).unwrap();
        }
        // A directory named like a session file.
        std::fs::create_dir_all(src.join("not-a-file.jsonl")).unwrap();
        std::fs::create_dir_all(src.join("not-a-file.json")).unwrap();

        let out = sync_output(&hostile, c.adapter, &src);
        let report = no_panic(c.adapter, &out);
        assert!(
            ["ok", "partial"].contains(&report["outcome"].as_str().unwrap_or("")),
            "{}: {report}",
            c.adapter
        );
        // Problems name only the damaged files.
        for e in report["errors"].as_array().into_iter().flatten() {
            let file = e["file"].as_str().unwrap_or("");
            assert!(
                damaged.iter().any(|rel| file.ends_with(rel.as_str()))
                    || file.contains("not-a-file"),
                "{}: problem reported for an intact file: {e}",
                c.adapter
            );
        }

        // Nothing else lost: every message of the intact files is there.
        let intact = Pond::new();
        let clean = intact.copy_to_src(&fixtures(c.fixtures));
        for rel in &damaged {
            std::fs::remove_file(clean.join(rel)).unwrap();
        }
        let clean_out = sync_output(&intact, c.adapter, &clean);
        no_panic(c.adapter, &clean_out);
        let expected = local_ids(&intact);
        let got = local_ids(&hostile);
        let missing: Vec<&String> = expected.difference(&got).collect();
        assert!(missing.is_empty(), "{}: lost {missing:?}", c.adapter);
    }
}

#[test]
fn rule32_a_50_mb_line_is_stored_whole_and_searchable_text_is_capped() {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures("claude-code").join("sample-project"));
    let path = src.join("1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl");
    let huge = format!(
        "{{\"type\":\"user\",\"uuid\":\"5f0c1d2e-0000-4000-8000-000000000050\",\"sessionId\":\"1af7fc5e-8455-4414-9ccd-011d40f70b2a\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"message\":{{\"role\":\"user\",\"content\":\"{}\"}}}}\n",
        "x".repeat(50 << 20)
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, huge.as_bytes()).unwrap();
    drop(f);
    let report = no_panic("50 MB line", &sync_output(&pond, "claude-code", &src));
    assert_eq!(report["outcome"], "ok", "{report}");
    assert_eq!(report["errors"], serde_json::json!([]));

    let out = pond.root.join("out");
    pond.ok(&[
        "export",
        "1af7fc5e",
        "--raw",
        "--out",
        out.to_str().unwrap(),
    ]);
    let exported = std::fs::read(out.join("1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl")).unwrap();
    assert_eq!(
        exported,
        std::fs::read(&path).unwrap(),
        "the line is stored whole"
    );

    let (rt, store) = open_store(&pond.store_url, vec![]);
    let longest = column(&rt, &store, pond::store::TableKind::Search, "text")
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest <= 16 * 1024 + 64,
        "search text capped, got {longest}"
    );
}

#[test]
fn rule32_a_locked_database_is_read_and_a_corrupt_one_is_reported() {
    let pond = Pond::new();
    let src = pond.copy_to_src(&fixtures("opencode").join("opencode-db"));
    let db = src.join("opencode.db");

    // A writer holding an exclusive lock, as a running client may.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let locked = no_panic("locked db", &sync_output(&pond, "opencode", &src));
    assert_eq!(locked["outcome"], "ok", "{locked}");
    assert!(
        locked["messages_inserted"].as_u64().unwrap() > 0,
        "{locked}"
    );
    writer.execute_batch("ROLLBACK;").unwrap();
    drop(writer);

    // A corrupt database beside a good one: reported, the good one kept.
    let other = Pond::new();
    let both = other.copy_to_src(&fixtures("opencode").join("opencode-db"));
    std::fs::create_dir_all(both.join("broken")).unwrap();
    let mut garbage = b"SQLite format 3\0".to_vec();
    garbage.extend(std::iter::repeat_n(0xa5u8, 8192));
    std::fs::write(both.join("broken/opencode.db"), garbage).unwrap();
    let report = no_panic("corrupt db", &sync_output(&other, "opencode", &both));
    let errors = report["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("broken/opencode.db")),
        "{report}"
    );
    assert_eq!(
        report["messages_inserted"], locked["messages_inserted"],
        "{report}"
    );
}
