//! Running a command that must succeed, and making a bucket on the test S3
//! server: plain-std helpers the benches include too (by `#[path]`), so a
//! bench and a test check a run the same way instead of each copying it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Command, Output};

/// Requires a finished command to have succeeded, with its output in the
/// failure message.
pub fn assert_success(out: &Output) {
    assert_ran_ok(out, "the command");
}

/// Like [`assert_success`], naming the command so a failure says which. Both
/// streams are shown: what a command printed often explains a failure only
/// together with what it logged.
pub fn assert_ran_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` and requires success, so a failed run shows its stderr rather
/// than only a status.
pub fn output_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert_ran_ok(&out, what);
    out
}

/// Asks the S3 server for a bucket and returns its raw answer, for a caller
/// that accepts more than a fresh bucket.
pub fn put_bucket(endpoint: &str, bucket: &str) -> String {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the S3 server");
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send the bucket request");
    let mut response = String::new();
    conn.read_to_string(&mut response)
        .expect("read the bucket response");
    response
}

/// Creates a bucket on the S3 server (moto accepts unsigned requests).
pub fn create_bucket(endpoint: &str, bucket: &str) {
    let response = put_bucket(endpoint, bucket);
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "create bucket {bucket}: {response}"
    );
}
