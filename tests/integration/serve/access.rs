//! Who may ask what: tokens, scopes and limits, Host and Origin, readiness
//! before a sync, slow and oversized requests (rule 36).

use super::*;

#[test]
fn rule36_every_route_refuses_missing_wrong_and_out_of_scope_tokens() {
    let pond = two_team_pond();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let ingester = token(&pond, "ingester", &["--scope", "ingest"]);
    let team_a = project_token(&pond, "team-a", "read", "/work/team-a");
    let list = pond.ok(&["token", "list"]);
    assert!(list.contains("reader") && list.contains("team-a"), "{list}");
    let config = std::fs::read_to_string(pond.root.join("home/.config/pond/config.toml")).unwrap();
    for t in [&reader, &ingester, &team_a] {
        assert!(!config.contains(t.as_str()), "a token is stored in clear");
    }

    // Beyond loopback: tokens on every route. Logging at debug, so the test
    // also shows that no token reaches the log.
    let server = Server::start(&pond, "0.0.0.0:0", &["-vv"]);
    let a = server.addr.as_str();
    let mid = message_id(&pond, TEAM_A);
    let search = search_body("flaky retry");
    let init = mcp_initialize();
    let routes: Vec<(&str, String, Option<Body>)> = vec![
        ("GET", "/openapi.json".into(), None),
        (
            "POST",
            "/v1/search".into(),
            Some(("application/json", &search)),
        ),
        ("GET", "/v1/sessions".into(), None),
        ("GET", format!("/v1/sessions/{TEAM_A}"), None),
        ("GET", format!("/v1/messages/{}", encode(&mid)), None),
        ("GET", "/v1/status".into(), None),
        (
            "POST",
            "/v1/ingest?host=h&client=claude-code&root=/r".into(),
            Some(("application/octet-stream", b"")),
        ),
        ("POST", "/mcp".into(), Some(("application/json", &init))),
    ];
    for (method, path, body) in &routes {
        for presented in [None, Some("pond_not-a-real-token"), Some("")] {
            let r = http(a, method, path, presented, *body);
            assert_eq!(
                r.status, 401,
                "{method} {path} with {presented:?}: {}",
                r.body
            );
        }
        let with_reader = http(a, method, path, Some(&reader), *body);
        let with_ingester = http(a, method, path, Some(&ingester), *body);
        if path.starts_with("/v1/ingest") {
            assert_eq!(
                with_reader.status, 403,
                "read token on ingest: {}",
                with_reader.body
            );
            assert_eq!(with_ingester.status, 200, "{}", with_ingester.body);
        } else {
            assert_eq!(
                with_reader.status, 200,
                "{method} {path}: {}",
                with_reader.body
            );
            if *path != "/openapi.json" && *path != "/mcp" {
                assert_eq!(with_ingester.status, 403, "ingest token on {path}");
            }
        }
    }
    // Health probes say nothing about the archive and stay open for probes.
    assert_eq!(http(a, "GET", "/healthz", None, None).status, 200);
    assert_eq!(http(a, "GET", "/readyz", None, None).status, 200);

    // A token limited to team A sees only team A, whichever way it asks.
    let sessions = http(a, "GET", "/v1/sessions", Some(&team_a), None).json();
    let ids = field_of_each(&sessions["sessions"], "id");
    assert_eq!(ids, vec![key(TEAM_A)]);
    let hits = post_search(a, Some(&team_a), &search, &[]).json();
    let hit_sessions = field_of_each(&hits["hits"], "session_id");
    assert_eq!(hit_sessions, vec![key(TEAM_A)], "{hits}");
    let all_hits = post_search(a, Some(&reader), &search, &[]).json();
    assert_eq!(all_hits["hits"].as_array().unwrap().len(), 2, "{all_hits}");
    let other = format!("/v1/sessions/{TEAM_B}");
    assert_eq!(http(a, "GET", &other, Some(&team_a), None).status, 404);
    assert_eq!(http(a, "GET", &other, Some(&reader), None).status, 200);
    let other_message = format!("/v1/messages/{}", encode(&message_id(&pond, TEAM_B)));
    assert_eq!(
        http(a, "GET", &other_message, Some(&team_a), None).status,
        404
    );
    let status = http(a, "GET", "/v1/status", Some(&team_a), None).json();
    assert_eq!(status["sessions"], 1, "{status}");

    // Revoked: refused from the next request on, without a restart.
    pond.ok(&["token", "revoke", "team-a"]);
    assert_eq!(
        http(a, "GET", "/v1/sessions", Some(&team_a), None).status,
        401
    );
    assert_eq!(
        http(a, "GET", "/v1/sessions", Some(&reader), None).status,
        200
    );

    let log = server.log();
    assert!(log.contains("token=reader"), "debug logging is on: {log}");
    for t in [&reader, &ingester, &team_a] {
        assert!(!log.contains(t.as_str()), "a token reached the log");
    }
}

