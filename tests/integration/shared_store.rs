//! Rules 11, 14 and 16: concurrent syncs from separate
//! host processes against real object stores lose nothing and store nothing twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pond::store::TableKind;

use crate::harness::{
    Pond, column, count, create_bucket, fixtures, open_store, services, unique, unique_bucket,
};

/// The real Claude Code fixture files, relative path → bytes.
fn corpus() -> BTreeMap<String, Vec<u8>> {
    crate::harness::tree(&fixtures("claude-code"))
        .into_iter()
        .filter(|(name, _)| name.ends_with(".jsonl"))
        .collect()
}

/// Splits each file at line boundaries into `rounds` growing prefixes.
fn prefix(bytes: &[u8], round: usize, rounds: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let keep = (lines.len() * round).div_ceil(rounds);
    lines[..keep].concat()
}

/// Host i gets the files shared by every host plus its own share of the rest.
fn files_of_host(all: &BTreeMap<String, Vec<u8>>, host: usize, hosts: usize) -> Vec<String> {
    let shared = ["sample-project/", "subagent/"];
    all.keys()
        .enumerate()
        .filter(|(i, name)| shared.iter().any(|s| name.starts_with(s)) || i % hosts == host)
        .map(|(_, name)| name.clone())
        .collect()
}

struct Race {
    hosts: usize,
    rounds: usize,
    url: String,
    env: Vec<(String, String)>,
}

