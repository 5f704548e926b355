//! Rule 33: with `--redact`, no seeded secret leaves pond through search,
//! show or export (issue 7's pattern set; `docs/redaction.md`).

use serde_json::{Value, json};

use crate::harness::Pond;

struct Seed {
    kind: String,
    text: String,
    secret: String,
}

fn seeds() -> Vec<Seed> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/redaction/secrets.json"
    );
    let list: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    list.iter()
        .map(|s| Seed {
            kind: s["kind"].as_str().unwrap().into(),
            text: s["text"].as_str().unwrap().into(),
            secret: s["secret"].as_str().unwrap().into(),
        })
        .collect()
}

const SESSION: &str = "5ec0e7a1-0000-4000-8000-00000000f00d";

/// A Claude Code session whose user pasted one secret per message.
fn seeded_pond() -> Pond {
    let pond = Pond::new();
    let dir = pond.root.join("src/project");
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines = String::new();
    for (i, seed) in seeds().iter().enumerate() {
        let record = json!({
            "type": "user",
            "uuid": format!("5ec0e7a1-0000-4000-8000-{i:012}"),
            "sessionId": SESSION,
            "timestamp": format!("2026-02-01T10:{i:02}:00Z"),
            "cwd": "/work/app",
            "message": {"role": "user", "content": format!("marker{i} please use {} for this", seed.text)},
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(dir.join(format!("{SESSION}.jsonl")), lines).unwrap();
    pond.sync("claude-code", &pond.root.join("src"));
    pond
}

#[test]
fn rule33_no_seeded_secret_survives_redacted_search_show_or_export() {
    let pond = seeded_pond();
    let seeds = seeds();

    // Unmasked output does hold them: the test would prove nothing otherwise.
    let plain = pond.ok(&["show", SESSION, "--json"]);
    assert!(seeds.iter().all(|s| plain.contains(&s.secret)));

    let shown = pond.ok(&["show", SESSION, "--json", "--redact"]);
    let shown_text = pond.ok(&["show", SESSION, "--full", "--redact"]);
    for s in &seeds {
        assert!(!shown.contains(&s.secret), "{}: show --json", s.kind);
        assert!(!shown_text.contains(&s.secret), "{}: show", s.kind);
        assert!(
            shown.contains(&format!("[REDACTED:{}]", s.kind)),
            "{}",
            s.kind
        );
    }

    for (i, s) in seeds.iter().enumerate() {
        let marker = format!("marker{i}");
        let found = pond.json(&["search", "--json", "--redact", "--mode", "fts", &marker]);
        let hits = found["hits"].as_array().unwrap();
        assert!(!hits.is_empty(), "{}: {found}", s.kind);
        assert!(
            !found.to_string().contains(&s.secret),
            "{}: {found}",
            s.kind
        );
        let text = pond.ok(&["search", "--redact", "--mode", "fts", &marker]);
        assert!(!text.contains(&s.secret), "{}: {text}", s.kind);
    }

    let out = pond.root.join("out");
    pond.ok(&[
        "export",
        SESSION,
        "--raw",
        "--redact",
        "--out",
        out.to_str().unwrap(),
    ]);
    let exported = std::fs::read_to_string(out.join(format!("project/{SESSION}.jsonl"))).unwrap();
    for s in &seeds {
        assert!(!exported.contains(&s.secret), "{}: export", s.kind);
    }
    for line in exported.lines() {
        serde_json::from_str::<Value>(line).expect("masked lines stay JSON");
    }
}
