//! Remote ingest and uploads: a push is a sync, two uploads never meet, a
//! stalled or late upload is stopped while others are served (rule 37).

use super::*;

#[test]
fn rule37_remote_ingest_from_another_process_equals_a_direct_sync() {
    let src = crate::harness::fixtures("claude-code");
    // The direct way: this host syncs into its own store.
    let direct = Pond::new();
    direct.sync("claude-code", &src);

    // The remote way: a server with its own store, and a host without one.
    let server_pond = Pond::new();
    let ingest = token(
        &server_pond,
        "ci-hosts",
        &["--scope", "ingest", "--host-prefix", "test-"],
    );
    let server = Server::start(&server_pond, "127.0.0.1:0", &[]);
    let host = Pond::new();
    let push = |token: &str| {
        let out = push_cmd(&host, &src, &server, token).output().unwrap();
        crate::harness::assert_success(&out);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = push(&ingest);
    assert!(first["files_sent"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(
        first["messages_inserted"],
        crate::harness::count(&direct.json(&["status", "--json"]), "messages"),
        "{first}"
    );

    // The same sessions, messages and bytes as the direct sync.
    assert_eq!(
        server_pond.json(&["sessions", "--json", "--limit", "1000"]),
        direct.json(&["sessions", "--json", "--limit", "1000"])
    );
    for id in direct.session_ids() {
        assert_eq!(
            server_pond.json(&["show", &id, "--json"]),
            direct.json(&["show", &id, "--json"]),
            "{id}"
        );
    }
    let (a, b) = (direct.root.join("export"), server_pond.root.join("export"));
    direct.export_all(&a);
    server_pond.export_all(&b);
    assert_eq!(crate::harness::tree(&a), crate::harness::tree(&b));
    crate::harness::assert_same_tree(&src, &b);

    // Pushing again sends nothing; touching every file and pushing stores nothing new.
    let again = push(&ingest);
    assert_eq!(again["files_sent"], 0, "{again}");
    std::fs::remove_file(
        host.state
            .join("pond")
            .read_dir()
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("pushed-"))
            .expect("push record")
            .path(),
    )
    .unwrap();
    let resent = push(&ingest);
    assert!(resent["files_sent"].as_u64().unwrap() > 0);
    assert_eq!(resent["messages_inserted"], 0, "{resent}");

    // A read token cannot push; an ingest token cannot push for another host.
    let reader = token(&server_pond, "reader", &["--scope", "read"]);
    let refused_push = |as_host: &str, token: &str| {
        let out = push_cmd(&host, &src, &server, token)
            .env("POND_HOST", as_host)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{as_host} was let in");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = refused_push("test-host-2", &reader);
    assert!(stderr.contains("403"), "{stderr}");
    let stderr = refused_push("laptop-9", &ingest);
    assert!(stderr.contains("may not ingest for host"), "{stderr}");
}

/// Every file below `dir` (none when it does not exist), for watching a
/// server's spool while it works.
fn paths_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

fn is_upload_in_progress(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().contains(".upload-"))
}

/// `/v1/ingest` of one Claude Code file of `host`, from a made-up root.
fn ingest_path(host: &str, rel: &str) -> String {
    format!("/v1/ingest?host={host}&client=claude-code&root=/home/u/.claude/projects&path={rel}")
}

/// Where [`write_session`] puts a session's file, relative to its directory.
fn session_file(id: &str, cwd: &str) -> String {
    format!("{}/{id}.jsonl", cwd.replace('/', "-"))
}

#[test]
fn rule37_two_uploads_of_one_path_never_touch_each_others_files() {
    let pond = Pond::new();
    let spool = pond.root.join("spool");
    let server = Server::start(
        &pond,
        "127.0.0.1:0",
        &["--spool", spool.to_str().unwrap(), "--max-upload", "4096"],
    );
    let a = server.addr.as_str();
    let src = pond.root.join("src");
    let id = "cccccccc-0000-4000-8000-000000000003";
    write_session(
        &src,
        id,
        "/work/team-c/api",
        &["upload race", "second turn"],
    );
    let rel = session_file(id, "/work/team-c/api");
    let good = std::fs::read(src.join(&rel)).unwrap();
    assert!(good.len() < 4096, "the good file must fit the limit");
    let path = ingest_path("test-host", &rel);

    // The good upload starts and stalls halfway, its file open on the server.
    let mut slow = connect(a);
    let head = post_head(a, &path, (OCTETS, &good));
    slow.write_all(head.as_bytes()).unwrap();
    let half = good.len() / 2;
    slow.write_all(&good[..half]).unwrap();
    slow.flush().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !paths_under(&spool).iter().any(|p| is_upload_in_progress(p)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never started writing the upload"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Meanwhile an upload of the same path that is too large is refused.
    let big = vec![b'x'; 5000];
    let refused = http(a, "POST", &path, None, Some((OCTETS, &big)));
    assert_eq!(refused.status, 413, "{}", refused.body);

    // The good one finishes, whole, and is ingested as sent.
    slow.write_all(&good[half..]).unwrap();
    let reply = read_reply(slow);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer["stored"]["bytes"], good.len(), "{answer}");
    assert_eq!(answer["sync"]["messages_inserted"], 4, "{answer}");
    let left = paths_under(&spool);
    assert!(
        !left.iter().any(|p| is_upload_in_progress(p)),
        "temporary files left behind: {left:?}"
    );
    let kept: Vec<&PathBuf> = left
        .iter()
        .filter(|p| p.ends_with(Path::new(&rel)))
        .collect();
    assert_eq!(kept.len(), 1, "{left:?}");
    assert_eq!(std::fs::read(kept[0]).unwrap(), good);
    let out = pond.root.join("export");
    pond.export_all(&out);
    crate::harness::assert_same_tree(&src, &out);
}

#[test]
fn rule37_an_ingest_token_cannot_change_a_session_of_a_host_outside_its_limit() {
    let pond = Pond::new();
    let cwd = "/work/team-a/api";
    let laptop = pond.root.join("laptop");
    write_session(&laptop, TEAM_A, cwd, &["laptop one", "laptop two"]);
    let synced = pond
        .sync_cmd("claude-code", &laptop)
        .env("POND_HOST", "laptop")
        .output()
        .unwrap();
    crate::harness::assert_success(&synced);
    let ci = token(
        &pond,
        "ci-push",
        &["--scope", "ingest", "--host-prefix", "ci-"],
    );
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();

    // The laptop's session, one exchange longer, sent as a CI host.
    let forged = pond.root.join("forged");
    write_session(
        &forged,
        TEAM_A,
        cwd,
        &["laptop one", "laptop two", "from ci"],
    );
    let rel = session_file(TEAM_A, cwd);
    let bytes = std::fs::read(forged.join(&rel)).unwrap();
    let path = ingest_path("ci-7", &rel);
    let r = http(a, "POST", &path, Some(&ci), Some((OCTETS, &bytes)));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(TEAM_A), "{}", r.body);
    let later = format!("{path}&sync=false");
    let r = http(a, "POST", &later, Some(&ci), Some((OCTETS, &bytes)));
    assert_eq!(r.status, 403, "{}", r.body);
    // Nothing of it waits in the mirror for the next ingest either.
    let run = "/v1/ingest?host=ci-7&client=claude-code&root=/home/u/.claude/projects";
    let r = http(a, "POST", run, Some(&ci), Some((OCTETS, b"")));
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = pond.json(&["show", TEAM_A, "--json"]);
    assert_eq!(shown["session"]["host"], "laptop", "{shown}");
    assert_eq!(shown["messages"].as_array().unwrap().len(), 4, "{shown}");

    // Its own hosts' sessions it sends, and adds to, as before.
    let ci_cwd = "/work/ci/build";
    let ci_path = ingest_path("ci-7", &session_file(TEAM_B, ci_cwd));
    let ci_file = forged.join(session_file(TEAM_B, ci_cwd));
    // Sent once, then again after it grows.
    let rounds: [&[&str]; 2] = [&["ci run"], &["ci run", "ci rerun"]];
    for texts in rounds {
        write_session(&forged, TEAM_B, ci_cwd, texts);
        let sent = std::fs::read(&ci_file).unwrap();
        let r = http(a, "POST", &ci_path, Some(&ci), Some((OCTETS, &sent)));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let shown = pond.json(&["show", TEAM_B, "--json"]);
    assert_eq!(shown["session"]["host"], "ci-7", "{shown}");
    assert_eq!(shown["messages"].as_array().unwrap().len(), 4, "{shown}");
}

#[test]
fn rule37_an_upload_that_stalls_is_refused_while_others_are_served() {
    let (_pond, server) = two_team_server();
    let a = server.addr.as_str();
    let path = "/v1/ingest?client=codex&host=stalled&root=/r&path=x.jsonl&sync=false";
    let mut head = post_head(a, path, ("application/octet-stream", b""));
    // Promise a body, send a little of it, then nothing.
    head = head.replace("Content-Length: 0", "Content-Length: 100000");
    let mut stalled = connect(a);
    stalled.write_all(head.as_bytes()).unwrap();
    stalled.write_all(b"{\"type\":\"session_meta\"").unwrap();
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 200);
    let reply = read_reply(stalled);
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(reply.body.contains("stalled"), "{}", reply.body);
}

#[test]
fn rule37_an_ingest_past_its_deadline_is_stopped_and_sending_again_finishes_it() {
    let pond = Pond::new();
    let file = walk_jsonl(&fixtures("codex"));
    let bytes = std::fs::read(&file).unwrap();
    let path = "/v1/ingest?client=codex&host=ci-1&root=/r&path=rollout.jsonl";
    let send = |server: &Server| {
        let r = http(
            server.addr.as_str(),
            "POST",
            path,
            None,
            Some(("application/octet-stream", &bytes)),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    {
        let hurried = Server::start(&pond, "127.0.0.1:0", &["--ingest-deadline", "1ms"]);
        let answer = send(&hurried);
        assert_eq!(answer["sync"]["outcome"], "failed", "{answer}");
        let error = answer["sync"]["error"].as_str().unwrap();
        assert!(error.contains("deadline"), "{error}");
        assert_eq!(
            http(hurried.addr.as_str(), "GET", "/healthz", None, None).status,
            200
        );
    }
    let patient = Server::start(&pond, "127.0.0.1:0", &[]);
    let answer = send(&patient);
    assert_eq!(answer["sync"]["outcome"], "ok", "{answer}");
    let sessions = pond.json(&["sessions", "--json"]);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert!(sessions[0]["messages"].as_u64().unwrap() > 0, "{sessions}");
}

/// The first JSON-lines file under `dir`.
fn walk_jsonl(dir: &Path) -> PathBuf {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a JSON-lines fixture")
}

/// Every file under `dir` whose name is `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    paths_under(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == name))
        .collect()
}

#[test]
fn rule37_a_file_that_grew_is_pushed_as_its_new_bytes() {
    let id = "cccccccc-0000-4000-8000-000000000003";
    let server_pond = Pond::new();
    let server = Server::start(&server_pond, "127.0.0.1:0", &[]);
    let host = Pond::new();
    let src = host.root.join("src");
    let texts: Vec<String> = (0..40).map(|i| format!("growing note {i}")).collect();
    let write = |n: usize| {
        let texts: Vec<&str> = texts[..n].iter().map(String::as_str).collect();
        write_session(&src, id, "/work/grow", &texts);
    };
    let push = || {
        host.json(&[
            "sync",
            "claude-code",
            "--path",
            src.to_str().unwrap(),
            "--to",
            &server.url(),
            "--json",
        ])
    };
    let file = src.join("-work-grow").join(format!("{id}.jsonl"));

    write(20);
    let first = push();
    let whole = std::fs::metadata(&file).unwrap().len();
    assert_eq!(first["bytes_sent"], whole, "{first}");
    assert_eq!(first["files_appended"], 0, "{first}");

    // It grew: only the new bytes go, and the server ingests them.
    write(30);
    let grown = std::fs::metadata(&file).unwrap().len();
    let second = push();
    assert_eq!(second["files_appended"], 1, "{second}");
    assert_eq!(second["bytes_sent"], grown - whole, "{second}");
    assert_eq!(second["messages_inserted"], 20, "{second}");

    // The server's copy is not what this host sent last (lost, or another
    // sender's): it answers 409 and the whole file goes.
    let held = find_named(&server_pond.state, &format!("{id}.jsonl"));
    assert_eq!(held.len(), 1, "{held:?}");
    std::fs::write(&held[0], b"").unwrap();
    write(40);
    let third = push();
    assert_eq!(third["files_appended"], 0, "{third}");
    assert_eq!(
        third["bytes_sent"],
        std::fs::metadata(&file).unwrap().len(),
        "{third}"
    );

    // The archive holds the file exactly, as a direct sync would.
    let direct = Pond::new();
    direct.sync("claude-code", &src);
    assert_eq!(
        server_pond.json(&["show", id, "--json"]),
        direct.json(&["show", id, "--json"])
    );
    let out = server_pond.root.join("export");
    server_pond.ok(&["export", id, "--raw", "--out", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(out.join("-work-grow").join(format!("{id}.jsonl"))).unwrap(),
        std::fs::read(&file).unwrap()
    );
}
