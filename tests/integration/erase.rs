//! Rule 44: an erased session leaves every byte of the store, and stays out.
//!
//! The proof reads every object of the store (data, deletion, index,
//! manifest and transaction files of every version that remains) and looks
//! for words only the erased sessions held: as plain bytes, inside every
//! zstd frame (raw records and message parts are stored compressed), and
//! among the tokens of every full-text index file (Lance keeps them in an
//! FST, where a word's bytes are not contiguous). Before the erasure the
//! same reading must find them in each place, or it would prove nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{self, Pond, assert_success, copy_dir, field_of_each, services};

/// The Claude Code fixture erased by id, and the project erased whole.
const ERASED_ID: &str = "claude-code:6a963594-b02b-46eb-9285-3231c9c1b7e8";
const ERASED_PROJECT: &str = "/Users/soph/Work/entire/devenv/cli";

/// Every object under the store's root, by path.
fn objects(url: &str, options: Vec<(String, String)>) -> BTreeMap<String, Vec<u8>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let location = pond::store::StoreLocation::parse(url)
        .unwrap()
        .with_options(options);
    let (os, prefix) = pond::store::reach::connect::object_store(&location).unwrap();
    runtime.block_on(async {
        use futures::TryStreamExt;
        use object_store::ObjectStoreExt;
        let listed: Vec<_> = os.list(Some(&prefix)).try_collect().await.unwrap();
        let mut all = BTreeMap::new();
        for meta in listed {
            let bytes = os.get(&meta.location).await.unwrap().bytes().await.unwrap();
            all.insert(meta.location.to_string(), bytes.to_vec());
        }
        all
    })
}

/// What an object says once every zstd frame in it is inflated.
fn readable(bytes: &[u8]) -> Vec<u8> {
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let mut out = bytes.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&bytes[at..], &MAGIC) {
        let start = at + i;
        let mut inflated = Vec::new();
        if let Ok(decoder) = zstd::stream::read::Decoder::new(&bytes[start..]) {
            let _ = decoder
                .single_frame()
                .take(256 << 20)
                .read_to_end(&mut inflated);
        }
        out.push(0);
        out.extend(inflated.to_ascii_lowercase());
        at = start + 1;
    }
    out
}

/// The keys of every FST embedded in `bytes` (a full-text index's token
/// file): found by its header (version 3, type 0) and its footer's root
/// address, then checked by its checksum.
fn fst_tokens(bytes: &[u8]) -> BTreeSet<String> {
    let mut header = [0u8; 16];
    header[0] = 3;
    let mut tokens = BTreeSet::new();
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&bytes[at..], &header) {
        let start = at + i;
        for end in start + 36..=bytes.len() {
            let slice = &bytes[start..end];
            let root =
                u64::from_le_bytes(slice[slice.len() - 12..slice.len() - 4].try_into().unwrap());
            if root.checked_add(21) != Some(slice.len() as u64) {
                continue;
            }
            let Ok(fst) = fst::raw::Fst::new(slice.to_vec()) else {
                continue;
            };
            if fst.verify().is_err() {
                continue;
            }
            let map = fst::Map::from(fst);
            let mut stream = map.keys();
            while let Some(key) = fst::Streamer::next(&mut stream) {
                tokens.insert(String::from_utf8_lossy(key).into_owned());
            }
            break;
        }
        at = start + 1;
    }
    tokens
}

fn index_tokens(objects: &BTreeMap<String, Vec<u8>>) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|(path, _)| path.ends_with("tokens.lance"))
        .flat_map(|(_, bytes)| fst_tokens(bytes))
        .collect()
}

/// Which objects hold which of `words`.
fn holders(objects: &BTreeMap<String, Vec<u8>>, words: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, bytes) in objects {
        let text = readable(bytes);
        for w in words {
            if memchr::memmem::find(&text, w.as_bytes()).is_some() {
                found.entry(w.clone()).or_default().push(path.clone());
            }
        }
    }
    found
}

/// Words (11+ letters, lower case) in `erased` files and in no other file
/// under `root`: what only the erased sessions said.
fn distinctive_words(root: &Path, erased: &[PathBuf]) -> Vec<String> {
    let mut others = Vec::new();
    let mut theirs = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap().to_ascii_lowercase();
        if erased.iter().any(|e| e == entry.path()) {
            theirs.extend(bytes);
            theirs.push(b' ');
        } else {
            others.extend(bytes);
            others.push(b' ');
        }
    }
    let mut words = BTreeSet::new();
    for word in theirs.split(|b| !b.is_ascii_lowercase()) {
        if word.len() >= 11 && memchr::memmem::find(&others, word).is_none() {
            words.insert(String::from_utf8_lossy(word).into_owned());
        }
    }
    words.into_iter().collect()
}

