//! Share links (rule 56): one session for whoever holds the link, redacted
//! by default, with no way to anything else, until revoked, expired or
//! erased, on every server of the archive.

use super::*;
use crate::redaction::{SESSION, seeded_pond, seeds};

fn share(pond: &Pond, args: &[&str]) -> Value {
    let mut all = vec!["share"];
    all.extend_from_slice(args);
    all.push("--json");
    pond.json(&all)
}

/// Every `href` and `src` a page holds.
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = page;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let end = rest.find('"').unwrap_or(rest.len());
            found.push(rest[..end].to_string());
        }
    }
    found
}

#[test]
fn rule56_a_share_shows_one_session_redacted_to_anyone_with_the_link() {
    let pond = seeded_pond();
    let other = fixtures("claude-code/entire");
    pond.sync("claude-code", &other);
    // Tokens exist, so everything else needs one.
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let made = share(&pond, &[SESSION, "--server", "http://pond.example"]);
    let id = made["id"].as_str().unwrap().to_string();
    assert!(id.len() >= 32, "at least 128 bits: {id}");
    assert_eq!(made["link"], format!("http://pond.example/s/{id}"));
    assert_eq!(made["redact"], true);

    let one = Server::start(&pond, "127.0.0.1:0", &[]);
    let two = Server::start(&pond, "127.0.0.1:0", &[]);
    let page = http(&one.addr, "GET", &format!("/s/{id}"), None, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'none'"),
        "{}",
        page.head
    );
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{}",
        page.head
    );
    assert!(
        page.body.contains("marker0 please use"),
        "the transcript is shown"
    );
    for s in seeds() {
        assert!(!page.body.contains(&s.secret), "{} is masked", s.kind);
    }
    // Nothing on it leads anywhere but its own styles.
    assert!(!page.body.to_ascii_lowercase().contains("<script"));
    assert_eq!(references(&page.body), vec!["/assets/share.css"]);
    let css = http(&one.addr, "GET", "/assets/share.css", None, None);
    assert_eq!(css.status, 200);
    // The API still needs the token; the link opens nothing else.
    assert_eq!(
        http(&one.addr, "GET", "/v1/sessions", None, None).status,
        401
    );
    assert_eq!(
        http(&one.addr, "GET", &format!("/s/{id}/raw"), None, None).status,
        404
    );

    // Unknown and malformed ids are a plain 404.
    let unknown = "0".repeat(id.len());
    for wrong in [unknown.as_str(), "nope", "..%2F..%2Fshares"] {
        let r = http(&two.addr, "GET", &format!("/s/{wrong}"), None, None);
        assert_eq!(r.status, 404, "{wrong}: {}", r.body);
        assert!(!r.body.contains("marker0"));
    }

    // Views are counted on every server.
    assert_eq!(
        http(&two.addr, "GET", &format!("/s/{id}"), None, None).status,
        200
    );
    let listed = pond.json(&["share", "list", "--json"]);
    let line = &listed.as_array().unwrap()[0];
    assert_eq!(line["views"], 2, "{listed}");
    assert_eq!(line["state"], "live");
    assert!(line["last_view"].is_string(), "{listed}");

    // A revoke on this host ends it on both servers at once.
    let revoked = pond.json(&["share", "revoke", &id, "--json"]);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    for server in [&one, &two] {
        let r = http(&server.addr, "GET", &format!("/s/{id}"), None, None);
        assert_eq!(r.status, 410, "{}", r.body);
        assert!(!r.body.contains("marker0"));
    }
    assert_eq!(
        pond.json(&["share", "list", "--json"])[0]["state"],
        "revoked"
    );
    drop(reader);
}