#[test]
fn rule36_beyond_loopback_a_server_without_tokens_refuses_to_start() {
    let pond = two_team_pond();
    let out = pond.output(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without tokens"), "{stderr}");

    // On loopback with no tokens configured, the local user needs none.
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let r = http(&server.addr, "GET", "/v1/status", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sessions"], 2);
}

/// `POST /v1/search` with a JSON `body` as `token`, plus `headers`: the read
/// route most of these checks probe.
fn post_search(a: &str, token: Option<&str>, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    let request = Request {
        method: "POST",
        path: "/v1/search",
        token,
        body: Some(("application/json", body)),
        headers,
    };
    send(a, &request)
}

/// `GET /v1/status` as `token` with `host` as the Host header: how a request
/// names the server it is meant for.
fn status_naming(a: &str, token: Option<&str>, host: &str) -> Reply {
    status_with(a, token, &[("Host", host)])
}

#[test]
fn rule36_a_server_answers_only_requests_naming_it() {
    let (pond, server) = two_team_server();
    let a = server.addr.as_str();
    let port = a.rsplit(':').next().unwrap();
    let status = |host: &str| status_naming(a, None, host);
    for ours in [
        a.to_string(),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
    ] {
        let r = status(&ours);
        assert_eq!(r.status, 200, "{ours}: {}", r.body);
    }
    // A name someone else pointed at 127.0.0.1 (DNS rebinding), a port this
    // server does not listen on, or no port at all (80).
    for foreign in [
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        "evil.example".to_string(),
        "127.0.0.1:1".to_string(),
        "localhost".to_string(),
    ] {
        let r = status(&foreign);
        assert_eq!(r.status, 403, "{foreign}: {}", r.body);
        assert!(!r.body.contains("sessions"), "{foreign}: {}", r.body);
    }
    let search = search_body("flaky retry");
    let r = post_search(
        a,
        None,
        &search,
        &[("Host", &format!("evil.example:{port}"))],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    drop(server);

    // Listening on every address: any of the machine's addresses, no name.
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "0.0.0.0:0", &[]);
    let a = server.addr.as_str();
    let port = a.rsplit(':').next().unwrap();
    let by_address = format!("192.0.2.7:{port}");
    let r = status_naming(a, Some(&reader), &by_address);
    assert_eq!(r.status, 200, "{}", r.body);
    let by_name = format!("pond.evil.example:{port}");
    let r = status_naming(a, Some(&reader), &by_name);
    assert_eq!(r.status, 403, "{}", r.body);
}

#[test]
fn rule36_a_request_from_another_sites_page_is_refused() {
    let (_pond, server) = two_team_server();
    let a = server.addr.as_str();
    let own = format!("http://{a}");
    let search = search_body("flaky retry");
    let ingest = "/v1/ingest?host=test-host&client=claude-code&root=/r";
    // What any page may send without asking: a text/plain POST, or a GET.
    let requests: Vec<(&str, &str, Option<Body>)> = vec![
        ("GET", "/v1/status", None),
        ("POST", "/v1/search", Some(("text/plain", &search))),
        ("POST", "/v1/search", Some(("application/json", &search))),
        ("POST", ingest, Some(("text/plain", b""))),
        ("POST", ingest, Some((OCTETS, b""))),
    ];
    for (method, path, body) in &requests {
        for origin in [
            "http://evil.example",
            "https://evil.example",
            "null",
            "http://localhost",
        ] {
            let request = Request {
                method,
                path,
                token: None,
                body: *body,
                headers: &[("Origin", origin)],
            };
            let r = send(a, &request);
            assert_eq!(r.status, 403, "{method} {path} from {origin}: {}", r.body);
            assert!(!r.body.contains("sessions"), "{}", r.body);
        }
    }
    // The server's own origin passes.
    let r = status_with(a, None, &[("Origin", &own)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post_search(a, None, &search, &[("Origin", &own)]);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn rule36_ingest_takes_only_the_content_type_pond_sync_to_sends() {
    let pond = Pond::new();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let path = "/v1/ingest?host=test-host&client=claude-code&root=/r";
    for ctype in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json",
        "",
    ] {
        let r = http(a, "POST", path, None, Some((ctype, b"")));
        assert_eq!(r.status, 415, "{ctype:?}: {}", r.body);
        assert!(r.body.contains(OCTETS), "{}", r.body);
    }
    for ctype in [OCTETS, "Application/Octet-Stream; charset=binary"] {
        let r = http(a, "POST", path, None, Some((ctype, b"")));
        assert_eq!(r.status, 200, "{ctype:?}: {}", r.body);
    }
}

#[test]
fn rule36_a_token_created_while_the_server_runs_is_required_from_the_next_request() {
    let (pond, server) = two_team_server();
    let a = server.addr.as_str();
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 200);

    let reader = token(&pond, "reader", &["--scope", "read"]);
    let r = http(a, "GET", "/v1/status", None, None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(http(a, "GET", "/v1/sessions", None, None).status, 401);
    assert_eq!(
        http(a, "GET", "/v1/status", Some(&reader), None).status,
        200
    );

    // Once required, always required (issue 31): revoking the last token
    // closes the server rather than opening it to every local program.
    pond.ok(&["token", "revoke", "reader"]);
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 401);
}

#[test]
fn rule36_a_project_prefix_does_not_grant_a_sibling_whose_name_starts_alike() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    let exact = "a0a0a0a0-0000-4000-8000-000000000005";
    let sibling = "abababab-0000-4000-8000-000000000006";
    write_session(&src, TEAM_A, "/work/team-a/api", &["shared word below"]);
    write_session(&src, exact, "/work/team-a", &["shared word at"]);
    write_session(&src, sibling, "/work/team-ab", &["shared word beside"]);
    pond.sync("claude-code", &src);
    let team_a = project_token(&pond, "team-a", "read", "/work/team-a");
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();

    let listed = http(a, "GET", "/v1/sessions", Some(&team_a), None).json();
    let mut ids = field_of_each(&listed["sessions"], "id");
    ids.sort();
    assert_eq!(ids, vec![key(exact), key(TEAM_A)], "{listed}");
    let body = search_body("shared word");
    let hits = post_search(a, Some(&team_a), &body, &[]).json();
    let mut found = field_of_each(&hits["hits"], "session_id");
    found.sort();
    assert_eq!(found, vec![key(exact), key(TEAM_A)], "{hits}");
    let r = http(
        a,
        "GET",
        &format!("/v1/sessions/{sibling}"),
        Some(&team_a),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let message = format!("/v1/messages/{}", encode(&message_id(&pond, sibling)));
    assert_eq!(http(a, "GET", &message, Some(&team_a), None).status, 404);
    let status = http(a, "GET", "/v1/status", Some(&team_a), None).json();
    assert_eq!(status["sessions"], 2, "{status}");
}

#[test]
fn rule36_readyz_tells_an_anonymous_caller_nothing_about_the_store() {
    let (pond, server) = two_team_server();
    let a = server.addr.as_str();
    assert_eq!(http(a, "GET", "/readyz", None, None).status, 200);

    // The store goes away; within the server's freshness window (5 s) a
    // read notices.
    std::fs::remove_dir_all(&pond.store).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let r = loop {
        let r = http(a, "GET", "/readyz", None, None);
        if r.status != 200 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json(), json!({"error": "not ready"}));
    let root = pond.root.to_string_lossy().into_owned();
    assert!(!r.body.contains(&root), "{}", r.body);

    // The operator finds the reason in the server's log.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains("not ready") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = server.log();
    assert!(log.contains("not ready") && log.contains("failed"), "{log}");
}

#[test]
fn rule36_a_read_token_is_refused_before_its_request_is_read() {
    let pond = Pond::new();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let ingester = token(&pond, "ingester", &["--scope", "ingest"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    for path in [
        "/v1/ingest",
        "/v1/ingest?bogus=1",
        "/v1/ingest?host=h&client=claude-code&root=/r&sync=maybe",
    ] {
        let r = http(a, "POST", path, Some(&reader), Some((OCTETS, b"")));
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        let r = http(a, "POST", path, Some(&reader), Some(("text/plain", b"")));
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        // The right scope is told what is wrong with the request.
        let r = http(a, "POST", path, Some(&ingester), Some((OCTETS, b"")));
        assert_eq!(r.status, 400, "{path}: {}", r.body);
    }
    // Likewise an ingest token on a read route.
    let r = post_search(a, Some(&ingester), b"{not json", &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = http(a, "GET", "/v1/sessions?limit=-1", Some(&ingester), None);
    assert_eq!(r.status, 403, "{}", r.body);
}

#[test]
fn rule36_token_changes_at_once_keep_every_token() {
    let pond = Pond::new();
    token(&pond, "first", &["--scope", "read"]);
    let config = pond.root.join("home/.config/pond/config.toml");
    assert!(config.is_file(), "the token file is {}", config.display());

    // While another process holds the token file's lock, nobody writes it.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(config.with_file_name("config.toml.lock"))
        .unwrap();
    held.lock().unwrap();
    let mut creating: Vec<Child> = (0..4)
        .map(|i| {
            pond.cmd(&["token", "create", &format!("t{i}"), "--scope", "read"])
                .args(["--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    for child in &mut creating {
        assert!(
            child.try_wait().unwrap().is_none(),
            "`pond token create` wrote the token file while its lock was held"
        );
    }
    held.unlock().unwrap();

    // Then all of them, at once: each keeps its token.
    let mut tokens = Vec::new();
    for child in creating {
        let out = child.wait_with_output().unwrap();
        crate::harness::assert_success(&out);
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        tokens.push(created["token"].as_str().unwrap().to_string());
    }
    let listed = pond.json(&["token", "list", "--json"]);
    let mut names = field_of_each(&listed, "name");
    names.sort();
    assert_eq!(names, ["first", "t0", "t1", "t2", "t3"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    for t in &tokens {
        assert_eq!(
            http(&server.addr, "GET", "/v1/status", Some(t), None).status,
            200
        );
    }
}

#[test]
fn rule36_allow_host_names_the_server_for_its_clients() {
    let pond = two_team_pond();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "0.0.0.0:0", &["--allow-host", "pond.internal"]);
    let a = server.addr.as_str();
    for host in ["pond.internal", "pond.internal:8443", "POND.INTERNAL."] {
        let r = status_naming(a, Some(&reader), host);
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
    let r = status_naming(a, Some(&reader), "other.internal");
    assert_eq!(r.status, 403, "{}", r.body);
    let out = pond.output(&["serve", "--allow-host", "a b"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-host"));
}

#[test]
fn rule36_serve_started_before_any_sync_is_not_ready_and_answers_empty() {
    let pond = Pond::new();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    assert_eq!(http(a, "GET", "/readyz", None, None).status, 503);
    let listed = http(a, "GET", "/v1/sessions", None, None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["total"], 0, "{}", listed.body);
    assert!(
        !pond.store.exists(),
        "reading must not create the store: {}",
        pond.store.display()
    );

    pond.sync("codex", &fixtures("codex"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = http(a, "GET", "/v1/sessions", None, None).json();
        if listed["total"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new store is never served"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(http(a, "GET", "/readyz", None, None).status, 200);
}

#[test]
fn rule36_a_client_sending_its_request_head_slowly_is_cut_off_while_others_are_served() {
    let (_pond, server) = two_team_server();
    let a = server.addr.as_str();
    let mut slow = connect(a);
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nHost: ")
        .unwrap();
    let started = std::time::Instant::now();
    // Meanwhile others are answered.
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 200);
    // One byte every second never completes the head within its deadline.
    let mut cut = false;
    for byte in a.bytes().cycle().take(60) {
        std::thread::sleep(Duration::from_secs(1));
        if slow.write_all(&[byte]).is_err() {
            cut = true;
            break;
        }
        let mut probe = [0u8; 1];
        slow.set_nonblocking(true).unwrap();
        let closed = matches!(slow.read(&mut probe), Ok(0));
        slow.set_nonblocking(false).unwrap();
        if closed {
            cut = true;
            break;
        }
    }
    assert!(cut, "the slow client still holds its connection");
    assert!(started.elapsed() < Duration::from_secs(40));
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 200);
}

#[test]
fn rule36_an_oversized_mcp_request_is_refused_before_it_is_read() {
    let (_pond, server) = two_team_server();
    let a = server.addr.as_str();
    let big = vec![b' '; 2 << 20];
    // The server may answer and close as soon as it has read the length,
    // while the body is still being sent: a write error here is that.
    let mut stream = connect(a);
    let head = post_head(a, "/mcp", ("application/json", &big));
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(&big);
    let r = read_reply(stream);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 200);
}

/// A Claude Code session under `cwd` whose assistant answers `text` with one
/// priced model call.
fn write_session_with_a_call(dir: &Path, id: &str, cwd: &str, text: &str) {
    let project = dir.join(cwd.replace('/', "-"));
    std::fs::create_dir_all(&project).unwrap();
    let records = [
        json!({"type": "user", "uuid": format!("{}-0000-u", &id[..8]), "sessionId": id,
            "timestamp": "2026-03-01T10:00:00Z", "cwd": cwd,
            "message": {"role": "user", "content": format!("{text} (question)")}}),
        json!({"type": "assistant", "uuid": format!("{}-0000-a", &id[..8]), "sessionId": id,
            "timestamp": "2026-03-01T10:00:05Z", "cwd": cwd, "requestId": format!("req_{}", &id[..8]),
            "message": {"role": "assistant", "id": format!("msg_{}", &id[..8]),
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": format!("answer about {text}")}],
                "usage": {"input_tokens": 1000, "output_tokens": 200}}}),
    ];
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(project.join(format!("{id}.jsonl")), lines).unwrap();
}

#[test]
fn rule55_a_stats_token_reads_totals_and_no_text() {
    let pond = Pond::new();
    let src = pond.root.join("src");
    const SECRET_WORD: &str = "quokkaplan";
    write_session_with_a_call(&src, TEAM_A, "/work/team-a/payments-rewrite", SECRET_WORD);
    write_session_with_a_call(&src, TEAM_B, "/work/team-b/web", SECRET_WORD);
    pond.sync("claude-code", &src);
    let stats = token(&pond, "lead", &["--scope", "stats"]);
    let team_stats = project_token(&pond, "lead-a", "stats", "/work/team-a");
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let mid = encode(&message_id(&pond, TEAM_A));
    let search = search_body(SECRET_WORD);

    // Every route that carries text refuses it, before reading the request.
    for (method, path, body) in [
        (
            "POST",
            "/v1/search".to_string(),
            Some(("application/json", &search[..])),
        ),
        ("GET", "/v1/sessions".to_string(), None),
        ("GET", format!("/v1/sessions/{TEAM_A}"), None),
        ("GET", format!("/v1/sessions/{TEAM_A}/raw"), None),
        ("GET", format!("/v1/messages/{mid}"), None),
        ("GET", format!("/v1/messages/{mid}/images/0"), None),
        (
            "POST",
            "/v1/ingest?host=h&client=claude-code&root=/r".to_string(),
            Some((OCTETS, &b""[..])),
        ),
        (
            "POST",
            "/v1/erase".to_string(),
            Some(("application/json", &b"{}"[..])),
        ),
    ] {
        for t in [&stats, &team_stats] {
            let r = http(a, method, &path, Some(t), body);
            assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
            assert!(!r.body.contains(SECRET_WORD), "{path}: {}", r.body);
        }
    }

    // The totals routes answer, and hold no text of a session.
    let totals = [
        "/v1/status",
        "/v1/usage?by=project,model",
        "/v1/usage?by=session",
        "/v1/runs",
        "/metrics",
        "/v1/me",
    ];
    for path in totals {
        for t in [&stats, &team_stats] {
            let r = http(a, "GET", path, Some(t), None);
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            assert!(!r.body.contains(SECRET_WORD), "{path}: {}", r.body);
        }
    }
    let me = http(a, "GET", "/v1/me", Some(&stats), None).json();
    assert_eq!(me["scope"], "stats");

    // The whole fleet's lead sees both teams' spend and counts.
    let all = http(a, "GET", "/v1/usage?by=project", Some(&stats), None).json();
    let projects = field_of_each(&all["rows"], "project");
    assert_eq!(
        projects,
        ["/work/team-a/payments-rewrite", "/work/team-b/web"]
    );
    assert_eq!(
        http(a, "GET", "/v1/status", Some(&stats), None).json()["sessions"],
        2
    );

    // Team A's lead sees team A's totals under the team's own name: no path
    // below its limit, and no filter that would probe for one.
    let team = http(a, "GET", "/v1/usage?by=project", Some(&team_stats), None).json();
    assert_eq!(team["rows"].as_array().unwrap().len(), 1, "{team}");
    assert_eq!(team["rows"][0]["project"], "/work/team-a", "{team}");
    assert_eq!(team["totals"]["calls"], 1, "{team}");
    for path in ["/v1/usage?by=project", "/metrics", "/v1/status"] {
        let body = http(a, "GET", path, Some(&team_stats), None).body;
        assert!(!body.contains("payments-rewrite"), "{path}: {body}");
        assert!(!body.contains("team-b"), "{path}: {body}");
    }
    let probe = http(
        a,
        "GET",
        "/v1/usage?project=payments",
        Some(&team_stats),
        None,
    );
    assert_eq!(probe.status, 403, "{}", probe.body);
    assert_eq!(
        http(a, "GET", "/v1/status", Some(&team_stats), None).json()["sessions"],
        1
    );

    // Over MCP: usage and status answer; every tool that reads text says
    // it may not, as a result the agent can read.
    let calls = json!([
        {"tool": "usage", "arguments": {"by": "project"}},
        {"tool": "status", "arguments": {}},
        {"tool": "search", "arguments": {"query": SECRET_WORD, "mode": "fts"}},
        {"tool": "list_sessions", "arguments": {}},
        {"tool": "get_session", "arguments": {"id": TEAM_A}},
        {"tool": "get_message", "arguments": {"id": message_id(&pond, TEAM_A)}},
    ]);
    let url = format!("{}/mcp", server.url());
    let out = mcp_client(&pond, &calls, &["--http", &url, "--token", &team_stats]);
    let r = out["results"].as_array().unwrap();
    assert_eq!(r[0]["is_error"], false, "{}", r[0]);
    assert_eq!(result_json(&r[0])["rows"][0]["project"], "/work/team-a");
    assert_eq!(r[1]["is_error"], false, "{}", r[1]);
    for refused in &r[2..] {
        assert_eq!(refused["is_error"], true, "{refused}");
        assert!(
            refused["text"].as_str().unwrap().contains("totals only"),
            "{refused}"
        );
    }
    assert!(!out.to_string().contains(SECRET_WORD), "{out}");
}
