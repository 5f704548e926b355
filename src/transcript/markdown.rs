//! The Markdown form: headings per turn, the session's facts as a table,
//! reasoning and tool output folded in `<details>` (GitHub, GitLab and
//! most wikis render it), code in fences no text inside can close.

use std::fmt::Write;

use super::{Document, facts, title, tool_label, when};
use crate::model::{Message, Part, PartKind};

pub fn markdown(doc: &Document) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", inline(&title(&doc.session)));
    out.push_str("| | |\n|---|---|\n");
    for (label, value) in facts(doc) {
        let _ = writeln!(out, "| {label} | {} |", inline(&value));
    }
    for m in &doc.messages {
        message(&mut out, m);
    }
    out
}

fn message(out: &mut String, m: &Message) {
    let mut heading = capitalised(m.role.as_str());
    if let Some(t) = when(m.timestamp) {
        heading.push_str(&format!(" · {t}"));
    }
    if let Some(model) = &m.model {
        heading.push_str(&format!(" · {}", inline(model)));
    }
    let _ = writeln!(out, "\n## {heading}\n");
    for part in &m.parts {
        self::part(out, part);
    }
}

fn part(out: &mut String, part: &Part) {
    let text = part.text.as_deref().unwrap_or("");
    match part.kind {
        PartKind::Text => {
            let _ = writeln!(out, "{}\n", text.trim_end());
        }
        PartKind::Thinking => folded(out, "Reasoning", text),
        PartKind::ToolCall => folded(out, &format!("Call: {}", tool_label(part)), text),
        PartKind::ToolResult => {
            let error = if part.is_error { " (error)" } else { "" };
            folded(out, &format!("Result: {}{error}", tool_label(part)), text);
        }
        PartKind::File | PartKind::Other => {
            let _ = writeln!(out, "*{}*\n", inline(text));
        }
    }
}

/// A `<details>` block around fenced text: closed until the reader opens it.
fn folded(out: &mut String, summary: &str, text: &str) {
    let fence = fence_for(text);
    let _ = writeln!(
        out,
        "<details><summary>{}</summary>\n\n{fence}\n{}\n{fence}\n\n</details>\n",
        super::html::escape(summary),
        text.trim_end()
    );
}

/// A backtick fence longer than any run of backticks in `text`, so the
/// text cannot end it early.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat(longest.max(2) + 1)
}

/// Text for a heading, a table cell or an emphasis: one line, with
/// Markdown's marks (and the `|` that would end a cell) escaped.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
