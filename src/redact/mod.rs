//! Finding and masking secrets in session text.
//!
//! Agents read `.env` files, print tokens and paste keys, so an archive of
//! their sessions is an archive of secrets. Output that leaves pond (export,
//! show, search) can be masked with `--redact`. The pattern set is pond's
//! own, one or more named patterns per kind of secret (documented in
//! `docs/redaction.md`); a match is replaced by `[REDACTED:<kind>]`, which
//! holds no quote or backslash.
//!
//! The same patterns run over raw JSON lines (`redact_bytes` on a record) and
//! over decoded text (`redact_str` on a part), so every pattern is written to
//! keep a JSON line valid: what it masks never holds an unescaped `"` nor a
//! line break, never begins or ends inside an escape sequence, and never
//! begins on a quote that closed a string (a masked value's first character
//! is never one that may follow a string's end: `,` `:` `}` `]` or space).
//! The one mask that may hold a line break is a private key block in decoded
//! text, where the key's own lines are the secret.

mod patterns;

use std::borrow::Cow;

#[cfg(test)]
use patterns::PATTERNS;
pub use patterns::kinds;
use patterns::{Pattern, patterns};

/// `bytes` with every secret masked, and how many were found.
pub fn redact_bytes(bytes: &[u8]) -> (Cow<'_, [u8]>, usize) {
    let mut found = 0;
    let out = redact_with(bytes, |_| found += 1);
    (out, found)
}

