//! The HTML form: one file with its styles and images inside, laid out like
//! the session page, that reads the same with scripts off and offline. Its
//! own Content-Security-Policy forbids every fetch, so a transcript holding
//! hostile markup (which is escaped anyway) cannot reach out when opened.

use std::fmt::Write;

use super::{Document, facts, is_image, title, tool_label, when};
use crate::model::{Message, Part, PartKind};

/// The page's styles, inline in a file or served beside a share page.
pub const STYLE: &str = "\
:root{--fg:#1b1f24;--muted:#4d5660;--bg:#fff;--panel:#f4f6f8;--line:#d5dbe1;--bad:#a61b1b}
body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--fg);background:var(--bg);max-width:60rem;margin:0 auto;padding:16px;line-height:1.45}
table.facts{border-collapse:collapse;margin:8px 0 16px}
table.facts th{text-align:left;color:var(--muted);font-weight:500;padding:2px 16px 2px 0;vertical-align:top}
.msg{border-left:4px solid var(--line);padding:4px 12px;margin:12px 0}
.msg.role-user{border-left-color:#3b7dd8}.msg.role-assistant{border-left-color:#2f9e44}.msg.role-tool{border-left-color:#8a949e}
.msg>header{display:flex;gap:10px;align-items:baseline;font-size:.85rem;color:var(--muted)}
.msg>header strong{color:var(--fg);text-transform:capitalize}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
pre{background:var(--panel);padding:8px;border-radius:6px;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem;white-space:pre-wrap;overflow-wrap:anywhere}
details{margin:6px 0}summary{cursor:pointer;color:var(--muted)}
.badge{display:inline-block;font-size:.75rem;padding:0 6px;border-radius:9px;border:1px solid var(--line);color:var(--muted);margin-right:4px}
.badge.bad{color:var(--bad)}
.note{color:var(--muted)}
figure{margin:6px 0}figure img{max-width:100%;height:auto;border:1px solid var(--line)}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ec;--muted:#a9b1ba;--bg:#14171a;--panel:#1e2226;--line:#3a4148;--bad:#ff8a8a}}
";

/// How a page is framed: a file on its own, or a share link's page served
/// under the server's own policy.
#[derive(Debug, Clone, Default)]
pub struct Framing {
    /// A stylesheet to link to instead of the inline styles (a server whose
    /// policy forbids inline styles serves [`STYLE`] there).
    pub stylesheet: Option<String>,
    /// A line above the transcript (what a share link is, until when).
    pub note: Option<String>,
    /// Where the session's source files can be downloaded, if anywhere.
    pub raw_href: Option<String>,
}

/// The self-contained file `pond export --format html` writes.
pub fn html(doc: &Document) -> String {
    page(doc, &Framing::default())
}

/// The page with `framing`: a share link's page, or (by default) the file.
pub fn page(doc: &Document, framing: &Framing) -> String {
    let heading = escape(&title(&doc.session));
    let mut out = String::new();
    out.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n",
    );
    match &framing.stylesheet {
        Some(href) => {
            let _ = writeln!(out, "<link rel=\"stylesheet\" href=\"{}\">", escape(href));
        }
        None => {
            let _ = writeln!(
                out,
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n<style>{STYLE}</style>"
            );
        }
    }
    let _ = write!(
        out,
        "<meta name=\"generator\" content=\"pond {}\">\n<title>{heading}</title>\n</head>\n<body>\n<main>\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(note) = &framing.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    let _ = writeln!(out, "<h1>{heading}</h1>");
    out.push_str("<table class=\"facts\">\n");
    for (label, value) in facts(doc) {
        let _ = writeln!(out, "<tr><th>{label}</th><td>{}</td></tr>", escape(&value));
    }
    out.push_str("</table>\n");
    if let Some(href) = &framing.raw_href {
        let _ = writeln!(
            out,
            "<p><a href=\"{}\" download>The session's source file, as its client wrote it</a></p>",
            escape(href)
        );
    }
    for m in &doc.messages {
        message(
            &mut out,
            m,
            doc.images.get(&m.id).map_or(&[][..], Vec::as_slice),
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn message(out: &mut String, m: &Message, images: &[pond_adapters::images::Image]) {
    let role = m.role.as_str();
    let _ = write!(
        out,
        "<article class=\"msg role-{role}\">\n<header><strong>{role}</strong>"
    );
    if let Some(t) = when(m.timestamp) {
        let _ = write!(out, "<span>{t}</span>");
    }
    if let Some(model) = &m.model {
        let _ = write!(out, "<span>{}</span>", escape(model));
    }
    out.push_str("</header>\n");
    let mut next_image = images.iter();
    for part in &m.parts {
        if is_image(part)
            && let Some(uri) = next_image.next().and_then(|i| i.data_uri())
        {
            let name = escape(part.text.as_deref().unwrap_or("image"));
            let _ = writeln!(out, "<figure><img src=\"{uri}\" alt=\"{name}\"></figure>");
            continue;
        }
        self::part(out, part);
    }
    out.push_str("</article>\n");
}

fn part(out: &mut String, part: &Part) {
    let text = escape(part.text.as_deref().unwrap_or(""));
    let tool = escape(&tool_label(part));
    let _ = match part.kind {
        PartKind::Text => writeln!(out, "<div class=\"text\">{text}</div>"),
        PartKind::Thinking => writeln!(
            out,
            "<details class=\"thinking\"><summary>Reasoning</summary><div class=\"text\">{text}</div></details>"
        ),
        PartKind::ToolCall => writeln!(
            out,
            "<details class=\"tool-call\"><summary><span class=\"badge\">call</span>{tool}</summary><pre>{text}</pre></details>"
        ),
        PartKind::ToolResult => {
            let badge = if part.is_error {
                "<span class=\"badge bad\">error</span>"
            } else {
                "<span class=\"badge\">result</span>"
            };
            writeln!(
                out,
                "<details class=\"tool-result\"><summary>{badge}{tool}</summary><pre>{text}</pre></details>"
            )
        }
        PartKind::File | PartKind::Other => {
            writeln!(
                out,
                "<div class=\"text\"><span class=\"badge\">{text}</span></div>"
            )
        }
    };
}

/// Text made safe inside an element or a quoted attribute.
pub(super) fn escape(text: &str) -> String {
    crate::escape::escaped(text, crate::escape::HTML)
}
