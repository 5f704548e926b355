//! Rule 36, sharpened by the second hostile-caller round (issue 31): a
//! token's limits bound every byte it is given, a server never falls back
//! to no authentication, and a proxied loopback server needs tokens.

use std::path::{Path, PathBuf};

use crate::harness::{Pond, assert_success, copy_dir, count, fixtures, open_store};
use crate::serve::{Server, http, pond_with_session, project_token, token};

/// The fixture's one opencode session, moved to team A's project.
const TEAM_A_SESSION: &str = "opencode:ses_04ca851f7ffevKrKMHW3RsPK1U";
const TEAM_B_SESSION: &str = "opencode:ses_team_b";
/// Words only team B's session holds.
const TEAM_B_WORDS: &str = "walrus-ledger-7731";
/// Words only team A's session holds (the fixture's first prompt).
const TEAM_A_WORDS: &str = "Read SPEC.md and improve it";

/// One `opencode.db` holding a session of `/repos/team-a` (the fixture's)
/// and one of `/repos/team-b`, as opencode keeps every project's sessions.
fn two_project_database(pond: &Pond) -> PathBuf {
    let src = pond.root.join("opencode");
    copy_dir(&fixtures("opencode").join("opencode-db"), &src);
    let db = rusqlite::Connection::open(src.join("opencode.db")).unwrap();
    db.execute_batch(&format!(
        "UPDATE project SET worktree = '/repos/team-a';
         UPDATE session SET directory = '/repos/team-a';
         CREATE TEMP TABLE p AS SELECT * FROM project LIMIT 1;
         UPDATE p SET id = 'prj_team_b', worktree = '/repos/team-b';
         INSERT INTO project SELECT * FROM p;
         CREATE TEMP TABLE s AS SELECT * FROM session LIMIT 1;
         UPDATE s SET id = 'ses_team_b', project_id = 'prj_team_b',
           directory = '/repos/team-b', slug = 'team-b', title = 'team b plans';
         INSERT INTO session SELECT * FROM s;
         CREATE TEMP TABLE m AS SELECT * FROM message
           WHERE id = 'msg_fb357c94400162LvgqZRiO662i';
         UPDATE m SET id = 'msg_team_b_1', session_id = 'ses_team_b';
         INSERT INTO message SELECT * FROM m;
         CREATE TEMP TABLE t AS SELECT * FROM part
           WHERE id = 'prt_fb357c948001zKs17bysmuZXKY';
         UPDATE t SET id = 'prt_team_b_1', message_id = 'msg_team_b_1',
           session_id = 'ses_team_b',
           data = '{{\"type\":\"text\",\"text\":\"{TEAM_B_WORDS} is how team b rotates its deploy keys\"}}';
         INSERT INTO part SELECT * FROM t;"
    ))
    .unwrap();
    drop(db);
    src
}

fn raw_path(session: &str) -> String {
    format!("/v1/sessions/{}/raw", session.replace(':', "%3A"))
}

/// Every raw record's bytes in the store, as text.
fn stored_raw_text(pond: &Pond) -> String {
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let records = rt.block_on(store.raw_records("offset >= 0")).unwrap();
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.bytes).into_owned())
        .collect()
}

