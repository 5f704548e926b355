//! Rules 2, 11 and 12 under the failures the network really has: every kind
//! of write pond makes, hit by each fault the proxy can inject, and after a
//! clean re-sync the store is the one a fault-free sync makes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use pond::store::TableKind;
use serde_json::Value;

use crate::faultproxy::{Fault, FaultProxy, Rule};
use crate::harness::{
    Pond, column, fixtures, new_s3_archive, open_store, output_within, s3_env_for, services, unique,
};

/// A liveness bound, so a hang fails the test rather than CI.
const BOUND: Duration = Duration::from_secs(300);

/// What a store holds, in the terms rule 11 compares: the same ids, the
/// same counts, nothing twice.
#[derive(Debug, PartialEq)]
struct Holdings {
    sessions: Value,
    raw_ids: BTreeSet<String>,
    message_ids: BTreeSet<String>,
    search_ids: BTreeSet<String>,
}

fn holdings(pond: &Pond, url: &str, endpoint: &str) -> Holdings {
    let s = services();
    let mut options = s.s3_options();
    for (k, v) in &mut options {
        if k == "aws_endpoint" {
            *v = endpoint.to_string();
        }
    }
    let (runtime, store) = open_store(url, options);
    let ids = |table: TableKind| {
        unique(
            column(&runtime, &store, table, "id"),
            &format!("{} ids", table.name()),
        )
    };
    Holdings {
        sessions: pond.json(&["sessions", "--limit", "1000", "--json"]),
        raw_ids: ids(TableKind::Raw),
        message_ids: ids(TableKind::Messages),
        search_ids: ids(TableKind::Search),
    }
}

fn sync(pond: &Pond, src: &Path) -> std::process::Output {
    output_within(&mut pond.sync_cmd("claude-code", src), BOUND)
}

struct Case {
    table: &'static str,
    method: &'static str,
    /// Below the table's directory.
    path: &'static str,
    fault: Fault,
    /// How many matching requests in a row it hits: once is absorbed by the
    /// object store client's own retries; a run of them outlasts those, so
    /// the failure reaches Lance and pond's retry of the whole write.
    times: usize,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Every table pond writes during a sync: raw records (appended when
    // new), messages and search rows (keyed inserts), sessions (updates),
    // the run record and the host row. A commit is the manifest's put.
    for table in [
        TableKind::Raw,
        TableKind::Messages,
        TableKind::Search,
        TableKind::Sessions,
        TableKind::SyncRuns,
        TableKind::Hosts,
    ] {
        for fault in [
            Fault::DropResponse,
            Fault::UnavailableBefore,
            Fault::ErrorAfter,
            Fault::Stall(Duration::from_secs(2)),
        ] {
            cases.push(Case {
                table: table.name(),
                method: "PUT",
                path: "/_versions/",
                fault,
                times: 1,
            });
        }
    }
    // The search index build writes its files, then commits.
    for fault in [Fault::DropResponse, Fault::ErrorAfter] {
        cases.push(Case {
            table: TableKind::Search.name(),
            method: "PUT",
            path: "/_indices/",
            fault,
            times: 1,
        });
    }
    // A read cut short: the manifest a write starts from. (A first sync's
    // tables hold no data files yet, so a manifest is the read it makes.)
    cases.push(Case {
        table: TableKind::Sessions.name(),
        method: "GET",
        path: "/_versions/",
        fault: Fault::CutBody,
        times: 1,
    });
    // Commits that land while every reply is lost, until the client gives
    // up: the append of a new file's raw records (rule 2: its retry must
    // not append again) and a keyed insert.
    for table in [TableKind::Raw, TableKind::Messages] {
        cases.push(Case {
            table: table.name(),
            method: "PUT",
            path: "/_versions/",
            fault: Fault::DropResponse,
            times: 400,
        });
    }
    cases.push(Case {
        table: TableKind::Sessions.name(),
        method: "PUT",
        path: "/_versions/",
        fault: Fault::ErrorAfter,
        times: 12,
    });
    cases
}

#[test]
fn rule11_every_write_survives_every_network_fault_and_a_resync_equals_a_clean_sync() {
    let s = services();
    let proxy = FaultProxy::start(&s.s3);
    let src = fixtures("claude-code").join("sample-project");
    let empty = tempfile::tempdir().expect("tempdir");

    let store_for = |name: &str| {
        let url = new_s3_archive(&s.s3, name);
        let pond = Pond::remote(&url, s3_env_for(&proxy.endpoint));
        // The tables exist before the fault is armed, so it hits the
        // sync's own writes, not the store's creation.
        let created = output_within(&mut pond.sync_cmd("claude-code", empty.path()), BOUND);
        assert!(created.status.success(), "{created:?}");
        (pond, url)
    };

    let (reference, reference_url) = store_for("faults-reference");
    let clean = sync(&reference, &src);
    assert!(clean.status.success(), "{clean:?}");
    let expected = holdings(&reference, &reference_url, &s.s3);
    assert!(!expected.raw_ids.is_empty() && !expected.message_ids.is_empty());

    let (mut cases_run, mut injected, mut failed_syncs) = (0, 0, 0);
    for case in cases() {
        let what = format!(
            "{:?} on {} {}{}",
            case.fault, case.method, case.table, case.path
        );
        let (pond, url) = store_for("faults");
        proxy.arm(Rule {
            method: case.method,
            path_contains: format!("{}.lance{}", case.table, case.path),
            fault: case.fault,
            times: case.times,
        });
        let faulty = sync(&pond, &src);
        proxy.disarm();
        let fired = proxy.fired().len();
        assert!(fired > injected, "{what}: the fault never fired");
        injected = fired;
        cases_run += 1;
        failed_syncs += usize::from(!faulty.status.success());

        let resync = sync(&pond, &src);
        assert!(
            resync.status.success(),
            "{what}: the clean re-sync failed: {}",
            String::from_utf8_lossy(&resync.stdout)
        );
        let got = holdings(&pond, &url, &s.s3);
        assert_eq!(
            got, expected,
            "{what}: the store differs from a clean sync's"
        );
        pond.assert_exports_back(&src);
    }
    eprintln!(
        "network faults: {cases_run} fault cases ran ({injected} faults injected), {failed_syncs} of them failed their sync; every store equal to a clean sync's after one re-sync"
    );
}
