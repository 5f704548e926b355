use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use pond_adapters::images::Image;

use super::*;
use crate::model::Role;

fn session() -> Session {
    Session {
        id: "claude-code:abc".into(),
        client: "claude-code".into(),
        project: Some("/work/app".into()),
        git_branch: Some("main".into()),
        model: Some("claude-sonnet-4".into()),
        title: Some("Fix the <script> loader".into()),
        started_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single(),
        updated_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 5, 0).single(),
        parent_id: None,
        host: "laptop".into(),
        message_count: 2,
    }
}

fn message(seq: u64, role: Role, parts: Vec<Part>) -> Message {
    Message {
        id: format!("claude-code:abc/m{seq}"),
        session_id: "claude-code:abc".into(),
        seq,
        role,
        timestamp: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, seq as u32).single(),
        model: None,
        parts,
    }
}

fn document() -> Document {
    let messages = vec![
        message(
            0,
            Role::User,
            vec![
                Part::text(PartKind::Text, "Why does <img onerror=x> break?\nline two"),
                Part::text(PartKind::File, "[image: image/png]"),
            ],
        ),
        message(
            1,
            Role::Assistant,
            vec![
                Part::text(PartKind::Thinking, "consider the loader"),
                Part::tool_call(Some("Bash"), Some("t1"), Some("grep -n ``` src".into())),
                Part::tool_result(Some("Bash"), Some("t1"), Some("no match".into()), true),
                Part::text(PartKind::Text, "Fixed it."),
            ],
        ),
    ];
    let mut usage = UsageTotals::default();
    usage.calls = 3;
    usage.input_tokens = 120;
    usage.output_tokens = 45;
    usage.cost_usd = Some(0.0123);
    let images = BTreeMap::from([(
        "claude-code:abc/m0".to_string(),
        vec![Image {
            media_type: "image/png".into(),
            bytes: vec![0x89, b'P', b'N', b'G'],
        }],
    )]);
    Document {
        session: session(),
        messages,
        usage,
        images,
        redacted: false,
    }
}

#[test]
fn html_is_escaped_self_contained_and_shows_every_part() {
    let page = html(&document());
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img onerror"), "{page}");
    assert!(page.contains("Fix the &lt;script&gt; loader"));
    assert!(page.contains("default-src 'none'; img-src data:"));
    assert!(page.contains("<img src=\"data:image/png;base64,iVBORw==\""));
    assert!(page.contains("<summary>Reasoning</summary>"));
    assert!(page.contains("<span class=\"badge\">call</span>Bash"));
    assert!(page.contains("<span class=\"badge bad\">error</span>Bash"));
    assert!(page.contains("line two"));
    assert!(page.contains("<th>Host</th><td>laptop</td>"));
    assert!(page.contains("<th>Cost</th><td>$0.0123</td>"));
    assert_eq!(page.matches("<article").count(), 2);
    // Nothing in it is fetched: no URL but its own data.
    assert!(!page.contains("http://") && !page.contains("https://"));
}

#[test]
fn an_image_of_a_type_browsers_are_not_handed_stays_a_name() {
    let mut doc = document();
    doc.images.values_mut().flatten().for_each(|i| {
        i.media_type = "image/svg+xml".into();
    });
    let page = html(&doc);
    assert!(!page.contains("data:image/svg"));
    assert!(page.contains("[image: image/png]"));
}

#[test]
fn markdown_folds_reasoning_and_tools_and_fences_cannot_be_closed_early() {
    let text = markdown(&document());
    assert!(
        text.starts_with("# Fix the \\<script\\> loader\n"),
        "{text}"
    );
    assert!(text.contains("| Client | claude-code |"), "{text}");
    assert!(text.contains("## User · 2026-03-01 09:00:00 UTC"));
    assert!(text.contains("<details><summary>Reasoning</summary>"));
    assert!(text.contains("<details><summary>Call: Bash</summary>"));
    assert!(text.contains("<details><summary>Result: Bash (error)</summary>"));
    // The call's input holds three backticks: its fence has four.
    assert!(text.contains("````\ngrep -n ``` src\n````"), "{text}");
    assert!(text.contains("| Tokens | 120 in, 45 out, 0 cache write, 0 cache read (3 calls) |"));
}

#[test]
fn a_session_without_title_or_calls_is_headed_by_its_id_and_shows_no_cost() {
    let mut doc = document();
    doc.session.title = None;
    doc.usage = UsageTotals::default();
    let text = markdown(&doc);
    assert!(text.starts_with("# Session claude-code:abc\n"), "{text}");
    assert!(!text.contains("| Cost |"));
}