#[test]
fn rule36_a_project_limited_token_gets_no_byte_of_another_projects_session() {
    let pond = Pond::new();
    let src = two_project_database(&pond);
    pond.sync("opencode", &src);
    let projects: Vec<String> = pond
        .json(&["sessions", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["id"].as_str().unwrap(),
                s["project"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        projects.contains(&format!("{TEAM_A_SESSION} /repos/team-a"))
            && projects.contains(&format!("{TEAM_B_SESSION} /repos/team-b")),
        "{projects:?}"
    );
    let team_a = project_token(&pond, "team-a", "read", "/repos/team-a");
    let everyone = token(&pond, "everyone", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &["--no-redact"]);

    // The other team's session is not there for team A's token.
    let refused = http(
        &server.addr,
        "GET",
        &raw_path(TEAM_B_SESSION),
        Some(&team_a),
        None,
    );
    assert_eq!(refused.status, 404, "{}", refused.body);
    // Its own session comes without any row of the other's.
    let own = http(
        &server.addr,
        "GET",
        &raw_path(TEAM_A_SESSION),
        Some(&team_a),
        None,
    );
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(own.body.contains(TEAM_A_WORDS), "{}", own.body);
    assert!(
        !own.body.contains(TEAM_B_WORDS) && !own.body.contains("ses_team_b"),
        "team A's token was given team B's rows"
    );

    // A token without limits gets the whole database, from either session,
    // as `pond export` writes it.
    let whole = http(
        &server.addr,
        "GET",
        &raw_path(TEAM_A_SESSION),
        Some(&everyone),
        None,
    );
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert!(whole.body.contains(TEAM_A_WORDS) && whole.body.contains(TEAM_B_WORDS));
    // Item 8: sent as it is read, record by record, never built whole first.
    let head = whole.head.to_ascii_lowercase();
    assert!(
        head.contains("transfer-encoding: chunked") && !head.contains("content-length"),
        "the download was not streamed: {}",
        whole.head
    );
    let out = pond.root.join("export");
    pond.ok(&[
        "export",
        TEAM_A_SESSION,
        "--raw",
        "--out",
        out.to_str().unwrap(),
    ]);
    let exported = std::fs::read(find_file(&out, "opencode.db.jsonl")).unwrap();
    assert_eq!(
        whole.raw_body, exported,
        "the download differs from the export"
    );
    let other = http(
        &server.addr,
        "GET",
        &raw_path(TEAM_B_SESSION),
        Some(&everyone),
        None,
    );
    assert_eq!(
        other.status, 200,
        "team B's session has no source file: {}",
        other.body
    );
    assert!(other.body.contains(TEAM_B_WORDS));
    drop(server);

    // Rule 44 through the same class: erasing team B's session takes its
    // rows, and only its rows, out of the shared database's records.
    pond.ok(&["erase", TEAM_B_SESSION, "--yes"]);
    let left = stored_raw_text(&pond);
    assert!(
        !left.contains(TEAM_B_WORDS),
        "the erased session's rows are still stored"
    );
    assert!(
        left.contains(TEAM_A_WORDS),
        "erasing team B took team A's rows"
    );
    pond.ok(&[
        "export",
        TEAM_A_SESSION,
        "--raw",
        "--out",
        pond.root.join("again").to_str().unwrap(),
    ]);
}

fn find_file(dir: &Path, name: &str) -> PathBuf {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy() == name)
        .unwrap_or_else(|| panic!("no {name} under {}", dir.display()))
        .into_path()
}

#[test]
fn rule36_a_proxied_loopback_server_without_tokens_refuses_to_start() {
    let pond = Pond::new();
    let out = pond.output(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--allow-host",
        "pond.example.org",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started without tokens: {stderr}");
    assert!(
        stderr.contains("--allow-host pond.example.org") && stderr.contains("pond token create"),
        "{stderr}"
    );
    // With a token it starts, and a request through the proxy needs it.
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &["--allow-host", "pond.example.org"]);
    let headers = [("Host", "pond.example.org")];
    let anonymous = crate::serve::status_with(&server.addr, None, &headers);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let known = crate::serve::status_with(&server.addr, Some(&reader), &headers);
    assert_eq!(known.status, 200, "{}", known.body);
}

fn config_file(pond: &Pond) -> PathBuf {
    pond.root.join("home/.config/pond/config.toml")
}

/// A pond holding one short session `id` and a token `reader` that may read
/// it: where the checks that a server asks for a token start.
fn pond_and_reader(id: &str) -> (Pond, String) {
    let pond = pond_with_session(id, "/work/x", &["hello"]);
    let reader = token(&pond, "reader", &["--scope", "read"]);
    (pond, reader)
}

#[test]
fn rule36_a_running_server_never_falls_back_to_no_authentication() {
    let (pond, reader) = pond_and_reader("cccccccc-0000-4000-8000-000000000003");
    let config = config_file(&pond);
    assert!(config.is_file(), "no config at {}", config.display());
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let anonymous = || http(a, "GET", "/v1/status", None, None).status;
    let known = || http(a, "GET", "/v1/status", Some(&reader), None).status;
    assert_eq!((anonymous(), known()), (401, 200));

    // An editor saving by rename: the file is gone for a moment.
    let aside = config.with_extension("toml.swp");
    std::fs::rename(&config, &aside).unwrap();
    assert_eq!((anonymous(), known()), (401, 200), "config gone");
    // Half-written.
    std::fs::write(&config, "[[tokens]\nname = ").unwrap();
    assert_eq!((anonymous(), known()), (401, 200), "config unreadable");
    std::fs::rename(&aside, &config).unwrap();
    assert_eq!((anonymous(), known()), (401, 200), "config back");

    // Revoking the last token closes the server to everyone rather than
    // opening it: whether tokens are required is decided once.
    pond.ok(&["token", "revoke", "reader"]);
    assert_eq!((anonymous(), known()), (401, 401), "last token revoked");
    let r = http(a, "GET", "/v1/status", None, None);
    assert!(r.body.contains("pond token create"), "{}", r.body);
}

/// An open `/v1/events` stream.
struct Events(std::io::BufReader<std::net::TcpStream>);

/// Opens `/v1/events` as `token`: the stream, or the status it was refused with.
fn open_events(addr: &str, token: &str) -> Result<Events, u16> {
    use std::io::{BufRead, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
    }
    if status == 200 {
        Ok(Events(reader))
    } else {
        Err(status)
    }
}

impl Events {
    /// Whether a `fleet` event arrives within `within`.
    fn event_within(&mut self, within: std::time::Duration) -> bool {
        use std::io::BufRead;
        let deadline = std::time::Instant::now() + within;
        let mut line = String::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let wait = left.max(std::time::Duration::from_millis(10));
            self.0.get_ref().set_read_timeout(Some(wait)).unwrap();
            line.clear();
            match self.0.read_line(&mut line) {
                Ok(0) => return false,
                Ok(_) if line.contains("event: fleet") => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }
}

/// A host that syncs Claude Code sessions written under `dir`.
struct SyncingHost<'a> {
    name: &'a str,
    dir: PathBuf,
    cwd: &'a str,
}

impl SyncingHost<'_> {
    /// Writes one more session on this host and syncs it: the sync that an
    /// event stream hears of, or must not.
    fn sync_new_session(&self, pond: &Pond, id: &str, text: &str) {
        crate::serve::write_session(&self.dir, id, self.cwd, &[text]);
        pond.sync_as(self.name, "claude-code", &self.dir);
    }
}

