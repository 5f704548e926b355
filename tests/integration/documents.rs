//! Rule 43: a session file its client rewrites whole is stored as patches
//! against its previous generation, and every generation export offers
//! comes back byte-exact.

use std::path::Path;

use pond::store::TableKind;

use crate::harness::{Pond, count, fixtures, open_store};

const GEMINI: &str = "entire/9c_53780d06b7_0.json";

/// The session with one more exchange, written as Gemini CLI writes it:
/// the whole document again, pretty-printed, `lastUpdated` moved.
fn grow(file: &Path, round: usize) -> Vec<u8> {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).expect("read")).expect("json");
    let stamp = format!("2026-01-15T21:{:02}:{:02}.000Z", round / 60, round % 60);
    doc["lastUpdated"] = stamp.clone().into();
    let messages = doc["messages"].as_array_mut().expect("messages");
    messages.push(serde_json::json!({
        "id": format!("grown-{round}"),
        "timestamp": stamp,
        "type": if round.is_multiple_of(2) { "user" } else { "gemini" },
        "content": format!(
            "round {round}: change the lock timeout to {} seconds and rerun test_{round}",
            round * 7 + 3
        ),
    }));
    let bytes = serde_json::to_vec_pretty(&doc).expect("serialise");
    std::fs::write(file, &bytes).expect("rewrite");
    bytes
}

/// Sum of the `bytes` column as stored (patches where patched) and of the
/// lengths the records stand for.
fn stored_and_standing(pond: &Pond) -> (u64, u64) {
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let batches = rt
        .block_on(store.scan(TableKind::Raw, None, Some(&["bytes", "length"])))
        .expect("scan raw");
    let (mut stored, mut standing) = (0, 0);
    for b in &batches {
        let c = pond::store::tables::schema::Columns::new(b);
        let bytes = c.binary("bytes").expect("bytes");
        let lengths = c.u64("length").expect("length");
        for i in 0..b.num_rows() {
            stored += bytes.value(i).len() as u64;
            standing += lengths.value(i);
        }
    }
    (stored, standing)
}

#[test]
fn rule43_a_document_rewritten_many_times_is_stored_as_patches_and_exports_exact() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    let file = src.join(GEMINI);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::copy(fixtures("gemini").join(GEMINI), &file).expect("copy");
    let first = pond.sync("gemini-cli", &src);
    assert_eq!(count(&first, "documents_patched"), 0, "{first}");

    // Past the longest patch chain, so one rewrite is stored whole again.
    let rewrites = 20;
    let mut patched = 0;
    for round in 1..=rewrites {
        let now = grow(&file, round);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let report = pond.sync("gemini-cli", &src);
        assert_eq!(report["outcome"], "ok", "{report}");
        assert_eq!(count(&report, "files_rewritten"), 1, "{report}");
        assert_eq!(count(&report, "messages_inserted"), 1, "{report}");
        patched += count(&report, "documents_patched");
        let out = pond.root.join(format!("out-{round}"));
        pond.export_all(&out);
        assert_eq!(
            std::fs::read(out.join(GEMINI)).expect("exported"),
            now,
            "round {round}: export gives the file as it is now"
        );
    }
    assert!(
        (rewrites as u64 - 2..rewrites as u64).contains(&patched),
        "all but the chain's restarts are patched: {patched} of {rewrites}"
    );

    let final_size = std::fs::metadata(&file).expect("stat").len();
    let (stored, standing) = stored_and_standing(&pond);
    // Whole copies would hold every generation in full (`standing`); the
    // patches hold about the first and the restarted copy plus the growth.
    assert!(
        stored < 3 * final_size,
        "{stored} bytes stored for {rewrites} rewrites of a {final_size}-byte file ({standing} in whole copies)"
    );
    assert!(standing > 10 * final_size, "{standing}");

    // Repair reads the same records back through the patches.
    let repaired = pond.json(&["repair", "--json"]);
    assert_eq!(repaired["files_with_gaps"], 0, "{repaired}");
    let again = pond.sync("gemini-cli", &src);
    assert_eq!(count(&again, "records_inserted"), 0, "{again}");
}