#[test]
fn rule56_a_share_ends_by_expiry_or_erasure_and_shows_files_only_when_allowed() {
    let pond = seeded_pond();
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();

    let unredacted = share(
        &pond,
        &[SESSION, "--no-redact", "--raw", "--expires", "never"],
    );
    let open = unredacted["id"].as_str().unwrap().to_string();
    assert!(unredacted["expires_at"].is_null());
    let page = http(a, "GET", &format!("/s/{open}"), None, None);
    assert_eq!(page.status, 200);
    assert!(
        seeds().iter().all(|s| page.body.contains(&s.secret)),
        "--no-redact shows it as stored"
    );
    assert_eq!(
        references(&page.body),
        vec!["/assets/share.css".to_string(), format!("/s/{open}/raw")]
    );
    let file = http(a, "GET", &format!("/s/{open}/raw"), None, None);
    assert_eq!(file.status, 200, "{}", file.body);
    assert!(
        file.body.contains(SESSION),
        "the source file: {}",
        file.body
    );

    let brief = share(&pond, &[SESSION, "--expires", "1s"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        http(a, "GET", &format!("/s/{brief}"), None, None).status,
        410
    );

    let bad = pond.output(&["share", SESSION, "--expires", "soon"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--expires"));

    // Erasing the session ends its shares.
    pond.ok(&["erase", SESSION, "--yes"]);
    let r = http(a, "GET", &format!("/s/{open}"), None, None);
    assert_eq!(r.status, 410, "{}", r.body);
    let listed = pond.json(&["share", "list", "--json"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["state"] != "live"),
        "{listed}"
    );
}

#[test]
fn rule56_only_tokens_made_to_share_make_links_and_only_of_their_sessions() {
    let pond = seeded_pond();
    let src = pond.root.join("src-b");
    write_session(&src, TEAM_B, "/work/team-b/web", &["team b's own words"]);
    pond.sync("claude-code", &src);
    let reader = token(&pond, "reader", &["--scope", "read"]);
    let sharer = token(&pond, "sharer", &["--scope", "read", "--may-share"]);
    let team_b = token(
        &pond,
        "team-b",
        &[
            "--scope",
            "read",
            "--project-prefix",
            "/work/team-b",
            "--may-share",
        ],
    );
    let refused = pond.output(&["token", "create", "lead", "--scope", "stats", "--may-share"]);
    assert!(!refused.status.success(), "--may-share is for read tokens");
    let server = Server::start(&pond, "127.0.0.1:0", &[]);
    let a = server.addr.as_str();
    let shares = format!("/v1/sessions/{SESSION}/shares");
    let body = ("application/json", &br#"{"expires": "1d"}"#[..]);

    // A read token not made to share may not, nor see the links.
    assert_eq!(
        http(a, "POST", &shares, Some(&reader), Some(body)).status,
        403
    );
    assert_eq!(http(a, "GET", &shares, Some(&reader), None).status, 403);

    // The preview counts what masking hides, masked.
    let preview = http(a, "GET", &format!("{shares}/preview"), Some(&sharer), None).json();
    assert_eq!(
        preview["masked"].as_u64().unwrap() as usize,
        seeds().len(),
        "{preview}"
    );
    for s in seeds() {
        assert!(!preview.to_string().contains(&s.secret), "{}", s.kind);
    }

    let made = http(a, "POST", &shares, Some(&sharer), Some(body));
    assert_eq!(made.status, 201, "{}", made.body);
    let made = made.json();
    assert_eq!(made["redact"], true, "the pages make masked links only");
    assert_eq!(made["created_by"], "sharer");
    let listed = http(a, "GET", &shares, Some(&sharer), None).json();
    assert_eq!(listed[0]["id"], made["id"], "{listed}");

    // A team's token shares its own sessions only, and cannot revoke others'.
    let other = http(a, "POST", &shares, Some(&team_b), Some(body));
    assert_eq!(other.status, 404, "{}", other.body);
    let id = made["id"].as_str().unwrap();
    let revoke = format!("/v1/shares/{id}/revoke");
    assert_eq!(http(a, "POST", &revoke, Some(&team_b), None).status, 404);
    let own = http(
        a,
        "POST",
        &format!("/v1/sessions/{TEAM_B}/shares"),
        Some(&team_b),
        Some(body),
    );
    assert_eq!(own.status, 201, "{}", own.body);

    assert_eq!(http(a, "POST", &revoke, Some(&sharer), None).status, 200);
    assert_eq!(http(a, "GET", &format!("/s/{id}"), None, None).status, 410);
}