#[test]
fn rule36_a_host_limited_token_hears_only_of_its_own_hosts() {
    let pond = Pond::new();
    let ci = SyncingHost {
        name: "ci-1",
        dir: pond.root.join("ci"),
        cwd: "/work/ci",
    };
    let laptop = SyncingHost {
        name: "laptop-2",
        dir: pond.root.join("laptop"),
        cwd: "/work/l",
    };
    ci.sync_new_session(&pond, "dddddddd-0000-4000-8000-000000000004", "build");
    laptop.sync_new_session(&pond, "eeeeeeee-0000-4000-8000-000000000005", "notes");
    let ci_only = token(
        &pond,
        "ci-only",
        &["--scope", "read", "--host-prefix", "ci-"],
    );
    let everyone = token(&pond, "everyone", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let quiet = std::time::Duration::from_secs(7);
    let soon = std::time::Duration::from_secs(20);

    let mut limited = open_events(&server.addr, &ci_only).unwrap();
    let mut whole = open_events(&server.addr, &everyone).unwrap();
    assert!(
        limited.event_within(soon) && whole.event_within(soon),
        "no first event"
    );

    // Another host's sync: only the caller without limits hears of it.
    laptop.sync_new_session(&pond, "eeeeeeee-0000-4000-8000-000000000006", "more");
    assert!(
        whole.event_within(soon),
        "the unlimited stream missed a sync"
    );
    assert!(
        !limited.event_within(quiet),
        "a token limited to ci- hosts heard of laptop-2's sync"
    );
    // Its own host's sync: it hears.
    ci.sync_new_session(&pond, "dddddddd-0000-4000-8000-000000000007", "test");
    assert!(
        limited.event_within(soon),
        "the limited stream missed its own host's sync"
    );

    // Streams are capped per token: the limited token holds one already.
    let mut held = Vec::new();
    for _ in 1..8 {
        held.push(open_events(&server.addr, &ci_only).expect("a stream within the cap"));
    }
    assert_eq!(open_events(&server.addr, &ci_only).err(), Some(429));
    // Another token is not held back by it, and a closed stream frees its place.
    assert!(open_events(&server.addr, &everyone).is_ok());
    drop(held.pop());
    // The server notices a closed stream when it next writes to it (at the
    // latest its 15 s keep-alive).
    let mut reopened = None;
    for _ in 0..250 {
        if let Ok(events) = open_events(&server.addr, &ci_only) {
            reopened = Some(events);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        reopened.is_some(),
        "a closed stream's place was not given back"
    );
}

/// A Claude Code session whose one assistant record reports a call.
fn session_with_call(dir: &Path, session: &str, cwd: &str, output_tokens: u64) {
    let project = dir.join(cwd.replace('/', "-"));
    std::fs::create_dir_all(&project).unwrap();
    let user = serde_json::json!({
        "type": "user", "uuid": format!("{}-u", &session[..8]), "sessionId": session,
        "timestamp": "2026-05-01T10:00:00Z", "cwd": cwd,
        "message": {"role": "user", "content": "summarise the ledger"},
    });
    let assistant = serde_json::json!({
        "type": "assistant", "uuid": format!("{}-a", &session[..8]), "sessionId": session,
        "timestamp": "2026-05-01T10:00:05Z", "cwd": cwd, "requestId": "req_shared_call",
        "message": {"id": "msg_shared_call", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "the ledger balances"}],
            "usage": {"input_tokens": 1200, "output_tokens": output_tokens}},
    });
    std::fs::write(
        project.join(format!("{session}.jsonl")),
        format!("{user}\n{assistant}\n"),
    )
    .unwrap();
}

