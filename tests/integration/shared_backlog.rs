//! Rule 53: hosts draining one store's embedding backlog share it, shard by
//! shard, on a real S3 server: no part is embedded twice, none is left.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Pond, assert_ran_ok, fixtures, services};
use crate::search::model_dir;

/// A store on S3 whose search rows all wait for vectors (synced without a
/// model), and how many rows that is.
fn store_with_a_backlog(name: &str) -> (Pond, u64) {
    let s = services();
    let pond = Pond::on_new_s3_archive(&s, name);
    let synced = pond.sync_as("laptop", "codex", &fixtures("codex"));
    let rows = synced["search_rows_inserted"].as_u64().unwrap();
    assert!(rows > 100, "too small a backlog to share: {rows}");
    (pond, rows)
}

/// `pond model reembed` as `host`, in batches small enough that each shard
/// takes a few commits, started but not waited for.
fn reembed(pond: &Pond, host: &str, pause_dir: Option<&Path>) -> Child {
    let mut cmd: Command = pond.cmd(&["model", "reembed", "--batch", "16", "--json"]);
    cmd.env("POND_HOST", host)
        .env("POND_EMBED_MODEL", model_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = pause_dir {
        cmd.env("POND_PAUSE_AT", "backlog-write")
            .env("POND_PAUSE_DIR", dir);
    }
    cmd.spawn().expect("start pond model reembed")
}

fn report(child: Child) -> Value {
    let out = child.wait_with_output().expect("wait for reembed");
    assert_ran_ok(&out, "reembed");
    serde_json::from_slice(&out.stdout).expect("reembed JSON")
}

fn rows(report: &Value) -> u64 {
    report["rows"].as_u64().expect("rows")
}

/// Rows still waiting for the model, as a search with it reports them.
fn waiting(pond: &Pond) -> u64 {
    let census = pond.json(&["status", "--json"]);
    let search = &census["search"];
    let by_model: u64 = search["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["parts"].as_u64().unwrap())
        .sum();
    search["parts"].as_u64().unwrap() - by_model
}

#[test]
fn rule53_a_host_skips_the_shard_another_is_embedding_and_nothing_is_embedded_twice() {
    let (pond, total) = store_with_a_backlog("backlog-claims");
    let pause = tempfile::tempdir().unwrap();

    // The first host stops with its first shard's batch embedded but not
    // written, holding that shard's lease.
    let first = reembed(&pond, "host-a", Some(pause.path()));
    let paused = pause.path().join("backlog-write.paused");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !paused.exists() {
        assert!(Instant::now() < deadline, "host-a never reached its write");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The second drains everything else and names the shard it left.
    let second = report(reembed(&pond, "host-b", None));
    let busy = second["busy_shards"].as_array().unwrap();
    assert_eq!(busy.len(), 1, "{second}");
    assert_eq!(busy[0]["holder"], "host-a", "{second}");
    assert!(rows(&second) > 0 && rows(&second) < total, "{second}");

    std::fs::write(pause.path().join("backlog-write.go"), b"").unwrap();
    let first = report(first);
    assert_eq!(
        first["shards"], 1,
        "host-a finishes only its own shard: {first}"
    );
    assert_eq!(
        rows(&first) + rows(&second),
        total,
        "every part embedded exactly once: {first} {second}"
    );
    assert_eq!(waiting(&pond), 0);
}

#[test]
fn rule53_three_hosts_racing_embed_every_part_once() {
    let (pond, total) = store_with_a_backlog("backlog-race");
    let hosts: Vec<Child> = ["ci-1", "ci-2", "ci-3"]
        .iter()
        .map(|h| reembed(&pond, h, None))
        .collect();
    let reports: Vec<Value> = hosts.into_iter().map(report).collect();
    let embedded: u64 = reports.iter().map(rows).sum();
    assert_eq!(
        embedded, total,
        "no part embedded twice, none left: {reports:?}"
    );
    let shards: u64 = reports.iter().map(|r| r["shards"].as_u64().unwrap()).sum();
    assert!(shards <= 16, "a shard was claimed twice: {reports:?}");
    assert_eq!(waiting(&pond), 0);

    // Each host's drain is in the store, for the fleet's rate.
    let status = pond.json(&["status", "--json"]);
    let drains = status["search"]["drains"].as_array().unwrap();
    let working = reports.iter().filter(|r| rows(r) > 0).count();
    assert_eq!(drains.len(), working, "{status}");
}
