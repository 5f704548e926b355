//! `pond serve` and `pond mcp` from the outside: real servers on loopback,
//! real HTTP, the official MCP Python SDK as the client, schemathesis
//! against the OpenAPI document (rules 33, 35–38).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Pond, fixtures};

/// A `pond serve` child, killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Everything the server wrote to stderr so far.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `pond serve --listen LISTEN ARGS` and waits for its
    /// "serving … on http://ADDR" line.
    pub fn start(pond: &Pond, listen: &str, args: &[&str]) -> Server {
        let mut all = vec!["serve", "--listen", listen];
        all.extend_from_slice(args);
        Server::spawn(pond.cmd(&all))
    }

    /// Starts a `pond serve` command built by the caller.
    pub fn spawn(mut command: std::process::Command) -> Server {
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn pond serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            let mut seen = String::new();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(at) = line.find("on http://") {
                    let rest = &line[at + "on http://".len()..];
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(Ok(addr));
                    // Keep draining so the server never blocks on a full pipe.
                    for line in lines.by_ref().map_while(Result::ok) {
                        let mut log = sink.lock().unwrap();
                        log.push_str(&line);
                        log.push('\n');
                    }
                    return;
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            let _ = tx.send(Err(seen));
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(stderr)) => panic!("pond serve exited: {stderr}"),
            Err(_) => panic!("pond serve did not start within 120 s"),
        };
        let port = addr.rsplit(':').next().expect("port");
        Server {
            child,
            addr: format!("127.0.0.1:{port}"),
            log,
        }
    }

    /// The server's log after its start line.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub struct Reply {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    pub body: String,
    /// The body's bytes (for binary answers), de-chunked.
    pub raw_body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A request body and its content type.
type Body<'a> = (&'a str, &'a [u8]);

/// One HTTP/1.1 request on a fresh connection.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Reply {
    http_with(addr, method, path, token, body, &[])
}

/// [`http`] with more headers; a `Host` among them replaces the usual one.
pub fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut stream = connect(addr);
    let head = request_head(addr, method, path, token, body, headers);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.map_or(&b""[..], |(_, b)| b)).unwrap();
    read_reply(stream)
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream
}