/// Each stored call as (session, host, output tokens).
fn stored_calls(pond: &Pond) -> Vec<(String, String, u64)> {
    let (rt, store) = open_store(&pond.store_url, vec![]);
    let batches = rt
        .block_on(store.scan(pond::store::TableKind::Usage, None, None))
        .unwrap();
    let mut calls = Vec::new();
    for b in &batches {
        let c = pond::store::tables::schema::Columns::new(b);
        let (sessions, hosts, outputs) = (
            c.str("session_id").unwrap(),
            c.str("host").unwrap(),
            c.u64("output_tokens").unwrap(),
        );
        for i in 0..b.num_rows() {
            calls.push((
                sessions.value(i).to_string(),
                hosts.value(i).to_string(),
                outputs.value(i),
            ));
        }
    }
    calls
}

#[test]
fn rule37_a_host_limited_ingest_token_cannot_move_another_hosts_call() {
    let pond = Pond::new();
    let laptop = pond.root.join("laptop");
    let victim = "a1a1a1a1-0000-4000-8000-00000000000a";
    session_with_call(&laptop, victim, "/work/ledger", 40);
    pond.sync_as("laptop-1", "claude-code", &laptop);
    let before = stored_calls(&pond);
    assert_eq!(
        before,
        vec![(format!("claude-code:{victim}"), "laptop-1".to_string(), 40)]
    );

    // A CI runner's token may ingest only for `ci-` hosts. It pushes a
    // session of its own whose record reuses the laptop's call ids and
    // claims far more output.
    let ci_token = token(&pond, "ci", &["--scope", "ingest", "--host-prefix", "ci-"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let runner = Pond::new();
    let forged = runner.root.join("src");
    session_with_call(
        &forged,
        "b2b2b2b2-0000-4000-8000-00000000000b",
        "/work/ci",
        99_999,
    );
    let out = crate::serve::push_cmd(&runner, &forged, &server, &ci_token)
        .env("POND_HOST", "ci-7")
        .output()
        .unwrap();
    assert_success(&out);
    drop(server);
    assert_eq!(
        stored_calls(&pond),
        before,
        "the pushed record moved the laptop's call"
    );
}

/// The `name=value` a sign-in's `Set-Cookie` sets.
fn set_cookie(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no Set-Cookie in {head}"))
}

fn sign_in(addr: &str, token: &str, extra: &[(&str, &str)]) -> crate::serve::Reply {
    let body = serde_json::json!({ "token": token }).to_string();
    let request = crate::serve::Request {
        method: "POST",
        path: "/web/signin",
        token: None,
        body: Some(("application/json", body.as_bytes())),
        headers: extra,
    };
    crate::serve::send(addr, &request)
}

#[test]
fn rule49_the_sign_in_cookie_is_a_session_that_ends_never_the_token() {
    let (pond, reader) = pond_and_reader("c9c9c9c9-0000-4000-8000-00000000000c");
    let other = token(&pond, "other", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let with_cookie =
        |cookie: &str| crate::serve::status_with(a, None, &[("Cookie", cookie)]).status;

    let signed = sign_in(a, &reader, &[]);
    assert_eq!(signed.status, 200, "{}", signed.body);
    let cookie = set_cookie(&signed.head);
    assert!(
        !cookie.contains(&reader),
        "the cookie carries the token: {cookie}"
    );
    assert!(
        cookie.starts_with("pond_session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    assert_eq!(with_cookie(&pair), 200);

    // Revoking the token ends the browser's session at once.
    pond.ok(&["token", "revoke", "reader"]);
    assert_eq!(with_cookie(&pair), 401);

    // Signing out ends it on the server, not only in the browser.
    let signed = sign_in(a, &other, &[]);
    let pair = set_cookie(&signed.head)
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(with_cookie(&pair), 200);
    let signout = crate::serve::Request {
        method: "POST",
        path: "/web/signout",
        token: None,
        body: None,
        headers: &[("Cookie", &pair)],
    };
    let out = crate::serve::send(a, &signout);
    assert_eq!(out.status, 204, "{}", out.body);
    assert_eq!(with_cookie(&pair), 401, "a signed-out session still works");

    // Behind TLS the cookie is a `__Host-` one, Secure.
    let signed = sign_in(a, &other, &[("X-Forwarded-Proto", "https")]);
    let cookie = set_cookie(&signed.head);
    assert!(
        cookie.starts_with("__Host-pond_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[test]
fn rule37_a_push_and_a_direct_sync_from_one_host_store_a_file_once() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    crate::serve::write_session(
        &src,
        "d4d4d4d4-0000-4000-8000-00000000000d",
        "/work/p",
        &["one", "two", "three"],
    );
    let ingest = token(&pond, "self", &["--scope", "ingest"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);

    // The direct sync reads the new file and stops before its commit.
    let pause = tempfile::tempdir().unwrap();
    let mut sync = pond
        .sync_cmd("claude-code", &src)
        .env("POND_PAUSE_AT", "sync-commit")
        .env("POND_PAUSE_DIR", pause.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !pause.path().join("sync-commit.paused").exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "the sync never stopped"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Meanwhile the same host pushes the same file to a server on the same
    // store.
    let push = crate::serve::push_cmd(&pond, &src, &server, &ingest)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(5));
    std::fs::write(pause.path().join("sync-commit.go"), b"").unwrap();
    assert!(sync.wait().unwrap().success(), "the direct sync failed");
    let pushed = push.wait_with_output().unwrap();
    assert!(pushed.status.success(), "the push failed");

    let (rt, store) = open_store(&pond.store_url, vec![]);
    let ids = crate::harness::column(&rt, &store, pond::store::TableKind::Raw, "id");
    crate::harness::unique(ids, "raw records");
}

/// A store written before database rows were attributed: every row of the
/// database carries its first session's label, as older ponds stored them.
fn label_every_database_row_with(pond: &Pond, session: &str) {
    let (rt, store) = open_store(&pond.store_url, vec![]);
    rt.block_on(store.update_where(
        pond::store::TableKind::Raw,
        "id LIKE '%:db:%'",
        &[("session_id", format!("'{session}'"))],
    ))
    .unwrap();
}

fn raw_text_of(pond: &Pond, session: &str) -> Option<String> {
    let out = pond
        .root
        .join(format!("export-{}", session.replace(':', "_")));
    let done = pond
        .output(&["export", session, "--raw", "--out", out.to_str().unwrap()])
        .status
        .success();
    done.then(|| std::fs::read_to_string(find_file(&out, "opencode.db.jsonl")).unwrap())
}

#[test]
fn rule44_erasing_a_session_of_an_older_stores_database_keeps_the_others_rows() {
    let pond = Pond::new();
    let src = two_project_database(&pond);
    pond.sync("opencode", &src);
    label_every_database_row_with(&pond, TEAM_A_SESSION);

    // Erasing the database's first session takes its rows and only them.
    let erased = pond.json(&["erase", TEAM_A_SESSION, "--yes", "--json"]);
    assert_eq!(erased["outcome"], "erased", "{erased}");
    assert!(
        !stored_raw_text(&pond).contains(TEAM_A_WORDS),
        "the erased session's rows stayed"
    );
    let kept = raw_text_of(&pond, TEAM_B_SESSION).expect("the other session still exports");
    assert!(
        kept.contains(TEAM_B_WORDS),
        "erasing one session took another's rows from their shared database"
    );

    // `pond repair` finds such labels and, outside a dry run, puts them right.
    label_every_database_row_with(&pond, TEAM_A_SESSION);
    let dry = pond.json(&["repair", "--dry-run", "--json"]);
    assert!(count(&dry, "database_rows_relabelled") > 0, "{dry}");
    let fixed = pond.json(&["repair", "--json"]);
    assert_eq!(
        count(&fixed, "database_rows_relabelled"),
        count(&dry, "database_rows_relabelled"),
        "{fixed}"
    );
    let repaired = pond.json(&["repair", "--json"]);
    assert_eq!(
        count(&repaired, "database_rows_relabelled"),
        0,
        "{repaired}"
    );
}
