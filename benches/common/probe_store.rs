//! A large store built straight through the store API, with no sources to
//! parse: the shape a million-message archive has, in minutes instead of
//! the hours a real ingest of that size takes in a debug build. Shared by
//! the benches that need such a store (`fleet`'s probe, `web`), each of
//! which uses only part of it.
#![allow(dead_code)]

// The integration tests' helper (the path is from this file's folder), so
// a bench asks the S3 server and checks a run as the tests do.
#[path = "../../tests/integration/command_checks.rs"]
pub mod command_checks;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pond::model::{Message, Part, PartKind, Role, Session};
use pond::store::tables::runs::RunRow;
use pond::store::tables::schema::{MessageRow, messages_batch, sessions_batch};
use pond::store::tables::search::{SearchDoc, search_batch};
use pond::store::{OpenMode, Store, StoreLocation, TableKind};

/// A bench's store, open, with the runtime that drives it.
pub struct BenchStore {
    /// Where the store is when the bench names no directory; removed on drop.
    pub temp: tempfile::TempDir,
    pub dir: PathBuf,
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
}

/// Creates (or opens) the store at the directory the environment variable
/// `var` names, kept afterwards so it can be timed again, or else in a
/// temporary directory.
pub fn open_bench_store(var: &str) -> BenchStore {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var(var)
        .map(PathBuf::from)
        .unwrap_or_else(|_| temp.path().join("store"));
    let location = StoreLocation::parse(&dir.display().to_string()).expect("location");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let store = rt
        .block_on(Store::open(&location, OpenMode::Create))
        .expect("open store");
    BenchStore {
        temp,
        dir,
        rt,
        store,
    }
}

/// Messages per session in a probe store.
pub const PER_SESSION: usize = 200;
/// Rows per commit while building.
const BATCH: usize = 50_000;

/// Words messages are made of, and searched for.
const WORDS: &str = "refactor parser lease manifest fragment compaction retry timeout cursor \
    schema index vector token session commit rebase branch worktree lint clippy runtime deadlock \
    mutex channel socket endpoint bucket upload checksum snapshot rollback migration column arrow \
    batch query ranking snippet highlight embedding model cache eviction latency throughput \
    benchmark profile flamegraph allocation buffer stream decoder unicode newline escape config \
    environment deploy container kernel signal test fails after change";

pub fn word(i: usize) -> &'static str {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    words[i % words.len()]
}

/// Ids in UUID shape from counters, so every run writes the same sessions.
pub fn uuid(tag: u8, host: usize, n: u64) -> String {
    let v = (u128::from(tag) << 120) | ((host as u128) << 64) | u128::from(n);
    let h = format!("{v:032x}");
    [&h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]].join("-")
}

/// A few sentences of varied words and one token no other message has, so a
/// search can find exactly this message.
pub fn prose(seed: u64, token: &str) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sentences = Vec::new();
    for _ in 0..rng.usize(2..5) {
        let words: Vec<&str> = (0..rng.usize(6..13)).map(|_| word(rng.usize(..))).collect();
        let mut sentence = words.join(" ");
        sentence[..1].make_ascii_uppercase();
        sentences.push(format!("{sentence}."));
    }
    sentences.push(format!("Tracking this as {token}."));
    sentences.join(" ")
}

/// A Claude Code session of `messages` messages, numbered `n`.
pub fn session(n: usize, host: String, messages: usize, now: DateTime<Utc>) -> Session {
    Session {
        id: format!("claude-code:{}", uuid(1, n % 20, n as u64)),
        client: "claude-code".into(),
        project: Some(format!("/work/project-{}", n % 37)),
        git_branch: Some("main".into()),
        model: Some("claude-sonnet-4".into()),
        title: Some(prose(n as u64, "probe")),
        started_at: Some(now),
        updated_at: Some(now),
        parent_id: None,
        host,
        message_count: messages as u64,
    }
}

