//! The few lines around a match that tell a reader why a hit came up.
//!
//! BM25 says a part matched but not where, so the snippet finds the window
//! with the most distinct query terms itself. Matching is ASCII
//! case-insensitive (byte offsets stay valid) and accepts simple inflections,
//! since the index stems: "retries" highlights "retry" and "retried".
//!
//! `--redact` masks the snippet after it is cut (`archive::mask_hits`), so
//! the window never cuts through a secret (`redact::secret_spans`): a piece
//! of a key is no longer a key to the patterns, and would be shown as is.
//! Snippets keep their line breaks (a few), and tool JSON is shown unescaped
//! ([`readable`]), so output reads as it was printed.

/// Characters of context shown around the best window.
const WIDTH: usize = 200;

const STOP_WORDS: [&str; 32] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "of", "on", "or", "that", "the", "this", "to", "was", "we", "what",
    "when", "where", "why", "with",
];

/// A snippet and the byte ranges within it that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub matches: Vec<(usize, usize)>,
}

impl Snippet {
    /// The snippet with matches wrapped in `open`/`close` (ANSI bold on a TTY).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + self.matches.len() * 8);
        let mut at = 0;
        for &(start, end) in &self.matches {
            out.push_str(&self.text[at..start]);
            out.push_str(open);
            out.push_str(&self.text[start..end]);
            out.push_str(close);
            at = end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// The query's content words, lower-cased, in order, without repeats.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        let w = word.to_ascii_lowercase();
        if w.len() < 2 || STOP_WORDS.contains(&w.as_str()) || terms.contains(&w) {
            continue;
        }
        terms.push(w);
    }
    terms
}

/// The form matched in text: a word without a common English suffix, so the
/// stem matches every inflection as a prefix.
fn stem(term: &str) -> &str {
    for suffix in ["ies", "ied", "ing", "ed", "es", "s", "y"] {
        if let Some(stem) = term.strip_suffix(suffix)
            && stem.len() >= 3
        {
            return stem;
        }
    }
    term
}

/// Every (start, end, term index) where a term's stem begins a word.
fn find_matches(text: &str, terms: &[String]) -> Vec<(usize, usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    let mut found = Vec::new();
    for (t, term) in terms.iter().enumerate() {
        let needle = stem(term);
        let mut from = 0;
        while let Some(pos) = lower[from..].find(needle) {
            let start = from + pos;
            let mut end = start + needle.len();
            from = end;
            if start > 0 && is_word(bytes[start - 1]) {
                continue;
            }
            // Extend to the end of the word so "retr" highlights "retried".
            while end < bytes.len() && is_word(bytes[end]) {
                end += 1;
            }
            while !text.is_char_boundary(end) {
                end += 1;
            }
            found.push((start, end, t));
        }
    }
    found.sort_unstable();
    found
}

