//! A fault-injecting HTTP/1.1 proxy between pond and the S3 server.
//!
//! The failures that lose or duplicate data are the ones the network really
//! has: a commit that landed whose reply never came back, a 503 before the
//! server saw anything, a 500 after it did, a stall, a body cut short. None
//! of them happens on demand against a healthy server, so this proxy makes
//! them happen to exactly the request a test names, a given number of times.
//! It forwards everything else untouched, byte for byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it, let the server act on it, then close the connection
    /// without a reply: the commit landed, the client cannot know.
    DropResponse,
    /// Answer 503 without forwarding: nothing happened.
    UnavailableBefore,
    /// Forward it, then answer 500 instead of the server's reply.
    ErrorAfter,
    /// Forward it and hold the reply this long.
    Stall(Duration),
    /// Hold it this long before forwarding: a commit that arrives late,
    /// after other writers' commits.
    DelayBefore(Duration),
    /// Forward it, send the reply's head and half its body, then close.
    CutBody,
}

/// Which requests a fault applies to, and how many more times.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path_contains: String,
    pub fault: Fault,
    pub times: usize,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    fired: Vec<String>,
}

pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to use as the S3 endpoint.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`http://host:port`). The listener lives as long as the test process.
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, state) = (upstream.clone(), shared.clone());
                std::thread::spawn(move || {
                    // A connection either side closed ends here; that is
                    // what the faults are made of.
                    let _ = serve_connection(client, &upstream, &state);
                });
            }
        });
        FaultProxy { endpoint, state }
    }

    pub fn arm(&self, rule: Rule) {
        self.state.lock().expect("proxy state").rules.push(rule);
    }

    /// Each fault that fired, as `FAULT METHOD PATH`.
    pub fn fired(&self) -> Vec<String> {
        self.state.lock().expect("proxy state").fired.clone()
    }

    pub fn disarm(&self) {
        self.state.lock().expect("proxy state").rules.clear();
    }
}

/// One HTTP message as read off the wire: its head and body bytes exactly.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    start_line: String,
}

fn serve_connection(
    client: TcpStream,
    upstream: &str,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut client_out = client.try_clone()?;
    let mut client_in = BufReader::new(client);
    loop {
        let Some(request) = read_message(&mut client_in, true, false)? else {
            return Ok(());
        };
        let mut parts = request.start_line.split(' ');
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let fault = take_fault(state, &method, &path);
        if let Some(Fault::DelayBefore(d)) = fault {
            std::thread::sleep(d);
        }
        if fault == Some(Fault::UnavailableBefore) {
            client_out
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        }
        // A connection of its own per request: the server may close an idle
        // one at any time, and that must not look like an injected fault.
        let server = TcpStream::connect(upstream)?;
        let mut server_out = server.try_clone()?;
        let mut server_in = BufReader::new(server);
        server_out.write_all(&request.head)?;
        server_out.write_all(&request.body)?;
        let Some(response) = read_message(&mut server_in, false, method == "HEAD")? else {
            return Ok(());
        };
        match fault {
            Some(Fault::DropResponse) => return Ok(()),
            Some(Fault::ErrorAfter) => {
                client_out.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                )?;
                continue;
            }
            Some(Fault::CutBody) => {
                client_out.write_all(&response.head)?;
                client_out.write_all(&response.body[..response.body.len() / 2])?;
                return Ok(());
            }
            Some(Fault::Stall(d)) => std::thread::sleep(d),
            Some(Fault::UnavailableBefore | Fault::DelayBefore(_)) | None => {}
        }
        client_out.write_all(&response.head)?;
        client_out.write_all(&response.body)?;
    }
}

fn take_fault(state: &Mutex<State>, method: &str, path: &str) -> Option<Fault> {
    let mut state = state.lock().expect("proxy state");
    let rule = state
        .rules
        .iter_mut()
        .find(|r| r.times > 0 && r.method == method && path.contains(&r.path_contains))?;
    rule.times -= 1;
    let fault = rule.fault;
    state.fired.push(format!("{fault:?} {method} {path}"));
    Some(fault)
}

/// Reads one request or response. `None` when the peer closed cleanly
/// before a new message began.
fn read_message(
    input: &mut BufReader<TcpStream>,
    is_request: bool,
    head_only: bool,
) -> std::io::Result<Option<Message>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = input.read_until(b'\n', &mut head)?;
        if n == 0 {
            if before == 0 {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let start_line = text.lines().next().unwrap_or("").to_string();
    let header = |name: &str| {
        text.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let status: u16 = if is_request {
        0
    } else {
        start_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
    let mut body = Vec::new();
    if no_body {
    } else if header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        read_chunked(input, &mut body)?;
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
        input.take(len).read_to_end(&mut body)?;
        if (body.len() as u64) < len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    } else if !is_request {
        // A response with neither length nor chunks ends with the connection.
        input.read_to_end(&mut body)?;
    }
    Ok(Some(Message {
        head,
        body,
        start_line,
    }))
}

/// Copies a chunked body, chunk framing included, as it came.
fn read_chunked(input: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        let mut size_line = Vec::new();
        input.read_until(b'\n', &mut size_line)?;
        body.extend_from_slice(&size_line);
        let size_text = String::from_utf8_lossy(&size_line);
        let size = u64::from_str_radix(size_text.trim().split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
        if size == 0 {
            // Trailers, then the blank line that ends the body.
            loop {
                let mut line = Vec::new();
                if input.read_until(b'\n', &mut line)? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                body.extend_from_slice(&line);
                if line == b"\r\n" {
                    return Ok(());
                }
            }
        }
        let mut chunk = Vec::new();
        input.by_ref().take(size + 2).read_to_end(&mut chunk)?;
        body.extend_from_slice(&chunk);
    }
}