/// Builds a store of `n` messages, `PER_SESSION` to a session, appended in
/// batches of 50,000 (about 20 fragments per table, as an archive grown by
/// large syncs has), with a search row each and the search indexes.
pub fn build_probe_store(
    rt: &tokio::runtime::Runtime,
    location: &StoreLocation,
    n: usize,
) -> Store {
    let store = rt
        .block_on(Store::open(location, OpenMode::Create))
        .expect("create probe store");
    let started = Instant::now();
    let now = Utc::now();
    let sessions: Vec<Session> = (0..n.div_ceil(PER_SESSION))
        .map(|s| session(s, format!("host-{:02}", s % 20), PER_SESSION, now))
        .collect();
    append_sessions(rt, &store, &sessions, now);
    append_messages(rt, &store, &sessions, PER_SESSION, 0..n, now);
    rt.block_on(store.maintain_search_indexes(usize::MAX))
        .expect("build the search indexes");
    println!(
        "built a probe store of {n} messages (and their search rows and indexes) in {} sessions in {:.1} s",
        sessions.len(),
        started.elapsed().as_secs_f64()
    );
    store
}

pub fn append_sessions(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    sessions: &[Session],
    now: DateTime<Utc>,
) {
    for chunk in sessions.chunks(BATCH) {
        let batch = sessions_batch(chunk, now).expect("sessions batch");
        rt.block_on(store.append_new(TableKind::Sessions, batch))
            .expect("append sessions");
    }
}

/// Appends messages `range`, message `i` in `sessions[i / per_session]`,
/// with one search row each (no vector: the full-text side of search).
pub fn append_messages(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    sessions: &[Session],
    per_session: usize,
    range: Range<usize>,
    now: DateTime<Utc>,
) {
    let mut start = range.start;
    while start < range.end {
        let end = (start + BATCH).min(range.end);
        let messages: Vec<Message> = (start..end)
            .map(|i| {
                let session = &sessions[i / per_session];
                Message {
                    id: format!("{}/{}", session.id, uuid(2, i % 20, i as u64)),
                    session_id: session.id.clone(),
                    seq: (i % per_session) as u64 * 1_000,
                    role: if i % 2 == 0 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                    timestamp: Some(now + Duration::seconds((i % per_session) as i64)),
                    model: None,
                    parts: vec![Part::text(PartKind::Text, prose(i as u64, word(i)))],
                }
            })
            .collect();
        let rows: Vec<MessageRow<'_>> = messages
            .iter()
            .enumerate()
            .map(|(k, m)| MessageRow {
                message: m,
                client: "claude-code",
                host: &sessions[(start + k) / per_session].host,
            })
            .collect();
        let batch = messages_batch(&rows, now).expect("messages batch");
        rt.block_on(store.append_new(TableKind::Messages, batch))
            .expect("append messages");
        let docs: Vec<SearchDoc> = messages
            .iter()
            .enumerate()
            .map(|(k, m)| SearchDoc {
                id: format!("{}#0", m.id),
                message_id: m.id.clone(),
                session_id: m.session_id.clone(),
                client: "claude-code".into(),
                host: sessions[(start + k) / per_session].host.clone(),
                project: sessions[(start + k) / per_session].project.clone(),
                role: m.role.as_str().into(),
                kind: "text".into(),
                tool: None,
                timestamp: m.timestamp,
                part_no: 0,
                text: m.parts[0].text.clone().unwrap_or_default(),
            })
            .collect();
        let batch = search_batch(&docs, None, now).expect("search batch");
        rt.block_on(store.append_new(TableKind::Search, batch))
            .expect("append search rows");
        start = end;
        eprintln!("probe store: {end}/{} messages", range.end);
    }
}

/// One run of `host` that finished at `at`, as a sync records it.
pub fn run_row(host: String, group: Option<String>, at: DateTime<Utc>, failed: bool) -> RunRow {
    RunRow {
        id: format!("{host}/{}", at.to_rfc3339()),
        host,
        pond_version: "0.1.0".into(),
        started_at: at - Duration::seconds(3),
        finished_at: at,
        outcome: if failed { "failed" } else { "ok" }.into(),
        error: failed.then(|| "bucket unreachable".into()),
        clients: "claude-code,codex".into(),
        files_scanned: 40,
        sessions_inserted: 1,
        messages_inserted: 12,
        records_inserted: 14,
        unparsed_records: 0,
        commit_retries: 0,
        duration_secs: 3.0,
        group,
    }
}

/// Runs the bench's `pond` over the store at `dir`, requiring success. No
/// embedding model: these stores are built without vectors.
pub fn pond_on(dir: &Path, args: &[&str]) -> Output {
    command_checks::output_ok(
        Command::new(env!("CARGO_BIN_EXE_pond"))
            .args(args)
            .env("POND_STORE", dir)
            .env("POND_EMBED_MODEL", "off"),
        &format!("pond {args:?}"),
    )
}

/// The first day of the year of history a bench lays out.
pub fn history_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}
