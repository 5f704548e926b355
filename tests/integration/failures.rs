//! Rules 6, 8 and 9: bad input, failed syncs and stores from the future.

use crate::harness::{Pond, count, fixtures};

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').collect()
}

#[test]
fn rule6_corrupt_line_is_kept_reported_and_the_rest_ingested() {
    let pond = Pond::new();
    let real = std::fs::read(
        fixtures("claude-code").join("sample-project/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl"),
    )
    .unwrap();
    let mut records = lines(&real);
    let total = records.len();
    assert!(total > 12);
    records[9] = b"{\"type\":\"user\",\"message\": {broken\n";
    let src = pond.root.join("src");
    std::fs::create_dir_all(src.join("p")).unwrap();
    let file = src.join("p/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl");
    std::fs::write(&file, records.concat()).unwrap();

    let out = pond.output(&[
        "sync",
        "claude-code",
        "--path",
        src.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3), "partial is exit 3 (rule 57)");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "partial", "{report}");
    assert_eq!(count(&report, "unparsed_records"), 1);
    assert_eq!(
        count(&report, "records_inserted"),
        total as u64,
        "every line is stored"
    );
    let problem = &report["errors"][0];
    assert_eq!(problem["line"], 10, "{problem}");
    assert!(
        problem["file"]
            .as_str()
            .unwrap()
            .ends_with("1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl")
    );
    assert!(count(&report, "messages_inserted") > 0);

    pond.assert_exports_back(&src);
}

#[test]
fn rule6_unknown_record_types_are_kept_and_counted() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    std::fs::create_dir_all(src.join("p")).unwrap();
    let file = src.join("p/00000000-0000-4000-8000-000000000001.jsonl");
    std::fs::write(
        &file,
        b"{\"type\":\"user\",\"uuid\":\"u1\",\"sessionId\":\"00000000-0000-4000-8000-000000000001\",\"message\":{\"role\":\"user\",\"content\":\"hi\"}}\n{\"type\":\"brand-new-record\",\"payload\":42}\n",
    )
    .unwrap();
    let report = pond.sync("claude-code", &src);
    assert_eq!(report["outcome"], "ok", "{report}");
    assert_eq!(count(&report, "unknown_records"), 1);
    assert_eq!(count(&report, "records_inserted"), 2);
    pond.assert_exports_back(&src);
}

#[test]
fn rule8_last_sync_record_is_written_on_success() {
    let pond = Pond::new();
    let report = pond.sync("codex", &fixtures("codex"));
    let record = pond.last_sync_record();
    assert_eq!(record["outcome"], "ok");
    assert_eq!(record["records_inserted"], report["records_inserted"]);
    assert_eq!(record["host"], "test-host");
    let status = pond.json(&["status", "--json"]);
    assert_eq!(status["last_sync"]["outcome"], "ok");
}

#[test]
fn rule8_last_sync_record_is_written_on_failure() {
    let pond = Pond::new();
    // A store below a regular file can never be created.
    let blocker = pond.root.join("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let store = blocker.join("store");
    let out = pond
        .sync_cmd("codex", &fixtures("codex"))
        .env("POND_STORE", &store)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "sync into an unwritable store must fail"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "failed");
    let record = pond.last_sync_record();
    assert_eq!(record["outcome"], "failed");
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("cannot prepare the store"),
        "{record}"
    );
}

#[test]
fn rule9_store_with_newer_format_is_refused() {
    let pond = Pond::new();
    pond.sync("codex", &fixtures("codex"));
    let location = pond::store::StoreLocation::parse(pond.store.to_str().unwrap()).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(pond::store::stamp_format_version(
            &location,
            pond::store::FORMAT_VERSION + 1,
        ))
        .unwrap();

    for args in [
        vec!["status"],
        vec!["sessions"],
        vec![
            "sync",
            "codex",
            "--path",
            fixtures("codex").to_str().unwrap(),
        ],
    ] {
        let out = pond.output(&args);
        assert!(!out.status.success(), "{args:?} must refuse a newer store");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!(
                "newer than the {} this pond understands",
                pond::store::FORMAT_VERSION
            )),
            "{args:?}: {text}"
        );
    }
}