/// A pond holding the Claude Code fixtures, synced from a copy in its root.
fn synced(pond: &Pond) -> PathBuf {
    let src = pond.root.join("src");
    copy_dir(&harness::fixtures("claude-code"), &src);
    pond.sync("claude-code", &src);
    src
}

fn erase(pond: &Pond, args: &[&str]) -> Value {
    let mut all = vec!["erase"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--yes", "--json"]);
    pond.json(&all)
}

/// The files the erased sessions were read from, by a dry run.
fn erased_files(pond: &Pond, src: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for args in [vec![ERASED_ID], vec!["--project", ERASED_PROJECT]] {
        let mut all = vec!["erase"];
        all.extend(args);
        all.extend(["--dry-run", "--json"]);
        let plan = pond.json(&all);
        assert_eq!(plan["outcome"], "dry-run", "{plan}");
        for f in plan["plan"]["files"].as_array().unwrap() {
            files.push(src.join(f["rel_path"].as_str().unwrap()));
        }
    }
    files
}

/// Sessions, messages and raw exports of every session not erased.
fn survivors(pond: &Pond, erased: &BTreeSet<String>) -> (Vec<Value>, BTreeMap<String, Vec<u8>>) {
    let sessions: Vec<Value> = pond
        .json(&["sessions", "--json", "--limit", "1000"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !erased.contains(s["id"].as_str().unwrap()))
        .cloned()
        .collect();
    let out = pond.root.join(format!("export-{}", fastrand::u64(..)));
    for s in &sessions {
        pond.ok(&[
            "export",
            s["id"].as_str().unwrap(),
            "--raw",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    (sessions, harness::tree(&out))
}

fn upkeep_twice(pond: &Pond, env: &[(&str, &str)]) {
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1_100));
        let mut cmd = pond.cmd(&["maintain", "--retain", "1s", "--json"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["outcome"], "done", "{report}");
    }
}

/// Proves rule 44 on the store at `pond.store_url`.
fn erase_and_prove(pond: &Pond, options: Vec<(String, String)>) {
    let src = synced(pond);
    // A kept store: one fragment per table, none of them small enough
    // that compaction would rewrite it for its size alone.
    upkeep_twice(pond, &[]);
    let files = erased_files(pond, &src);
    assert!(files.len() >= 3, "{files:?}");
    let words = distinctive_words(&src, &files);
    assert!(words.len() >= 5, "too few distinctive words: {words:?}");

    // The reading sees the words where they are stored: raw records and
    // message parts (zstd), search rows (plain), the full-text index (FST).
    let before = objects(&pond.store_url, options.clone());
    let seen = holders(&before, &words);
    for table in [
        "raw_records.lance/data",
        "messages.lance/data",
        "search.lance/data",
    ] {
        assert!(
            seen.values().flatten().any(|p| p.contains(table)),
            "the reading finds no erased word in {table}: {seen:?}"
        );
    }
    // Index tokens only the erased sessions produced: those of the full
    // store, less those of a store holding everything else.
    let others = Pond::new();
    let rest = others.root.join("rest");
    copy_dir(&src, &rest);
    for f in &files {
        std::fs::remove_file(rest.join(f.strip_prefix(&src).unwrap())).unwrap();
    }
    others.sync("claude-code", &rest);
    let their_tokens: BTreeSet<String> = index_tokens(&before)
        .difference(&index_tokens(&objects(&others.store_url, Vec::new())))
        .cloned()
        .collect();
    assert!(
        their_tokens.len() >= 20,
        "the reading finds too few index tokens of the erased sessions: {their_tokens:?}"
    );

    let mut erased_ids: BTreeSet<String> = BTreeSet::new();
    let (sessions_before, exports_before) = {
        let plan = pond.json(&["erase", "--project", ERASED_PROJECT, "--dry-run", "--json"]);
        for s in plan["plan"]["sessions"].as_array().unwrap() {
            erased_ids.insert(s["id"].as_str().unwrap().to_string());
        }
        erased_ids.insert(ERASED_ID.to_string());
        survivors(pond, &erased_ids)
    };

    let by_id = erase(pond, &["6a963594"]);
    assert_eq!(by_id["outcome"], "erased", "{by_id}");
    assert_eq!(by_id["plan"]["sessions"][0]["id"], ERASED_ID);
    assert!(
        by_id["deleted"]["messages"].as_u64().unwrap() > 0,
        "{by_id}"
    );
    let by_project = erase(pond, &["--project", ERASED_PROJECT]);
    assert_eq!(by_project["outcome"], "erased", "{by_project}");
    assert_eq!(by_project["plan"]["sessions"].as_array().unwrap().len(), 2);

    // Upkeep with a retention of seconds: the first run rewrites the
    // fragments, the next once the retention has passed prunes the
    // versions that still referenced the old files.
    upkeep_twice(pond, &[]);

    let after = objects(&pond.store_url, options.clone());
    let left = holders(&after, &words);
    assert!(left.is_empty(), "erased words still in the store: {left:?}");
    let tokens_after = index_tokens(&after);
    let tokens_left: Vec<&String> = tokens_after.intersection(&their_tokens).collect();
    assert!(
        tokens_left.is_empty(),
        "erased words still in the full-text index: {tokens_left:?}"
    );
    assert!(!tokens_after.is_empty(), "the index itself is gone");

    // Everything else is as it was.
    let (sessions_after, exports_after) = survivors(pond, &erased_ids);
    assert_eq!(sessions_after, sessions_before);
    assert_eq!(exports_after, exports_before);
    let found = pond.json(&["search", "reconsidering", "--json"]);
    assert_eq!(found["hits"].as_array().unwrap().len(), 0, "{found}");

    // The erasure is on record, without content.
    let log = pond.json(&["erase", "--log", "--json"]);
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");
    assert_eq!(log[1]["selection"], format!("--project {ERASED_PROJECT}"));
    let log_text = log.to_string().to_ascii_lowercase();
    for w in &words {
        assert!(!log_text.contains(w.as_str()), "the log holds `{w}`");
    }
}

#[test]
fn rule44_erased_sessions_leave_every_object_of_a_local_store() {
    let pond = Pond::new();
    erase_and_prove(&pond, Vec::new());
}

#[test]
fn rule44_erased_sessions_leave_every_object_of_an_s3_bucket() {
    let s = services();
    let pond = Pond::on_new_s3_archive(&s, "erase");
    erase_and_prove(&pond, s.s3_options());
}

#[test]
fn rule44_no_host_stores_an_erased_session_again() {
    let pond = Pond::new();
    let src = synced(&pond);
    let sessions = pond.session_ids().len();
    // Not on a terminal, nothing is erased without --yes.
    let unconfirmed = pond.output(&["erase", ERASED_ID]);
    assert!(!unconfirmed.status.success());
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
    // A subagent goes with its parent unless told otherwise.
    let parent = "claude-code:0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f";
    let child = "claude-code:agent-a0ad4f44468bdf20d";
    let with = pond.json(&["erase", parent, "--dry-run", "--json"]);
    let ids = field_of_each(&with["plan"]["sessions"], "id");
    assert_eq!(ids, [parent, child], "{with}");
    assert_eq!(with["plan"]["sessions"][1]["parent_id"], parent);
    let without = pond.json(&["erase", parent, "--without-children", "--dry-run", "--json"]);
    assert_eq!(
        without["plan"]["sessions"].as_array().unwrap().len(),
        1,
        "{without}"
    );
    let both = pond.output(&["erase", ERASED_ID, "--client", "codex", "--yes"]);
    assert!(String::from_utf8_lossy(&both.stderr).contains("not both"));
    assert_eq!(pond.session_ids().len(), sessions);
    erase(&pond, &[ERASED_ID]);
    erase(&pond, &["--project", ERASED_PROJECT]);
    assert_eq!(pond.session_ids().len(), sessions - 3);

    // A second host with the same files, and this host with its cursors lost.
    let second = pond.sync_as("host-2", "claude-code", &src);
    assert_eq!(second["erased_sessions_skipped"], 3, "{second}");
    assert!(second["erased_records_skipped"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(pond.state.join("pond")).unwrap();
    let again = pond.sync("claude-code", &src);
    assert_eq!(again["erased_sessions_skipped"], 3, "{again}");
    let ids = pond.session_ids();
    assert_eq!(ids.len(), sessions - 3);
    assert!(!ids.contains(&ERASED_ID.to_string()));

    // A remote ingest of the files is refused, with a reason.
    let token = pond.json(&["token", "create", "ci", "--scope", "ingest", "--json"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let server = crate::serve::Server::start(&pond, "127.0.0.1:0", &[]);
    let pusher = Pond::new();
    let pushed = crate::serve::push_cmd(&pusher, &src, &server, &token)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&pushed.stdout).unwrap_or(Value::Null);
    let said = format!("{report}{}", String::from_utf8_lossy(&pushed.stderr));
    assert!(said.contains("was erased from this archive"), "{said}");
    assert_eq!(pond.session_ids().len(), sessions - 3);

    // A mistake is undone, and that is recorded too.
    let lifted = pond.json(&["erase", "--forget-tombstone", "6a963594", "--yes", "--json"]);
    assert_eq!(lifted["kind"], "forget", "{lifted}");
    let back = pond.sync_as("host-3", "claude-code", &src);
    assert_eq!(back["erased_sessions_skipped"], 2, "{back}");
    assert!(pond.session_ids().contains(&ERASED_ID.to_string()));
    assert_eq!(
        pond.json(&["erase", "--log", "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn rule44_a_kill_at_any_step_of_erase_now_is_finished_by_the_next_upkeep() {
    for step in ["recorded", "deleted", "compacted", "pruned"] {
        let pond = Pond::new();
        let src = synced(&pond);
        // One session is 6 % of the store's one fragment per table: less
        // than the share of deleted rows at which Lance would rewrite it.
        upkeep_twice(&pond, &[]);
        let files = erased_files(&pond, &src)
            .into_iter()
            .filter(|f| f.to_string_lossy().contains("6a963594"))
            .collect::<Vec<_>>();
        let words = distinctive_words(&src, &files);
        let sessions = pond.session_ids().len();
        let mut child = pond
            .cmd(&["erase", ERASED_ID, "--now", "--yes", "--json"])
            .env(pond::erase::PAUSE_AFTER_ENV, step)
            .env("POND_UPKEEP_LEASE_TTL", "1s")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let paused = stderr
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains(&format!("paused after {step}")));
        assert!(paused, "erase never reached {step}");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        // Readable as it was left, and no longer showing the session.
        let ids = pond.session_ids();
        assert!(ids.len() == sessions || ids.len() == sessions - 1, "{step}");
        pond.json(&["search", "config", "--json"]);

        std::thread::sleep(Duration::from_millis(1_100));
        upkeep_twice(&pond, &[("POND_UPKEEP_LEASE_TTL", "1s")]);
        assert_eq!(pond.session_ids().len(), sessions - 1, "{step}");
        let left = holders(&objects(&pond.store_url, Vec::new()), &words);
        assert!(
            left.is_empty(),
            "after a kill at {step}, still stored: {left:?}"
        );
    }
}

#[test]
fn rule44_over_http_only_an_admin_token_without_limits_erases() {
    use crate::serve::{Server, http};
    let pond = Pond::new();
    synced(&pond);
    let sessions = pond.session_ids().len();
    let body = serde_json::json!({"sessions": ["6a963594"]}).to_string();
    let post = |addr: &str, token: Option<&str>, body: &str| {
        http(
            addr,
            "POST",
            "/v1/erase",
            token,
            Some(("application/json", body.as_bytes())),
        )
    };

    // A loopback server without tokens lets the local user read, not erase.
    let open = Server::start(&pond, "127.0.0.1:0", &[]);
    let reply = post(&open.addr, None, &body);
    assert_eq!(reply.status, 403, "{}", reply.body);
    drop(open);

    let mut tokens = BTreeMap::new();
    for (name, extra) in [
        ("reader", vec!["--scope", "read"]),
        ("ci", vec!["--scope", "ingest"]),
        (
            "limited",
            vec!["--scope", "admin", "--host-prefix", "test-"],
        ),
        ("admin", vec!["--scope", "admin"]),
    ] {
        let mut args = vec!["token", "create", name, "--json"];
        args.extend(extra);
        tokens.insert(
            name,
            pond.json(&args)["token"].as_str().unwrap().to_string(),
        );
    }
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    for name in ["reader", "ci", "limited"] {
        let reply = post(&server.addr, Some(&tokens[name]), &body);
        assert_eq!(reply.status, 403, "{name}: {}", reply.body);
    }
    assert_eq!(pond.session_ids().len(), sessions);
    // An admin token cannot read either.
    let read = http(
        &server.addr,
        "GET",
        "/v1/sessions",
        Some(&tokens["admin"]),
        None,
    );
    assert_eq!(read.status, 403, "{}", read.body);

    let bad = post(&server.addr, Some(&tokens["admin"]), "{}");
    assert_eq!(bad.status, 400, "{}", bad.body);
    let dry = serde_json::json!({"sessions": ["6a963594"], "dry_run": true}).to_string();
    let planned = post(&server.addr, Some(&tokens["admin"]), &dry);
    assert_eq!(planned.status, 200, "{}", planned.body);
    assert_eq!(pond.session_ids().len(), sessions);

    let done = post(&server.addr, Some(&tokens["admin"]), &body);
    assert_eq!(done.status, 200, "{}", done.body);
    let report: Value = serde_json::from_str(&done.body).unwrap();
    assert_eq!(report["outcome"], "erased", "{report}");
    assert_eq!(pond.session_ids().len(), sessions - 1);
    let log = pond.json(&["erase", "--log", "--json"]);
    assert_eq!(log[0]["user"], "token:admin", "{log}");
}