/// `bytes` with every secret masked, telling `on_mask` the kind of each.
fn redact_with(bytes: &[u8], mut on_mask: impl FnMut(&'static str)) -> Cow<'_, [u8]> {
    let mut out = Cow::Borrowed(bytes);
    for p in patterns() {
        if let Some(masked) = mask_all(p, &out, &mut on_mask) {
            out = Cow::Owned(masked);
        }
    }
    out
}

/// `text` with every secret `p` finds masked, or `None` if it finds none.
fn mask_all(p: &Pattern, text: &[u8], on_mask: &mut impl FnMut(&'static str)) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0;
    let mut any = false;
    for c in p.regex.captures_iter(text) {
        let Some(whole) = c.get(0) else {
            continue;
        };
        if !p.accept.takes(&c) {
            continue;
        }
        // Rule 33: each match becomes `[REDACTED:<kind>]`; patterns never span a
        // quote or a line, so masked JSON still parses.
        let masked = c.name("secret").unwrap_or(whole);
        out.extend_from_slice(&text[copied..masked.start()]);
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(p.kind.as_bytes());
        out.push(b']');
        copied = masked.end();
        any = true;
        on_mask(p.kind);
    }
    if !any {
        return None;
    }
    out.extend_from_slice(&text[copied..]);
    Some(out)
}

/// Where the secrets in `text` are: the byte range of every match, the key
/// name or URL around a secret included, in order, overlapping ranges
/// merged. A cut inside one would leave a piece that no pattern recognises
/// any more, so `search::snippet` cuts around them.
pub fn secret_spans(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for p in patterns() {
        for c in p.regex.captures_iter(text) {
            if let Some(whole) = c.get(0)
                && p.accept.takes(&c)
            {
                spans.push((whole.start(), whole.end()));
            }
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Masks secrets in everything a transcript shows of a session: its title
/// and every part's text.
pub fn mask_transcript(
    session: &mut crate::model::Session,
    messages: &mut [crate::model::Message],
) {
    let mask = |text: &mut String| {
        if let Cow::Owned(masked) = redact_str(text) {
            *text = masked;
        }
    };
    if let Some(title) = &mut session.title {
        mask(title);
    }
    for part in messages.iter_mut().flat_map(|m| m.parts.iter_mut()) {
        if let Some(text) = &mut part.text {
            mask(text);
        }
    }
}

/// `text` with every secret masked.
pub fn redact_str(text: &str) -> Cow<'_, str> {
    match redact_bytes(text.as_bytes()) {
        (Cow::Borrowed(_), _) => Cow::Borrowed(text),
        (Cow::Owned(bytes), _) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::Regex;

    /// One fake secret of each kind (some kinds several, one per form), as
    /// agents meet them (prose, a URL, a `.env` file, a key block), shared
    /// with the end-to-end test.
    #[derive(serde::Deserialize)]
    struct Seed {
        kind: String,
        text: String,
        secret: String,
    }

    fn seeded() -> Vec<Seed> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/redaction/secrets.json"
        );
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("json")
    }

    fn masked(text: &str) -> String {
        redact_str(text).into_owned()
    }

    /// Parses as JSON, or panics naming the text.
    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    #[test]
    fn every_pattern_compiles() {
        for s in PATTERNS {
            if let Err(e) = Regex::new(s.source) {
                panic!("{}: {e}", s.kind);
            }
        }
        assert_eq!(patterns().len(), PATTERNS.len());
    }

    #[test]
    fn every_kind_is_found_and_masked_and_named() {
        let seeds = seeded();
        for kind in kinds() {
            assert!(seeds.iter().any(|s| s.kind == kind), "no seed for {kind}");
        }
        for Seed { kind, text, secret } in seeds {
            assert!(kinds().contains(&kind.as_str()), "unknown kind {kind}");
            // As the raw bytes of a JSON line hold it: newlines escaped.
            let line =
                serde_json::json!({ "text": format!("here it is: {text} (ok)") }).to_string();
            let (masked, found) = redact_bytes(line.as_bytes());
            let masked = String::from_utf8(masked.into_owned()).expect("utf-8");
            assert!(found >= 1, "{kind}: {line}");
            assert!(!masked.contains(&secret), "{kind}: {masked}");
            assert!(!redact_str(&text).contains(&secret), "{kind}: plain text");
            assert!(
                redact_str(&text).contains(&format!("[REDACTED:{kind}]")),
                "{kind}: plain text"
            );
            assert!(
                masked.contains(&format!("[REDACTED:{kind}]")),
                "{kind}: {masked}"
            );
            serde_json::from_str::<serde_json::Value>(&masked).expect("still JSON");
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in [
            "cargo build --release && ./target/release/pond sync",
            "https://github.com/lancedb/lance/issues/1234",
            "the token count was 1234; skip_ws and sk_test are fine",
            "PASSWORD_MIN_LENGTH is documented in README",
            // Code and prose that name a secret without holding one.
            "Enter your password when asked; the token is refreshed hourly.",
            "interface Config { token: string; apiKey?: string; password: Option<String> }",
            "struct Login { token: String, password: Vec<u8>, secret: Option<Secret> }",
            "def login(password: str, api_key: Optional[str] = None):",
            "token = get_token(); password = getpass.getpass(); api_key = os.environ.get(name)",
            "export GITHUB_TOKEN=$(gh auth token) && echo ${API_TOKEN}",
            "\"max_tokens\": 4096, \"input_tokens\": 12345678, \"token_type\": \"bearer\"",
            "API_KEY: string; SECRET_KEY: Option<String>; ACCESS_TOKEN=None",
            "-H \"Authorization: Bearer $TOKEN\" and Authorization: Bearer <token>",
            "the risk-management-and-task-tracking-document-for-q3",
            "if line.starts_with(\"-----BEGIN RSA PRIVATE KEY-----\") {",
            "ssh://git@github.com:22/org/repo.git and git@github.com:org/repo.git",
            "mailto:someone@example.com, http://localhost:3000 @types/node",
            "token = base64.b64encode(digest); api_key = load_key_v2()",
            "API_KEY = os.getenv(\"API_KEY\"); ERRORTOKEN = token.ERRORTOKEN",
            "\"Resource\": \"arn:aws:secretsmanager:*:*:secret:license-manager-user-*\"",
            "your file has '-----BEGIN RSA PRIVATE KEY-----' and '-----END RSA PRIVATE KEY-----'",
            "SECRETS_DIR=/run/secrets TOKENS=5 tokenizer=bpe",
        ] {
            let (out, found) = redact_bytes(text.as_bytes());
            assert_eq!(found, 0, "{text} -> {}", String::from_utf8_lossy(&out));
            assert!(matches!(out, Cow::Borrowed(_)));
        }
    }

    /// Issue 14: the URL-password pattern reached from one JSON field into
    /// the next, masking `3000","package":"` and breaking the line.
    #[test]
    fn url_password_stays_inside_its_json_string() {
        let line = br#"{"url":"http://localhost:3000","package":"@types/node"}"#;
        let (out, found) = redact_bytes(line);
        assert_eq!(found, 0, "{}", String::from_utf8_lossy(&out));
        assert_eq!(&*out, &line[..]);
        let decoded = r#"{"url":"http://localhost:3000","package":"@types/node"}"#;
        assert_eq!(masked(decoded), decoded);
        for (text, url) in [
            (
                "http://localhost:3000', '@types/node",
                "http://localhost:3000'",
            ),
            (
                "see http://localhost:3000,@scope/pkg",
                "http://localhost:3000,",
            ),
            ("http://host:8080/path?next=a@b.c", "http://host:8080/path"),
        ] {
            assert!(masked(text).contains(url), "{text}");
        }

        assert_eq!(
            masked("https://user:hunter2@host/"),
            "https://user:[REDACTED:url-password]@host/"
        );
        let line = br#"{"url":"https://user:hunter2@host/","x":"y"}"#;
        let (out, found) = redact_bytes(line);
        assert_eq!(found, 1);
        assert_eq!(
            json(&out)["url"],
            "https://user:[REDACTED:url-password]@host/"
        );
    }

    /// Documents as session files hold them: a masked one must still parse,
    /// and one without a secret must come back as it was, byte for byte.
    fn documents() -> Vec<(String, bool)> {
        let mut docs: Vec<(String, bool)> = [
            r#"{"url":"http://localhost:3000","package":"@types/node"}"#,
            r#"{"a":"DB_PASSWORD=","b":"c"}"#,
            r#"{"a":"db_password: ","b":"abc12345678"}"#,
            r#"{"a":"API_TOKEN=\"","b":"x"}"#,
            r#"{"a":"API_TOKEN='","b":["x",1]}"#,
            r#"{"PASSWORD=":1,"TOKEN:":"","SECRET=" : "v"}"#,
            r#"{"a":"http://u:p","b":"@host"}"#,
            r#"{"a":"Authorization: Bearer ","b":"abcdefgh12345678"}"#,
            r#"{"password":"","token":12345678,"secret":null,"api_key":["x"]}"#,
            r#"{"k":"-----BEGIN RSA PRIVATE KEY-----","v":"x"}"#,
            r#"["-----BEGIN RSA PRIVATE KEY-----\\","-----END RSA PRIVATE KEY-----"]"#,
            r#"{"text":"url http://a:b\\\"c@d and TOKEN=\\\\\"x\" end"}"#,
            r#"{"text":"plain prose with a password in it, and a token: string"}"#,
            r#"{"t":"\u0041PI_KEY","n":"line\nDB_HOST=localhost\n"}"#,
        ]
        .iter()
        .map(|d| (d.to_string(), false))
        .collect();
        docs.extend([
            r#"{"text":"-----BEGIN RSA PRIVATE KEY-----\nMIIEfake0123456789\n-----END RSA PRIVATE KEY-----","next":"x"}"#,
            r#"["-----BEGIN RSA PRIVATE KEY-----\nMIIEfake0123456789\n","-----END RSA PRIVATE KEY-----"]"#,
            r#"{"cmd":"curl -H \"Authorization: Bearer abcdefgh12345678\" https://x","y":1}"#,
            r#"{"env":{"DB_PASSWORD":"s3cr3t\"quoted\\","api_key":"k"},"z":[]}"#,
            r#"{"text":"DB_PASSWORD=\"s3cr3t value\"\nuser_token: 'abc'\n\"secret\": \"x\""}"#,
            r#"{"a":"https://user:pa%20ss@host/x","b":"postgres://u:p@h:5432/db"}"#,
        ]
        .map(|d| (d.to_string(), true)));
        // Every seeded secret inside a string, alone and amid other fields.
        for s in seeded() {
            let text = format!("here it is: {} (ok)", s.text);
            docs.push((serde_json::json!({ "text": text }).to_string(), true));
            docs.push((
                serde_json::json!({"a": "x", "b": [text, 1], "c": {"d": s.text}}).to_string(),
                true,
            ));
            let quoted = serde_json::json!({ "text": format!("\"{}\"", s.text) });
            docs.push((quoted.to_string(), true));
        }
        docs
    }

    #[test]
    fn masks_never_cross_a_json_string_or_a_line() {
        for (doc, has_secret) in documents() {
            json(doc.as_bytes());
            let (out, found) = redact_bytes(doc.as_bytes());
            json(&out);
            if has_secret {
                assert!(found >= 1, "nothing masked in {doc}");
            } else {
                assert_eq!(found, 0, "{doc} -> {}", String::from_utf8_lossy(&out));
                assert_eq!(&*out, doc.as_bytes());
            }
            // What each pattern would mask, on the document as it is: no
            // unescaped quote, no line break.
            for p in patterns() {
                for c in p.regex.captures_iter(doc.as_bytes()) {
                    let Some(whole) = c.get(0) else { continue };
                    if !p.accept.takes(&c) {
                        continue;
                    }
                    let masked = c.name("secret").unwrap_or(whole).as_bytes();
                    let shown = String::from_utf8_lossy(masked);
                    assert!(
                        !masked.contains(&b'\n') && !masked.contains(&b'\r'),
                        "{}: line break in {shown:?} of {doc}",
                        p.kind
                    );
                    for (i, &b) in masked.iter().enumerate() {
                        assert!(
                            b != b'"' || (i > 0 && masked[i - 1] == b'\\'),
                            "{}: unescaped quote in {shown:?} of {doc}",
                            p.kind
                        );
                    }
                }
            }
        }
    }

    /// Issue 15: the forms the set used to miss.
    #[test]
    fn quoted_lower_case_and_json_assignments_are_masked() {
        // (text, the secret in it), by the kind of mask each gets.
        let env_secrets = [
            (r#"DB_PASSWORD="s3cr3t-value""#, "s3cr3t-value"),
            ("DB_PASSWORD='s3cr3t-value'", "s3cr3t-value"),
            (r#"DB_PASSWORD="two words""#, "two words"),
            ("db_password=l0wer-s3cret", "l0wer-s3cret"),
            ("api_key: f4ke-api-key-0123", "f4ke-api-key-0123"),
            ("password: 'hunter2'", "hunter2"),
            ("POSTGRES_PASSWORD: example", "example"),
            ("--password=s3cr3t-flag", "s3cr3t-flag"),
        ];
        let json_secrets = [
            (r#"{"password": "json-pass-1"}"#, "json-pass-1"),
            (r#"{"api_key":"json-key-1"}"#, "json-key-1"),
            (r#"{"secret": "json-secret-1"}"#, "json-secret-1"),
            (r#"{"token": "json-token-1"}"#, "json-token-1"),
            (r#"{"DB_PASSWORD": "json-env-1"}"#, "json-env-1"),
            (r#"{"accessToken": "json-camel-1"}"#, "json-camel-1"),
        ];
        let cases = env_secrets
            .iter()
            .map(|c| (c, "env-secret"))
            .chain(json_secrets.iter().map(|c| (c, "json-secret")));
        for (&(text, secret), kind) in cases {
            let out = masked(text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert!(
                out.contains(&format!("[REDACTED:{kind}]")),
                "{text} -> {out}"
            );
            // Inside a JSON string too (quotes escaped).
            let line = serde_json::json!({ "text": text }).to_string();
            let (out, found) = redact_bytes(line.as_bytes());
            assert!(found >= 1, "{line}");
            let value = json(&out);
            let inner = value["text"].as_str().unwrap();
            assert!(!inner.contains(secret), "{line} -> {inner}");
            assert!(inner.contains(&format!("[REDACTED:{kind}]")), "{inner}");
        }
        // The raw form of `DB_PASSWORD="s3cr3t"` inside a JSON string.
        let line = br#"{"cmd":"echo DB_PASSWORD=\"s3cr3t\" >> .env"}"#;
        let (out, _) = redact_bytes(line);
        assert_eq!(
            json(&out)["cmd"],
            "echo DB_PASSWORD=\"[REDACTED:env-secret]\" >> .env"
        );
        // The key name stays readable.
        assert_eq!(
            masked(r#"{"password": "json-pass-1", "user": "me"}"#),
            r#"{"password": "[REDACTED:json-secret]", "user": "me"}"#
        );
    }

    #[test]
    fn authorization_headers_and_pond_tokens_are_masked() {
        let token = format!("pond_{}", "0123456789abcdef".repeat(4));
        for (text, secret, kind) in [
            (
                "Authorization: Bearer abcDEF0123456789xyz".to_string(),
                "abcDEF0123456789xyz",
                "auth-header",
            ),
            (
                "authorization: bearer abcdef0123456789xyz".to_string(),
                "abcdef0123456789xyz",
                "auth-header",
            ),
            (
                r#"{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}"#.to_string(),
                "dXNlcjpwYXNzd29yZA==",
                "auth-header",
            ),
            (format!("POND_TOKEN={token}"), token.as_str(), "pond-token"),
            (
                format!("Authorization: Bearer {token}"),
                token.as_str(),
                "pond-token",
            ),
        ] {
            let out = masked(&text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert!(
                out.contains(&format!("[REDACTED:{kind}]")),
                "{text} -> {out}"
            );
        }
    }

    #[test]
    fn a_private_key_without_its_end_line_is_masked_to_the_string_end() {
        let text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEfakeFAKE0123\nfakeFAKE4567";
        assert_eq!(masked(text), "key:\n[REDACTED:private-key]");
        let line = serde_json::json!({ "text": text, "next": "kept" }).to_string();
        let (out, found) = redact_bytes(line.as_bytes());
        assert_eq!(found, 1);
        let value = json(&out);
        assert_eq!(value["text"], "key:\n[REDACTED:private-key]");
        assert_eq!(value["next"], "kept");
        // A block with its END line keeps what follows it.
        let whole = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\nafter";
        assert_eq!(masked(whole), "[REDACTED:private-key]\nafter");
    }

    /// Real sessions: every JSON-lines fixture in the repository, and the
    /// bench corpus (`../shared/bench-corpus`) when it is there: every JSON
    /// line still parses once masked. Prints how many masks each kind made,
    /// and a few of them, so false positives can be reviewed
    /// (`cargo test corpus_lines -- --nocapture`).
    #[test]
    fn real_corpus_lines_stay_json_once_masked() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<std::path::PathBuf> = [
            root.join("tests/fixtures"),
            root.join("../shared/bench-corpus/claude-code"),
        ]
        .iter()
        .flat_map(|dir| {
            walkdir::WalkDir::new(dir)
                .into_iter()
                .filter_map(Result::ok)
        })
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
        files.sort();
        assert!(!files.is_empty(), "the repository's fixtures are missing");
        let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
        let mut samples: Vec<String> = Vec::new();
        let (mut lines, mut masked_lines) = (0usize, 0usize);
        for file in &files {
            let bytes = std::fs::read(file).expect("corpus file");
            for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if serde_json::from_slice::<serde_json::Value>(line).is_err() {
                    continue;
                }
                lines += 1;
                let mut kinds_here: Vec<&'static str> = Vec::new();
                let out = redact_with(line, |kind| kinds_here.push(kind));
                if kinds_here.is_empty() {
                    assert!(matches!(out, Cow::Borrowed(_)));
                    continue;
                }
                masked_lines += 1;
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
                    panic!("{}:{}: {e} once masked", file.display(), n + 1);
                }
                for kind in kinds_here {
                    let seen = counts.entry(kind).or_default();
                    *seen += 1;
                    if *seen <= 5 {
                        samples.push(sample(&out, kind));
                    }
                }
            }
        }
        println!(
            "real sessions: {} files, {lines} JSON lines, {masked_lines} with masks",
            files.len()
        );
        for (kind, n) in &counts {
            println!("  {kind}: {n}");
        }
        for s in &samples {
            println!("  e.g. {s}");
        }
    }

    /// The masked line around the first `[REDACTED:kind]`, for review.
    fn sample(out: &[u8], kind: &str) -> String {
        let label = format!("[REDACTED:{kind}]");
        let text = String::from_utf8_lossy(out);
        let Some(at) = text.find(&label) else {
            return format!("{kind}: (label replaced by a later mask)");
        };
        let mut from = at.saturating_sub(60);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (at + label.len() + 30).min(text.len());
        while !text.is_char_boundary(to) {
            to += 1;
        }
        format!("{kind}: …{}…", &text[from..to])
    }
}
