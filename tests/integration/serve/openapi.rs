//! The served OpenAPI document checked by schemathesis against the live
//! server (rule 36), and no seeded secret leaving through the server or
//! MCP (rule 33).

use super::*;

/// schemathesis from PyPI, installed by `make test`.
fn schemathesis() -> PathBuf {
    test_tool("POND_TEST_SCHEMATHESIS", "")
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
