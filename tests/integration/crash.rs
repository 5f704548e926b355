//! Rule 12: a sync killed at any moment (`kill -9`) loses nothing committed,
//! and the next sync completes without duplicates.

use std::collections::BTreeSet;

use pond::store::TableKind;

use crate::harness::{Pond, column, fixtures, open_store, services, unique};

const TRIALS: usize = 24;

#[test]
fn rule12_kill_9_at_random_moments_loses_nothing_and_duplicates_nothing() {
    let s = services();
    let pond = Pond::on_new_s3_archive(&s, "crash");
    let src = pond.root.join("src");
    let all = crate::harness::tree(&fixtures("claude-code"));

    // Time one full sync of everything into a scratch store, to spread the
    // kills over the whole of a sync: discovery, reading, each commit.
    let timing = Pond::on_new_s3_archive(&s, "crash-timing");
    let started = std::time::Instant::now();
    timing.sync("claude-code", &fixtures("claude-code"));
    let full = started.elapsed();

    let mut committed: BTreeSet<String> = BTreeSet::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for trial in 1..=TRIALS {
        // The files grow a little every trial, so every sync has work to commit.
        for (name, bytes) in &all {
            let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
            let keep = (lines.len() * trial).div_ceil(TRIALS);
            let path = src.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, lines[..keep].concat()).unwrap();
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = full.mul_f64((rng % 1000) as f64 / 1000.0 * 1.2);
        let mut child = pond
            .sync_cmd("claude-code", &src)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        // The store still opens and still holds everything committed before.
        let (rt, store) = open_store(&pond.store_url, s.s3_options());
        let now: BTreeSet<String> = unique(
            column(&rt, &store, TableKind::Messages, "id"),
            "messages after a kill",
        );
        assert!(
            committed.is_subset(&now),
            "trial {trial}: committed messages vanished"
        );
        committed = now;
        pond.ok(&["status"]);
    }

    let report = pond.sync("claude-code", &src);
    assert_eq!(report["outcome"], "ok", "{report}");
    let again = pond.sync("claude-code", &src);
    assert_eq!(again["records_inserted"], 0);

    let (rt, store) = open_store(&pond.store_url, s.s3_options());
    let messages = unique(column(&rt, &store, TableKind::Messages, "id"), "messages");
    unique(column(&rt, &store, TableKind::Raw, "id"), "raw records");
    unique(column(&rt, &store, TableKind::Sessions, "id"), "sessions");
    let (rt2, reference) = open_store(timing.store_url.as_str(), s.s3_options());
    let want = unique(
        column(&rt2, &reference, TableKind::Messages, "id"),
        "reference",
    );
    assert_eq!(
        messages, want,
        "after the crashes and one clean sync, the store holds everything once"
    );

    // And the files export byte-exact from what survived.
    pond.assert_exports_back(&src);
}