/// Runs `hosts` host processes, each syncing `rounds` times while its files grow.
/// Returns each host's final source directory.
fn race(r: &Race, all: &BTreeMap<String, Vec<u8>>, base: &Path) -> Vec<PathBuf> {
    let threads: Vec<_> = (0..r.hosts)
        .map(|h| {
            let dir = base.join(format!("host-{h}"));
            let files = files_of_host(all, h, r.hosts);
            let all = all.clone();
            let (url, env, rounds) = (r.url.clone(), r.env.clone(), r.rounds);
            std::thread::spawn(move || {
                let pond = Pond::remote(&url, env);
                for round in 1..=rounds {
                    for name in &files {
                        let path = dir.join(name);
                        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                        std::fs::write(&path, prefix(&all[name], round, rounds)).unwrap();
                    }
                    // Only the environment: what a CI runner has.
                    let out = pond
                        .sync_cmd("claude-code", &dir)
                        .env("POND_HOST", format!("host-{h}"))
                        .output()
                        .unwrap();
                    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
                        .unwrap_or_else(|_| {
                            panic!("host-{h}: {}", String::from_utf8_lossy(&out.stderr))
                        });
                    assert!(out.status.success(), "host-{h} round {round}: {report}");
                    assert_eq!(report["outcome"], "ok", "host-{h} round {round}: {report}");
                }
                dir
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("host thread"))
        .collect()
}

/// What a single host syncing the union of all files into a fresh local store holds.
fn reference(all: &BTreeMap<String, Vec<u8>>) -> (BTreeSet<String>, BTreeSet<String>) {
    let pond = Pond::new();
    let src = pond.root.join("union");
    for (name, bytes) in all {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    pond.sync("claude-code", &src);
    let (rt, store) = open_store(&pond.store_url, Vec::new());
    (
        unique(
            column(&rt, &store, TableKind::Messages, "id"),
            "reference messages",
        ),
        unique(
            column(&rt, &store, TableKind::Sessions, "id"),
            "reference sessions",
        ),
    )
}

fn raw_lines(dir: &Path) -> usize {
    crate::harness::tree(dir)
        .values()
        .map(|b| b.split_inclusive(|c| *c == b'\n').count())
        .sum()
}

fn check(
    r: &Race,
    options: Vec<(String, String)>,
    dirs: &[PathBuf],
    all: &BTreeMap<String, Vec<u8>>,
) {
    let (rt, store) = open_store(&r.url, options);
    let messages = unique(column(&rt, &store, TableKind::Messages, "id"), "messages");
    let sessions = unique(column(&rt, &store, TableKind::Sessions, "id"), "sessions");
    let raw = unique(column(&rt, &store, TableKind::Raw, "id"), "raw records");
    let (want_messages, want_sessions) = reference(all);
    assert_eq!(
        sessions, want_sessions,
        "the store holds exactly the union of sessions"
    );
    assert_eq!(
        messages, want_messages,
        "the store holds exactly the union of messages"
    );
    // Raw records are per host file: every line of every host's copy, once.
    assert_eq!(raw.len(), dirs.iter().map(|d| raw_lines(d)).sum::<usize>());

    let runs = rt.block_on(store.run_counts()).unwrap();
    for h in 0..r.hosts {
        assert_eq!(
            runs.get(&format!("host-{h}")),
            Some(&(r.rounds as u64)),
            "runs of host-{h}: {runs:?}"
        );
    }
    let fleet = Pond::remote(&r.url, r.env.clone()).json(&["status", "--all-hosts", "--json"]);
    let hosts = fleet["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), r.hosts, "{fleet}");
    for h in hosts {
        assert_eq!(h["outcome"], "ok");
        assert_eq!(h["stale"], false);
        assert_eq!(h["runs"], r.rounds as u64);
        for key in ["host", "last_run", "last_success", "error"] {
            assert!(h.get(key).is_some(), "{key} missing in {h}");
        }
    }
}

/// Races the hosts over the shipped corpus, then checks that the store holds
/// exactly its union: each backend's test but for where the store is.
fn race_and_check(r: &Race, options: Vec<(String, String)>) {
    let all = corpus();
    let work = tempfile::tempdir().unwrap();
    let dirs = race(r, &all, work.path());
    check(r, options, &dirs, &all);
}

#[test]
fn rule11_eight_hosts_racing_on_s3_store_exactly_the_union() {
    let s = services();
    let bucket = unique_bucket("race");
    create_bucket(&s.s3, &bucket);
    let r = Race {
        hosts: 8,
        rounds: 5,
        url: format!("s3://{bucket}/archive"),
        env: s.s3_env(),
    };
    race_and_check(&r, s.s3_options());
}

#[test]
fn rule11_hosts_racing_on_azure_store_exactly_the_union() {
    let s = services();
    let r = Race {
        hosts: 3,
        rounds: 3,
        url: format!("az://pond-race/{}", unique_bucket("archive")),
        env: s.azure_env(&s.azurite_key),
    };
    race_and_check(&r, s.azure_options());
}

#[test]
fn rule14_store_settings_from_the_config_file_alone_never_leak_secrets() {
    let s = services();
    let bucket = unique_bucket("config");
    create_bucket(&s.s3, &bucket);
    let pond = Pond::new();
    let config = pond.write_config(&format!(
        "host = \"from-config\"\n[store]\nurl = \"s3://{bucket}/p\"\n[store.options]\naws_endpoint = \"{}\"\naws_region = \"us-east-1\"\naws_access_key_id = \"k\"\naws_secret_access_key = \"SECRET-VALUE\"\nallow_http = \"true\"\n",
        s.s3
    ));
    let out = pond
        .sync_cmd("codex", &fixtures("codex"))
        .env("POND_CONFIG", &config)
        .env_remove("POND_STORE")
        .env_remove("POND_HOST")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["store"], format!("s3://{bucket}/p"));
    assert_eq!(report["host"], "from-config");
    assert!(count(&report, "messages_inserted") > 0);
    // Credentials never reach output or records.
    assert!(!stdout.contains("SECRET-VALUE"));
    let record = pond.last_sync_text();
    assert!(!record.contains("SECRET-VALUE"));
}

/// Rule 11 once upkeep has indexed `id`: two writers that both read the
/// table before either inserted a new key must not both insert it. Lance
/// 14's merge takes its indexed path once `id` has a B-tree, and that path
/// records no inserted keys, so its conflict check let both commits land.
#[test]
fn rule11_two_writers_inserting_one_new_key_store_it_once_when_id_is_indexed() {
    let pond = Pond::new();
    pond.sync("claude-code", &fixtures("claude-code"));
    let (rt, first) = open_store(&pond.store_url, Vec::new());
    for kind in [TableKind::Messages, TableKind::Search, TableKind::Raw] {
        rt.block_on(first.ensure_key_indexes(kind)).unwrap();
    }
    let location = pond::store::StoreLocation::parse(&pond.store_url).unwrap();
    // Opened now, so it reads the same versions as `first` until it writes.
    let second = rt
        .block_on(pond::store::Store::open(
            &location,
            pond::store::OpenMode::Existing,
        ))
        .unwrap();

    for kind in [TableKind::Messages, TableKind::Search, TableKind::Raw] {
        let stored = rt.block_on(first.scan(kind, None, None)).unwrap();
        let row = stored
            .iter()
            .find(|b| b.num_rows() > 0)
            .unwrap()
            .slice(0, 2);
        let new_key = format!("race-{}", kind.name());
        let batch = with_ids(&row, &[&format!("{new_key}-a"), &format!("{new_key}-b")]);
        assert_eq!(
            rt.block_on(first.insert_absent(kind, batch.clone()))
                .unwrap(),
            2
        );
        let second_inserted = rt.block_on(second.insert_absent(kind, batch)).unwrap();

        let (rt3, fresh) = open_store(&pond.store_url, Vec::new());
        let ids = column(&rt3, &fresh, kind, "id");
        let copies = ids.iter().filter(|id| id.starts_with(&new_key)).count();
        assert_eq!(
            (second_inserted, copies),
            (0, 2),
            "{}: the second writer inserted keys the first had stored",
            kind.name()
        );
    }
}

/// `batch` with its `id` column replaced by `ids`.
fn with_ids(batch: &arrow_array::RecordBatch, ids: &[&str]) -> arrow_array::RecordBatch {
    let schema = batch.schema();
    let at = schema.index_of("id").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[at] = std::sync::Arc::new(arrow_array::StringArray::from(ids.to_vec()));
    arrow_array::RecordBatch::try_new(schema, columns).unwrap()
}