/// A window of about [`WIDTH`] characters around the densest cluster of
/// distinct query terms, or the start of the text when none occurs (a pure
/// vector hit).
pub fn snippet(text: &str, terms: &[String]) -> Snippet {
    let matches = find_matches(text, terms);
    let (from, to) = best_window(text, &matches);
    let spans = crate::redact::secret_spans(text.as_bytes());
    let (from, to) = clear_of_secrets(&spans, from, to);
    let mut start = from;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = to.min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let mut out = String::new();
    let mut ranges = Vec::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(s, e, _) in matches.iter().filter(|m| m.0 >= start && m.1 <= end) {
        if s < at {
            continue;
        }
        push_lines(&mut out, &text[at..s]);
        let open = out.len();
        push_lines(&mut out, &text[s..e]);
        ranges.push((open, out.len()));
        at = e;
    }
    push_lines(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    Snippet {
        text: out,
        matches: ranges,
    }
}

/// [`snippet`] of `text` with its secrets masked before the window is cut
/// (`--redact`): what a redacted search should show, highlights included,
/// which masking the snippet afterwards has to drop.
pub fn masked_snippet(text: &str, terms: &[String]) -> Snippet {
    // Rule 33: the text is masked before the window is cut.
    snippet(&crate::redact::redact_str(text), terms)
}

fn best_window(text: &str, matches: &[(usize, usize, usize)]) -> (usize, usize) {
    if matches.is_empty() {
        return (0, WIDTH);
    }
    let mut best = (0usize, 0usize);
    for (i, &(start, _, _)) in matches.iter().enumerate() {
        let mut distinct: Vec<usize> = Vec::new();
        for &(s, _, t) in &matches[i..] {
            if s >= start + WIDTH {
                break;
            }
            if !distinct.contains(&t) {
                distinct.push(t);
            }
        }
        if distinct.len() > best.1 {
            best = (i, distinct.len());
        }
    }
    let anchor = matches[best.0].0;
    // A little context before the first term reads better than starting on it.
    let mut from = anchor.saturating_sub(WIDTH / 4);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let from = text[..from]
        .rfind(char::is_whitespace)
        .filter(|ws| from - ws < 20)
        .map_or(from, |ws| ws + 1);
    (from, from + WIDTH)
}

/// The window `from..to` with neither end inside a secret (`spans`, byte
/// ranges in order, not overlapping). A secret that fits in a snippet is
/// taken in whole, so masking the snippet hides it; a longer one (a key
/// block) is left out. Without secrets the window is unchanged.
fn clear_of_secrets(spans: &[(usize, usize)], from: usize, to: usize) -> (usize, usize) {
    let around = |at: usize| spans.iter().copied().find(|&(s, e)| s < at && at < e);
    let from = match around(from) {
        Some((s, e)) if e - s <= WIDTH => s,
        Some((_, e)) => e,
        None => from,
    };
    // A window that lay wholly inside a long secret shows what follows it.
    let to = if to <= from { from + WIDTH } else { to };
    let to = match around(to) {
        Some((s, e)) if e - s <= WIDTH => e,
        Some((s, _)) => s,
        None => to,
    };
    (from, to)
}

/// Line breaks a snippet keeps; past them, lines run on with a space, so a
/// window over a listing of short lines stays a few lines tall.
const MAX_LINES: usize = 6;

/// Appends `s` keeping its line breaks (up to [`MAX_LINES`]; blank lines and
/// `\r` dropped) and each other run of whitespace as one space.
fn push_lines(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '\n' && out.matches('\n').count() < MAX_LINES {
            while out.ends_with(' ') {
                out.pop();
            }
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
        } else if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
}

/// The text of a hit as a person reads it. Tool calls and results are
/// often JSON (a call's arguments, a result a client stored encoded), whose
/// strings hold `\n`, `\"` and `\uXXXX` escapes: those are shown as the
/// characters they stand for. Indexed text is often cut mid-string, so this
/// unescapes leniently instead of parsing.
pub fn readable<'t>(kind: &str, text: &'t str) -> std::borrow::Cow<'t, str> {
    let tool_part = kind == "tool-call" || kind == "tool-result";
    // A call is indexed as "<tool> <arguments>".
    let body = if kind == "tool-call" {
        text.split_once(' ').map_or(text, |(_, rest)| rest)
    } else {
        text
    };
    let json_like = body.trim_start().starts_with(['{', '[', '"']);
    if !tool_part || !json_like || !text.contains('\\') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => {}
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                {
                    Some(code) => {
                        chars.nth(3);
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    None => out.push_str("\\u"),
                }
            }
            Some(other @ ('"' | '\\' | '/')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_inflections_of_the_query_terms() {
        let terms = query_terms("Why did the upload retry?");
        assert_eq!(terms, ["upload", "retry"]);
        let s = snippet(
            "The uploader retried three   times\r\n\n\nthen gave up.",
            &terms,
        );
        assert_eq!(
            s.marked("[", "]"),
            "The [uploader] [retried] three times\nthen gave up."
        );
    }

    /// Issue 33: tool calls and results showed `\n` and `\"` as written in
    /// their JSON, on one line.
    #[test]
    fn tool_json_is_shown_with_its_line_breaks_and_quotes() {
        let call = r#"Bash {"command":"git commit -m \"fix: retry\"\nnext line \u00e9"}"#;
        let text = readable("tool-call", call);
        assert_eq!(
            text,
            "Bash {\"command\":\"git commit -m \"fix: retry\"\nnext line é\"}"
        );
        let s = snippet(&text, &query_terms("retry"));
        assert!(s.text.contains("\"fix: retry\"\nnext line"), "{}", s.text);
        // Prose and plain output keep their backslashes.
        let prose = r"use \n in the format string";
        assert_eq!(readable("text", prose), prose);
        assert_eq!(readable("tool-result", r"C:\Users\me"), r"C:\Users\me");
        assert_eq!(
            readable("tool-result", r#"{"output":"a\nb"}"#),
            "{\"output\":\"a\nb\"}"
        );
    }

    #[test]
    fn a_listing_of_short_lines_stays_a_few_lines_tall() {
        let text = (1..=40)
            .map(|i| format!("{i}: line"))
            .collect::<Vec<_>>()
            .join("\n");
        let s = snippet(&text, &query_terms("unrelated"));
        assert_eq!(s.text.matches('\n').count(), MAX_LINES, "{}", s.text);
    }

    #[test]
    fn the_window_goes_to_the_densest_cluster() {
        let text = format!("alpha {} beta gamma alpha here", "filler ".repeat(100));
        let terms = query_terms("alpha beta gamma");
        let s = snippet(&text, &terms);
        assert!(s.text.starts_with('…'));
        assert!(s.marked("[", "]").ends_with("[beta] [gamma] [alpha] here"));
    }

    #[test]
    fn without_matches_the_start_is_shown() {
        let s = snippet("héllo wörld", &query_terms("unrelated"));
        assert_eq!(s.text, "héllo wörld");
        assert!(s.matches.is_empty());
    }

    /// Issue 14: masking happens on the snippet, after the cut, so a window
    /// that began inside a key showed the rest of it (no pattern knows a key
    /// by its tail), and one that ended inside a URL's password showed the
    /// password (no `@` after it any more).
    #[test]
    fn a_window_never_starts_or_ends_inside_a_secret() {
        let body = "FAKEfake0123".repeat(6);
        let text = format!("the key is sk-ant-api03-{body} needle and more");
        let s = snippet(&text, &query_terms("needle"));
        let masked = crate::redact::redact_str(&s.text);
        assert!(s.text.contains("needle"), "{}", s.text);
        assert!(!masked.contains("FAKEfake0123"), "{masked}");
        assert!(masked.contains("[REDACTED:anthropic-key]"), "{masked}");

        let text = format!(
            "needle {}postgres://admin:hunter2-fake@db.internal/app",
            "filler ".repeat(24)
        );
        let s = snippet(&text, &query_terms("needle"));
        let masked = crate::redact::redact_str(&s.text);
        assert!(s.text.starts_with("needle"), "{}", s.text);
        assert!(!masked.contains("hunter2"), "{masked}");

        // A key block longer than a snippet is left out, not cut into.
        let block = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
            "MIIEfakeFAKE0123".repeat(30)
        );
        let text = format!("{} needle then {block} after", "word ".repeat(30));
        let s = snippet(&text, &query_terms("needle"));
        assert!(s.text.contains("needle"), "{}", s.text);
        assert!(!s.text.contains("MIIE"), "{}", s.text);
        assert!(!s.text.contains("BEGIN"), "{}", s.text);
    }

    #[test]
    fn a_masked_snippet_keeps_its_highlights() {
        let text = format!(
            "{} deploy with DB_PASSWORD=s3cr3t-value-here then retry",
            "word ".repeat(40)
        );
        let s = masked_snippet(&text, &query_terms("deploy retry"));
        assert!(!s.text.contains("s3cr3t"), "{}", s.text);
        assert!(
            s.text.contains("DB_PASSWORD=[REDACTED:env-secret]"),
            "{}",
            s.text
        );
        assert_eq!(
            s.marked("[", "]"),
            s.text
                .replace("deploy", "[deploy]")
                .replace("retry", "[retry]")
        );
    }

    #[test]
    fn only_a_window_end_inside_a_secret_moves() {
        assert_eq!(clear_of_secrets(&[], 10, 210), (10, 210));
        assert_eq!(clear_of_secrets(&[(0, 5), (300, 400)], 10, 210), (10, 210));
        // Short secrets are taken whole, long ones left out.
        assert_eq!(clear_of_secrets(&[(5, 20), (200, 250)], 10, 210), (5, 250));
        assert_eq!(clear_of_secrets(&[(0, 500)], 10, 210), (500, 700));
        assert_eq!(clear_of_secrets(&[(100, 900)], 10, 210), (10, 100));
    }

    #[test]
    fn multibyte_text_never_splits_a_char() {
        let text = "é".repeat(400) + " needle " + &"ü".repeat(400);
        let s = snippet(&text, &query_terms("needle"));
        assert!(s.marked("<", ">").contains("<needle>"));
    }
}
