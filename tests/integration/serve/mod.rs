//! `pond serve` and `pond mcp` from the outside: real servers on loopback,
//! real HTTP, the official MCP Python SDK as the client, schemathesis
//! against the OpenAPI document (rules 33, 35–38).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Pond, field_of_each, fixtures};

mod access;
mod ingest;
mod mcp;
mod openapi;
mod shares;

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
pub type Body<'a> = (&'a str, &'a [u8]);

/// One HTTP/1.1 request on a fresh connection.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Reply {
    let request = Request {
        method,
        path,
        token,
        body,
        headers: &[],
    };
    send(addr, &request)
}

/// Sends `request` on a fresh connection: [`http`] for a request that needs
/// more headers.
pub fn send(addr: &str, request: &Request<'_>) -> Reply {
    let mut stream = connect(addr);
    stream.write_all(request.head(addr).as_bytes()).unwrap();
    stream
        .write_all(request.body.map_or(&b""[..], |(_, b)| b))
        .unwrap();
    read_reply(stream)
}

/// `GET /v1/status` as `token` with `headers`: the route the header checks
/// probe, as any token may read it.
pub fn status_with(addr: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let request = Request {
        method: "GET",
        path: "/v1/status",
        token,
        body: None,
        headers,
    };
    send(addr, &request)
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream
}

/// One request's parts, so that sending it whole and writing its head for a
/// test that sends the body in pieces build the same head.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub body: Option<Body<'a>>,
    /// Sent after the usual ones; a `Host` among them replaces the usual one.
    pub headers: &'a [(&'a str, &'a str)],
}

/// The head of a POST of `body` with no token: what the tests that send the
/// body slowly, or not at all, write by hand.
fn post_head(addr: &str, path: &str, body: Body<'_>) -> String {
    let request = Request {
        method: "POST",
        path,
        token: None,
        body: Some(body),
        headers: &[],
    };
    request.head(addr)
}

impl Request<'_> {
    /// The request line and headers, up to the body. An empty content type
    /// sends none, as a page's POST without a body does.
    fn head(&self, addr: &str) -> String {
        let Request {
            method,
            path,
            token,
            body,
            headers,
        } = *self;
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

/// A fresh pond that has synced one session written by [`write_session`]:
/// where most server tests start.
pub fn pond_with_session(id: &str, cwd: &str, texts: &[&str]) -> Pond {
    let pond = Pond::new();
    let src = pond.root.join("src");
    write_session(&src, id, cwd, texts);
    pond.sync("claude-code", &src);
    pond
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

/// Writes team A's session as `id`: the words that the access checks here
/// and the browser checks of the pages look for.
pub(crate) fn write_team_a_session(dir: &Path, id: &str) {
    write_session(
        dir,
        id,
        "/work/team-a/api",
        &["flaky retry in the payment client", "zebra migration plan"],
    );
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
    write_team_a_session(&src, TEAM_A);
    write_session(
        &src,
        TEAM_B,
        "/work/team-b/web",
        &["flaky retry in the checkout page", "zebra rollout"],
    );
    pond.sync("claude-code", &src);
    pond
}

/// A [`two_team_pond`] served on loopback with no token yet: where most
/// access checks start.
fn two_team_server() -> (Pond, Server) {
    let pond = two_team_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    (pond, server)
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

/// A token of `scope` limited to projects under `prefix`: the limit most
/// access checks probe.
pub(crate) fn project_token(pond: &Pond, name: &str, scope: &str, prefix: &str) -> String {
    token(pond, name, &["--scope", scope, "--project-prefix", prefix])
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
    crate::harness::success_json(&out, "MCP client")
}

pub(crate) fn result_json(result: &Value) -> Value {
    assert_eq!(result["is_error"], false, "{result}");
    serde_json::from_str(result["text"].as_str().unwrap()).expect("tool answers JSON")
}

fn mcp_initialize() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"}}})
    .to_string()
    .into_bytes()
}

/// The official MCP Python SDK, installed by `make test`.
fn python() -> PathBuf {
    test_tool(
        "POND_TEST_PYTHON",
        "the MCP tests need the official MCP SDK; ",
    )
}

/// The tool `make test` installed where the variable `var` says; `why` opens
/// the way out that a missing one prints.
fn test_tool(var: &str, why: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{var} is not set: {why}run `make test`, or `scripts/test-services.sh start` and source the env file it prints")
        })
}

const OCTETS: &str = "application/octet-stream";
