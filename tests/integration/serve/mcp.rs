//! The MCP server from the outside: the official Python SDK over stdio and
//! HTTP gets the CLI's answers within a token's limits (rule 35).

use super::*;

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
    let team_b = project_token(&pond, "team-b", "read", "/work/team-b");
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
    let sessions = field_of_each(&hits["hits"], "session_id");
    assert_eq!(sessions, vec![key(TEAM_B)], "{hits}");
    assert_eq!(result_json(&r[1])["total"], 1);
    assert_eq!(r[2]["is_error"], true, "team A's session is out of reach");
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
