//! Rule 15: the agent survives failing rounds and stops promptly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::harness::{Pond, fixtures};

#[test]
fn rule15_agent_survives_a_failing_round_and_stops_on_sigterm() {
    let mut pond = Pond::new();
    // The store's parent is a file at first, so the first rounds fail.
    let blocker = pond.root.join("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap();
    pond.store_url = blocker.join("store").display().to_string();

    let mut agent = pond
        .cmd(&[
            "agent",
            "codex",
            "--path",
            fixtures("codex").to_str().unwrap(),
            "--every",
            "1s",
            "--jitter",
            "0s",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = agent.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next_round = || -> serde_json::Value {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a round report");
        serde_json::from_str(&line).unwrap()
    };

    let failed = next_round();
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert!(
        agent.try_wait().unwrap().is_none(),
        "one failed round must not stop the agent"
    );

    std::fs::remove_file(&blocker).unwrap();
    let recovered = loop {
        let r = next_round();
        if r["outcome"] == "ok" {
            break r;
        }
    };
    assert!(recovered["records_inserted"].as_u64().unwrap() > 0);

    let pid = agent.id().to_string();
    let sent = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    loop {
        if let Some(status) = agent.try_wait().unwrap() {
            assert!(
                status.success(),
                "the agent exits cleanly on SIGTERM: {status}"
            );
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(30),
            "the agent ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("pond agent: stopped"), "{stderr}");
}
