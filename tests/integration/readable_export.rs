//! Rule 54: `pond export --format md|html` writes a session as one document
//! a person reads, with its facts, usage and images, that fetches and runs
//! nothing when opened.

use crate::harness::{Pond, fixtures, item_where};

/// A Claude Code session of the shipped fixtures that pasted an image.
const WITH_IMAGE: &str = "claude-code:062a8bdd-4322-4ffa-bc38-3e8b8bfb5a56";

#[test]
fn rule54_an_html_export_is_one_file_with_every_message_and_its_images() {
    let pond = Pond::new();
    pond.sync_as("laptop", "claude-code", &fixtures("claude-code/entire"));
    let shown = pond.json(&["show", WITH_IMAGE, "--json"]);
    let messages = shown["messages"].as_array().expect("messages").len();

    let file = pond.root.join("session.html");
    let written = pond.json(&[
        "export",
        WITH_IMAGE,
        "--format",
        "html",
        "--out",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(written["messages"], messages as u64, "{written}");
    assert!(written["images"].as_u64().unwrap() >= 1, "{written}");
    let page = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written["bytes"], page.len() as u64);
    assert_eq!(page.matches("<article").count(), messages);
    assert!(page.contains("<img src=\"data:image/"), "no inline image");
    assert!(page.contains("<th>Host</th><td>laptop</td>"));
    assert!(page.contains("<th>Client</th><td>claude-code</td>"));
    // Self-contained: no script, and a policy that forbids every fetch.
    assert!(!page.to_ascii_lowercase().contains("<script"));
    assert!(page.contains("default-src 'none'"));
    assert!(!page.contains("src=\"http"), "nothing is fetched");

    // An existing file is kept unless --force.
    let out = pond.output(&[
        "export",
        WITH_IMAGE,
        "--format",
        "md",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), page);
}

#[test]
fn rule54_a_markdown_export_prints_the_transcript_with_its_usage() {
    let pond = Pond::new();
    pond.sync("claude-code", &fixtures("claude-code/entire"));
    let shown = pond.json(&["show", WITH_IMAGE, "--json"]);
    let text = pond.ok(&["export", WITH_IMAGE, "--format", "md"]);
    assert!(text.starts_with("# "), "{text}");
    assert!(text.contains("| Client | claude-code |"), "{text}");
    let usage = pond.json(&["usage", "--by", "session", "--json"]);
    let calls = item_where(&usage["rows"], "session", WITH_IMAGE)["calls"]
        .as_u64()
        .expect("the session made model calls");
    assert!(text.contains(&format!("({calls} calls)")), "{text}");
    // Every message's first words are in it.
    for m in shown["messages"].as_array().unwrap() {
        let first = m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "text")
            .find_map(|p| p["text"].as_str())
            .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
            .map(str::trim);
        if let Some(first) = first {
            assert!(text.contains(first), "missing {first:?}");
        }
    }
}

#[test]
fn rule54_export_refuses_a_missing_form_or_session_plainly() {
    let pond = Pond::new();
    pond.sync("claude-code", &fixtures("claude-code/entire"));
    for (args, expected) in [
        (&["export", WITH_IMAGE][..], "--raw"),
        (&["export", WITH_IMAGE, "--raw"][..], "--out"),
        (
            &["export", "no-such-session", "--format", "md"][..],
            "no-such-session",
        ),
        (&["export", WITH_IMAGE, "--format", "pdf"][..], "md"),
        (
            &["export", WITH_IMAGE, "--format", "md", "--json"][..],
            "--out",
        ),
    ] {
        let out = pond.output(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
