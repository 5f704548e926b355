//! Finding and masking secrets in session text.
//!
//! Agents read `.env` files, print tokens and paste keys, so an archive of
//! their sessions is an archive of secrets. Output that leaves pond (export,
//! show, search) can be masked with `--redact`. The pattern set is pond's
//! own, one named pattern per kind of secret (documented in
//! `docs/redaction.md`); a match is replaced by `[REDACTED:<kind>]`, which
//! holds no quote or backslash, so masked JSON stays valid JSON.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::bytes::{Captures, Regex};

/// One kind of secret. When the pattern has a group named `secret`, only
/// that group is masked (the key name or URL around it stays readable).
struct Pattern {
    kind: &'static str,
    regex: Regex,
}

/// The patterns, most specific first: a provider's key is named as such
/// before a generic `.env` assignment could claim it.
const PATTERNS: &[(&str, &str)] = &[
    (
        "private-key",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    ),
    ("anthropic-key", r"sk-ant-[A-Za-z0-9_-]{20,}"),
    (
        "openai-key",
        r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    ),
    (
        "github-token",
        r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    ("aws-access-key-id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "aws-secret-access-key",
        r#"(?i)aws_secret_access_key["']?\s*[=:]\s*["']?(?P<secret>[A-Za-z0-9/+=]{40})"#,
    ),
    ("google-api-key", r"AIza[0-9A-Za-z_-]{35}"),
    ("slack-token", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    ("stripe-key", r"\b[sr]k_live_[A-Za-z0-9]{20,}"),
    (
        "jwt",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ),
    (
        "url-password",
        r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:(?P<secret>[^@\s/]+)@",
    ),
    (
        "env-secret",
        r#"(?:^|\\n|\n|\s|")(?:export\s+)?[A-Z][A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*\s*=\s*(?P<secret>[^\s"\\]+)"#,
    ),
];

fn patterns() -> &'static [Pattern] {
    static COMPILED: OnceLock<Vec<Pattern>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PATTERNS
            .iter()
            .filter_map(|(kind, source)| {
                // The set is fixed and tested; a pattern that failed to
                // compile would be dropped here rather than panic a sync.
                Regex::new(source).ok().map(|regex| Pattern { kind, regex })
            })
            .collect()
    })
}

/// The kinds of secret the set knows, for docs and tests.
pub fn kinds() -> Vec<&'static str> {
    PATTERNS.iter().map(|(kind, _)| *kind).collect()
}

/// `bytes` with every secret masked, and how many were found.
pub fn redact_bytes(bytes: &[u8]) -> (Cow<'_, [u8]>, usize) {
    let mut out: Cow<'_, [u8]> = Cow::Borrowed(bytes);
    let mut found = 0;
    for p in patterns() {
        if !p.regex.is_match(&out) {
            continue;
        }
        let masked = p
            .regex
            .replace_all(&out, |c: &Captures<'_>| {
                found += 1;
                mask(c, p.kind)
            })
            .into_owned();
        out = Cow::Owned(masked);
    }
    (out, found)
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

fn mask(c: &Captures<'_>, kind: &str) -> Vec<u8> {
    let whole = c.get(0).map_or(&[][..], |m| m.as_bytes());
    let label = format!("[REDACTED:{kind}]").into_bytes();
    match (c.get(0), c.name("secret")) {
        (Some(all), Some(secret)) => {
            let (start, end) = (secret.start() - all.start(), secret.end() - all.start());
            [&whole[..start], &label[..], &whole[end..]].concat()
        }
        _ => label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One fake secret of each kind, as agents meet them (prose, a URL, a
    /// `.env` file, a key block), shared with the end-to-end test.
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

    #[test]
    fn every_kind_is_found_and_masked_and_named() {
        assert_eq!(seeded().len(), kinds().len());
        for Seed { kind, text, secret } in seeded() {
            // As the raw bytes of a JSON line hold it: newlines escaped.
            let line =
                serde_json::json!({ "text": format!("here it is: {text} (ok)") }).to_string();
            let (masked, found) = redact_bytes(line.as_bytes());
            let masked = String::from_utf8(masked.into_owned()).expect("utf-8");
            assert!(found >= 1, "{kind}: {line}");
            assert!(!masked.contains(&secret), "{kind}: {masked}");
            assert!(!redact_str(&text).contains(&secret), "{kind}: plain text");
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
        ] {
            let (out, found) = redact_bytes(text.as_bytes());
            assert_eq!(found, 0, "{text}");
            assert!(matches!(out, Cow::Borrowed(_)));
        }
    }
}
