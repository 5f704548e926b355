//! Rule 33: with `--redact`, no seeded secret leaves pond through search,
//! show or export (issue 7's pattern set; `docs/redaction.md`).

use serde_json::{Value, json};

use crate::harness::Pond;

pub struct Seed {
    pub kind: String,
    pub text: String,
    pub secret: String,
}

pub fn seeds() -> Vec<Seed> {
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

pub const SESSION: &str = "5ec0e7a1-0000-4000-8000-00000000f00d";

/// Issue 14: no secret, though it looks like a URL's password reaching from
/// one JSON field to the next; masking must leave it as it is.
pub const NOT_A_SECRET: &str = r#"{"url":"http://localhost:3000","package":"@types/node"}"#;

/// A Claude Code session whose user pasted one secret per message.
pub fn seeded_pond() -> Pond {
    let pond = Pond::new();
    let src = seed_sources(&pond);
    pond.sync("claude-code", &src);
    pond
}

/// Writes the seeded session under the pond's `src/` and returns that dir.
fn seed_sources(pond: &Pond) -> std::path::PathBuf {
    let dir = pond.root.join("src/project");
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines = String::new();
    let mut contents: Vec<String> = seeds()
        .iter()
        .enumerate()
        .map(|(i, seed)| format!("marker{i} please use {} for this", seed.text))
        .collect();
    contents.push(format!("package.json: {NOT_A_SECRET}"));
    for (i, content) in contents.iter().enumerate() {
        let record = json!({
            "type": "user",
            "uuid": format!("5ec0e7a1-0000-4000-8000-{i:012}"),
            "sessionId": SESSION,
            "timestamp": format!("2026-02-01T10:{i:02}:00Z"),
            "cwd": "/work/app",
            "message": {"role": "user", "content": content},
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(dir.join(format!("{SESSION}.jsonl")), lines).unwrap();
    pond.root.join("src")
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
    assert!(shown_text.contains(NOT_A_SECRET), "{shown_text}");

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
    // So does a readable export, in either form (rule 54).
    for format in ["md", "html"] {
        let text = pond.ok(&["export", SESSION, "--format", format, "--redact"]);
        for s in &seeds {
            assert!(
                !text.contains(&s.secret),
                "{}: export --format {format}",
                s.kind
            );
        }
    }
    // The raw line holds it JSON-encoded, and masking left it so.
    let encoded = Value::from(format!("package.json: {NOT_A_SECRET}")).to_string();
    assert!(exported.contains(&encoded), "{exported}");

    // Resume, into the same client and converted, masks what it writes.
    for target in ["claude-code", "codex"] {
        let dir = pond.root.join(format!("resume-{target}"));
        let done = pond.json(&[
            "resume",
            SESSION,
            "--to",
            target,
            "--redact",
            "--out",
            dir.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(done["byte_exact"], false, "{done}");
        let written: String = crate::harness::tree(&dir)
            .values()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(written.contains("[REDACTED:"), "{target}: nothing masked");
        for s in &seeds {
            assert!(
                !written.contains(&s.secret),
                "{}: resume to {target}",
                s.kind
            );
        }
    }
}

/// Every string and byte value of every column of every table.
fn stored_values(pond: &Pond) -> Vec<Vec<u8>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{BinaryType, ByteArrayType, LargeBinaryType, LargeUtf8Type, Utf8Type};
    use arrow_array::{Array, ArrayRef};
    use arrow_schema::DataType;
    use pond::store::TableKind;
    /// A string or binary column of either offset width holds its values
    /// the same way; one reader takes them all.
    fn bytes_of<T: ByteArrayType>(array: &ArrayRef, out: &mut Vec<Vec<u8>>) {
        let values = array.as_bytes::<T>().iter().flatten();
        out.extend(values.map(|v| AsRef::<[u8]>::as_ref(v).to_vec()));
    }
    fn collect(array: &ArrayRef, out: &mut Vec<Vec<u8>>) {
        match array.data_type() {
            DataType::Utf8 => bytes_of::<Utf8Type>(array, out),
            DataType::LargeUtf8 => bytes_of::<LargeUtf8Type>(array, out),
            DataType::Binary => bytes_of::<BinaryType>(array, out),
            DataType::LargeBinary => bytes_of::<LargeBinaryType>(array, out),
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                collect(list.values(), out);
            }
            _ => {}
        }
    }
    let (runtime, store) = crate::harness::open_store(&pond.store_url, Vec::new());
    let mut values = Vec::new();
    for kind in TableKind::ALL {
        for batch in runtime.block_on(store.scan(kind, None, None)).unwrap() {
            for column in batch.columns() {
                if column.null_count() < column.len() {
                    collect(column, &mut values);
                }
            }
        }
    }
    values
}

#[test]
fn rule38_redact_at_ingest_stores_no_secret_and_marks_the_session() {
    let pond = Pond::new();
    let config = pond.root.join("home/.config/pond/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[redact]\nat_ingest = true\n").unwrap();
    let src = seed_sources(&pond);
    pond.sync("claude-code", &src);
    let seeds = seeds();

    // Through Lance: no column of any table holds a secret.
    let values = stored_values(&pond);
    let joined: Vec<u8> = values.join(&b"\n"[..]);
    let text = String::from_utf8_lossy(&joined);
    assert!(
        text.contains("[REDACTED:"),
        "nothing masked: the test proves nothing"
    );
    for s in &seeds {
        assert!(!text.contains(&s.secret), "{} stored: {}", s.kind, s.secret);
        assert!(
            text.contains(&format!("[REDACTED:{}]", s.kind)),
            "{}",
            s.kind
        );
    }
    assert!(
        text.contains(NOT_A_SECRET),
        "issue 14: masked what is no secret"
    );
    // Nor any file of the store, indexes included.
    for (name, bytes) in crate::harness::tree(&pond.store) {
        let bytes = String::from_utf8_lossy(&bytes);
        for s in &seeds {
            assert!(!bytes.contains(&s.secret), "{}: {name}", s.kind);
        }
    }

    // The session says so, and plain output no longer holds the secrets.
    let listed = pond.json(&["sessions", "--json"]);
    assert_eq!(listed[0]["redacted"], true, "{listed}");
    let shown = pond.json(&["show", SESSION, "--json"]);
    assert_eq!(shown["redacted"], true);
    let out = pond.root.join("out");
    pond.ok(&["export", SESSION, "--raw", "--out", out.to_str().unwrap()]);
    let exported = std::fs::read_to_string(out.join(format!("project/{SESSION}.jsonl"))).unwrap();
    for s in &seeds {
        assert!(!exported.contains(&s.secret), "{}: export", s.kind);
    }

    // Syncing again stores nothing twice and still nothing secret.
    let again = pond.sync("claude-code", &src);
    assert_eq!(again["messages_inserted"], 0, "{again}");
}