/// The request line and headers, up to the body. An empty content type
/// sends none, as a page's POST without a body does.
fn request_head(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
    headers: &[(&str, &str)],
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    head.push_str("Connection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    // The MCP endpoint wants both; the others ignore them.
    head.push_str("Accept: application/json, text/event-stream\r\n");
    let (ctype, bytes) = body.unwrap_or(("application/json", b""));
    if body.is_some() || method == "POST" {
        if !ctype.is_empty() {
            head.push_str(&format!("Content-Type: {ctype}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
    }
    head.push_str("\r\n");
    head
}

/// Reads the whole answer. A server refusing a body it has not read may
/// reset the connection after answering; what came before the reset counts.
fn read_reply(mut stream: TcpStream) -> Reply {
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        assert!(!raw.is_empty(), "no answer: {e}");
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let sent = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(Vec::new, |at| raw[at + 4..].to_vec());
    let raw_body = if chunked { dechunk(&sent) } else { sent };
    Reply {
        status,
        head: head.to_string(),
        body: if chunked {
            String::from_utf8_lossy(&raw_body).into_owned()
        } else {
            rest.to_string()
        },
        raw_body,
    }
}

/// The body of a chunked answer, byte for byte.
fn dechunk(mut sent: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = sent.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&sent[..eol])
            .ok()
            .and_then(|line| line.split(';').next())
            .and_then(|hex| usize::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        let data = &sent[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        sent = data[size..].strip_prefix(b"\r\n").unwrap_or(&data[size..]);
    }
    out
}

/// Writes a Claude Code session: one user and one assistant message per text.
pub fn write_session(dir: &Path, id: &str, cwd: &str, texts: &[&str]) {
    let project = dir.join(cwd.replace('/', "-"));
    std::fs::create_dir_all(&project).unwrap();
    let mut lines = String::new();
    for (i, text) in texts.iter().enumerate() {
        for (j, role) in ["user", "assistant"].iter().enumerate() {
            let content = if *role == "user" {
                json!(format!("{text} (question {i})"))
            } else {
                json!([{"type": "text", "text": format!("answer {i} about {text}")}])
            };
            let record = json!({
                "type": role,
                "uuid": format!("{}-{i:04}-{j}", &id[..8]),
                "sessionId": id,
                "timestamp": format!("2026-03-0{}T10:{i:02}:0{j}Z", 1 + i % 9),
                "cwd": cwd,
                "message": {"role": role, "content": content},
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
        }
    }
    std::fs::write(project.join(format!("{id}.jsonl")), lines).unwrap();
}

const TEAM_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const TEAM_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";

/// The store's key for a Claude Code session id (rule 40).
fn key(id: &str) -> String {
    format!("claude-code:{id}")
}

/// A store with one session of team A and one of team B.
fn two_team_pond() -> Pond {
    let pond = Pond::new();
    let src = pond.root.join("src");
    write_session(
        &src,
        TEAM_A,
        "/work/team-a/api",
        &["flaky retry in the payment client", "zebra migration plan"],
    );
    write_session(
        &src,
        TEAM_B,
        "/work/team-b/web",
        &["flaky retry in the checkout page", "zebra rollout"],
    );
    pond.sync("claude-code", &src);
    pond
}

/// `pond sync claude-code --path SRC --to SERVER --token TOKEN --json`,
/// run as `pond`'s host.
pub(crate) fn push_cmd(
    pond: &Pond,
    src: &Path,
    server: &Server,
    token: &str,
) -> std::process::Command {
    pond.cmd(&[
        "sync",
        "claude-code",
        "--path",
        src.to_str().expect("utf-8 path"),
        "--to",
        &server.url(),
        "--token",
        token,
        "--json",
    ])
}

pub(crate) fn token(pond: &Pond, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", name, "--json"];
    args.extend_from_slice(extra);
    pond.json(&args)["token"]
        .as_str()
        .expect("token")
        .to_string()
}

fn message_id(pond: &Pond, session: &str) -> String {
    let shown = pond.json(&["show", session, "--json"]);
    shown["messages"][0]["id"].as_str().unwrap().to_string()
}

/// Message ids hold `/`; in a path it travels as `%2F`.
fn encode(id: &str) -> String {
    id.replace('%', "%25").replace('/', "%2F")
}

fn search_body(query: &str) -> Vec<u8> {
    json!({"query": query, "mode": "fts"})
        .to_string()
        .into_bytes()
}

fn mcp_initialize() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"}}})
    .to_string()
    .into_bytes()
}

#[test]
fn rule36_every_route_refuses_missing_wrong_and_out_of_scope_tokens() {
    let pond = two_team_pond();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let ingester = token(&pond, "ingester", &["--scope", "ingest"]);
    let team_a = token(
        &pond,
        "team-a",
        &["--scope", "read", "--project-prefix", "/work/team-a"],
    );
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
    let ids: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![key(TEAM_A)]);
    let hits = http(
        a,
        "POST",
        "/v1/search",
        Some(&team_a),
        Some(("application/json", &search)),
    )
    .json();
    let hit_sessions: Vec<&str> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(hit_sessions, vec![key(TEAM_A)], "{hits}");
    let all_hits = http(
        a,
        "POST",
        "/v1/search",
        Some(&reader),
        Some(("application/json", &search)),
    )
    .json();
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

/// The official MCP Python SDK, installed by `make test`.
fn python() -> PathBuf {
    std::env::var_os("POND_TEST_PYTHON")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("POND_TEST_PYTHON is not set: the MCP tests need the official MCP SDK; run `make test`, or `scripts/test-services.sh start` and source the env file it prints")
        })
}

/// Runs the SDK client with `calls`, over stdio (`pond mcp ARGS`) or HTTP.
pub(crate) fn mcp_client(pond: &Pond, calls: &Value, transport: &[&str]) -> Value {
    let calls_file = pond.root.join(format!("calls-{}.json", fastrand::u64(..)));
    std::fs::write(&calls_file, calls.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py");
    // The sandbox's environment, which the script hands on to `pond mcp`.
    let sandbox = pond.cmd(&[]);
    let mut cmd = std::process::Command::new(python());
    for (k, v) in sandbox.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.arg(script).arg("--calls").arg(&calls_file);
    for t in transport {
        if *t == "POND" {
            cmd.arg(sandbox.get_program());
        } else {
            cmd.arg(t);
        }
    }
    let out = crate::harness::output_within(&mut cmd, Duration::from_secs(180));
    assert!(
        out.status.success(),
        "MCP client failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("client output is JSON")
}

pub(crate) fn result_json(result: &Value) -> Value {
    assert_eq!(result["is_error"], false, "{result}");
    serde_json::from_str(result["text"].as_str().unwrap()).expect("tool answers JSON")
}

#[test]
fn rule35_the_official_mcp_client_gets_the_clis_answers_over_stdio() {
    let pond = two_team_pond();
    let mid = message_id(&pond, TEAM_A);
    let calls = json!([
        {"tool": "search", "arguments": {"query": "flaky retry", "mode": "fts"}},
        {"tool": "list_sessions", "arguments": {}},
        {"tool": "get_session", "arguments": {"id": TEAM_A}},
        {"tool": "get_message", "arguments": {"id": mid}},
        {"tool": "status", "arguments": {}},
        {"tool": "get_session", "arguments": {"id": "no-such-session"}},
        {"tool": "search", "arguments": {"query": "x", "since": "not a time"}},
    ]);
    let out = mcp_client(&pond, &calls, &["--stdio", "POND", "mcp"]);

    let tools = out["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "get_message",
            "get_session",
            "list_sessions",
            "search",
            "status",
            "usage"
        ]
    );
    for t in tools {
        assert!(t["description"].as_str().unwrap().len() > 60, "{t}");
        assert_eq!(t["input_schema"]["type"], "object", "{t}");
    }
    let search_schema = &tools.iter().find(|t| t["name"] == "search").unwrap()["input_schema"];
    for filter in [
        "client", "project", "host", "role", "kind", "tool", "since", "until", "session",
    ] {
        assert!(
            search_schema["properties"].get(filter).is_some(),
            "{filter}"
        );
    }

    let r = out["results"].as_array().unwrap();
    // search: the same hits, in the same order, as `pond search --json`.
    let cli = pond.json(&["search", "flaky", "retry", "--mode", "fts", "--json"]);
    let mcp = result_json(&r[0]);
    let key = |v: &Value| -> Vec<(String, String)> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["session_id"].as_str().unwrap().to_string(),
                    h["message_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(key(&mcp), key(&cli));
    assert_eq!(mcp["hits"][0]["snippet"], cli["hits"][0]["snippet"]);

    // list_sessions: `pond sessions --json`, line for line.
    let listed = result_json(&r[1]);
    assert_eq!(listed["sessions"], pond.json(&["sessions", "--json"]));

    // get_session: the transcript of `pond show --json`, in pages.
    let page = result_json(&r[2]);
    let shown = pond.json(&["show", TEAM_A, "--json"]);
    let ids = |msgs: &Value| -> Vec<String> {
        msgs.as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&page["messages"]), ids(&shown["messages"]));
    assert_eq!(
        page["messages"][0]["parts"][0]["text"],
        shown["messages"][0]["parts"][0]["text"]
    );

    // get_message: that message whole, with what follows it.
    let message = result_json(&r[3]);
    assert_eq!(message["message"]["id"], mid.as_str());
    assert_eq!(message["after"][0]["id"], shown["messages"][1]["id"]);

    // status: the counts of `pond status --json`.
    let status = result_json(&r[4]);
    let cli_status = pond.json(&["status", "--json"]);
    assert_eq!(status["sessions"], cli_status["sessions"]);
    assert_eq!(status["messages"], cli_status["messages"]);

    // Mistakes come back as tool errors an agent can read.
    assert_eq!(r[5]["is_error"], true);
    assert!(
        r[5]["text"].as_str().unwrap().contains("no session"),
        "{}",
        r[5]
    );
    assert_eq!(r[6]["is_error"], true);
    assert!(
        r[6]["text"].as_str().unwrap().contains("not a time"),
        "{}",
        r[6]
    );
}

#[test]
fn rule35_mcp_over_http_answers_within_the_tokens_limits() {
    let pond = two_team_pond();
    let team_b = token(
        &pond,
        "team-b",
        &["--scope", "read", "--project-prefix", "/work/team-b"],
    );
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let calls = json!([
        {"tool": "search", "arguments": {"query": "zebra", "mode": "fts"}},
        {"tool": "list_sessions", "arguments": {}},
        {"tool": "get_session", "arguments": {"id": TEAM_A}},
    ]);
    let url = format!("{}/mcp", server.url());
    let out = mcp_client(&pond, &calls, &["--http", &url, "--token", &team_b]);
    let r = out["results"].as_array().unwrap();
    let hits = result_json(&r[0]);
    let sessions: Vec<&str> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(sessions, vec![key(TEAM_B)], "{hits}");
    assert_eq!(result_json(&r[1])["total"], 1);
    assert_eq!(r[2]["is_error"], true, "team A's session is out of reach");
}

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
        host.json(&[
            "sync",
            "claude-code",
            "--path",
            src.to_str().unwrap(),
            "--to",
            &server.url(),
            "--token",
            token,
            "--json",
        ])
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
        let out = host
            .cmd(&[
                "sync",
                "claude-code",
                "--path",
                src.to_str().unwrap(),
                "--to",
                &server.url(),
                "--token",
                token,
            ])
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

/// schemathesis from PyPI, installed by `make test`.
fn schemathesis() -> PathBuf {
    std::env::var_os("POND_TEST_SCHEMATHESIS")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("POND_TEST_SCHEMATHESIS is not set: run `make test`, or `scripts/test-services.sh start` and source the env file it prints")
        })
}

#[test]
fn rule36_the_openapi_document_is_valid_and_the_server_keeps_to_it() {
    let pond = two_team_pond();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let served = http(&server.addr, "GET", "/openapi.json", Some(&reader), None).json();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, committed,
        "docs/openapi.json is what the server serves"
    );

    // Every operation fuzzed from the document, responses checked against it.
    let mut cmd = std::process::Command::new(schemathesis());
    cmd.args(["run", &format!("{}/openapi.json", server.url())])
        .args(["--header", &format!("Authorization: Bearer {reader}")])
        // Every check but one: "positive data acceptance" expects every
        // schema-valid request to succeed, but times (`since`), roles and
        // part kinds are checked beyond what a JSON schema can say and are
        // rightly refused with 400. Schema-invalid requests must still be
        // refused (negative data rejection is on).
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        // The event stream never ends by itself (it is a page's live
        // feed); its own test reads its first events.
        .args(["--exclude-operation-id", "fleetEvents"])
        .args(["--max-examples", "20", "--seed", "7", "--workers", "1"])
        .args(["--request-timeout", "60", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(&pond.root);
    let out = crate::harness::output_within(&mut cmd, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rule33_no_seeded_secret_leaves_through_the_server_or_mcp() {
    let secrets = crate::redaction::seeds();
    let pond = crate::redaction::seeded_pond();
    let session = crate::redaction::SESSION;
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let mut answers = Vec::new();
    for (i, _) in secrets.iter().enumerate() {
        let body = json!({"query": format!("marker{i}"), "mode": "fts"}).to_string();
        answers.push(
            http(
                a,
                "POST",
                "/v1/search",
                Some(&reader),
                Some(("application/json", body.as_bytes())),
            )
            .body,
        );
    }
    let page = http(
        a,
        "GET",
        &format!("/v1/sessions/{session}?full=true&limit=200"),
        Some(&reader),
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    for m in page.json()["messages"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        let r = http(
            a,
            "GET",
            &format!("/v1/messages/{}", encode(id)),
            Some(&reader),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        answers.push(r.body);
    }
    answers.push(page.body);
    answers.push(http(a, "GET", "/v1/sessions", Some(&reader), None).body);

    // MCP, over HTTP (masked by default there) and over stdio with --redact.
    let mut calls = vec![
        json!({"tool": "get_session", "arguments": {"id": session, "full": true, "limit": 200}}),
    ];
    for (i, _) in secrets.iter().enumerate() {
        calls.push(
            json!({"tool": "search", "arguments": {"query": format!("marker{i}"), "mode": "fts"}}),
        );
    }
    let calls = Value::Array(calls);
    let url = format!("{}/mcp", server.url());
    for out in [
        mcp_client(&pond, &calls, &["--http", &url, "--token", &reader]),
        mcp_client(&pond, &calls, &["--stdio", "POND", "mcp", "--redact"]),
    ] {
        for r in out["results"].as_array().unwrap() {
            assert_eq!(r["is_error"], false, "{r}");
            answers.push(r["text"].as_str().unwrap().to_string());
        }
    }
    let all = answers.join("\n");
    assert!(
        all.contains("[REDACTED:"),
        "nothing was masked: the test proves nothing"
    );
    for seed in &secrets {
        assert!(
            !all.contains(&seed.secret),
            "{} leaked: {}",
            seed.kind,
            seed.secret
        );
    }
    // Every seeded message was found, so every secret was in an answer's reach.
    for (i, _) in secrets.iter().enumerate() {
        assert!(all.contains(&format!("marker{i}")), "marker{i} not found");
    }
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

const OCTETS: &str = "application/octet-stream";

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
    let head = request_head(a, "POST", &path, None, Some((OCTETS, &good)), &[]);
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
fn rule36_a_server_answers_only_requests_naming_it() {
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let port = a.rsplit(':').next().unwrap();
    let status = |host: &str| http_with(a, "GET", "/v1/status", None, None, &[("Host", host)]);
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
    let r = http_with(
        a,
        "POST",
        "/v1/search",
        None,
        Some(("application/json", &search)),
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
    let r = http_with(
        a,
        "GET",
        "/v1/status",
        Some(&reader),
        None,
        &[("Host", &by_address)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let by_name = format!("pond.evil.example:{port}");
    let r = http_with(
        a,
        "GET",
        "/v1/status",
        Some(&reader),
        None,
        &[("Host", &by_name)],
    );
    assert_eq!(r.status, 403, "{}", r.body);
}

#[test]
fn rule36_a_request_from_another_sites_page_is_refused() {
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
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
            let r = http_with(a, method, path, None, *body, &[("Origin", origin)]);
            assert_eq!(r.status, 403, "{method} {path} from {origin}: {}", r.body);
            assert!(!r.body.contains("sessions"), "{}", r.body);
        }
    }
    // The server's own origin passes.
    let r = http_with(a, "GET", "/v1/status", None, None, &[("Origin", &own)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http_with(
        a,
        "POST",
        "/v1/search",
        None,
        Some(("application/json", &search)),
        &[("Origin", &own)],
    );
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
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
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
    let team_a = token(
        &pond,
        "team-a",
        &["--scope", "read", "--project-prefix", "/work/team-a"],
    );
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();

    let listed = http(a, "GET", "/v1/sessions", Some(&team_a), None).json();
    let mut ids: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, vec![key(exact), key(TEAM_A)], "{listed}");
    let body = json!({"query": "shared word", "mode": "fts"})
        .to_string()
        .into_bytes();
    let hits = http(
        a,
        "POST",
        "/v1/search",
        Some(&team_a),
        Some(("application/json", &body)),
    )
    .json();
    let mut found: Vec<&str> = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["session_id"].as_str().unwrap())
        .collect();
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
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
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
    let r = http(
        a,
        "POST",
        "/v1/search",
        Some(&ingester),
        Some(("application/json", b"{not json")),
    );
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
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        tokens.push(created["token"].as_str().unwrap().to_string());
    }
    let listed = pond.json(&["token", "list", "--json"]);
    let mut names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
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
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
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
    write_session(&forged, TEAM_B, ci_cwd, &["ci run"]);
    let ci_path = ingest_path("ci-7", &session_file(TEAM_B, ci_cwd));
    let ci_file = forged.join(session_file(TEAM_B, ci_cwd));
    let r = http(
        a,
        "POST",
        &ci_path,
        Some(&ci),
        Some((OCTETS, &std::fs::read(&ci_file).unwrap())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    write_session(&forged, TEAM_B, ci_cwd, &["ci run", "ci rerun"]);
    let r = http(
        a,
        "POST",
        &ci_path,
        Some(&ci),
        Some((OCTETS, &std::fs::read(&ci_file).unwrap())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = pond.json(&["show", TEAM_B, "--json"]);
    assert_eq!(shown["session"]["host"], "ci-7", "{shown}");
    assert_eq!(shown["messages"].as_array().unwrap().len(), 4, "{shown}");
}

#[test]
fn rule36_allow_host_names_the_server_for_its_clients() {
    let pond = two_team_pond();
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let server = Server::start(&pond, "0.0.0.0:0", &["--allow-host", "pond.internal"]);
    let a = server.addr.as_str();
    for host in ["pond.internal", "pond.internal:8443", "POND.INTERNAL."] {
        let r = http_with(
            a,
            "GET",
            "/v1/status",
            Some(&reader),
            None,
            &[("Host", host)],
        );
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
    let r = http_with(
        a,
        "GET",
        "/v1/status",
        Some(&reader),
        None,
        &[("Host", "other.internal")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let out = pond.output(&["serve", "--allow-host", "a b"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-host"));
}

#[test]
fn rule35_mcp_started_before_any_sync_says_so_then_serves_the_archive() {
    let pond = Pond::new();
    let bin = env!("CARGO_BIN_EXE_pond");
    let codex = fixtures("codex");
    let calls = json!([
        {"tool": "list_sessions", "arguments": {}},
        {"tool": "search", "arguments": {"query": "error", "mode": "fts"}},
        {"tool": "status", "arguments": {}},
        {"run": [bin, "sync", "codex", "--path", codex.to_str().unwrap(), "--json"]},
        {"sleep": 1.5},
        {"tool": "list_sessions", "arguments": {}},
    ]);
    let out = mcp_client(&pond, &calls, &["--stdio", "POND", "mcp"]);
    let r = out["results"].as_array().unwrap();
    for before in &r[..3] {
        assert_eq!(before["is_error"], false, "{before}");
        assert!(
            before["text"]
                .as_str()
                .unwrap()
                .contains("Nothing synced yet"),
            "{before}"
        );
    }
    assert_eq!(r[3]["status"], 0, "the sync ran: {}", r[3]);
    let listed = result_json(&r[5]);
    assert!(listed["total"].as_u64().unwrap() > 0, "{listed}");
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
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
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
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let big = vec![b' '; 2 << 20];
    // The server may answer and close as soon as it has read the length,
    // while the body is still being sent: a write error here is that.
    let mut stream = connect(a);
    let head = request_head(
        a,
        "POST",
        "/mcp",
        None,
        Some(("application/json", &big)),
        &[],
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(&big);
    let r = read_reply(stream);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(http(a, "GET", "/v1/status", None, None).status, 200);
}

#[test]
fn rule37_an_upload_that_stalls_is_refused_while_others_are_served() {
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let path = "/v1/ingest?client=codex&host=stalled&root=/r&path=x.jsonl&sync=false";
    let mut head = request_head(
        a,
        "POST",
        path,
        None,
        Some(("application/octet-stream", b"")),
        &[],
    );
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
